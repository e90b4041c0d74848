"""The workloads and the runner: every engine, every workload, one process, medians of repeats.

The garbage collector stays enabled while timing (that is how users run, and for engines whose
nodes form reference cycles it is most of the cost); `gc.collect()` runs *between* timed repeats so
one repeat's garbage is not billed to the next, and the share of each timing spent inside the
collector is recorded. The import-time heap (torch's alone is ~150,000 objects) is frozen with
`gc.freeze()`, so no engine pays for walking another engine's modules. Figures with the collector
disabled are reported separately, for reference.

The targets are ratios to floors timed in the same run (`benchmarks.floors`): where a ratio's two
sides can be timed in turns, repeat by repeat, they are, and the ratio's samples are the repeats'
ratios. The load average is read at the start, before each workload and at the end
(`benchmarks.load`), and a run on a busy machine is marked LOADED.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import autograd

from . import compile_time, floors, models
from .engines import ENGINE_KEYS, ENGINE_TITLES, RECURSION_MARGIN, Engine, compile_function, make_engines
from .load import RULE, LoadWatch

WORKLOADS: tuple[str, ...] = ("chain", "wide", "memory", "depth", "moons", "xor", "compile", "batch")

# The chain's constants: x stays in (0, 1) for tanh and relu alike, so no engine hits a kink or overflow.
X0, W, B = 0.3, 0.5, 0.1
LR = 0.05
MOONS_LAYERS = (16, 16, 1)
FLOOR_NOTES = {"floor": "object-per-node floor: 9-slot node, op computed in the dunder"}
BACKWARD_NOTES = {
    "floor": "given-order sweep over the same graph as chainrule nodes: order handed to it, computed before timing"
}
XOR_LAYERS = (4, 1)


@dataclass(frozen=True)
class Config:
    """Workload sizes. `full` is the published configuration; `quick` and `tiny` are for checks."""

    name: str
    chain_ops: int  # ops in the deep chain
    wide_chains: int  # chains in the wide graph ...
    wide_ops: int  # ... of this many ops each, joined by one sum
    memory_ops: int  # ops in the chain whose retained memory is measured
    depths: tuple[int, ...]  # chain depths probed for the deepest backward pass
    moons_points: int
    xor_steps: int
    repeats: int  # timed repeats per measurement (the median is reported)
    compile_ops: int = 100_000  # ops of the non-repeating chain whose compile time is measured
    batch_rows: int = 1000  # moons rows handed to one `.batch` call
    min_sample_s: float = 0.05  # a sample of a fast call averages as many calls as fill this time

    def with_repeats(self, repeats: int) -> Config:
        return Config(**{**asdict(self), "repeats": repeats})


PRESETS: dict[str, Config] = {
    "full": Config("full", 100_000, 1000, 100, 100_000, (10**3, 10**4, 10**5, 10**6), 100, 1000, 5),
    "quick": Config("quick", 20_000, 200, 100, 20_000, (10**3, 10**4), 100, 1000, 3, 20_000, 1000, 0.02),
    "tiny": Config("tiny", 300, 10, 30, 300, (10, 100), 8, 5, 1, 300, 20, 0.0),
}


@dataclass
class Cell:
    """One engine's figure for one measure: the median of `samples`, or None with the reason in `note`."""

    value: float | None = None
    note: str = ""
    samples: list[float] = field(default_factory=list)


@dataclass
class Results:
    config: Config
    engines: dict[str, dict[str, Any]]  # key -> title, available, reason, version
    cells: dict[str, dict[str, Cell]]  # measure key -> engine key -> Cell
    notes: list[str]
    seconds: float = 0.0
    load: dict[str, Any] = field(default_factory=dict)  # LoadWatch.summary(): readings and the LOADED verdict


def build_chain(x: Any, w: Any, b: Any, n_ops: int, act: Callable[[Any], Any]) -> Any:
    """`n_ops` ops of `x = act(x * w + b)`: a chain n_ops deep (a partial last step when n_ops % 3)."""
    for _ in range(n_ops // 3):
        x = act(x * w + b)
    rest = n_ops % 3
    if rest:
        x = x * w
    if rest == 2:
        x = x + b
    return x


def chain_graph(e: Engine, n_ops: int) -> tuple[Callable[[], Any], list[Any]]:
    """A builder for the deep chain on engine `e`, and the leaves it reads."""
    x0, w, b = e.leaf(X0), e.leaf(W), e.leaf(B)
    act = e.act
    return (lambda: build_chain(x0, w, b, n_ops, act)), [x0, w, b]


def wide_graph(e: Engine, n_chains: int, n_ops: int) -> tuple[Callable[[], Any], list[Any]]:
    """A builder for `n_chains` chains of `n_ops` ops (own start, shared w and b) joined by `sum`."""
    xs = [e.leaf(X0 + 0.5 * i / n_chains) for i in range(n_chains)]
    w, b = e.leaf(W), e.leaf(B)
    act = e.act
    return (lambda: sum(build_chain(x, w, b, n_ops, act) for x in xs)), [*xs, w, b]


def count_graph(root: autograd.Value) -> tuple[int, int]:
    """(nodes, ops) of a chainrule graph, counted with `autograd.topological_order`."""
    order = autograd.topological_order(root)
    return len(order), sum(1 for v in order if not v.is_leaf())


def _median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def ratio_cell(num: Sequence[float], den: Sequence[float], paired: bool, note: str = "") -> Cell:
    """`num / den` as a Cell of ratios, with the spread over the repeats in `samples`.

    Paired (the two were timed in turns, repeat by repeat): the median of the repeat-by-repeat ratios,
    and those ratios as samples. Unpaired: the ratio of the medians, and as samples the extremes
    min(num)/max(den) and max(num)/min(den).
    """
    if not num or not den or min(den) <= 0:
        return Cell(None, note or "no figures to divide")
    if paired:
        ratios = [a / b for a, b in zip(num, den, strict=True)]
        return Cell(_median(ratios), note, ratios)
    return Cell(_median(num) / _median(den), note, [min(num) / max(den), max(num) / min(den)])


@dataclass
class _GraphRuns:
    """One engine's timings (seconds) on one graph shape, repeat by repeat."""

    fwd: list[float] = field(default_factory=list)
    bwd: list[float] = field(default_factory=list)
    fwd_gc: list[float] = field(default_factory=list)
    bwd_gc: list[float] = field(default_factory=list)
    bwd_note: str = ""


@contextlib.contextmanager
def _gc_disabled() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _GcClock:
    """Seconds spent inside cyclic garbage collections so far (a `gc.callbacks` hook): the profile's main suspect."""

    def __init__(self) -> None:
        self.total = 0.0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._start

    @contextlib.contextmanager
    def installed(self) -> Iterator[_GcClock]:
        gc.callbacks.append(self)
        try:
            yield self
        finally:
            gc.callbacks.remove(self)


def _share(gc_seconds: float, seconds: float) -> float:
    return 100.0 * gc_seconds / seconds if seconds > 0 else 0.0


def _rel_close(a: float, b: float, tol: float = 1e-9) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


class Runner:
    """Runs the selected workloads on the selected engines and collects `Cell`s."""

    def __init__(
        self,
        config: Config,
        engine_keys: Sequence[str] = ENGINE_KEYS,
        log: Callable[[str], None] | None = None,
        gc_freeze: bool = True,
        load_watch: LoadWatch | None = None,
    ) -> None:
        self.cfg = config
        self.gc_freeze = gc_freeze
        self.keys = [k for k in ENGINE_KEYS if k in engine_keys]
        self.engines = make_engines(self.keys)
        self.compile: Callable[..., Any] | None = None
        self.compile_reason = "not selected"
        if "compiled" in self.keys:
            self.compile, self.compile_reason = compile_function()
        # the vectorised PyTorch column needs torch, whether or not the scalar PyTorch column is shown
        self.torch_probe: Engine | None = None
        if "torchvec" in self.keys:
            self.torch_probe = self.engines.get("torch") or make_engines(["torch"])["torch"]
        self.cells: dict[str, dict[str, Cell]] = {}
        self.notes: list[str] = []
        self.load = load_watch or LoadWatch()
        self.log = log or (lambda msg: None)
        self.gc_clock = _GcClock()
        models.chainrule_nn()  # import nn now, so it is part of the frozen import-time heap

    # ---- bookkeeping ---------------------------------------------------------------------------
    def put(self, measure: str, engine: str, cell: Cell) -> None:
        self.cells.setdefault(measure, {})[engine] = cell

    def active(self, *wanted: str, backward: bool = False) -> Iterator[Engine]:
        """The available adapter engines among `wanted`, in order (the table marks the others n/a)."""
        for key in wanted:
            e = self.engines.get(key)
            if e is None:
                continue
            if not e.available:
                continue
            if backward and not e.has_backward:
                continue
            yield e

    def engine_info(self) -> dict[str, dict[str, Any]]:
        info: dict[str, dict[str, Any]] = {}
        for key in self.keys:
            if key == "compiled":
                ok = self.compile is not None
                info[key] = {
                    "available": ok,
                    "reason": "" if ok else self.compile_reason,
                    "version": self.engines["eager"].version if "eager" in self.engines else "",
                }
            elif key == "torchvec" and self.torch_probe is not None:
                t = self.torch_probe
                info[key] = {"available": t.available, "reason": t.reason, "version": t.version}
            else:
                e = self.engines[key]
                info[key] = {"available": e.available, "reason": e.reason, "version": e.version}
            info[key]["title"] = ENGINE_TITLES[key]
        return info

    # ---- the run -------------------------------------------------------------------------------
    def run(self, workloads: Sequence[str] = WORKLOADS) -> Results:
        start = time.perf_counter()
        self.load.read("start")
        self.notes.append("chain activation: tanh, except micrograd: relu (micrograd has no tanh)")
        self.notes.append(f"recursion limit during the depth probe: {sys.getrecursionlimit()}")
        if self.gc_freeze:
            # One process holds every engine, and a full collection walks every tracked object: torch's
            # import alone adds ~150,000 of them, which would double chainrule's moons step. Freezing the
            # import-time heap hides it from the collector (which stays enabled for everything the
            # workloads create), so each engine pays for its own objects, as in a process of its own.
            gc.collect()
            gc.freeze()
            self.notes.append(
                f"gc.freeze() after importing the engines ({gc.get_freeze_count():,} objects); gc stays enabled"
            )
        else:
            self.notes.append("no gc.freeze(): full collections also walk every engine's import-time objects")
        try:
            with self.gc_clock.installed():
                for name in WORKLOADS:
                    if name in workloads:
                        self.load.read(name)
                        self.log(f"[{name}]")
                        getattr(self, f"_{name}")()
                        gc.collect()
        finally:
            if self.gc_freeze:
                gc.unfreeze()
        self.load.read("end")
        if self.load.loaded:
            self.notes.append("the machine was LOADED during this run: " + RULE)
        seconds = time.perf_counter() - start
        return Results(self.cfg, self.engine_info(), self.cells, self.notes, seconds, self.load.summary())

    def _graph(self, prefix: str, make: Callable[[Engine], tuple[Callable[[], Any], list[Any]]], depth: int) -> None:
        """Forward, backward and compiled replay of one graph shape on every engine.

        The engines take turns repeat by repeat (eager, floor, micrograd, ... then the same in reverse),
        so a ratio of two engines can be taken repeat by repeat and a passing disturbance hits them
        all alike.
        """
        reps = self.cfg.repeats
        eager_probe = make(self.engines.get("eager") or make_engines(["eager"])["eager"])[0]()
        nodes, ops = count_graph(eager_probe)
        del eager_probe
        self.notes.append(f"{prefix}: {nodes:,} nodes, {ops:,} ops (counted with autograd.topological_order)")
        engines = list(self.active("eager", "floor", "micrograd", "torch", "plain"))
        self.log("  " + ", ".join(e.key for e in engines))
        plain: list[float] = []  # the plain-float forward, ns/op, gc enabled
        for e in engines:  # warm-up, untimed: the first graphs of a process run slower (fresh memory)
            self._graph_repeat(e, make, depth, False, _GraphRuns())
        for no_gc, suffix in ((False, ""), (True, "_nogc")):
            runs = {e.key: _GraphRuns() for e in engines}
            for i in range(reps):
                # Every other round in reverse, so no engine always follows the same one: what the
                # engine before leaves behind (memory handed back to the system, a heap of another
                # shape) otherwise lands on the same engine each round (measured: eager after the
                # PyTorch scalars built the wide graph 1.26x the floor's time, 1.00x next to it).
                for e in engines if i % 2 == 0 else engines[::-1]:
                    self._graph_repeat(e, make, depth, no_gc, runs[e.key])
            for e in engines:
                r = runs[e.key]
                self._store_graph(prefix, suffix, e, r.fwd, r.bwd, r.bwd_note, ops, nodes, depth)
                if not suffix:
                    self.put(f"{prefix}.forward_gc", e.key, Cell(_median(r.fwd_gc), "", r.fwd_gc))
                    if r.bwd_gc:
                        self.put(f"{prefix}.backward_gc", e.key, Cell(_median(r.bwd_gc), "", r.bwd_gc))
            if not suffix and "plain" in runs:
                plain = [t / ops * 1e9 for t in runs["plain"].fwd]
            if not suffix and "eager" in runs and "floor" in runs:
                eager, floor = runs["eager"], runs["floor"]
                self.put(f"{prefix}.vs_floor_forward", "eager", ratio_cell(eager.fwd, floor.fwd, paired=True))
                if eager.bwd and floor.bwd:
                    self.put(f"{prefix}.vs_floor_backward", "eager", ratio_cell(eager.bwd, floor.bwd, paired=True))
        self._compiled_graph(prefix, make, ops, plain)

    def _graph_repeat(
        self,
        e: Engine,
        make: Callable[[Engine], tuple[Callable[[], Any], list[Any]]],
        depth: int,
        no_gc: bool,
        runs: _GraphRuns,
    ) -> None:
        """Build the graph on `e` once and run its backward pass, appending the timings to `runs`."""
        build, _leaves = make(e)
        gc.collect()
        with _gc_disabled() if no_gc else contextlib.nullcontext():
            g0, t0 = self.gc_clock.total, time.perf_counter()
            if not e.has_backward:  # no graph to keep: average over enough calls to steady the figure
                runs.fwd.append(_per_call(build, self.cfg.min_sample_s))
                runs.fwd_gc.append(_share(self.gc_clock.total - g0, time.perf_counter() - t0))
                return
            root = build()
            runs.fwd.append(time.perf_counter() - t0)
            runs.fwd_gc.append(_share(self.gc_clock.total - g0, runs.fwd[-1]))
            with e.deep_recursion(depth) as ok:
                if ok:
                    backward = e.prepare_backward(root)
                    g0, t0 = self.gc_clock.total, time.perf_counter()
                    backward()
                    runs.bwd.append(time.perf_counter() - t0)
                    runs.bwd_gc.append(_share(self.gc_clock.total - g0, runs.bwd[-1]))
                else:
                    runs.bwd_note = "needs recursion deeper than is safe on this Python"
            del root, build, _leaves

    def _store_graph(
        self,
        prefix: str,
        suffix: str,
        e: Engine,
        fwd: list[float],
        bwd: list[float],
        bwd_note: str,
        ops: int,
        nodes: int,
        depth: int,
    ) -> None:
        fwd_ns = [t / ops * 1e9 for t in fwd]
        act = "" if e.activation == "tanh" else f"{e.activation} in place of tanh"
        self.put(f"{prefix}.forward{suffix}", e.key, Cell(_median(fwd_ns), act or FLOOR_NOTES.get(e.key, ""), fwd_ns))
        if not e.has_backward:
            self.put(f"{prefix}.backward{suffix}", e.key, Cell(None, "no autodiff"))
            if not suffix:
                self.put(f"{prefix}.fb", e.key, Cell(_median(fwd_ns), "forward only", fwd_ns))
            return
        if not bwd:
            self.put(f"{prefix}.backward{suffix}", e.key, Cell(None, bwd_note))
            return
        note = act or BACKWARD_NOTES.get(e.key, "")
        if e.key == "micrograd" and depth + RECURSION_MARGIN > sys.getrecursionlimit():
            note = "; ".join(filter(None, [act, "recursion limit raised for its recursive sort"]))
        bwd_ns = [t / nodes * 1e9 for t in bwd]
        self.put(f"{prefix}.backward{suffix}", e.key, Cell(_median(bwd_ns), note, bwd_ns))
        if not suffix:
            fb_ns = [(f + b) / ops * 1e9 for f, b in zip(fwd, bwd, strict=True)]
            self.put(f"{prefix}.fb", e.key, Cell(_median(fb_ns), note, fb_ns))

    def _compiled_graph(
        self,
        prefix: str,
        make: Callable[[Engine], tuple[Callable[[], Any], list[Any]]],
        ops: int,
        plain_forward: Sequence[float],
    ) -> None:
        """`autograd.compile` the eager builder, check it against eager, time the replay (ns/op)."""
        if "compiled" not in self.keys or "eager" not in self.engines:
            return
        if self.compile is None:
            self.put(f"{prefix}.fb", "compiled", Cell(None, self.compile_reason))
            return
        self.log("  compiled")
        for measure in ("forward", "backward"):
            self.put(f"{prefix}.{measure}", "compiled", Cell(None, "replay fuses forward and backward"))
        eager = self.engines["eager"]
        build, leaves = make(eager)
        try:
            root = build()
            root.backward()
            want_out, want = root.data, [v.grad for v in leaves]
            del root
            eager.zero_grad(leaves)
            t0 = time.perf_counter()
            compiled = self.compile(build)
            compile_s = time.perf_counter() - t0
            out = compiled()
        except Exception as exc:  # noqa: BLE001 -- an unfinished compiler must not sink the other engines' figures
            self.put(f"{prefix}.fb", "compiled", Cell(None, f"error: {type(exc).__name__}: {exc}"))
            return
        got = [v.grad for v in leaves]
        same = _rel_close(float(out), want_out) and all(_rel_close(a, b) for a, b in zip(got, want, strict=True))
        note = "" if same else "DIFFERS FROM EAGER"
        self.notes.append(f"{prefix}: compiled replay {'matches' if same else 'DIFFERS FROM'} eager (rel 1e-9)")
        self.put(f"{prefix}.compile_s", "compiled", Cell(compile_s, note, [compile_s]))
        samples = []
        for _ in range(self.cfg.repeats):
            gc.collect()
            samples.append(_per_call(compiled, self.cfg.min_sample_s) / ops * 1e9)
        cell = Cell(_median(samples), note, samples)
        self.put(f"{prefix}.fb", "compiled", cell)
        if plain_forward:
            self.put(f"{prefix}.vs_plain", "compiled", ratio_cell(samples, plain_forward, paired=False, note=note))

    # ---- workloads -------------------------------------------------------------------------------
    def _chain(self) -> None:
        n = self.cfg.chain_ops
        self._graph("chain", lambda e: chain_graph(e, n), n)

    def _wide(self) -> None:
        m, k = self.cfg.wide_chains, self.cfg.wide_ops
        self._graph("wide", lambda e: wide_graph(e, m, k), m + k)

    def _memory(self) -> None:
        """Bytes retained per node while the graph is alive (tracemalloc; RSS for PyTorch's C++ heap)."""
        n = self.cfg.memory_ops
        probe = chain_graph(self.engines.get("eager") or make_engines(["eager"])["eager"], n)[0]()
        nodes, _ = count_graph(probe)
        del probe
        for e in self.active("eager", "floor", "micrograd", "torch", backward=True):
            self.log(f"  {e.key}")
            if e.key == "torch":
                self.put("memory.bytes", e.key, _rss_per_node(functools.partial(chain_graph, e, n), nodes))
                continue
            gc.collect()
            tracemalloc.start()
            try:
                gc.collect()
                base = tracemalloc.get_traced_memory()[0]
                build, leaves = chain_graph(e, n)
                root = build()
                gc.collect()  # free temporary garbage; the graph itself stays reachable from `root`
                used = tracemalloc.get_traced_memory()[0] - base
            finally:
                tracemalloc.stop()
            del root, build, leaves
            self.put("memory.bytes", e.key, Cell(used / nodes, "", [used / nodes]))
        if "compiled" in self.keys:
            self.put("memory.bytes", "compiled", Cell(None, "replay builds no graph"))
        if "plain" in self.keys:
            self.put("memory.bytes", "plain", Cell(None, "no graph"))

    def _depth(self) -> None:
        """The deepest chain each engine backpropagates at the default recursion limit."""
        for e in self.active("eager", "micrograd", "torch", backward=True):
            self.log(f"  {e.key}")
            deepest, at = 0, (0.0, 0.0)
            failed: int | None = None
            for depth in self.cfg.depths:
                ok, times = _probe(e, depth)
                self.log(f"    depth {depth:,}: {'ok' if ok else 'RecursionError'} {sum(times):.2f} s")
                if not ok:
                    failed = depth
                    break
                deepest, at = depth, times
            if failed is not None and failed <= 10_000:
                lo, hi = deepest, failed  # bisect: cheap at these sizes, and it gives the exact limit
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    ok, times = _probe(e, mid)
                    if ok:
                        lo, at = mid, times
                    else:
                        hi = mid
                deepest = lo
            note = f"probed up to {self.cfg.depths[-1]:,}" if failed is None else f"RecursionError at {deepest + 1:,}"
            if failed is not None and failed > 10_000:
                note = f"RecursionError at {failed:,}"
            self.put("depth.max", e.key, Cell(float(deepest), note, [float(deepest)]))
            split = f"forward {at[0]:.3g} s + backward {at[1]:.3g} s"
            self.put("depth.time", e.key, Cell(sum(at), split, [sum(at)]))
        for key in ("compiled", "floor"):
            if key in self.keys:
                self.put("depth.max", key, Cell(None, "not probed"))
        if "plain" in self.keys:
            self.put("depth.max", "plain", Cell(None, "no autodiff"))

    def _moons(self) -> None:
        """micrograd's moons demo: MLP(2, [16, 16, 1]), hinge loss + 1e-4 L2, full batch, SGD."""
        xs, ys, data_note = models.load_moons(self.cfg.moons_points)
        self.notes.append(f"moons: {data_note}")
        reps = self.cfg.repeats
        for e in self.active("eager", "micrograd", "torch"):
            self.log(f"  {e.key}")
            task = models.make_task(e, xs, ys, MOONS_LAYERS, "moons")
            self.notes.extend(f"moons: {n}" for n in task.notes)
            if e.key == "eager":
                nodes, ops = count_graph(task.loss())
                self.notes.append(f"moons: loss graph {nodes:,} nodes, {ops:,} ops")
            _train_step(task)  # warm-up
            steps, shares = [], []
            for _ in range(reps):
                g0, t0 = self.gc_clock.total, time.perf_counter()
                _train_step(task)
                steps.append((time.perf_counter() - t0) * 1e3)
                shares.append(_share(self.gc_clock.total - g0, steps[-1] / 1e3))
            self.put("moons.step", e.key, Cell(_median(steps), "", steps))
            self.put("moons.step_gc", e.key, Cell(_median(shares), "", shares))
            gc.collect()
            fwd = []
            for _ in range(reps):
                t0 = time.perf_counter()
                loss = task.loss()
                fwd.append((time.perf_counter() - t0) * 1e3)
                del loss
            self.put("moons.forward", e.key, Cell(_median(fwd), "", fwd))
            gc.collect()
        if "floor" in self.keys:
            self.put("moons.step", "floor", Cell(None, "the moons floors are the plain-float and PyTorch columns"))
        straight = self._moons_plain(xs, ys)
        self._moons_compiled(xs, ys, straight)

    def _moons_plain(self, xs: Sequence[Sequence[float]], ys: Sequence[float]) -> list[float]:
        """The moons loss in plain floats: straight-line generated code (the floor), and the
        list-and-loop `ScalarMLP` (a reference). Returns the straight-line timings, ms."""
        if "plain" not in self.keys:
            return []
        self.log("  plain")
        task = models.make_task(self.engines["plain"], xs, ys, MOONS_LAYERS, "moons")
        fn, src = floors.straight_line_moons(task.model.layers, xs, ys)
        params = floors.flat_params(task.model.layers)
        same = fn(params) == task.loss()
        self.notes.append(
            f"moons: straight-line float code, {src.count(chr(10)):,} lines, generated and compiled before timing;"
            f" its loss {'equals' if same else 'DIFFERS FROM'} the list-and-loop float model's (bit for bit)"
        )
        straight: list[float] = []
        loops: list[float] = []
        for _ in range(self.cfg.repeats):
            gc.collect()
            straight.append(_per_call(lambda: fn(params), self.cfg.min_sample_s) * 1e3)
            loops.append(_per_call(task.loss, self.cfg.min_sample_s) * 1e3)
        note = "straight-line code" if same else "DIFFERS FROM the float model"
        self.put("moons.forward", "plain", Cell(_median(straight), note, straight))
        self.put("moons.forward_loops", "plain", Cell(_median(loops), "", loops))
        self.put("moons.step", "plain", Cell(None, "no autodiff"))
        return straight

    def _moons_compiled(self, xs: Sequence[Sequence[float]], ys: Sequence[float], straight: Sequence[float]) -> None:
        """The compiled training step and PyTorch's vectorised step, timed in turns (a paired ratio)."""
        got = self._compile_task("moons", xs, ys, MOONS_LAYERS) if "compiled" in self.keys else None
        batched = self._batched_moons(xs, ys) if got is not None else None
        vec = self._torch_moons(xs, ys) if "torchvec" in self.keys else None
        if got is None and vec is None:
            return
        self.log("  " + ", ".join(k for k, on in (("compiled", got), ("torchvec", vec)) if on))
        steps: list[float] = []
        bsteps: list[float] = []
        vsteps: list[float] = []
        calls: list[float] = []
        with _torch_threads(vec, 1):
            for _ in range(self.cfg.repeats):
                gc.collect()
                if got is not None:
                    steps.append(_per_call(got[1], self.cfg.min_sample_s) * 1e3)
                    calls.append(_per_call(got[0], self.cfg.min_sample_s) * 1e3)
                if batched is not None:
                    bsteps.append(_per_call(batched[0], self.cfg.min_sample_s) * 1e3)
                if vec is not None:
                    vsteps.append(_per_call(vec.step, self.cfg.min_sample_s) * 1e3)
        if batched is not None:
            self.put("moons.step_batch", "compiled", Cell(_median(bsteps), batched[1], bsteps))
            if vec is not None:
                cell = ratio_cell(bsteps, vsteps, paired=True, note=batched[1])
                self.put("moons.vs_torchvec_batch", "compiled", cell)
        note = got[2] if got is not None else ""
        if got is not None:
            self.put("moons.step", "compiled", Cell(_median(steps), note, steps))
            if straight:
                self.put("moons.vs_plain", "compiled", ratio_cell(calls, straight, paired=False, note=note))
        if vec is not None:
            self.put("moons.step", "torchvec", Cell(_median(vsteps), "1 thread", vsteps))
            if got is not None:
                self.put("moons.vs_torchvec", "compiled", ratio_cell(steps, vsteps, paired=True, note=note))

    def _batched_moons(
        self, xs: Sequence[Sequence[float]], ys: Sequence[float]
    ) -> tuple[Callable[[], None], str] | None:
        """The moons step as `demos.moons --compiled` runs it: one point's hinge loss compiled once and
        run over the points by `.batch`, its gradients scaled by 1/N (the mean), plus the L2 term
        compiled on its own; checked against eager's loss and gradients (rel 1e-9). (step, note), or
        None with the reason put in the table."""
        eager = self.engines.get("eager") or make_engines(["eager"])["eager"]
        task = models.make_task(eager, xs, ys, MOONS_LAYERS, "moons")
        params = task.params
        rows = models.moons_rows(xs, ys)
        loss = task.loss()
        loss.backward()
        want_out, want = loss.data, [p.grad for p in params]
        del loss
        eager.zero_grad(params)
        hinge = self.compile(models.point_hinge(task.model), *rows[0])  # type: ignore[misc]
        penalty = self.compile(lambda: models.L2_ALPHA * models.l2_penalty(params))  # type: ignore[misc]
        if not hasattr(hinge, "batch"):
            self.put("moons.step_batch", "compiled", Cell(None, "this compile has no .batch"))
            return None
        scale = 1.0 / len(rows)

        def loss_and_grads() -> float:
            total = hinge.batch(rows)
            for p in params:
                p.grad *= scale
            return float(total * scale + penalty())

        got_out = loss_and_grads()
        same = _rel_close(got_out, want_out) and all(_rel_close(p.grad, w) for p, w in zip(params, want, strict=True))
        self.notes.append(f"moons: compiled .batch step {'matches' if same else 'DIFFERS FROM'} eager (rel 1e-9)")

        def step() -> None:
            eager.zero_grad(params)
            loss_and_grads()
            eager.sgd(params, LR)

        return step, "" if same else "DIFFERS FROM EAGER"

    def _torch_moons(self, xs: Sequence[Sequence[float]], ys: Sequence[float]) -> floors.TorchMoons | None:
        """PyTorch's vectorised moons model from the plain-float model's weights, checked against it."""
        info = self.engine_info().get("torchvec", {})
        if not info.get("available"):
            self.put("moons.step", "torchvec", Cell(None, info.get("reason", "")))
            return None
        plain = make_engines(["plain"])["plain"]
        task = models.make_task(plain, xs, ys, MOONS_LAYERS, "moons")
        vec = floors.TorchMoons(task.model.layers, xs, ys, LR)
        got, want = float(vec.loss().detach()), task.loss()
        same = _rel_close(got, want, 1e-12)
        self.notes.append(
            f"moons: PyTorch vectorised loss {'matches' if same else 'DIFFERS FROM'} the float model's (rel 1e-12)"
        )
        return vec

    def _compile_task(
        self, kind: str, xs: Sequence[Sequence[float]], ys: Sequence[float], layers: Sequence[int]
    ) -> tuple[Callable[[], Any], Callable[[], None], str] | None:
        """The compiled loss of the moons or xor task, checked against eager: (replay, training step,
        note), or None with the reason put in the table."""
        measure = "moons.step" if kind == "moons" else "xor.total"
        if self.compile is None:
            self.put(measure, "compiled", Cell(None, self.compile_reason))
            return None
        eager = self.engines.get("eager") or make_engines(["eager"])["eager"]
        task = models.make_task(eager, xs, ys, layers, kind)
        try:
            loss = task.loss()
            loss.backward()
            want_out, want = loss.data, [p.grad for p in task.params]
            del loss
            eager.zero_grad(task.params)
            compiled = self.compile(task.loss)
            out = compiled()
        except Exception as exc:  # noqa: BLE001 -- an unfinished compiler must not sink the other engines' figures
            self.put(measure, "compiled", Cell(None, f"error: {type(exc).__name__}: {exc}"))
            return None
        got = [p.grad for p in task.params]
        same = _rel_close(float(out), want_out) and all(_rel_close(a, b) for a, b in zip(got, want, strict=True))
        self.notes.append(f"{kind}: compiled replay {'matches' if same else 'DIFFERS FROM'} eager (rel 1e-9)")

        def step() -> None:
            eager.zero_grad(task.params)
            compiled()
            eager.sgd(task.params, LR)

        return compiled, step, "" if same else "DIFFERS FROM EAGER"

    def _xor(self) -> None:
        """XOR with MLP(2, [4, 1]), relu, squared error: `xor_steps` full-batch SGD steps, from scratch."""
        xs, ys = models.XOR_X, models.XOR_Y
        for e in self.active("eager", "micrograd", "torch", backward=True):
            self.log(f"  {e.key}")
            runs, shares = [], []
            for _ in range(self.cfg.repeats):
                task = models.make_task(e, xs, ys, XOR_LAYERS, "xor")
                self.notes.extend(n for n in (f"xor: {n}" for n in task.notes) if n not in self.notes)
                gc.collect()
                g0, t0 = self.gc_clock.total, time.perf_counter()
                for _ in range(self.cfg.xor_steps):
                    _train_step(task)
                runs.append(time.perf_counter() - t0)
                shares.append(_share(self.gc_clock.total - g0, runs[-1]))
            self.put("xor.total", e.key, Cell(_median(runs), "", runs))
            self.put("xor.gc", e.key, Cell(_median(shares), "", shares))
        if "plain" in self.keys:
            self.put("xor.total", "plain", Cell(None, "no autodiff"))
        got = self._compile_task("xor", xs, ys, XOR_LAYERS) if "compiled" in self.keys else None
        if got is not None:
            self.log("  compiled")
            runs = []
            for _ in range(self.cfg.repeats):
                t0 = time.perf_counter()
                for _ in range(self.cfg.xor_steps):
                    got[1]()
                runs.append(time.perf_counter() - t0)
            self.put("xor.total", "compiled", Cell(_median(runs), got[2], runs))

    def _compile(self) -> None:
        """Trace + compile of a non-repeating chain: this tree against the baseline commit, in subprocesses."""
        if "compiled" not in self.keys:
            return
        n = self.cfg.compile_ops
        self.notes.append(
            f"compile: {n // 3:,} steps of x = tanh(x * c[3i] + c[3i+1]) with distinct seeded constants"
            f" ({n // 3 * 3:,} ops), autograd.compile(f, 0.3) timed in a fresh process per repeat,"
            f" {compile_time.BASELINE} and this tree in turns"
        )
        here = compile_time.ROOT
        old: list[float] = []
        new: list[float] = []
        try:
            with compile_time.baseline_tree() as base:
                for i in range(self.cfg.repeats):
                    for tree, out in ((base, old), (here, new)) if i % 2 == 0 else ((here, new), (base, old)):
                        self.log(f"  {'baseline' if tree is base else 'this tree'}")
                        out.append(compile_time.measure(tree, n)["seconds"])
        except compile_time.Unavailable as exc:
            why = f"baseline {compile_time.BASELINE} unavailable: {exc}"
            for key in ("compile.baseline_s", "compile.ratio"):
                self.put(key, "compiled", Cell(None, why))
            self.put("compile.this_s", "compiled", _timed_alone(here, n, self.cfg.repeats))
            return
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            for key in ("compile.baseline_s", "compile.this_s", "compile.ratio"):
                self.put(key, "compiled", Cell(None, f"error: {exc}"))
            return
        self.put("compile.baseline_s", "compiled", Cell(_median(old), f"commit {compile_time.BASELINE}", old))
        self.put("compile.this_s", "compiled", Cell(_median(new), "", new))
        self.put("compile.ratio", "compiled", ratio_cell(new, old, paired=True))

    def _batch(self) -> None:
        """`.batch` of moons rows: today's row-by-row path against the vectorised one, in turns."""
        if "compiled" not in self.keys:
            return
        if self.compile is None:
            self.put("batch.rows", "compiled", Cell(None, self.compile_reason))
            return
        xs, ys, _ = models.load_moons(self.cfg.batch_rows)
        rows = models.moons_rows(xs, ys)
        eager = self.engines.get("eager") or make_engines(["eager"])["eager"]
        task = models.make_task(eager, xs[:1], ys[:1], MOONS_LAYERS, "moons")
        row_loss = models.point_hinge(task.model)

        self.notes.append(f"batch: one moons point's hinge loss per row, {len(rows):,} rows per .batch call")
        why = ""
        try:
            compiled = self.compile(row_loss, *rows[0])
            try:
                methods = {m: _batch_call(compiled, rows, m, task.params) for m in ("rows", "numpy")}
            except TypeError as exc:
                if "unexpected keyword argument 'method'" not in str(exc):
                    raise
                why = "Compiled.batch takes no method= yet (today's .batch only)"
        except Exception as exc:  # noqa: BLE001 -- an unfinished .batch must not sink the run
            why = f"error: {type(exc).__name__}: {exc}"
        if why:
            for key in ("batch.rows", "batch.numpy", "batch.ratio"):
                self.put(key, "compiled", Cell(None, why))
            return
        (want, want_g), (got, got_g) = methods["rows"], methods["numpy"]
        same = _rel_close(got, want, 1e-12) and all(_rel_close(a, b, 1e-12) for a, b in zip(got_g, want_g, strict=True))
        note = "" if same else "DIFFERS FROM method='rows'"
        self.notes.append(f"batch: method='numpy' {'matches' if same else 'DIFFERS FROM'} method='rows' (rel 1e-12)")
        timings: dict[str, list[float]] = {"rows": [], "numpy": []}
        for i in range(self.cfg.repeats):
            for m in ("rows", "numpy") if i % 2 == 0 else ("numpy", "rows"):
                eager.zero_grad(task.params)
                gc.collect()
                t0 = time.perf_counter()
                compiled.batch(rows, method=m)
                timings[m].append((time.perf_counter() - t0) * 1e3)
        self.put("batch.rows", "compiled", Cell(_median(timings["rows"]), "", timings["rows"]))
        self.put("batch.numpy", "compiled", Cell(_median(timings["numpy"]), note, timings["numpy"]))
        self.put("batch.ratio", "compiled", ratio_cell(timings["numpy"], timings["rows"], paired=True, note=note))


def _batch_call(compiled: Any, rows: Sequence[Any], method: str, params: Sequence[Any]) -> tuple[float, list[float]]:
    """One `.batch(rows, method=...)` from zeroed gradients: (total, the gradients it leaves)."""
    for p in params:
        p.grad = 0.0
    total = compiled.batch(rows, method=method)
    return float(total), [float(p.grad) for p in params]


def _timed_alone(tree: Any, n: int, repeats: int) -> Cell:
    """This tree's compile time without a baseline to alternate with."""
    try:
        samples = [compile_time.measure(tree, n)["seconds"] for _ in range(repeats)]
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return Cell(None, f"error: {exc}")
    return Cell(_median(samples), "", samples)


def _train_step(task: models.Task) -> None:
    e = task.engine
    loss = task.loss()
    e.zero_grad(task.params)
    e.backward(loss)
    e.sgd(task.params, LR)


def _per_call(fn: Callable[[], Any], min_seconds: float) -> float:
    """Seconds per call of `fn`, averaged over as many calls as fill `min_seconds` (at least one)."""
    n = 0
    t0 = time.perf_counter()
    while True:
        fn()
        n += 1
        total = time.perf_counter() - t0
        if total >= min_seconds:
            return total / n


@contextlib.contextmanager
def _torch_threads(vec: floors.TorchMoons | None, n: int) -> Iterator[None]:
    """PyTorch limited to `n` threads inside the block (when `vec` is given), restored afterwards."""
    if vec is None:
        yield
        return
    old = vec.torch.get_num_threads()
    vec.torch.set_num_threads(n)
    try:
        yield
    finally:
        vec.torch.set_num_threads(old)


def _probe(e: Engine, depth: int) -> tuple[bool, tuple[float, float]]:
    """Build a chain `depth` ops deep and backpropagate it: (succeeded, (forward s, backward s))."""
    build, _leaves = chain_graph(e, depth)
    gc.collect()
    t0 = time.perf_counter()
    root = build()
    t1 = time.perf_counter()
    try:
        e.backward(root)
    except RecursionError:
        return False, (t1 - t0, time.perf_counter() - t1)
    finally:
        del root
    return True, (t1 - t0, time.perf_counter() - t1)


def _rss() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _rss_per_node(make: Callable[[], tuple[Callable[[], Any], list[Any]]], nodes: int) -> Cell:
    """Resident memory grown by building the graph, per node (libtorch's C++ heap is invisible to tracemalloc)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap back, so the growth is this graph's
    before = _rss()
    if before is None:
        return Cell(None, "RSS not readable on this platform")
    build, leaves = make()
    root = build()
    after = _rss()
    del root, build, leaves
    value = max(after - before, 0) / nodes  # type: ignore[operator]
    return Cell(value, "RSS growth, approximate", [value])


def run(
    config: Config,
    engines: Sequence[str] = ENGINE_KEYS,
    workloads: Sequence[str] = WORKLOADS,
    log: Callable[[str], None] | None = None,
    gc_freeze: bool = True,
) -> Results:
    """Run `workloads` on `engines` with `config`'s sizes; one process, gc enabled, medians of repeats.

    `gc_freeze` hides the objects that exist before the run (imported modules) from the collector.
    """
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        raise ValueError(f"run: unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    bad = [k for k in engines if k not in ENGINE_KEYS]
    if bad:
        raise ValueError(f"run: unknown engine(s) {bad}; choose from {', '.join(ENGINE_KEYS)}")
    if config.repeats < 1:
        raise ValueError(f"run: repeats must be >= 1, got {config.repeats}")
    return Runner(config, engines, log, gc_freeze).run(workloads)
