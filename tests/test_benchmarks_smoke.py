"""Smoke tests of the benchmark suite's machinery on tiny sizes: structure and correctness, never timing."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

import autograd
from benchmarks import PRESETS, WORKLOADS, Cell, Results, markdown_table, run, save, text_table
from benchmarks.__main__ import main, parser
from benchmarks.engines import ENGINE_KEYS, ENGINE_TITLES, EagerEngine, make_engines
from benchmarks.models import XOR_X, XOR_Y, ScalarMLP, chainrule_nn, chainrule_task, load_moons, moons
from benchmarks.report import rows
from benchmarks.suite import Runner, build_chain, chain_graph, count_graph, wide_graph

TINY = PRESETS["tiny"]


def _fake_compile(f: Any, *example_args: Any) -> Any:
    """Stands in for `autograd.compile` with its contract (value returned, leaf grads accumulated)."""

    def replay(*args: Any) -> float:
        out = f(*(args or example_args))
        out.backward()
        return out.data

    return replay


def _wrong_compile(f: Any, *example_args: Any) -> Any:
    """A broken compiler: right value, doubled gradients."""

    def replay(*args: Any) -> float:
        out = f(*(args or example_args))
        out.backward(2.0)
        return out.data

    return replay


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(a), abs(b))


# ---- graph shapes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 31, 300])
def test_chain_is_n_ops_deep(n: int) -> None:
    build, leaves = chain_graph(EagerEngine(), n)
    root = build()
    n_leaves = 3 if n >= 2 else 2  # x0, w, and b once the first addition happens
    assert count_graph(root) == (n + n_leaves, n)
    depth, node = 0, root
    while not node.is_leaf():  # the first input is always the chain's previous node
        node, depth = node.inputs[0], depth + 1
    assert depth == n and node is leaves[0]


@pytest.mark.parametrize(("m", "k"), [(1, 1), (3, 7), (10, 30)])
def test_wide_graph_counts(m: int, k: int) -> None:
    root = wide_graph(EagerEngine(), m, k)[0]()
    # m chains of k ops, m additions from sum() (which starts at 0), leaves: m starts, w, b (k >= 2) and the 0
    assert count_graph(root) == (m * k + m + m + 1 + (2 if k >= 2 else 1), m * k + m)


# ---- every engine computes the same function ----------------------------------------------------
def _chain_result(e: Any, n: int, act: Any) -> tuple[float, list[float]]:
    x0, w, b = e.leaf(0.3), e.leaf(0.5), e.leaf(0.1)
    root = build_chain(x0, w, b, n, act)
    if not e.has_backward:
        return e.data(root), []
    e.backward(root)
    return e.data(root), [e.grad(v) for v in (x0, w, b)]


def _close(got: tuple[float, list[float]], want: tuple[float, list[float]]) -> None:
    assert _rel(got[0], want[0]) < 1e-12
    assert len(got[1]) == len(want[1]) and all(_rel(a, b) < 1e-12 for a, b in zip(got[1], want[1], strict=True))


@pytest.mark.parametrize("n", [2, 31, 62])
def test_engines_agree_with_chainrule_on_the_chain(n: int) -> None:
    eager = EagerEngine()
    want_relu = _chain_result(eager, n, eager.relu)
    want_tanh = _chain_result(eager, n, eager.act)
    assert want_relu[1][1] != 0.0  # the chain really depends on w
    plain = make_engines(["plain"])["plain"]
    assert _rel(_chain_result(plain, n, plain.act)[0], want_tanh[0]) < 1e-12
    assert _rel(_chain_result(plain, n, plain.relu)[0], want_relu[0]) < 1e-12


def test_micrograd_adapter_matches_chainrule() -> None:
    pytest.importorskip("micrograd", reason="micrograd (the bench extra) is not installed")
    mg = make_engines(["micrograd"])["micrograd"]
    eager = EagerEngine()
    _close(_chain_result(mg, 31, mg.act), _chain_result(eager, 31, eager.relu))


def test_torch_adapter_matches_chainrule() -> None:
    pytest.importorskip("torch", reason="PyTorch is not installed; it is only a reference engine")
    t = make_engines(["torch"])["torch"]
    eager = EagerEngine()
    _close(_chain_result(t, 31, t.act), _chain_result(eager, 31, eager.act))
    _close(_chain_result(t, 31, t.relu), _chain_result(eager, 31, eager.relu))


def test_scalar_mlp_gradient_matches_central_differences() -> None:
    xs, ys = moons(6, seed=1)
    model = ScalarMLP(EagerEngine(), 2, [3, 1], seed=2)
    params = model.parameters()

    def loss() -> autograd.Value:
        return sum((1 + -y * model(list(x))[0]).relu() for x, y in zip(xs, ys, strict=True)) * (1 / len(xs))

    out = loss()
    assert out.data > 0.0  # some hinge terms are active, so the gradient is not trivially zero
    out.backward()
    h = 1e-6
    for p in params:
        p.data += h
        up = loss().data
        p.data -= 2 * h
        down = loss().data
        p.data += h
        assert math.isclose(p.grad, (up - down) / (2 * h), rel_tol=1e-5, abs_tol=1e-8)


@pytest.mark.parametrize("kind", ["moons", "xor"])
def test_chainrule_task_computes_the_stated_loss(kind: str) -> None:
    """Through `nn` when it imports, else the Value-built MLP: the loss is hinge + 1e-4 L2 (or MSE)."""
    xs, ys, _ = load_moons(12) if kind == "moons" else (list(XOR_X), list(XOR_Y), "")
    assert sorted(set(ys)) == ([-1.0, 1.0] if kind == "moons" else [0.0, 1.0])
    task = chainrule_task(EagerEngine(), xs, ys, [5, 1], kind)
    nn, _why = chainrule_nn()
    model_note = next(n for n in task.notes if n.startswith("chainrule model: "))
    if nn is not None:
        assert model_note == "chainrule model: nn.MLP"
    else:
        assert model_note.startswith("chainrule model: ScalarMLP from autograd.Value (nn.MLP not available")
    loss = task.loss()
    # the same loss recomputed in floats from the model's scores and parameters
    params = [p.data for p in task.params]
    model = task.model
    scores = [model([autograd.Value(v) for v in x])[0].data for x in xs]
    if kind == "moons":
        want = sum(max(0.0, 1 - y * s) for y, s in zip(ys, scores, strict=True)) / len(xs) + 1e-4 * sum(
            p * p for p in params
        )
    else:
        want = sum((s - y) ** 2 for s, y in zip(scores, ys, strict=True)) / len(xs)
    assert math.isclose(loss.data, want, rel_tol=1e-12)


def test_moons_data_shape() -> None:
    xs, ys = moons(101, noise=0.1, seed=0)
    assert len(xs) == 101 and sorted(set(ys)) == [-1.0, 1.0]
    assert ys.count(1.0) == 51 and all(len(x) == 2 for x in xs)
    assert moons(10, seed=3) == moons(10, seed=3) and moons(10, seed=3) != moons(10, seed=4)


# ---- the runner -----------------------------------------------------------------------------------
class _ShallowEngine(EagerEngine):
    """An engine that cannot backpropagate chains deeper than `limit` ops."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def backward(self, root: Any) -> None:
        if count_graph(root)[1] > self.limit:
            raise RecursionError("maximum recursion depth exceeded")
        root.backward()


@pytest.mark.parametrize("limit", [0, 37, 99])
def test_depth_probe_finds_the_exact_limit(limit: int) -> None:
    runner = Runner(TINY, ["eager"])
    runner.engines = {"eager": _ShallowEngine(limit)}
    runner._depth()
    cell = runner.cells["depth.max"]["eager"]
    assert cell.value == limit and cell.note == f"RecursionError at {limit + 1:,}"


def test_depth_probe_reports_the_probe_maximum_when_all_pass() -> None:
    runner = Runner(TINY, ["eager"])
    runner._depth()
    cell = runner.cells["depth.max"]["eager"]
    assert cell.value == TINY.depths[-1] and "probed up to" in cell.note


def test_missing_compile_is_marked_not_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(autograd, "compile", raising=False)
    res = run(TINY, ["eager", "compiled"], ["chain"])
    assert res.engines["compiled"]["available"] is False
    assert "autograd.compile" in res.engines["compiled"]["reason"]
    assert res.cells["chain.forward"]["eager"].value is not None
    assert "n/a [" in text_table(res)


def test_compiled_replay_is_checked_against_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(autograd, "compile", _fake_compile, raising=False)
    res = run(TINY, ["eager", "compiled", "plain"], ["chain", "moons", "xor"])
    for key in ("chain.fb", "chain.vs_plain", "moons.step", "moons.vs_plain", "xor.total"):
        cell = res.cells[key]["compiled"]
        assert cell.value is not None and cell.value > 0 and cell.note == "", key
    assert "chain: compiled replay matches eager (rel 1e-9)" in res.notes

    monkeypatch.setattr(autograd, "compile", _wrong_compile, raising=False)
    res = run(TINY, ["eager", "compiled"], ["chain", "moons"])
    assert res.cells["chain.fb"]["compiled"].note == "DIFFERS FROM EAGER"
    assert res.cells["moons.step"]["compiled"].note == "DIFFERS FROM EAGER"


def test_real_compile_matches_eager_in_every_workload() -> None:
    if not hasattr(autograd, "compile"):
        pytest.skip("autograd.compile is not part of this chainrule")
    res = run(TINY, ["eager", "compiled"], ["chain", "wide", "moons", "xor"])
    for kind in ("chain", "wide", "moons", "xor"):
        assert f"{kind}: compiled replay matches eager (rel 1e-9)" in res.notes
    for key in ("chain.fb", "wide.fb", "moons.step", "xor.total"):
        assert res.cells[key]["compiled"].value is not None, res.cells[key]["compiled"].note


def test_compile_errors_do_not_sink_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(f: Any, *args: Any) -> Any:
        raise NotImplementedError("op not supported yet")

    monkeypatch.setattr(autograd, "compile", broken, raising=False)
    res = run(TINY, ["eager", "compiled"], ["wide", "xor"])
    assert res.cells["wide.fb"]["compiled"].value is None
    assert "NotImplementedError: op not supported yet" in res.cells["wide.fb"]["compiled"].note
    assert res.cells["xor.total"]["eager"].value is not None


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown workload"):
        run(TINY, ENGINE_KEYS, ["chain", "bogus"])
    with pytest.raises(ValueError, match="unknown engine"):
        run(TINY, ["eager", "jax"], ["chain"])
    with pytest.raises(ValueError, match="repeats"):
        run(TINY.with_repeats(0), ["eager"], ["chain"])
    with pytest.raises(SystemExit):
        main(["--preset", "tiny", "--only", "chain,bogus"])
    with pytest.raises(SystemExit):
        main(["--preset", "tiny", "--repeats", "0"])


# ---- the report -----------------------------------------------------------------------------------
def _results(micro: float | None, eager: float, cfg: Any = TINY) -> Results:
    engines = {
        k: {"title": ENGINE_TITLES[k], "available": True, "reason": "", "version": ""} for k in ("eager", "micrograd")
    }
    cells = {
        "chain.forward": {"eager": Cell(eager), "micrograd": Cell(micro)},
        "depth.max": {"eager": Cell(eager), "micrograd": Cell(micro)},
    }
    return Results(cfg, engines, cells, [])


def test_micrograd_ratios_are_shown_but_not_judged() -> None:
    text = markdown_table(_results(100.0, 15.1, PRESETS["full"]))
    line = next(r for r in text.splitlines() if r.startswith("| forward, ns/op"))
    assert "(0.15x)" in line  # the ratio to micrograd, for reference
    assert line.endswith("|  |  |")  # no target on the raw figure: the targets are ratios to the floors


def test_absolute_targets_wait_for_full_size() -> None:
    tiny = markdown_table(_results(100.0, 1_000_000.0))
    full = markdown_table(_results(100.0, 1_000_000.0, PRESETS["full"]))
    short = markdown_table(_results(100.0, 999_999.0, PRESETS["full"]))

    def pick(text: str) -> str:
        return next(r for r in text.splitlines() if r.startswith("| deepest chain"))

    assert pick(tiny).endswith("eager: n/a (not full size) |")
    assert pick(full).endswith("eager: met |")
    assert pick(short).endswith("eager: MISSED |")


def test_missing_micrograd_figure_gives_no_ratio() -> None:
    table = markdown_table(_results(None, 10.0, PRESETS["full"]))
    line = next(r for r in table.splitlines() if r.startswith("| forward, ns/op"))
    assert "x)" not in line.split("|")[2]


def test_cli_tiny_run_prints_and_writes_results(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench" / "results"
    assert main(["--preset", "tiny", "--quiet", "--engines", "eager,micrograd,plain", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert sorted(p.name for p in out.parent.iterdir()) == ["results.json", "results.md"]  # no temp files left
    data = json.loads((out.parent / "results.json").read_text())
    assert data["config"]["name"] == "tiny" and data["config"]["repeats"] == TINY.repeats
    assert {"platform", "python", "cpu_count", "cpu_model"} <= set(data["machine"])
    assert data["date"].endswith("UTC")
    assert list(data["engines"]) == ["eager", "micrograd", "plain"]
    run_rows = rows(PRESETS["tiny"])
    # every workload ran: each row of the table has a measure in the results (compile rows need "compiled")
    # rows that need the compiled replay, the floors or PyTorch are not expected without them
    needs_others = (
        ".vs_plain",
        ".compile_s",
        ".vs_floor_forward",
        ".vs_floor_backward",
        ".vs_torchvec",
        ".vs_torchvec_batch",
        ".step_batch",
    )
    expected = {
        r.key
        for r in run_rows
        if not r.key.endswith(needs_others)
        and r.section.split()[0]
        not in (
            "Compile",
            ".batch",
        )
    }
    assert expected <= set(data["measures"])
    for row in run_rows:
        if row.key in expected:
            assert row.label in printed
    eager_fwd = data["measures"]["chain.forward"]["eager"]
    assert eager_fwd["median"] > 0 and len(eager_fwd["samples"]) == TINY.repeats
    md = (out.parent / "results.md").read_text()
    assert "| measure | chainrule eager | micrograd | plain floats | target | status |" in md
    assert data["machine"]["cpu_model"] in md
    assert {t["status"].split(" ")[0] for t in data["targets"]} <= {"met", "MISSED", "n/a"}


def test_markdown_flag_prints_a_pipe_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["--preset", "tiny", "--quiet", "--engines", "eager,plain", "--only", "xor,memory", "--markdown"]) == 0
    )  # tiny writes no results file by default
    printed = capsys.readouterr().out
    first, blank, table = printed.split("\n", 2)
    assert first.startswith(("**not loaded: ", "**LOADED: ", "**load: unknown")) and blank == ""
    assert table.startswith("| measure | chainrule eager | plain floats | target | status |\n|---|")
    assert "bytes retained per node" in printed and "training steps from scratch" in printed


def test_save_takes_a_suffixed_path(tmp_path: Any) -> None:
    res = _results(100.0, 10.0)
    md, js = save(res, tmp_path / "r.json", ["under load"])
    assert (md.name, js.name) == ("r.md", "r.json")
    assert json.loads(js.read_text())["notes"] == ["under load"] and "- under load" in md.read_text()


def test_size_flags() -> None:
    assert parser().parse_args([]).preset == "full"
    assert parser().parse_args(["--quick"]).preset == "quick"
    assert parser().parse_args(["--preset", "tiny", "--repeats", "2"]).repeats == 2
    with pytest.raises(SystemExit):
        parser().parse_args(["--quick", "--preset", "tiny"])


def test_workload_names_cover_the_issue() -> None:
    assert WORKLOADS == ("chain", "wide", "memory", "depth", "moons", "xor", "compile", "batch")
    assert set(ENGINE_KEYS) == {"eager", "compiled", "floor", "micrograd", "torch", "torchvec", "plain"}
