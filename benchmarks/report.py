"""Turn `Results` into a table (plain text or markdown) with the ratios to the floors, the targets, and save them."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .compile_time import BASELINE
from .load import RULE, describe
from .suite import Cell, Config, Results


@dataclass(frozen=True)
class Target:
    """A goal for one engine's figure in a row: at most (`max`) or at least (`min`) `threshold`.

    The ratio targets are rows of their own (unit x): a ratio to a floor measured in the same run.
    """

    engine: str
    kind: str  # "max" or "min"
    threshold: float
    text: str
    full_only: bool = True  # set for the full sizes: judged only on the full configuration


@dataclass(frozen=True)
class Row:
    key: str
    section: str
    label: str
    unit: str  # ns, ms, s, B, ops, x, %
    ratio: bool = True  # show the ratio to micrograd (for reference)
    targets: tuple[Target, ...] = ()


def _graph_rows(key: str, section: str) -> list[Row]:
    return [
        Row(f"{key}.forward", section, "forward, ns/op", "ns"),
        Row(f"{key}.forward_gc", section, "forward: share spent in cyclic gc, %", "%", ratio=False),
        Row(f"{key}.backward", section, "backward, ns/node", "ns"),
        Row(f"{key}.backward_gc", section, "backward: share spent in cyclic gc, %", "%", ratio=False),
        Row(f"{key}.fb", section, "forward + backward, ns/op", "ns"),
        Row(
            f"{key}.vs_floor_forward",
            section,
            "eager forward / object-per-node floor",
            "x",
            ratio=False,
            targets=(Target("eager", "max", 1.10, "<= 1.10x"),),
        ),
        Row(
            f"{key}.vs_floor_backward",
            section,
            "eager backward / given-order sweep floor",
            "x",
            ratio=False,
            targets=(Target("eager", "max", 1.6, "<= 1.6x"),),
        ),
        Row(
            f"{key}.vs_plain",
            section,
            "compiled f+b / plain-float forward",
            "x",
            ratio=False,
            targets=(Target("compiled", "max", 3.0, "<= 3x"),),
        ),
        Row(f"{key}.compile_s", section, "trace + compile, s (once)", "s", ratio=False),
        Row(f"{key}.forward_nogc", section, "forward, ns/op, gc disabled (reference only)", "ns"),
        Row(f"{key}.backward_nogc", section, "backward, ns/node, gc disabled (reference only)", "ns"),
    ]


def rows(cfg: Config) -> list[Row]:
    """The table's rows, in order, for the sizes in `cfg`."""
    chain = f"Deep chain, {cfg.chain_ops:,} ops of x = tanh(x*w + b)"
    wide = f"Wide graph, {cfg.wide_chains:,} chains x {cfg.wide_ops:,} ops, joined by a sum"
    moons = f"Moons: MLP(2, [16, 16, 1]), hinge + 1e-4 L2, {cfg.moons_points} points, full batch"
    xor = "XOR: MLP(2, [4, 1]), squared error, 4 points, full batch"
    depth = "Deepest chain backpropagated at the default recursion limit"
    steps = cfg.compile_ops // 3
    compile_ = f"Compile time: {steps * 3:,} non-repeating ops (x = tanh(x*c + d), distinct c, d), fresh process"
    batch = f".batch of {cfg.batch_rows:,} moons rows (one point's hinge loss per row)"
    probes = ", ".join(f"{d:,}" for d in cfg.depths)
    base = BASELINE
    return [
        *_graph_rows("chain", chain),
        *_graph_rows("wide", wide),
        Row(
            "memory.bytes",
            f"Memory, {cfg.memory_ops:,}-op chain alive",
            "bytes retained per node",
            "B",
            targets=(Target("eager", "max", 150, "<= 150", full_only=False),),
        ),
        Row(
            "depth.max",
            depth,
            f"deepest chain, ops (probes {probes})",
            "ops",
            targets=(Target("eager", "min", 1_000_000, "1,000,000"),),
        ),
        Row("depth.time", depth, "forward + backward at that depth, s", "s", ratio=False),
        Row("moons.step", moons, "training step (forward, zero_grad, backward, SGD), ms", "ms"),
        Row("moons.step_gc", moons, "training step: share spent in cyclic gc, %", "%", ratio=False),
        Row("moons.forward", moons, "loss forward only, ms", "ms"),
        Row("moons.forward_loops", moons, "loss forward, list-and-loop float model (reference), ms", "ms"),
        Row("moons.step_batch", moons, "compiled step, one point's loss over the points by .batch, ms", "ms"),
        Row(
            "moons.vs_torchvec_batch",
            moons,
            "compiled step (.batch, as demos.moons --compiled) / PyTorch vectorised step",
            "x",
            ratio=False,
            targets=(Target("compiled", "max", 5.0, "<= 5x"),),
        ),
        Row(
            "moons.vs_torchvec",
            moons,
            "compiled step (whole-loss replay) / PyTorch vectorised step (reference)",
            "x",
            ratio=False,
        ),
        Row("moons.vs_plain", moons, "compiled f+b / straight-line float forward (reference)", "x", ratio=False),
        Row(
            "xor.total",
            xor,
            f"{cfg.xor_steps:,} training steps from scratch, s",
            "s",
            targets=(Target("eager", "max", 0.1, "<= 0.1 s"),),
        ),
        Row("xor.gc", xor, "share spent in cyclic gc, %", "%", ratio=False),
        Row("compile.baseline_s", compile_, f"trace + compile at {base} (today's), s", "s", ratio=False),
        Row("compile.this_s", compile_, "trace + compile, this tree, s", "s", ratio=False),
        Row(
            "compile.ratio",
            compile_,
            f"this tree / {base}",
            "x",
            ratio=False,
            targets=(Target("compiled", "max", 0.5, "<= 0.5"),),
        ),
        Row("batch.rows", batch, "method='rows' (today's row-by-row path), ms", "ms", ratio=False),
        Row("batch.numpy", batch, "method='numpy' (vectorised), ms", "ms", ratio=False),
        Row(
            "batch.ratio",
            batch,
            "numpy / rows",
            "x",
            ratio=False,
            targets=(Target("compiled", "max", 0.2, "<= 0.2"),),
        ),
    ]


def _num(v: float, unit: str) -> str:
    if unit == "%":
        return f"{v:.0f}%"
    if unit in ("ns", "B", "ops"):
        return f"{v:,.0f}"
    if unit == "x":
        return f"{v:.2f}x"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    if abs(v) >= 0.1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def _ratio(row: Row, cells: dict[str, Cell], engine: str) -> float | None:
    mine, base = cells.get(engine), cells.get("micrograd")
    if mine is None or base is None or mine.value is None or not base.value:
        return None
    return mine.value / base.value


def _status(target: Target, cells: dict[str, Cell], cfg: Config, loaded: bool = False) -> str:
    """met / MISSED (with " (loaded)" when the run was loaded), or n/a with the reason."""
    cell = cells.get(target.engine)
    if cell is None or cell.value is None:
        return "n/a"
    if target.full_only and cfg.name != "full":
        return "n/a (not full size)"
    ok = cell.value <= target.threshold if target.kind == "max" else cell.value >= target.threshold
    return ("met" if ok else "MISSED") + (" (loaded)" if loaded else "")


def _spread(cell: Cell) -> tuple[float, float] | None:
    """min and max over the repeats, when there are several."""
    return (min(cell.samples), max(cell.samples)) if len(cell.samples) > 1 else None


class _Notes:
    """Footnotes: each distinct cell note gets a number once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def ref(self, note: str) -> str:
        if not note:
            return ""
        if note not in self.items:
            self.items.append(note)
        return f" [{self.items.index(note) + 1}]"


def table(results: Results) -> tuple[list[str], list[list[str]], list[str]]:
    """The table as (header, body rows, footnotes); a body row with one cell is a section title."""
    engines = list(results.engines)
    header = ["measure", *(results.engines[k]["title"] for k in engines), "target", "status"]
    notes = _Notes()
    body: list[list[str]] = []
    section = ""
    for row in rows(results.config):
        cells = results.cells.get(row.key)
        if cells is None:
            continue  # workload not run
        if row.section != section:
            section = row.section
            body.append([section])
        line = [row.label]
        for k in engines:
            info = results.engines[k]
            cell = cells.get(k)
            if not info["available"]:
                line.append("n/a" + notes.ref(info["reason"]))
            elif cell is None or cell.value is None:
                line.append("-" if cell is None else "n/a" + notes.ref(cell.note))
            else:
                text = _num(cell.value, row.unit)
                r = _ratio(row, cells, k) if row.ratio and k not in ("micrograd", "floor") else None
                if r is not None:
                    text += f" ({r:.2f}x)" if r >= 0.01 else f" ({r:.4f}x)"
                spread = _spread(cell) if row.unit == "x" else None
                if spread is not None:
                    text += f" (range {spread[0]:.2f}-{spread[1]:.2f})"
                line.append(text + notes.ref(cell.note))
        loaded = bool(results.load.get("loaded"))
        line.append("; ".join(t.text for t in row.targets))
        line.append("; ".join(f"{t.engine}: {_status(t, cells, results.config, loaded)}" for t in row.targets))
        body.append(line)
    return header, body, notes.items


def text_table(results: Results) -> str:
    header, body, notes = table(results)
    width = [max(len(r[i]) for r in [header, *body] if len(r) > 1) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, width, strict=True))
        ).rstrip()

    out = [describe(results.load), "", fmt(header), fmt(["-" * w for w in width])]
    for r in body:
        out.append(f"\n{r[0]}" if len(r) == 1 else fmt(r))
    out.append("")
    out.extend(f"[{i}] {n}" for i, n in enumerate(notes, 1))
    return "\n".join(out)


READING = (
    "Targets are judged on the ratio rows (x), against floors measured in the same run; a ratio row's"
    " range is its minimum and maximum over the repeats. Ratios in parentheses elsewhere are to micrograd,"
    " for reference only (lower is better, except the deepest chain)."
)


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|")


def markdown_table(results: Results) -> str:
    header, body, notes = table(results)
    out = [f"**{_md_escape(describe(results.load))}**", ""]
    out += ["| " + " | ".join(map(_md_escape, header)) + " |", "|" + "---|" + "---:|" * (len(header) - 3) + "---|---|"]
    for r in body:
        if len(r) == 1:
            out.append(f"| **{_md_escape(r[0])}** |" + " |" * (len(header) - 1))
        else:
            out.append("| " + " | ".join(map(_md_escape, r)) + " |")
    out.append("")
    out.append(READING)
    out.append("")
    out.extend(f"[{i}] {_md_escape(n)}  " for i, n in enumerate(notes, 1))
    return "\n".join(out)


def machine_info() -> dict[str, Any]:
    """Where the figures come from: platform, Python, CPUs, load."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load: list[float] | None = [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        load = None
    return {
        "platform": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu,
        "load_average_1_5_15_min": load,
    }


def to_json(results: Results, machine: dict[str, Any], date: str, extra_notes: Sequence[str]) -> dict[str, Any]:
    header, body, footnotes = table(results)
    status = []
    for row in rows(results.config):
        cells = results.cells.get(row.key)
        if cells is None:
            continue
        for t in row.targets:
            status.append(
                {
                    "measure": row.key,
                    "engine": t.engine,
                    "target": t.text,
                    "status": _status(t, cells, results.config, bool(results.load.get("loaded"))),
                    "value": cells[t.engine].value if t.engine in cells else None,
                    "spread": _spread(cells[t.engine]) if t.engine in cells else None,
                }
            )
    return {
        "date": date,
        "machine": machine,
        "config": asdict(results.config),
        "seconds": round(results.seconds, 2),
        "engines": results.engines,
        "measures": {
            key: {
                engine: {
                    "median": c.value,
                    "note": c.note,
                    "samples": c.samples,
                    "ratio_to_micrograd": _ratio(Row(key, "", "", ""), cells, engine),
                    "spread": _spread(c),
                }
                for engine, c in cells.items()
            }
            for key, cells in results.cells.items()
        },
        "loaded": bool(results.load.get("loaded")),
        "load": results.load,
        "targets": status,
        "notes": [*results.notes, *extra_notes],
        "table": {"header": header, "rows": body, "footnotes": footnotes},
    }


def to_markdown(results: Results, machine: dict[str, Any], date: str, extra_notes: Sequence[str]) -> str:
    cfg = results.config
    load = machine["load_average_1_5_15_min"]
    lines = [
        "# chainrule benchmark results",
        "",
        f"- date: {date}",
        f"- machine: {machine['cpu_model']}, {machine['cpu_count']} CPUs, {machine['platform']}",
        f"- Python: {machine['python']}",
        f"- load average at the end (1, 5, 15 min): {load if load is not None else 'unknown'}",
        f"- {describe(results.load)}",
        f"- load rule: {RULE}",
        (
            f"- configuration: {cfg.name}, median of {cfg.repeats} repeats, garbage collector enabled"
            f" (run took {results.seconds:.0f} s)"
        ),
        "- engines: "
        + ", ".join(
            f"{v['title']} {v['version']}" if v["available"] else f"{v['title']} (n/a)"
            for v in results.engines.values()
        ),
        "",
        markdown_table(results),
        "",
        "## Notes",
        "",
        *(f"- {_md_escape(n)}" for n in [*results.notes, *extra_notes]),
        "",
    ]
    return "\n".join(lines)


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp makes the file private; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # the original error matters more
            os.unlink(tmp)
        raise


def save(results: Results, out: Path, extra_notes: Sequence[str] = ()) -> tuple[Path, Path]:
    """Write `out` with suffixes .md and .json (atomically); returns both paths."""
    stem = out.with_suffix("") if out.suffix in (".md", ".json") else out
    md_path, json_path = stem.with_name(stem.name + ".md"), stem.with_name(stem.name + ".json")
    machine = machine_info()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    _atomic_write(json_path, json.dumps(to_json(results, machine, date, extra_notes), indent=1) + "\n")
    _atomic_write(md_path, to_markdown(results, machine, date, extra_notes))
    return md_path, json_path


__all__ = ["Row", "Target", "machine_info", "markdown_table", "rows", "save", "table", "text_table"]
