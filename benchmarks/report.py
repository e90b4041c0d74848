"""Turn `Results` into a table (plain text or markdown) with ratios to micrograd and the targets, and save them."""

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

from .suite import Cell, Config, Results


@dataclass(frozen=True)
class Target:
    """A goal for one engine's figure: `ratio_max` (x micrograd), `abs_max` or `abs_min`."""

    engine: str
    kind: str
    threshold: float
    text: str
    full_only: bool = False  # a size-dependent goal: judged only on the full configuration


@dataclass(frozen=True)
class Row:
    key: str
    section: str
    label: str
    unit: str  # ns, ms, s, B, ops, x
    ratio: bool = True  # show the ratio to micrograd
    targets: tuple[Target, ...] = ()


def rows(cfg: Config) -> list[Row]:
    """The table's rows, in order, for the sizes in `cfg`."""
    chain = f"Deep chain, {cfg.chain_ops:,} ops of x = tanh(x*w + b)"
    wide = f"Wide graph, {cfg.wide_chains:,} chains x {cfg.wide_ops:,} ops, joined by a sum"
    # The graph targets are set for the full sizes: smaller graphs change the ratios (micrograd's collector
    # walks less of a small graph; short generated code runs faster), so a quick run judges nothing there.
    fwd_t = (Target("eager", "ratio_max", 0.15, "eager <= 0.15x micrograd", full_only=True),)
    bwd_t = (Target("eager", "ratio_max", 0.7, "eager <= 0.7x micrograd", full_only=True),)
    plain_t = (Target("compiled", "abs_max", 4.0, "compiled <= 4x", full_only=True),)
    moons = f"Moons: MLP(2, [16, 16, 1]), hinge + 1e-4 L2, {cfg.moons_points} points, full batch"
    xor = "XOR: MLP(2, [4, 1]), squared error, 4 points, full batch"
    out: list[Row] = []
    for key, section in (("chain", chain), ("wide", wide)):
        out += [
            Row(f"{key}.forward", section, "forward, ns/op", "ns", targets=fwd_t),
            Row(f"{key}.forward_gc", section, "forward: share spent in cyclic gc, %", "%", ratio=False),
            Row(f"{key}.backward", section, "backward, ns/node", "ns", targets=bwd_t),
            Row(f"{key}.backward_gc", section, "backward: share spent in cyclic gc, %", "%", ratio=False),
            Row(f"{key}.fb", section, "forward + backward, ns/op", "ns"),
            Row(f"{key}.vs_plain", section, "compiled f+b / plain-float forward", "x", ratio=False, targets=plain_t),
            Row(f"{key}.compile_s", section, "trace + compile, s (once)", "s", ratio=False),
            Row(f"{key}.forward_nogc", section, "forward, ns/op, gc disabled (reference only)", "ns"),
            Row(f"{key}.backward_nogc", section, "backward, ns/node, gc disabled (reference only)", "ns"),
        ]
    depth = "Deepest chain backpropagated at the default recursion limit"
    probes = ", ".join(f"{d:,}" for d in cfg.depths)
    return [
        *out,
        Row(
            "memory.bytes",
            f"Memory, {cfg.memory_ops:,}-op chain alive",
            "bytes retained per node",
            "B",
            targets=(Target("eager", "abs_max", 150, "eager <= 150"),),
        ),
        Row(
            "depth.max",
            depth,
            f"deepest chain, ops (probes {probes})",
            "ops",
            targets=(Target("eager", "abs_min", 1_000_000, "eager 1,000,000", full_only=True),),
        ),
        Row("depth.time", depth, "forward + backward at that depth, s", "s", ratio=False),
        Row(
            "moons.step",
            moons,
            "training step (forward, zero_grad, backward, SGD), ms",
            "ms",
            targets=(
                Target("eager", "ratio_max", 1 / 8, "eager >= 8x faster"),
                Target("compiled", "ratio_max", 1 / 100, "compiled >= 100x faster"),
            ),
        ),
        Row("moons.step_gc", moons, "training step: share spent in cyclic gc, %", "%", ratio=False),
        Row("moons.forward", moons, "loss forward only, ms", "ms"),
        Row("moons.vs_plain", moons, "compiled f+b / plain-float forward", "x", ratio=False, targets=plain_t),
        Row(
            "xor.total",
            xor,
            f"{cfg.xor_steps:,} training steps from scratch, s",
            "s",
            targets=(Target("eager", "abs_max", 0.1, "eager <= 0.1 s", full_only=True),),
        ),
        Row("xor.gc", xor, "share spent in cyclic gc, %", "%", ratio=False),
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


def _status(target: Target, row: Row, cells: dict[str, Cell], cfg: Config) -> str:
    cell = cells.get(target.engine)
    if cell is None or cell.value is None:
        return "n/a"
    if target.full_only and cfg.name != "full":
        return "n/a (not full size)"
    if target.kind == "ratio_max":
        r = _ratio(row, cells, target.engine)
        if r is None:
            return "n/a"
        return "met" if r <= target.threshold else "MISSED"
    if target.kind == "abs_max":
        return "met" if cell.value <= target.threshold else "MISSED"
    return "met" if cell.value >= target.threshold else "MISSED"


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
                r = _ratio(row, cells, k) if row.ratio and k != "micrograd" else None
                if r is not None:
                    text += f" ({r:.2f}x)" if r >= 0.01 else f" ({r:.4f}x)"
                line.append(text + notes.ref(cell.note))
        line.append("; ".join(t.text for t in row.targets))
        line.append("; ".join(f"{t.engine}: {_status(t, row, cells, results.config)}" for t in row.targets))
        body.append(line)
    return header, body, notes.items


def text_table(results: Results) -> str:
    header, body, notes = table(results)
    width = [max(len(r[i]) for r in [header, *body] if len(r) > 1) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, width, strict=True))
        ).rstrip()

    out = [fmt(header), fmt(["-" * w for w in width])]
    for r in body:
        out.append(f"\n{r[0]}" if len(r) == 1 else fmt(r))
    out.append("")
    out.extend(f"[{i}] {n}" for i, n in enumerate(notes, 1))
    return "\n".join(out)


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|")


def markdown_table(results: Results) -> str:
    header, body, notes = table(results)
    out = ["| " + " | ".join(map(_md_escape, header)) + " |", "|" + "---|" + "---:|" * (len(header) - 3) + "---|---|"]
    for r in body:
        if len(r) == 1:
            out.append(f"| **{_md_escape(r[0])}** |" + " |" * (len(header) - 1))
        else:
            out.append("| " + " | ".join(map(_md_escape, r)) + " |")
    out.append("")
    out.append("Ratios in parentheses are to micrograd in the same run (lower is better, except the deepest chain).")
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
                    "status": _status(t, row, cells, results.config),
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
                }
                for engine, c in cells.items()
            }
            for key, cells in results.cells.items()
        },
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
