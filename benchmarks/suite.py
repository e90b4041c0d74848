"""The workloads and the runner: every engine, every workload, one process, medians of repeats.

The garbage collector stays enabled while timing (that is how users run, and for engines whose
nodes form reference cycles it is most of the cost); `gc.collect()` runs *between* timed repeats so
one repeat's garbage is not billed to the next, and the share of each timing spent inside the
collector is recorded. The import-time heap (torch's alone is ~150,000 objects) is frozen with
`gc.freeze()`, so no engine pays for walking another engine's modules. Figures with the collector
disabled are reported separately, for reference.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import autograd

from . import models
from .engines import ENGINE_KEYS, ENGINE_TITLES, RECURSION_MARGIN, Engine, compile_function, make_engines

WORKLOADS: tuple[str, ...] = ("chain", "wide", "memory", "depth", "moons", "xor")

# The chain's constants: x stays in (0, 1) for tanh and relu alike, so no engine hits a kink or overflow.
X0, W, B = 0.3, 0.5, 0.1
LR = 0.05
MOONS_LAYERS = (16, 16, 1)
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

    def with_repeats(self, repeats: int) -> Config:
        return Config(**{**asdict(self), "repeats": repeats})


PRESETS: dict[str, Config] = {
    "full": Config("full", 100_000, 1000, 100, 100_000, (10**3, 10**4, 10**5, 10**6), 100, 1000, 5),
    "quick": Config("quick", 20_000, 200, 100, 20_000, (10**3, 10**4), 100, 1000, 3),
    "tiny": Config("tiny", 300, 10, 30, 300, (10, 100), 8, 5, 1),
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
    ) -> None:
        self.cfg = config
        self.gc_freeze = gc_freeze
        self.keys = [k for k in ENGINE_KEYS if k in engine_keys]
        self.engines = make_engines(self.keys)
        self.compile: Callable[..., Any] | None = None
        self.compile_reason = "not selected"
        if "compiled" in self.keys:
            self.compile, self.compile_reason = compile_function()
        self.cells: dict[str, dict[str, Cell]] = {}
        self.notes: list[str] = []
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
            else:
                e = self.engines[key]
                info[key] = {"available": e.available, "reason": e.reason, "version": e.version}
            info[key]["title"] = ENGINE_TITLES[key]
        return info

    # ---- the run -------------------------------------------------------------------------------
    def run(self, workloads: Sequence[str] = WORKLOADS) -> Results:
        start = time.perf_counter()
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
                        self.log(f"[{name}]")
                        getattr(self, f"_{name}")()
                        gc.collect()
        finally:
            if self.gc_freeze:
                gc.unfreeze()
        return Results(self.cfg, self.engine_info(), self.cells, self.notes, time.perf_counter() - start)

    def _graph(self, prefix: str, make: Callable[[Engine], tuple[Callable[[], Any], list[Any]]], depth: int) -> None:
        """Forward, backward and compiled replay of one graph shape on every engine."""
        reps = self.cfg.repeats
        eager_probe = make(self.engines.get("eager") or make_engines(["eager"])["eager"])[0]()
        nodes, ops = count_graph(eager_probe)
        del eager_probe
        self.notes.append(f"{prefix}: {nodes:,} nodes, {ops:,} ops (counted with autograd.topological_order)")
        plain_forward: float | None = None
        for e in self.active("eager", "micrograd", "torch", "plain"):
            self.log(f"  {e.key}")
            for no_gc, suffix in ((False, ""), (True, "_nogc")):
                fwd: list[float] = []
                bwd: list[float] = []
                fwd_gc: list[float] = []
                bwd_gc: list[float] = []
                bwd_note = ""
                for _ in range(reps):
                    build, _leaves = make(e)
                    gc.collect()
                    with _gc_disabled() if no_gc else contextlib.nullcontext():
                        g0, t0 = self.gc_clock.total, time.perf_counter()
                        root = build()
                        fwd.append(time.perf_counter() - t0)
                        fwd_gc.append(_share(self.gc_clock.total - g0, fwd[-1]))
                        if e.has_backward:
                            with e.deep_recursion(depth) as ok:
                                if ok:
                                    g0, t0 = self.gc_clock.total, time.perf_counter()
                                    e.backward(root)
                                    bwd.append(time.perf_counter() - t0)
                                    bwd_gc.append(_share(self.gc_clock.total - g0, bwd[-1]))
                                else:
                                    bwd_note = "needs recursion deeper than is safe on this Python"
                    del root, build, _leaves
                self._store_graph(prefix, suffix, e, fwd, bwd, bwd_note, ops, nodes, depth)
                if not suffix:
                    self.put(f"{prefix}.forward_gc", e.key, Cell(_median(fwd_gc), "", fwd_gc))
                    if bwd_gc:
                        self.put(f"{prefix}.backward_gc", e.key, Cell(_median(bwd_gc), "", bwd_gc))
            if e.key == "plain":
                plain_forward = self.cells[f"{prefix}.forward"]["plain"].value
        self._compiled_graph(prefix, make, ops, plain_forward)

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
        self.put(f"{prefix}.forward{suffix}", e.key, Cell(_median(fwd_ns), act, fwd_ns))
        if not e.has_backward:
            self.put(f"{prefix}.backward{suffix}", e.key, Cell(None, "no autodiff"))
            if not suffix:
                self.put(f"{prefix}.fb", e.key, Cell(_median(fwd_ns), "forward only", fwd_ns))
            return
        if not bwd:
            self.put(f"{prefix}.backward{suffix}", e.key, Cell(None, bwd_note))
            return
        note = act
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
        plain_forward: float | None,
    ) -> None:
        """`autograd.compile` the eager builder, check it against eager, time the replay."""
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
            t0 = time.perf_counter()
            compiled()
            samples.append((time.perf_counter() - t0) / ops * 1e9)
        cell = Cell(_median(samples), note, samples)
        self.put(f"{prefix}.fb", "compiled", cell)
        if plain_forward:
            self.put(f"{prefix}.vs_plain", "compiled", Cell(cell.value / plain_forward, note))  # type: ignore[operator]

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
        for e in self.active("eager", "micrograd", "torch", backward=True):
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
        if "compiled" in self.keys:
            self.put("depth.max", "compiled", Cell(None, "not probed"))
        if "plain" in self.keys:
            self.put("depth.max", "plain", Cell(None, "no autodiff"))

    def _moons(self) -> None:
        """micrograd's moons demo: MLP(2, [16, 16, 1]), hinge loss + 1e-4 L2, full batch, SGD."""
        xs, ys, data_note = models.load_moons(self.cfg.moons_points)
        self.notes.append(f"moons: {data_note}")
        reps = self.cfg.repeats
        plain_forward: float | None = None
        for e in self.active("eager", "micrograd", "torch", "plain"):
            self.log(f"  {e.key}")
            task = models.make_task(e, xs, ys, MOONS_LAYERS, "moons")
            self.notes.extend(f"moons: {n}" for n in task.notes)
            if e.key == "eager":
                nodes, ops = count_graph(task.loss())
                self.notes.append(f"moons: loss graph {nodes:,} nodes, {ops:,} ops")
            if e.has_backward:
                _train_step(task)  # warm-up
                steps, shares = [], []
                for _ in range(reps):
                    g0, t0 = self.gc_clock.total, time.perf_counter()
                    _train_step(task)
                    steps.append((time.perf_counter() - t0) * 1e3)
                    shares.append(_share(self.gc_clock.total - g0, steps[-1] / 1e3))
                self.put("moons.step", e.key, Cell(_median(steps), "", steps))
                self.put("moons.step_gc", e.key, Cell(_median(shares), "", shares))
            else:
                self.put("moons.step", e.key, Cell(None, "no autodiff"))
            gc.collect()
            fwd = []
            for _ in range(reps):
                t0 = time.perf_counter()
                loss = task.loss()
                fwd.append((time.perf_counter() - t0) * 1e3)
                del loss
            self.put("moons.forward", e.key, Cell(_median(fwd), "", fwd))
            if e.key == "plain":
                plain_forward = _median(fwd)
            gc.collect()
        self._compiled_task("moons", xs, ys, MOONS_LAYERS, plain_forward)

    def _compiled_task(
        self,
        kind: str,
        xs: Sequence[Sequence[float]],
        ys: Sequence[float],
        layers: Sequence[int],
        plain_forward: float | None,
    ) -> None:
        """The compiled training step (moons) or the compiled training run (xor)."""
        if "compiled" not in self.keys:
            return
        measure = "moons.step" if kind == "moons" else "xor.total"
        if self.compile is None:
            self.put(measure, "compiled", Cell(None, self.compile_reason))
            return
        self.log("  compiled")
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
            return
        got = [p.grad for p in task.params]
        same = _rel_close(float(out), want_out) and all(_rel_close(a, b) for a, b in zip(got, want, strict=True))
        note = "" if same else "DIFFERS FROM EAGER"
        self.notes.append(f"{kind}: compiled replay {'matches' if same else 'DIFFERS FROM'} eager (rel 1e-9)")
        reps = self.cfg.repeats

        def step() -> None:
            eager.zero_grad(task.params)
            compiled()
            eager.sgd(task.params, LR)

        if kind == "moons":
            steps, calls = [], []
            for _ in range(reps):
                t0 = time.perf_counter()
                step()
                steps.append((time.perf_counter() - t0) * 1e3)
            for _ in range(reps):
                t0 = time.perf_counter()
                compiled()
                calls.append((time.perf_counter() - t0) * 1e3)
            self.put("moons.step", "compiled", Cell(_median(steps), note, steps))
            if plain_forward:
                self.put("moons.vs_plain", "compiled", Cell(_median(calls) / plain_forward, note))
        else:
            runs = []
            for _ in range(reps):
                t0 = time.perf_counter()
                for _ in range(self.cfg.xor_steps):
                    step()
                runs.append(time.perf_counter() - t0)
            self.put("xor.total", "compiled", Cell(_median(runs), note, runs))

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
        self._compiled_task("xor", xs, ys, XOR_LAYERS, None)


def _train_step(task: models.Task) -> None:
    e = task.engine
    loss = task.loss()
    e.zero_grad(task.params)
    e.backward(loss)
    e.sgd(task.params, LR)


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
