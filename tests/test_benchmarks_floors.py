"""The benchmark floors, the load rule and the target judging, on tiny sizes: what they compute, never timing."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from typing import Any

import pytest

import autograd
from benchmarks import PRESETS, Cell, Results, compile_time, floors, markdown_table, models, run, save, text_table
from benchmarks.engines import ENGINE_TITLES, EagerEngine, FloorEngine, PlainEngine
from benchmarks.load import LoadWatch, own_share
from benchmarks.suite import Runner, build_chain, chain_graph, count_graph, ratio_cell, wide_graph

TINY = PRESETS["tiny"]
FULL = PRESETS["full"]


# ---- the floors compute what chainrule computes -----------------------------------------------------
def _run_graph(e: Any, make: Callable[[Any], Any]) -> tuple[float, list[float]]:
    build, leaves = make(e)
    root = build()
    e.prepare_backward(root)()
    return e.data(root), [e.grad(v) for v in leaves]


@pytest.mark.parametrize(
    "make",
    [lambda e: chain_graph(e, 300), lambda e: chain_graph(e, 301), lambda e: wide_graph(e, 7, 31)],
    ids=["chain", "chain+1", "wide"],
)
def test_floor_forward_and_sweep_equal_eager_bit_for_bit(make: Callable[[Any], Any]) -> None:
    want = _run_graph(EagerEngine(), make)
    got = _run_graph(FloorEngine(), make)
    assert got[0] == want[0]  # the same float, not merely close
    assert got[1] == want[1] and any(g != 0.0 for g in want[1])


def test_floor_relu_chain_equals_eager() -> None:
    eager, floor = EagerEngine(), FloorEngine()
    results = []
    for e in (eager, floor):
        x0, w, b = e.leaf(-0.3), e.leaf(0.5), e.leaf(0.1)  # starts below the kink: both relu branches run
        root = build_chain(x0, w, b, 62, e.relu)
        e.prepare_backward(root)()
        results.append((e.data(root), [e.grad(v) for v in (x0, w, b)]))
    assert results[0] == results[1]


def test_given_order_puts_every_node_before_its_inputs() -> None:
    e = FloorEngine()
    root = wide_graph(e, 5, 11)[0]()
    order = floors.given_order(root)
    eager_root = wide_graph(EagerEngine(), 5, 11)[0]()
    assert len(order) == count_graph(eager_root)[0] and len({id(n) for n in order}) == len(order)
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for x in (node.a, node.b):
            if x is not None:
                assert position[id(x)] > position[id(node)]


def test_floor_node_has_the_nine_slots_of_value() -> None:
    assert len(floors.FloorNode.__slots__) == 9 == len(autograd.Value.__slots__)
    n = floors.FloorNode(2.0) * 3.0
    assert (n.data, n.op, n.b.data, n.grad) == (6.0, "*", 3.0, 0.0)  # type: ignore[union-attr]


def test_straight_line_moons_equals_the_float_model() -> None:
    xs, ys, _ = models.load_moons(12)
    task = models.make_task(PlainEngine(), xs, ys, (16, 16, 1), "moons")
    fn, src = floors.straight_line_moons(task.model.layers, xs, ys)
    params = floors.flat_params(task.model.layers)
    assert fn(params) == task.loss()  # the same ops in the same order: the same float
    words = src.replace("(", " ").split()
    assert "for" not in words and "while" not in words and "[" not in src  # straight-line: no loops, no lists
    params[0] += 0.25  # the parameters are read at call time, not baked in
    assert fn(params) != task.loss()


def test_torch_vectorised_moons_matches_chainrule() -> None:
    pytest.importorskip("torch", reason="PyTorch is not installed; it is only a reference column")
    xs, ys, _ = models.load_moons(10)
    plain = models.make_task(PlainEngine(), xs, ys, (16, 16, 1), "moons")
    vec = floors.TorchMoons(plain.model.layers, xs, ys, lr=0.05)
    loss = vec.loss()
    assert math.isclose(float(loss.detach()), plain.loss(), rel_tol=1e-12)
    # the same weights on chainrule Values (ScalarMLP draws them from the same seed): compare gradients
    eager = models.scalar_task(EagerEngine(), xs, ys, (16, 16, 1), "moons")
    out = eager.loss()
    out.backward()
    loss.backward()
    got = [float(g) for w, b in zip(vec.weights, vec.biases, strict=True) for g in (*w.grad.T.flatten(), *b.grad)]
    # ScalarMLP's order is each neuron's weights then its bias; regroup torch's per-layer tensors the same way
    want_by_layer = []
    i = 0
    for w in vec.weights:
        nin, nout = w.shape
        layer = eager.params[i : i + nout * (nin + 1)]
        want_by_layer += [p.grad for j in range(nout) for p in layer[j * (nin + 1) : j * (nin + 1) + nin]]
        want_by_layer += [layer[j * (nin + 1) + nin].grad for j in range(nout)]
        i += nout * (nin + 1)
    assert len(got) == len(want_by_layer)
    assert all(math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15) for a, b in zip(got, want_by_layer, strict=True))
    before = vec.params[0].detach().clone()
    vec.step()
    assert not bool((vec.params[0].detach() == before).all())


# ---- the floors in the run --------------------------------------------------------------------------
def test_floors_are_measured_and_divided_repeat_by_repeat() -> None:
    res = run(TINY.with_repeats(3), ["eager", "floor"], ["chain", "wide", "memory"])
    for prefix in ("chain", "wide"):
        for key in ("forward", "backward"):
            cell = res.cells[f"{prefix}.{key}"]["floor"]
            assert cell.value is not None and cell.value > 0 and len(cell.samples) == 3
            ratio = res.cells[f"{prefix}.vs_floor_{key}"]["eager"]
            mine = res.cells[f"{prefix}.{key}"]["eager"]
            assert ratio.value is not None and len(ratio.samples) == 3
            # repeat by repeat: each sample is eager's i-th timing over the floor's i-th
            for r, a, b in zip(ratio.samples, mine.samples, cell.samples, strict=True):
                assert math.isclose(r, a / b, rel_tol=1e-9)
    assert res.cells["memory.bytes"]["floor"].value is not None
    text = text_table(res)
    assert "eager forward / object-per-node floor" in text and "given-order sweep" in text


def test_replay_ratio_divides_by_the_gc_enabled_plain_forward() -> None:
    if not hasattr(autograd, "compile"):
        pytest.skip("autograd.compile is not part of this chainrule")
    res = run(TINY.with_repeats(3), ["eager", "compiled", "plain"], ["chain"])
    replay, plain = res.cells["chain.fb"]["compiled"], res.cells["chain.forward"]["plain"]
    ratio = res.cells["chain.vs_plain"]["compiled"]
    assert ratio.value is not None and plain.value is not None and replay.value is not None
    assert math.isclose(ratio.value, replay.value / plain.value, rel_tol=1e-12)
    assert ratio.samples == [min(replay.samples) / max(plain.samples), max(replay.samples) / min(plain.samples)]


def test_moons_floors_are_straight_line_and_torch() -> None:
    res = run(TINY, ["eager", "compiled", "torchvec", "plain"], ["moons"])
    assert res.cells["moons.forward"]["plain"].note == "straight-line code"
    assert res.cells["moons.forward_loops"]["plain"].value is not None
    assert any("equals the list-and-loop float model's" in n for n in res.notes)
    assert res.cells["moons.step_batch"]["compiled"].value is not None
    assert "moons: compiled .batch step matches eager (rel 1e-9)" in res.notes
    if res.engines["torchvec"]["available"]:
        assert res.cells["moons.step"]["torchvec"].value is not None
        assert res.cells["moons.vs_torchvec"]["compiled"].value is not None
        assert res.cells["moons.vs_torchvec_batch"]["compiled"].value is not None
        assert "moons: PyTorch vectorised loss matches the float model's (rel 1e-12)" in res.notes
    else:
        assert res.cells["moons.step"]["torchvec"].note == res.engines["torchvec"]["reason"] != ""


def test_ratio_cell() -> None:
    paired = ratio_cell([2.0, 3.0, 9.0], [1.0, 2.0, 3.0], paired=True)
    assert paired.value == 2.0 and paired.samples == [2.0, 1.5, 3.0]
    unpaired = ratio_cell([2.0, 3.0, 9.0], [1.0, 2.0, 3.0], paired=False)
    assert unpaired.value == 1.5 and unpaired.samples == [2.0 / 3.0, 9.0]
    assert ratio_cell([], [1.0], paired=True).value is None


# ---- compile time against the baseline commit --------------------------------------------------------
def test_compile_time_baseline_unavailable_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compile_time, "BASELINE", "0000000")
    res = run(TINY, ["eager", "compiled"], ["compile"])
    for key in ("compile.baseline_s", "compile.ratio"):
        cell = res.cells[key]["compiled"]
        assert cell.value is None and cell.note.startswith("baseline 0000000 unavailable: ")
    this = res.cells["compile.this_s"]["compiled"]
    assert this.value is not None and this.value > 0


def test_compile_time_is_measured_on_both_trees() -> None:
    if shutil.which("git") is None or not (compile_time.ROOT / ".git").exists():
        pytest.skip("needs git and the repository's history")
    try:
        with compile_time.baseline_tree() as tree:
            assert (tree / "autograd" / "__init__.py").exists()
            old = compile_time.measure(tree, 30)
    except compile_time.Unavailable as exc:
        pytest.skip(str(exc))
    new = compile_time.measure(compile_time.ROOT, 30)
    assert old["out"] == new["out"]  # the same function compiled by both trees gives the same number
    assert new["file"].startswith(str(compile_time.ROOT))
    res = run(TINY.with_repeats(2), ["eager", "compiled"], ["compile"])
    ratio = res.cells["compile.ratio"]["compiled"]
    assert ratio.value is not None and len(ratio.samples) == 2


# ---- .batch rows against numpy ---------------------------------------------------------------------
class _WithMethod:
    """A compiled function whose `.batch` takes `method=` (both methods run today's path)."""

    def __init__(self, inner: Any, skew: float) -> None:
        self.inner, self.skew = inner, skew

    def batch(self, rows: Any, method: str = "rows") -> float:
        total = self.inner.batch(rows)
        return float(total) + (self.skew if method == "numpy" else 0.0)


@pytest.mark.parametrize(("skew", "note"), [(0.0, ""), (1.0, "DIFFERS FROM method='rows'")])
def test_batch_methods_are_timed_and_checked(monkeypatch: pytest.MonkeyPatch, skew: float, note: str) -> None:
    real = autograd.compile
    monkeypatch.setattr(autograd, "compile", lambda f, *args: _WithMethod(real(f, *args), skew))
    res = run(TINY.with_repeats(2), ["eager", "compiled"], ["batch"])
    for key in ("batch.rows", "batch.numpy", "batch.ratio"):
        assert res.cells[key]["compiled"].value is not None, key
    assert res.cells["batch.numpy"]["compiled"].note == note
    assert len(res.cells["batch.ratio"]["compiled"].samples) == 2


def test_batch_without_method_keyword_is_not_available(monkeypatch: pytest.MonkeyPatch) -> None:
    real = autograd.compile

    class Today:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def batch(self, rows: Any) -> float:
            return float(self.inner.batch(rows))

    monkeypatch.setattr(autograd, "compile", lambda f, *args: Today(real(f, *args)))
    res = run(TINY, ["eager", "compiled"], ["batch"])
    cell = res.cells["batch.ratio"]["compiled"]
    assert cell.value is None and "method=" in cell.note


# ---- the load rule ----------------------------------------------------------------------------------
def _watch(readings: list[tuple[float, float | None]], n_cores: int = 2) -> LoadWatch:
    """A LoadWatch fed fake (elapsed seconds, 1-min load) readings."""
    times = iter(t for t, _ in readings)
    loads = iter(None if x is None else (x, x, x) for _, x in readings)
    w = LoadWatch(cores=n_cores, clock=lambda: next(times), reader=lambda: next(loads))
    for i in range(len(readings)):
        w.read(f"r{i}")
    return w


def test_load_rule() -> None:
    assert own_share(0.0) == 0.0 and math.isclose(own_share(60.0), 1 - math.exp(-1))
    assert not _watch([(0.0, 0.4), (60.0, 1.5)]).loaded  # 1.5 - 0.63 = 0.87: only our own run
    assert _watch([(0.0, 0.4), (60.0, 1.7)]).loaded  # 1.7 - 0.63 = 1.07 > 0.5 x 2 cores
    assert _watch([(0.0, 1.2), (60.0, 0.9)]).loaded  # busy when the run started
    assert not _watch([(0.0, 1.2), (60.0, 0.9)], n_cores=4).loaded
    unknown = _watch([(0.0, None), (5.0, None)])
    assert not unknown.loaded and unknown.summary()["known"] is False


def test_a_loaded_run_is_marked(tmp_path: Any) -> None:
    watch = _watch([(0.0, 3.0)])  # the fake reads 3.0 at the start; the run adds its own readings
    times = iter([1.0, 2.0, 3.0, 4.0])
    watch.clock = lambda: next(times)
    watch.reader = lambda: (3.0, 3.0, 3.0)
    res = Runner(TINY, ["eager", "floor"], load_watch=watch).run(["xor"])
    assert res.load["loaded"] is True and [r["where"] for r in res.load["readings"]][-2:] == ["xor", "end"]
    assert text_table(res).startswith("LOADED: ")
    md, js = save(res, tmp_path / "r")
    assert "LOADED" in md.read_text() and json.loads(js.read_text())["loaded"] is True


# ---- judging targets ---------------------------------------------------------------------------------
def _synthetic(cells: dict[str, dict[str, Cell]], cfg: Any = FULL, loaded: bool = False) -> Results:
    keys = ("eager", "compiled", "floor")
    engines = {k: {"title": ENGINE_TITLES[k], "available": True, "reason": "", "version": ""} for k in keys}
    return Results(cfg, engines, cells, [], load={"loaded": loaded, "known": False, "readings": []})


def _line(text: str, label: str) -> str:
    return next(r for r in text.splitlines() if r.startswith(f"| {label} |"))


@pytest.mark.parametrize(
    ("key", "engine", "label", "value", "status"),
    [
        ("chain.vs_floor_forward", "eager", "eager forward / object-per-node floor", 1.10, "met"),
        ("chain.vs_floor_forward", "eager", "eager forward / object-per-node floor", 1.11, "MISSED"),
        ("wide.vs_floor_backward", "eager", "eager backward / given-order sweep floor", 1.59, "met"),
        ("wide.vs_floor_backward", "eager", "eager backward / given-order sweep floor", 1.7, "MISSED"),
        ("chain.vs_plain", "compiled", "compiled f+b / plain-float forward", 3.01, "MISSED"),
        (
            "moons.vs_torchvec_batch",
            "compiled",
            "compiled step (.batch, as demos.moons --compiled) / PyTorch vectorised step",
            4.9,
            "met",
        ),
        (
            "moons.vs_torchvec_batch",
            "compiled",
            "compiled step (.batch, as demos.moons --compiled) / PyTorch vectorised step",
            5.1,
            "MISSED",
        ),
        ("compile.ratio", "compiled", "this tree / 0862019", 0.5, "met"),
        ("compile.ratio", "compiled", "this tree / 0862019", 0.51, "MISSED"),
        ("batch.ratio", "compiled", "numpy / rows", 0.21, "MISSED"),
    ],
)
def test_targets_are_judged_on_the_ratio_rows(key: str, engine: str, label: str, value: float, status: str) -> None:
    cell = Cell(value, "", [value * 0.9, value, value * 1.2])
    line = _line(markdown_table(_synthetic({key: {engine: cell}})), label)
    assert line.endswith(f"| {engine}: {status} |")
    assert f"(range {value * 0.9:.2f}-{value * 1.2:.2f})" in line  # the spread over the repeats
    loaded = _line(markdown_table(_synthetic({key: {engine: cell}}, loaded=True)), label)
    assert loaded.endswith(f"| {engine}: {status} (loaded) |")
    small = _line(markdown_table(_synthetic({key: {engine: cell}}, cfg=TINY)), label)
    assert small.endswith(f"| {engine}: n/a (not full size) |")


def test_a_missing_figure_is_not_judged() -> None:
    res = _synthetic({"batch.ratio": {"compiled": Cell(None, "Compiled.batch takes no method= yet")}})
    line = _line(markdown_table(res), "numpy / rows")
    assert line.endswith("| compiled: n/a |") and "n/a [1]" in line


def test_real_batch_methods_agree_or_are_marked_missing() -> None:
    if not hasattr(autograd, "compile"):
        pytest.skip("autograd.compile is not part of this chainrule")
    res = run(TINY, ["eager", "compiled"], ["batch"])
    cell = res.cells["batch.ratio"]["compiled"]
    if cell.value is None:
        assert "method=" in cell.note or "numpy" in cell.note, cell.note
    else:
        assert "batch: method='numpy' matches method='rows' (rel 1e-12)" in res.notes
        assert res.cells["batch.numpy"]["compiled"].note == ""
