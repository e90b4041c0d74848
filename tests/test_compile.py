"""Compiled replay (`autograd.compile`) against eager mode: every op, random DAGs, training, guards, errors."""

from __future__ import annotations

import gc
import itertools
import math
import re
import struct
from collections.abc import Callable

import pytest
from catalog import CATALOG, OpCase
from dags import Recipe, nodes_of, recipes
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd
import nn
from autograd import OPS, CompileBranchError, CompileError, Value, no_grad

_GRAD_PROPERTY, _DATA_PROPERTY = Value.__dict__["grad"], Value.__dict__["data"]


def same(a: float, b: float) -> bool:
    """Equal to 1e-12 relative (the compiled code runs the same float operations as eager mode)."""
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)


def eager(f: Callable[..., Value], xs: list[float]) -> tuple[float, list[float]]:
    vs = [Value(x) for x in xs]
    out = f(*vs)
    out.backward()
    return out.data, [v.grad for v in vs]


def replay(c: autograd.Compiled, xs: list[float]) -> tuple[float, list[float]]:
    vs = [Value(x) for x in xs]
    out = c(*vs)
    return out, [v.grad for v in vs]


# ---- every op -------------------------------------------------------------------------------------
def test_every_primitive_op_is_covered() -> None:
    covered = {case.primitive for case in CATALOG if case.primitive}
    builtin = {name for name in OPS if not name.startswith("test_")}  # this module's user ops are tested below
    assert builtin <= covered, f"ops without a catalog row (and so without a compile test): {builtin - covered}"


@pytest.mark.parametrize("case", CATALOG, ids=lambda case: case.name)
def test_every_op_matches_eager(case: OpCase) -> None:
    """Traced at one point, replayed at another: value and gradients equal eager mode's."""

    @given(st.tuples(*case.domain), st.tuples(*case.domain))
    def check(traced: tuple[float, ...], xs: tuple[float, ...]) -> None:
        c = autograd.compile(case.fn, *[Value(x) for x in traced])
        value, grads = eager(case.fn, list(xs))
        got, got_grads = replay(c, list(xs))
        assert same(got, value), f"{case.name} at {xs}: {got} vs {value}"
        for g, want in zip(got_grads, grads, strict=True):
            assert same(g, want), f"{case.name} at {xs}: gradient {g} vs {want}"
        assert same(c(*xs), value)  # the same replay with plain floats: no gradients wanted

    check()


def test_generated_code_is_written_from_the_op_table() -> None:
    """Forward: the op's own forward function (bound as a global) or its arithmetic inlined; backward: the
    op's derivative rule read with symbols, calling the same FloatMath functions eager's backward calls."""

    def f(x: Value) -> Value:
        return x.gelu() + x.softplus() + x.erf() + x**3

    c = autograd.compile(f, Value(0.3))
    assert "(_F0(arg_0) + " in c.source and "_m_sigmoid(arg_0)" in c.source  # softplus' rule: m.sigmoid(x)
    assert "_m_erf(" in c.source and "_m_exp(" in c.source and "_m_pow(arg_0, 2.0)" in c.source
    assert same(replay(c, [-0.7])[1][0], eager(f, [-0.7])[1][0])


# ---- random DAGs with shared subexpressions (tests/dags.py) ---------------------------------
def build(recipe: Recipe) -> Callable[..., Value]:
    def f(*xs: Value) -> Value:
        nodes = nodes_of(recipe, list(xs))
        out = nodes[-1]
        for node in nodes[len(xs) : -1]:  # every node feeds the output, so shared subexpressions fan out
            out = out + node * 0.5
        return out

    return f


INPUT = st.floats(-2.0, 2.0)


@given(recipes(), st.tuples(INPUT, INPUT, INPUT), st.tuples(INPUT, INPUT, INPUT))
def test_random_dags_match_eager(recipe: Recipe, traced: tuple[float, ...], xs: tuple[float, ...]) -> None:
    f = build(recipe)
    c = autograd.compile(f, *[Value(x) for x in traced])
    value, grads = eager(f, list(xs))
    got, got_grads = replay(c, list(xs))
    assert same(got, value)
    for g, want in zip(got_grads, grads, strict=True):
        assert same(g, want), f"{recipe} at {xs}: {g} vs {want}"


@given(recipes(max_steps=8, smooth=True), st.tuples(INPUT, INPUT, INPUT))
def test_random_dags_gradient_matches_central_differences(recipe: Recipe, xs: tuple[float, ...]) -> None:
    f = build(recipe)
    c = autograd.compile(f, *xs)
    _, grads = replay(c, list(xs))
    h = 1e-6
    for i in range(3):
        up, down = list(xs), list(xs)
        up[i] += h
        down[i] -= h
        numeric = (c(*up) - c(*down)) / (2 * h)  # the replay with floats is the function itself
        assert abs(grads[i] - numeric) <= 1e-5 + 1e-4 * abs(numeric), f"{recipe} at {xs}: {grads[i]} vs {numeric}"


# ---- parameters, arguments and accumulation ---------------------------------------------------------
def test_parameters_are_read_by_reference_and_receive_gradients() -> None:
    w = Value(0.5, label="w")
    b = Value(-1.0, label="b")
    c = autograd.compile(lambda x: (x * w + b).tanh(), 2.0)
    assert c.parameters == [w, b]
    for data in (0.5, -0.25, 3.0):
        w.data = data
        w.grad = b.grad = 0.0
        got = c(1.5)
        gw, gb = w.grad, b.grad
        w.grad = b.grad = 0.0
        out = (Value(1.5) * w + b).tanh()
        out.backward()
        assert same(got, out.data) and same(gw, w.grad) and same(gb, b.grad)


def test_gradients_accumulate_and_float_arguments_get_none() -> None:
    w = Value(0.3)
    c = autograd.compile(lambda x, y: x * y * w, 1.0, Value(2.0))
    x = Value(1.5)
    c(x, 4.0)
    c(x, 4.0)
    assert same(x.grad, 2 * 4.0 * 0.3) and same(w.grad, 2 * 1.5 * 4.0)
    assert same(c(2.0, 3.0), 2.0 * 3.0 * 0.3)  # floats: fine, nothing to write


def test_non_leaf_arguments_and_captured_nodes_backpropagate_further() -> None:
    a = Value(0.7)
    hidden = (a * 3.0).sin()  # built before f: compiled code reads it by reference
    c = autograd.compile(lambda x: (x * hidden).exp(), Value(1.0))
    b = Value(-0.4)
    arg = b * b + 1.0  # a non-leaf argument
    c(arg)
    ga, gb = a.grad, b.grad
    a.grad = b.grad = 0.0
    out = ((b * b + 1.0) * hidden).exp()
    out.backward()
    assert same(ga, a.grad) and same(gb, b.grad)


def test_identity_and_constant_outputs() -> None:
    x = Value(2.0)
    assert autograd.compile(lambda v: v, 1.0)(x) == 2.0 and x.grad == 1.0
    w = Value(5.0)
    assert autograd.compile(lambda: w)() == 5.0 and w.grad == 1.0


def test_no_grad_inside_f_stops_gradients_but_is_recomputed() -> None:
    def f(x: Value) -> Value:
        with no_grad():
            s = x * 3.0  # a constant as far as gradients go, but it follows x
        return x * s

    c = autograd.compile(f, 1.0)
    for x in (2.0, -0.5):
        value, grads = eager(f, [x])
        got, got_grads = replay(c, [x])
        assert same(got, value) and same(got_grads[0], grads[0])
    assert same(replay(c, [2.0])[1][0], 6.0)  # d(x * s)/dx with s held constant


def test_traced_data_is_restored_to_plain_floats() -> None:
    w = Value(0.5)
    kept: list[Value] = []

    def f(x: Value) -> Value:
        h = x * w
        kept.append(h)
        return h.relu()

    autograd.compile(f, 2.0)
    assert type(w.data) is float and type(kept[0].data) is float


# ---- training: identical trajectories ---------------------------------------------------------------
def _train(compiled: bool, steps: int = 50) -> list[list[float]]:
    xs = [(0.5, -1.0), (1.0, 0.25), (-0.5, 0.75), (-1.5, -0.5), (0.0, 1.25), (2.0, -0.25)]
    ys = [1.0, -1.0, 1.0, -1.0, 1.0, -1.0]
    model = nn.MLP(2, [4, 4, 1], activation="relu", seed=1)
    params = model.parameters()
    opt = nn.optim.SGD(params, lr=0.1, momentum=0.9)

    def loss_fn() -> Value:
        scores = [model(x)[0] for x in xs]
        return nn.hinge_loss(scores, ys) + 1e-4 * nn.l2_penalty(params)

    step = autograd.compile(loss_fn) if compiled else None
    trajectory = []
    for _ in range(steps):
        for p in params:
            p.grad = 0.0
        if step is None:
            loss_fn().backward()
        else:
            step()
        opt.step()
        trajectory.append([p.data for p in params])
    return trajectory


def test_mlp_training_follows_the_eager_trajectory() -> None:
    eager_run, compiled_run = _train(False), _train(True)
    assert eager_run[0] != eager_run[-1]  # it did train
    for k, (want, got) in enumerate(zip(eager_run, compiled_run, strict=True)):
        assert all(same(g, w) for g, w in zip(got, want, strict=True)), f"step {k} differs"


def test_per_sample_compilation_sums_to_the_batch_gradient() -> None:
    model = nn.MLP(2, [3, 1], activation="tanh", seed=2)
    params = model.parameters()
    c = autograd.compile(lambda x0, x1, y: (model([x0, x1])[0] - y) ** 2, 0.0, 0.0, 0.0)
    data = [(0.5, -1.0, 1.0), (1.5, 0.5, -1.0), (-0.25, 0.75, 0.5)]
    total = sum(c(*row) for row in data)
    got = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    loss = sum((model([x0, x1])[0] - y) ** 2 for x0, x1, y in data)
    loss.backward()
    assert math.isclose(total, loss.data, rel_tol=1e-12)
    assert all(math.isclose(g, p.grad, rel_tol=1e-12, abs_tol=1e-15) for g, p in zip(got, params, strict=True))


# ---- branches ------------------------------------------------------------------------------------
def _branch_on_data(x: Value) -> Value:
    if x.data > 0:
        return x * 2.0
    return x * x


def _branch_on_value(x: Value) -> Value:
    return x.exp() if x > 0 else -x


def _branch_reflected(x: Value) -> Value:
    return x.exp() if 0.5 < x.sin() else x.cos()  # noqa: SIM300 - the reflected comparison is the point


@pytest.mark.parametrize("f", [_branch_on_data, _branch_on_value, _branch_reflected])
def test_a_changed_branch_raises_and_writes_no_gradient(f: Callable[[Value], Value]) -> None:
    c = autograd.compile(f, 1.0)
    assert len(c.guards) == 1
    value, grads = eager(f, [1.25])  # the traced branch: replays fine
    got, got_grads = replay(c, [1.25])
    assert same(got, value) and same(got_grads[0], grads[0])
    x = Value(-1.0)
    with pytest.raises(CompileBranchError, match=r"was True when traced and is False now") as info:
        c(x)
    assert re.search(r"[<>]", str(info.value))  # names the comparison
    assert x.grad == 0.0


def test_guard_between_two_nodes_and_on_a_parameter() -> None:
    w = Value(2.0)

    def f(x: Value) -> Value:
        h = x * w
        if h.data >= w.data:  # compares two traced nodes; w is traced from its first use on
            return h.tanh()
        return h.sin()

    c = autograd.compile(f, 1.5)
    assert c(3.0) == math.tanh(6.0)
    w.data = -1.0  # now h = -3 < w
    with pytest.raises(CompileBranchError, match=">="):
        c(3.0)


def test_equality_and_truth_branches_are_guarded() -> None:
    c = autograd.compile(lambda x: x * 2.0 if (x - 1.0).data else x * 3.0, 2.0)
    assert c(5.0) == 10.0
    with pytest.raises(CompileBranchError):
        c(1.0)
    c2 = autograd.compile(lambda x: x * 2.0 if x.data == 0.0 else x.exp(), 0.0)
    with pytest.raises(CompileBranchError, match="=="):
        c2(1.0)


def test_kinks_inside_ops_are_not_branches() -> None:
    c = autograd.compile(lambda x: x.relu() + abs(x) + x.leaky_relu(0.1) + x.elu(), 1.0)
    assert c.guards == []
    for x in (-2.0, 3.0):
        assert same(replay(c, [x])[1][0], eager(lambda v: v.relu() + abs(v) + v.leaky_relu(0.1) + v.elu(), [x])[1][0])


@pytest.mark.parametrize(
    "f",
    [
        lambda x: Value(x.data) * x,  # a copy of traced data baked in
        lambda x: x * (x * 2.0).data,  # .data as an operand
        lambda x: x ** int(x.data),
        lambda x: x * max(x.data, 0.5),
        lambda x: x * float(x),
        lambda x: x * math.exp(x.data),
        lambda x: x * round(x.data),
        lambda x: x if x.data in {1.5} else -x,  # hashing: a set or dict lookup
        lambda x: x * (x.data + 1.0),  # arithmetic on .data turned into a Value
    ],
)
def test_uses_of_data_a_replay_cannot_follow_are_refused_at_compile_time(f: Callable[[Value], Value]) -> None:
    with pytest.raises(CompileError, match="compile: f"):
        autograd.compile(f, 1.5)


def test_text_of_data_while_tracing_is_refused_but_fine_inside_trace_invariant() -> None:
    # Text is a number in disguise: float(str(x.data)) > 0 would be an unseen decision.
    for show in (str, repr, lambda d: f"{d}", lambda d: f"{d:.2f}", lambda d: format(d, ".3g")):
        with pytest.raises(CompileError, match="print after the compiled call"):
            autograd.compile(lambda x, show=show: x * 2.0 if float(show(x.data)) > 0 else -x, 1.5)
    seen: list[str] = []

    def f(x: Value) -> Value:
        with autograd.trace_invariant():  # the caller vouches: the text decides nothing
            seen.append(f"{x.data:.2f} {x.data!r} {x}")
        return x * 2.0

    c = autograd.compile(f, 1.5)
    assert seen == ["1.50 1.5 Value(data=1.5, grad=0.0)"] and c(2.0) == 4.0


# ---- errors on replay -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("f", "traced", "bad", "error", "message"),
    [
        (lambda x: x.log(), 1.0, 0.0, ValueError, "log"),
        (lambda x: (x * 2.0).log(), 1.0, -3.0, ValueError, "log"),
        (lambda x: x.sqrt() * 2.0, 1.0, -1.0, ValueError, "sqrt"),
        (lambda x: x**0.5, 1.0, -4.0, ValueError, r"\*\*"),
        (lambda x: x.exp(), 1.0, 1000.0, OverflowError, "exp"),
        (lambda x: (x * 1e300).tanh(), 1.0, 1e10, OverflowError, r"\*"),  # overflow hidden by tanh after it
        (lambda x: (x * 1e300 + -x * 1e300).relu(), 1.0, 1e10, OverflowError, "overflows"),
        (lambda x: 1.0 / x, 1.0, 0.0, ZeroDivisionError, "division by zero"),
        (lambda x: x.sqrt(), 1.0, 0.0, ValueError, "derivative"),  # raised by the backward pass
        (lambda x: x ** (1 / 3), 1.0, 0.0, ValueError, "derivative"),
        (lambda x: x.sin(), 1.0, math.nan, ValueError, "finite"),
    ],
)
def test_replay_raises_the_eager_error(
    f: Callable[[Value], Value], traced: float, bad: float, error: type[Exception], message: str
) -> None:
    w = Value(1.0)
    c = autograd.compile(lambda x: f(x) * w, traced)
    x = Value(2.0)
    if not math.isnan(bad):
        x.data = bad
        with pytest.raises(error, match=message):
            c(x)
    if message != "derivative":  # with a float argument nothing is differentiated along that path
        with pytest.raises(error, match=message):
            c(bad)
    assert w.grad == 0.0 and x.grad == 0.0  # nothing half-written


def test_bad_arguments() -> None:
    c = autograd.compile(lambda x, y: x * y, 1.0, 2.0)
    with pytest.raises(TypeError, match="positional argument"):
        c(1.0)
    with pytest.raises(TypeError, match="argument 1"):
        c(1.0, "2")
    with pytest.raises(TypeError, match="argument 0"):
        c(True, 2.0)
    with pytest.raises(ValueError, match="argument 0"):
        c(math.inf, 2.0)
    with pytest.raises(TypeError, match="must return a Value"):
        autograd.compile(lambda x: 3.0, 1.0)
    with pytest.raises(TypeError, match="callable"):
        autograd.compile(3.0)  # type: ignore[arg-type]


# ---- the source -------------------------------------------------------------------------------------
def test_source_is_readable_and_built_from_structure_only() -> None:
    w = Value(0.5, label="weight 1")
    evil = Value(2.0, label="x); import os; (")
    greek = Value(0.1, label="λ")

    def f(x: Value) -> Value:
        h = x * w + evil * greek
        h.label = "hidden\nprint('hi')"
        return h.tanh()

    c = autograd.compile(f, Value(1.0, label="input"))
    src = c.source
    assert "def replay(" in src and "# ---- forward ----" in src and "# ---- backward" in src
    assert "input_0" in src and "weight_1_" in src and re.search(r"hidden_print_+hi_\d", src)
    assert "# tanh" in src and "# + (inline: * " in src  # single-use products fused into the sum's line
    assert "_F" in src and "math" not in src  # forward rules are the ops' own functions, bound as globals
    assert "import os" not in src and "print(" not in src and "λ" not in src
    for line in src.splitlines():  # every assignment target is a plain identifier
        m = re.match(r"\s*([^=#]+?) [+]?= ", line)
        if m and not m.group(1).startswith(("if", "_e")):
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", m.group(1)), line
    assert repr(c) == "<compiled f: 4 ops, 0 guards>"  # x*w, evil*greek, +, tanh


# ---- memory: no cycles, nothing of the traced graph kept --------------------------------------------
def _values_alive() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is Value)


def test_no_reference_cycles_and_no_leaked_graph() -> None:
    w = Value(0.5)
    gc.collect()
    gc.disable()
    try:
        before = _values_alive()
        c = autograd.compile(lambda x, y: ((x * w).tanh() + y.exp() / x).relu() * 2.0, 1.0, Value(2.0))
        c(1.5, Value(0.5))
        c(2.5, 1.0)
        assert _values_alive() == before  # the traced graph and the fresh leaves are gone, by refcount alone
        del c
        assert gc.collect() == 0  # and nothing needed the cycle collector
    finally:
        gc.enable()


# ---- more of what f may do --------------------------------------------------------------------------
def test_trace_invariant_bakes_a_shift_without_guards() -> None:
    def log_softmax0(a: Value, b: Value, c: Value) -> Value:
        zs = [a, b * 2.0, c.tanh()]
        with autograd.trace_invariant():
            shift = -max(z.data for z in zs)  # any shift gives the same result
        exps = [(z + shift).exp() for z in zs]
        return (zs[0] + shift) - (exps[0] + exps[1] + exps[2]).log()

    c = autograd.compile(log_softmax0, 0.1, 0.2, 0.3)
    assert c.guards == []
    for xs in ([0.1, 0.2, 0.3], [2.0, -1.0, 0.5], [-0.5, 1.5, 3.0]):  # the largest logit moves around
        value, grads = eager(log_softmax0, xs)
        got, got_grads = replay(c, xs)
        assert math.isclose(got, value, rel_tol=1e-12)
        assert all(math.isclose(g, w, rel_tol=1e-12, abs_tol=1e-15) for g, w in zip(got_grads, grads, strict=True))
    with pytest.raises(CompileError):  # the same shift without the context manager is refused
        autograd.compile(lambda a, b: a + -max(a.data, b.data), 0.1, 0.2)


def test_differentiating_inside_f_compiles() -> None:
    w = Value(0.7)

    def f(x: Value) -> Value:
        y = (x * w).tanh() * x
        (gx,) = autograd.gradients(y, [x], create_graph=True)  # engine-internal checks are not branches
        return gx * gx + y

    c = autograd.compile(f, 0.5)
    assert c.guards == []
    for x in (0.5, -1.3):
        w.grad = 0.0
        got, (gx,) = replay(c, [x])
        gw = w.grad
        w.grad = 0.0
        value, (want_gx,) = eager(f, [x])
        assert same(got, value) and same(gx, want_gx) and same(gw, w.grad)


def test_compiling_inside_a_trace_is_refused() -> None:
    def f(x: Value) -> Value:
        autograd.compile(lambda y: y * 2.0, 1.0)
        return x

    with pytest.raises(CompileError, match="while tracing"):
        autograd.compile(f, 1.0)
    assert autograd.compile(lambda y: y * 2.0, 1.0)(3.0) == 6.0  # and nothing is left locked or patched


# ---- batches ------------------------------------------------------------------------------------
def test_batch_sums_rows_like_separate_calls() -> None:
    model = nn.MLP(2, [4, 1], activation="relu", seed=3)
    params = model.parameters()
    c = autograd.compile(lambda x0, x1, y: (1.0 - y * model([x0, x1])[0]).relu() * 0.25, 0.0, 0.0, 1.0)
    rows = [(0.5, -1.0, 1.0), (1.0, 0.25, -1.0), (-0.5, 0.75, 1.0), (3, 2, -1)]  # ints go the general way
    total = c.batch(rows)
    got = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    loss = sum((1.0 - y * model([x0, x1])[0]).relu() * 0.25 for x0, x1, y in rows)
    loss.backward()
    assert math.isclose(total, loss.data, rel_tol=1e-12)
    assert all(math.isclose(g, p.grad, rel_tol=1e-12, abs_tol=1e-15) for g, p in zip(got, params, strict=True))
    x, want = Value(-1.5), Value(-1.5)
    c.batch([(x, 2.0, 1.0)])  # a Value in a row gets its gradient, as in a call
    ((1.0 - model([want, 2.0])[0]).relu() * 0.25).backward()
    assert want.grad != 0.0 and same(x.grad, want.grad)


def test_batch_errors_write_nothing() -> None:
    w = Value(0.5)
    c = autograd.compile(lambda x: (x * w).log() if x.data > 0 else x * w, 1.0)
    with pytest.raises(TypeError, match="row 1 has 2 arguments"):
        c.batch([(1.0,), (1.0, 2.0)])
    with pytest.raises(CompileBranchError):
        c.batch([(1.0,), (2.0,), (-1.0,)])
    assert w.grad == 0.0
    w.data = -0.5
    with pytest.raises(ValueError, match="log"):
        c.batch([(1.0,)])
    assert w.grad == 0.0
    w.data = 0.5
    assert same(c.batch([(1.0,), (2.0,)]), math.log(0.5) + math.log(1.0)) and same(w.grad, 2 / 0.5)
    assert autograd.compile(lambda: w * 3.0).batch([(), ()]) == 2 * 1.5


def test_numbers_kept_from_an_earlier_trace_are_constants() -> None:
    kept: list[float] = []

    def f(x: Value) -> Value:
        kept.append(x.data)
        return x * 2.0

    autograd.compile(f, 1.5)
    c = autograd.compile(lambda x: x.exp() if x.data > kept[0] else x, 2.0)
    assert c.guards == ["arg_0 > 1.5 is True"]
    with pytest.raises(CompileBranchError):
        c(1.0)


# ---- loop rolling: long periodic runs become loops, with the same arithmetic -----------------------
def _bits(x: float) -> bytes:
    return struct.pack(">d", x)


def _rolled(src: str) -> bool:
    return re.search(r"^\s+for .* in reversed\(_K\d+\):", src, re.M) is not None


def _same_bits(c: autograd.Compiled, f: Callable[..., Value], args: list[float], params: list[Value]) -> None:
    """The replay's output and every gradient equal eager mode's bit for bit (Value args: their grads too)."""
    for p in params:
        p.grad = 0.0
    vs = [Value(x) for x in args]
    out = f(*vs)
    out.backward()
    want = [out.data, *(p.grad for p in params), *(v.grad for v in vs)]
    for p in params:
        p.grad = 0.0
    ws = [Value(x) for x in args]
    got = [c(*ws), *(p.grad for p in params), *(w.grad for w in ws)]
    assert [_bits(x) for x in got] == [_bits(x) for x in want]


def _chain(w: Value, b: Value, n: int) -> Callable[[Value], Value]:
    def f(x: Value) -> Value:
        for _ in range(n // 3):
            x = (x * w + b).tanh()
        if n % 3:
            x = x * w
        if n % 3 == 2:
            x = x + b
        return x

    return f


@pytest.mark.parametrize(("n", "rolls"), [(3, False), (30, False), (99, False), (384, True), (385, True), (1001, True)])
def test_long_chains_roll_and_match_eager_bitwise(n: int, rolls: bool) -> None:
    w, b = Value(0.7, "w"), Value(-0.1, "b")
    f = _chain(w, b, n)
    c = autograd.compile(f, 0.3)
    assert _rolled(c.source) is rolls
    assert ("repeats of the same 3 ops" in c.source) is rolls
    for x in (0.3, -1.7, 2.5):
        _same_bits(c, f, [x], [w, b])
    c_value = autograd.compile(f, Value(0.3))  # the argument as a Value: its gradient flows through the loop
    _same_bits(c_value, f, [0.9], [w, b])


def test_small_graphs_keep_straight_line_code() -> None:
    model = nn.MLP(2, [4, 4, 1], seed=0)
    c = autograd.compile(lambda x, y: model([x, y])[0], 0.5, -0.5)
    assert not _rolled(c.source) and "    for " not in c.source


def test_wide_graph_rolls_over_chains_with_their_own_start_values() -> None:
    xs = [Value(0.3 + 0.5 * i / 40) for i in range(40)]
    w, b = Value(0.7, "w"), Value(0.1, "b")
    chain = _chain(w, b, 10)

    def f() -> Value:
        return sum((chain(x) for x in xs), Value(0.0))

    c = autograd.compile(f)
    assert _rolled(c.source) and "for _v in _R" in c.source  # one start Value per repeat, read by reference
    _same_bits(c, f, [], [*xs, w, b])
    xs[7].data = 5.0  # read by reference on every call
    _same_bits(c, f, [], [*xs, w, b])


def test_a_carried_value_feeding_two_ops() -> None:
    w = Value(0.9, "w")

    def f(x: Value) -> Value:
        y = x
        for _ in range(60):
            x, y = (x * w + y).tanh(), x * y  # both read the previous x and y
        return x + y

    c = autograd.compile(f, 0.4)  # eager's backward interleaves the repeats: straight-line code, still exact
    for x in (0.4, -0.8, 0.05):
        _same_bits(c, f, [x], [w])


def test_a_guard_inside_a_run_is_never_rolled_across() -> None:
    w = Value(0.8, "w")

    def f(x: Value) -> Value:
        for i in range(200):
            x = (x * w).tanh() + 0.1
            if i == 100 and w.data > 0.5:  # a branch in the middle of the run
                x = x * 2.0
        return x

    c = autograd.compile(f, 0.5)
    assert c.guards and _rolled(c.source)
    src = c.source
    guard = src.index("raise _GuardFailed")
    loops = [m.start() for m in re.finditer(r"# ---- forward: \d+ repeats", src)]
    assert len(loops) == 2 and loops[0] < guard < loops[1]  # one loop before the guard, one after
    _same_bits(c, f, [0.5], [w])
    _same_bits(c, f, [-0.2], [w])
    w.data, w.grad = 0.3, 0.0
    with pytest.raises(CompileBranchError):
        c(0.5)  # w.data > 0.5 is False now: the other branch at step 100
    assert w.grad == 0.0


def _wide(n: int) -> tuple[Callable[[], Value], list[Value]]:
    xs = [Value(0.3 + 0.5 * i / n) for i in range(n)]
    w, b = Value(0.7, "w"), Value(0.1, "b")
    chain = _chain(w, b, 10)
    return (lambda: sum((chain(x) for x in xs), Value(0.0))), [*xs, w, b]


@pytest.mark.parametrize("bad", [1e300, 1e308])  # Value.data refuses inf and nan itself
def test_inf_or_nan_inside_a_rolled_run_raises_the_eager_error(bad: float) -> None:
    f, params = _wide(40)
    c = autograd.compile(f)
    assert "every value eager mode computes is finite" in c.source
    params[20].data = bad  # chain 20 is inside the loop; tanh hides an overflow of x * w from the output
    params[-2].data = 1e10
    with pytest.raises(OverflowError):
        f()
    for p in params:
        p.grad = 0.0
    with pytest.raises(OverflowError):
        c()
    assert all(p.grad == 0.0 for p in params)  # nothing half-written


def test_a_run_whose_backward_order_differs_is_not_rolled_or_still_exact() -> None:
    w = Value(0.6, "w")

    def f(x: Value) -> Value:
        outs = []
        for _ in range(80):
            x = (x * w).tanh() + 0.2
            outs.append(x)
        total = outs[0]  # every repeat's value used after the run: eager visits them out of repeat order
        for v in outs[1:]:
            total = total + v
        return total

    c = autograd.compile(f, 0.3)
    _same_bits(c, f, [0.3], [w])
    _same_bits(c, f, [-0.7], [w])


@st.composite
def _step_recipes(draw: st.DrawFn) -> tuple[Recipe, int]:
    """A random loop body over the carried state (s0, s1) and two fixed Values (w, b), and how often it repeats."""
    return draw(recipes(n_inputs=4, max_steps=6)), draw(st.integers(1, 70))


@settings(max_examples=60, deadline=None)
@given(_step_recipes(), st.lists(st.floats(-1.5, 1.5), min_size=2, max_size=2))
def test_random_periodic_graphs_match_eager_bitwise(step: tuple[Recipe, int], xs: list[float]) -> None:
    """Whatever the loop body, rolled or not, the replay does eager's arithmetic in eager's order."""
    recipe, repeats = step
    w, b = Value(0.8, "w"), Value(-0.3, "b")

    def f(s0: Value, s1: Value) -> Value:
        for _ in range(repeats):
            nodes = nodes_of(recipe, [s0, s1, w, b])
            s0, s1 = nodes[-1], (sum(nodes[4:], nodes[0]) * 0.25).tanh()  # every node used: runs can roll
        return s0 + s1

    try:
        c = autograd.compile(f, *xs)
    except (ArithmeticError, ValueError) as error:  # tracing runs f eagerly: the same error as eager
        with pytest.raises(type(error)):
            f(*(Value(x) for x in xs))
        return
    for args in (xs, [x * 0.5 - 0.1 for x in xs]):
        try:
            f(*(Value(x) for x in args)).backward()
        except (ArithmeticError, ValueError) as error:  # eager refuses: so must the replay, writing nothing
            w.grad = b.grad = 0.0
            with pytest.raises(type(error)):
                c(*args)
            assert w.grad == b.grad == 0.0
            continue
        _same_bits(c, f, args, [w, b])


def test_a_value_carried_into_a_run_that_each_repeat_also_reads() -> None:
    def f(x: Value) -> Value:
        s = x.sin()
        y = s
        for _ in range(70):
            y = (y * s).tanh()  # s: carried into the first repeat and read by every repeat
        return y

    c = autograd.compile(f, 0.3)
    _same_bits(c, f, [0.9], [])
    _same_bits(c, f, [-0.4], [])


def test_a_value_carried_into_a_run_with_another_user_backward_visits_first() -> None:
    def f(x: Value) -> Value:
        a = x.sin()
        e = a * a  # made before the run, used after it: its gradient reaches `a` before the loop's does
        z = x.tanh()
        for _ in range(50):
            a = a.sin()
            z = (z * a).tanh()
        return z + e

    c = autograd.compile(f, 0.3)
    _same_bits(c, f, [0.3], [])
    _same_bits(c, f, [-1.1], [])


def test_inf_carried_into_a_rolled_run_raises_the_eager_error() -> None:
    def f(x: Value, w: Value) -> Value:
        z = x * x  # inf for x = 1e200; inf ** -0.5 == 0.0 would hide it from everything after
        for _ in range(70):
            z = (z**w).sigmoid()
        return z

    c = autograd.compile(f, 0.3, -0.5)
    assert _rolled(c.source)
    with pytest.raises(OverflowError):
        f(Value(1e200), Value(-0.5))
    with pytest.raises(OverflowError):
        c(1e200, -0.5)
    x, w = Value(1e200), Value(-0.5)
    with pytest.raises(OverflowError):
        c(x, w)
    assert x.grad == w.grad == 0.0


def test_a_rolled_run_with_a_long_body_compiles() -> None:
    w = Value(0.5, "w")

    def f(x: Value) -> Value:
        for _ in range(10):
            for i in range(1600):  # a distinct constant per step: the period is the whole block of 3,200 ops
                x = (x * (1.0 + i * 1e-7)) ** w
        return x

    c = autograd.compile(f, 0.3)  # its per-repeat inf/NaN check is written in pieces, not one deep expression
    assert _rolled(c.source)
    _same_bits(c, f, [0.3], [w])


@pytest.mark.parametrize("repeats", [100, 200])  # straight-line code, and a rolled loop
def test_a_gradient_that_overflows_in_backward_raises_the_eager_error(repeats: int) -> None:
    w = Value(1.0, "w")
    factor = 10.0 ** (400 / repeats)

    def f(x: Value) -> Value:
        y = x * w
        for _ in range(repeats):
            y = y * factor  # x * 1e400: finite for x = 1e-310, but d y / d (x w) = 1e400 is not
        return y

    c = autograd.compile(f, 1e-310)
    assert _rolled(c.source) is (repeats == 200)
    with pytest.raises(OverflowError, match="gradient"):
        f(Value(1e-310)).backward()
    w.grad = 0.0
    with pytest.raises(OverflowError, match="gradient"):
        c(1e-310)
    x = Value(1e-310)
    with pytest.raises(OverflowError, match="gradient"):
        c(x)
    assert w.grad == x.grad == 0.0  # nothing written


def test_batch_with_a_row_whose_gradient_overflows_writes_nothing() -> None:
    w = Value(1.0, "w")

    def f(x: Value) -> Value:
        y = x * w
        for _ in range(7):
            y = y.sqrt()
        return y

    c = autograd.compile(f, 0.3)
    with pytest.raises(OverflowError, match="gradient"):  # eager's own error for that row
        c.batch([(0.3,), (5e-324,), (0.7,)])
    assert w.grad == 0.0
    c.batch([(0.3,), (0.7,)])
    assert w.grad != 0.0


# ---- user ops: compiled from their own rules, like the built-ins ------------------------------------
CUBE = autograd.defop("test_compile_cube", lambda x: x**3, lambda x, out, m: 3.0 * x * x)
HYPOT = autograd.defop("test_compile_hypot", math.hypot, lambda x, y, out, m: (x / out, y / out))
SCALED_TANH = autograd.defop(
    "test_compile_scaled_tanh",
    lambda x, *, k: math.tanh(k * x),
    lambda x, out, m, *, k: k * (1.0 - out * out),
)
KINKED = autograd.defop(
    "test_compile_kinked", lambda x: max(x, 0.0) ** 2, lambda x, out, m: m.where(x > 0.0, 2.0 * x, 0.0)
)


def _user_ops(x: Value, y: Value) -> Value:
    return CUBE(x) + HYPOT(x, y) * SCALED_TANH(y, k=1.5) + KINKED(x - y)


@pytest.mark.parametrize("point", [(0.3, -1.2), (-0.8, 0.4), (2.0, 2.5)])
def test_user_ops_compile_and_batch_like_eager(point: tuple[float, float]) -> None:
    c = autograd.compile(_user_ops, 0.3, -1.2)
    assert "3.0 * arg_0" not in c.source or "test_compile_cube" in c.source
    assert c.guards == []  # the kink of test_compile_kinked is inside the op, written as a choice
    _same_bits(c, _user_ops, list(point), [])
    xs, ys = [Value(p) for p in point], [Value(p) for p in point]
    total = c.batch([tuple(xs), (0.5, 0.25)])
    want = _user_ops(*ys)
    want.backward()
    assert total == want.data + _user_ops(Value(0.5), Value(0.25)).data
    assert [v.grad for v in xs] == [v.grad for v in ys]


def test_user_op_forward_is_inlined_from_its_rule_when_it_is_arithmetic() -> None:
    c = autograd.compile(lambda x: CUBE(x), 0.5)
    assert "(arg_0 ** 3)" in c.source  # the forward rule run on a symbol: the same arithmetic as eager
    assert "_F" not in c.source.split("# ---- backward")[0].split("# ---- forward ----")[1]


@pytest.mark.parametrize(
    ("name", "derivative", "message"),
    [
        ("test_compile_if", lambda x, out, m: 1.0 if x > 0.0 else 0.0, "Python if"),
        ("test_compile_math", lambda x, out, m: math.exp(x), "number"),
        ("test_compile_shape", lambda x, out, m: (1.0, 2.0), "expected 1 local derivative"),
    ],
)
def test_a_rule_that_cannot_be_translated_is_refused_naming_the_op(
    name: str, derivative: Callable[..., object], message: str
) -> None:
    try:
        op = autograd.OPS[name]
    except KeyError:
        try:
            op = autograd.defop(name, lambda x: x * 2.0, derivative)
        except (TypeError, ValueError):  # refused at definition already: nothing to compile
            return
    with pytest.raises(CompileError, match=rf"op '{name}'.*{message}"):
        autograd.compile(lambda x: op(x), 0.5)


# ---- soundness: each way the old compiler went silently wrong ------------------------------------
def test_class1_branches_through_float_real_and_numpy_are_guarded_or_refused() -> None:
    np = pytest.importorskip("numpy")
    with pytest.raises(CompileError, match="float"):
        autograd.compile(lambda x: x.exp() if float(x) > 0.5 else x, 1.0)
    with pytest.raises(CompileError, match="float"):
        autograd.compile(lambda x: x.exp() if float(x.data) > 0.5 else x, 1.0)
    for f in (
        lambda x: x.exp() if x.data.real > 0.5 else x,
        lambda x: x.exp() if np.float64(0.5) < x.data else x,
        lambda x: x.exp() if x.data > np.float64(0.5) else x,
        lambda x: x.exp() if np.float64(0.5) < x else x,
    ):
        c = autograd.compile(f, 1.0)
        assert len(c.guards) == 1 and same(c(2.0), math.exp(2.0))
        x = Value(0.25)
        with pytest.raises(CompileBranchError):
            c(x)
        assert x.grad == 0.0


def test_class2_data_read_before_first_use_is_seen() -> None:
    w = Value(2.0, "w")

    def f(x: Value) -> Value:
        if w.data > 1.0:  # read before any op of f uses w
            return x * w
        return x - w

    c = autograd.compile(f, 1.0)
    assert c.guards == ["w_1 > 1.0 is True"] and c.parameters == [w]
    w.data = 0.5
    with pytest.raises(CompileBranchError, match="w_1 > 1.0"):
        c(1.0)
    with pytest.raises(CompileError, match=r"detach\(\)"):
        autograd.compile(lambda x: x * Value(w.data), 1.0)


def test_class2_detach_is_a_recomputed_gradient_free_node() -> None:
    w = Value(3.0, "w")

    def f(x: Value) -> Value:
        frozen = w.detach()  # detached before f uses w: still follows w on every call
        return x * frozen + (x * x).detach() * x

    c = autograd.compile(f, 1.0)
    for x, wd in ((2.0, 3.0), (-0.5, 7.0)):
        w.data = wd
        w.grad = 0.0
        _same_bits(c, f, [x], [w])
        assert w.grad == 0.0  # no gradient through a detached copy


def test_class3_differentiating_through_a_kink_inside_f_is_guarded() -> None:
    def f(x: Value) -> Value:
        y = (x * 2.0).relu() + abs(x)
        (gx,) = autograd.gradients(y, [x], create_graph=True)  # m.where(x > 0, ...) compares Values
        return gx * x

    c = autograd.compile(f, 1.0)
    assert c.guards  # the kinks' conditions
    _same_bits(c, f, [0.5], [])
    with pytest.raises(CompileBranchError):
        c(-0.5)


@pytest.mark.parametrize("loss", ["cross_entropy", "log_softmax", "softmax"])
def test_class4_softmax_replayed_far_from_the_traced_logits(loss: str) -> None:
    def f(a: Value, b: Value, c: Value) -> Value:
        if loss == "cross_entropy":
            return nn.cross_entropy([a, b * 2.0, c], 1)
        if loss == "log_softmax":
            return nn.log_softmax([a, b, c])[2]
        return nn.softmax([a, b, c])[0] * 3.0

    compiled = autograd.compile(f, 0.1, 0.2, 0.3)
    assert compiled.guards == []
    for xs in ([0.1, 0.2, 0.3], [800.0, -5.0, 1.0], [-700.0, 650.0, 640.0], [3.0, 3.0, 3.0]):
        _same_bits(compiled, f, xs, [])


def test_class4_a_false_alarm_uses_the_eager_results() -> None:
    def f(x: Value, y: Value) -> Value:
        return x * 1e308 + y * 1e308  # every gradient finite, their sum is not: the check fires

    c = autograd.compile(f, 1e-300, 1e-300)
    _same_bits(c, f, [1e-300, -1e-300], [])
    xs = [Value(1e-300), Value(2e-300)]
    assert c.batch([tuple(xs)]) == f(Value(1e-300), Value(2e-300)).data and xs[0].grad == xs[1].grad == 1e308


def test_class5_compiling_in_one_thread_keeps_another_threads_writes() -> None:
    import threading

    w = Value(0.0, "w")
    started = threading.Event()

    def f(x: Value) -> Value:
        started.set()
        for _ in range(3000):
            x = x * 0.5 + w
        return x

    def writer() -> None:
        started.wait()
        for i in range(1, 20001):
            w.data = float(i)

    t = threading.Thread(target=writer)
    t.start()
    c = autograd.compile(f, 1.0)
    t.join()
    assert w.data == 20000.0  # no write of the other thread reverted
    _same_bits(c, f, [0.25], [w])


def test_class6_a_failed_batch_writes_nothing() -> None:
    w = Value(1.0, "w")
    c = autograd.compile(lambda x: (x * w).log(), 1.0)
    x = Value(2.0)
    with pytest.raises(ValueError, match="log"):
        c.batch([(x,), (3.0,), (-1.0,)])
    assert x.grad == 0.0 and w.grad == 0.0


def test_an_overflow_stopped_by_relu_raises_as_eager() -> None:
    def f(x: Value) -> Value:
        return (-x).relu() * 1e200 * 1e200  # relu passes 0 forward; the gradient reaching it is inf

    with pytest.raises(OverflowError):
        f(Value(1.0)).backward()
    c = autograd.compile(f, 2.0)
    x = Value(1.0)
    with pytest.raises(OverflowError):
        c(x)
    assert x.grad == 0.0


def test_writes_to_data_and_calls_of_compiled_code_inside_f_are_refused() -> None:
    w = Value(1.0)

    def writes(x: Value) -> Value:
        w.data = 2.0
        return x * w

    with pytest.raises(CompileError, match="assigns"):
        autograd.compile(writes, 1.0)
    assert w.data == 1.0
    inner = autograd.compile(lambda y: y * 2.0, 1.0)
    with pytest.raises(CompileError, match="cannot run while f is traced"):
        autograd.compile(lambda x: x * inner(3.0), 1.0)


def test_traced_numbers_print_inside_trace_invariant_compute_and_are_plain_outside_the_trace() -> None:
    kept = []

    def f(x: Value) -> Value:
        d = x.data
        kept.append(d)
        with autograd.trace_invariant():
            assert f"{d:.1f}" == "1.5" and str(d) == "1.5" and repr(d) == "1.5"
        assert d.imag == 0.0 and d.conjugate() is d
        if (d - 1.0) * 2.0 // 1.0 % 2.0**1.0 >= abs(-d) / 3.0 + +d - d:
            return x * 2.0
        return x

    c = autograd.compile(f, 1.5)
    assert len(c.guards) == 1 and c(1.5) == 3.0
    d = kept[0]
    assert float(d) == 1.5 and int(d) == 1 and round(d) == 2 and math.floor(d) == 1 and math.ceil(d) == 2
    assert math.trunc(d) == 1 and hash(d) == hash(1.5) and d * 2 == 3.0 and -d == -1.5 and bool(d)
    assert str(d) == repr(d) == f"{d}" == "1.5"
    assert repr(c).startswith("<compiled f:")


def test_a_number_kept_from_an_earlier_trace_does_not_hide_a_new_one() -> None:
    kept: list[object] = []
    autograd.compile(lambda x: kept.append(x.data) or x, 1.5)  # type: ignore[func-returns-value]
    c = autograd.compile(lambda x: x.exp() if kept[0] < x.data and kept[0] * 0.0 + x.data > 1.0 else x, 2.0)
    assert c.guards == ["arg_0 > 1.5 is True", "(0.0 + arg_0) > 1.0 is True"]
    with pytest.raises(CompileBranchError):
        c(1.25)


def test_a_chain_of_sums_rolls_without_keeping_values() -> None:
    w = Value(0.5, "w")

    def f(x: Value) -> Value:
        for _ in range(300):
            x = x + w
        return x

    c = autograd.compile(f, 1.0)
    assert _rolled(c.source) is False and "for _ in range(" in c.source
    _same_bits(c, f, [2.0], [w])


SYMBOLIC_RULES = {  # rules that exercise more of what the symbols understand
    "test_compile_rpow": (lambda x: 2.0**x, lambda x, out, m: out * 0.6931471805599453 + (+x) * 0.0),
    "test_compile_ne": (lambda x: x * 1.0, lambda x, out, m: m.where(x != 0.0, 1.0, m.where(x <= 0.0, 1.0, 0.0))),
    "test_compile_param": (lambda x, *, k=1.0: k * x, lambda x, out, m, *, k=1.0: m.where(k > 0.0, k, m.abs(k))),
}


@pytest.mark.parametrize("name", sorted(SYMBOLIC_RULES))
def test_rules_using_more_of_the_symbols_compile_exactly(name: str) -> None:
    op = autograd.OPS[name] if name in autograd.OPS else autograd.defop(name, *SYMBOLIC_RULES[name])

    def f(x: Value) -> Value:
        return op(x * 1.5)

    c = autograd.compile(f, 0.5)
    for x in (0.5, -0.25, 0.0):
        _same_bits(c, f, [x], [])


def test_a_rule_mixing_an_operand_with_another_number_type_is_refused() -> None:
    np = pytest.importorskip("numpy")
    name = "test_compile_numpy_rule"
    op = (
        autograd.OPS[name]
        if name in autograd.OPS
        else autograd.defop(name, lambda x: 2.0 * x, lambda x, out, m: x * np.float64(0.0) + 2.0)
    )
    with pytest.raises(CompileError, match="test_compile_numpy_rule.*float64"):
        autograd.compile(lambda x: op(x), 0.5)


def test_what_a_traced_number_refuses_and_what_it_records() -> None:
    def complex_root(x: Value) -> Value:
        return x * 2.0 if (x.data - 2.0) ** 0.5 else x

    with pytest.raises(CompileError, match="not a float"):
        autograd.compile(complex_root, 1.0)
    with pytest.raises(CompileError, match="integer"):
        autograd.compile(lambda x: x * [1.0, 2.0][x.data], 1.0)
    with pytest.raises(TypeError):
        autograd.compile(lambda x: x if x.data < "a" else x, 1.0)

    def compares(x: Value) -> Value:
        d = x.data
        return x * 2.0 if d <= 2.0 and d != 3.0 and +d > -5.0 and x >= -5.0 and x > d - 9.0 else x

    c = autograd.compile(compares, 1.0)
    assert len(c.guards) == 5 and c(1.5) == 3.0
    with pytest.raises(CompileBranchError):
        c(2.5)


# ---- forwards that branch, inlined; fusion; gradient sums ---------------------------------------------
LEAKY = autograd.defop(
    "test_compile_leaky", lambda x: x if x > 0 else 0.1 * x, lambda x, out, m: m.where(x > 0.0, 1.0, 0.1)
)
CLIP = autograd.defop(
    "test_compile_clip", lambda x: min(max(x, -1.0), 1.0), lambda x, out, m: m.where(abs(x) < 1.0, 1.0, 0.0)
)
TRUTHY = autograd.defop(  # `if x:` asks bool(x), which (A if x else B) asks too: -0.0 and 0.0 are false
    "test_compile_truthy", lambda x: x * 2.0 if x else 1.0, lambda x, out, m: m.where(x != 0.0, 2.0, 0.0)
)


def _forward_part(src: str) -> str:
    return src.split("# ---- backward")[0].split("# ---- forward ----")[1]


@pytest.mark.parametrize("op", [LEAKY, CLIP, TRUTHY, OPS["relu"], OPS["leaky_relu"]], ids=lambda op: op.name)
def test_a_forward_that_branches_is_inlined_and_exact_on_both_sides_and_at_the_kink(op: autograd.Op) -> None:
    """The float rule's `if` (or max/min) becomes `(A if C else B)`: the same comparison choosing the same
    arithmetic, so the bits of eager mode on either side, at the kink, and at signed zeros."""

    def f(x: Value) -> Value:
        return op(x * 1.5) * x

    c = autograd.compile(f, 0.5)
    assert "_F" not in _forward_part(c.source) and " if " in _forward_part(c.source)
    kinks = [0.0, -0.0, 1.0 / 1.5, -1.0 / 1.5, 5e-324, -5e-324]
    for x in [-2.0, -0.3, 0.3, 2.0, *kinks, *(math.nextafter(k, s) for k in kinks for s in (-1.0, 1.0))]:
        _same_bits(c, f, [x], [])


def test_branches_of_a_forward_keep_every_operation_that_can_raise() -> None:
    """A path that leaves out a division the float rule does (and that raises there) is not inlined:
    the op is called, and the replay raises where eager raises."""
    src = autograd.compiler.symbolic.forward_source
    drops = autograd.defop(
        "test_compile_drops", lambda x, y: (x / y, x)[1] * 2.0 if x > y else 0.0, lambda x, y, out, m: (2.0, 0.0)
    )
    keeps = autograd.defop(
        "test_compile_keeps", lambda x, y: x / y if x > y else 0.0, lambda x, y, out, m: (1.0 / y, -out / y)
    )
    assert src(drops, "_F", ["a", "b"], None) == "_F(a, b)"
    assert src(keeps, "_F", ["a", "b"], None) == "((a / b) if a > b else 0.0)"
    c = autograd.compile(lambda x, y: drops(x, y), 1.0, 0.5)
    assert c(1.0, 0.5) == 2.0
    with pytest.raises(ZeroDivisionError):
        c(1.0, 0.0)


def test_forwards_that_cannot_be_read_with_symbols_are_called() -> None:
    """Too many branches, a caught refusal, a result that is no number: the bound function is called."""
    src = autograd.compiler.symbolic.forward_source

    def stairs(x: float) -> float:
        for step in (1.0, 2.0, 3.0, 4.0):  # four branch points on one path: more than MAX_BRANCHES
            if x < step:
                return step * x
        return x

    def careful(x: float) -> float:
        try:
            return math.exp(x)  # a symbol refuses float(): the rule must not carry on with 0.0
        except Exception:  # noqa: BLE001
            return 0.0

    def exploring(x: float) -> float:
        try:
            return x if x > 0.0 else -x
        except BaseException:  # noqa: BLE001 - swallows the exploration itself
            return 0.0

    def typed(x: float) -> float:
        return 2.0 * x if isinstance(x, float) else 3.0 * x  # asks what x is: caught at the probes

    def insists(x: float) -> float:
        try:
            if x > 0.0:
                return x
        except BaseException:  # noqa: BLE001, S110 - swallows the exploration, then asks again
            pass
        return x if x < 1.0 else 0.0

    asked = itertools.count()

    def fickle(x: float) -> float:  # a different question on every call: not a function of x alone
        return x if (x > 0.0 if next(asked) % 2 else x < 1.0) else 0.0

    rules = [stairs, careful, exploring, insists, fickle, typed, lambda x: x.real * 2.0]
    rules.append(lambda x: x if x > -10.0 else True)  # a bool is no number
    for i, rule in enumerate(rules):
        op = autograd.defop(f"test_compile_called_{i}", rule, lambda x, out, m: 1.0)
        assert src(op, "_F", ["a"], None) == "_F(a)", rule
    assert src(OPS["elu"], "_F", ["a"], {"alpha": 1.0}) == "_F(a, alpha=1.0)"  # math.expm1 needs a number
    assert src(OPS["abs"], "_F", ["a"], None) == "abs(a)"


def test_an_integer_branch_result_is_a_float_as_in_eager() -> None:
    step = autograd.defop("test_compile_step", lambda x: 1 if x > 0 else 0, lambda x, out, m: 0.0)
    c = autograd.compile(lambda x: step(x) * 3.0 + x, 1.0)
    assert "(1.0 if arg_0 > 0 else 0.0)" in c.source
    for x in [-1.0, 0.0, 2.0]:
        _same_bits(c, lambda x: step(x) * 3.0 + x, [x], [])


def test_single_use_sums_and_products_fuse_into_one_line_with_eager_bits() -> None:
    """An MLP neuron's `b + w0 x0 + w1 x1` is one expression (the same additions, left to right); values
    the backward or a check reads keep their names; overflow inside a fused expression still raises."""
    w = [Value(v, f"w{i}") for i, v in enumerate([0.3, -1.2, 0.7])]

    def f(x: Value, y: Value) -> Value:
        return (w[0] + w[1] * x + w[2] * y).relu() * x + (x * y).tanh()

    c = autograd.compile(f, 0.5, 0.25)
    assert re.search(r"= \(\(w0_\d+ \+ \(w1_\d+ \* arg_0\)\) \+ \(w2_\d+ \* arg_1\)\)  # \+ \(inline: ", c.source)
    for point in [[0.5, 0.25], [-3.0, 2.0], [0.0, -0.0], [1e150, 1e-150]]:
        _same_bits(c, f, point, w)
    for p in w:
        p.grad = 0.0
    with pytest.raises(OverflowError):
        c(1.5e308, 1.0)  # w1 * x overflows inside the fused expression: eager's error, nothing written
    assert [p.grad for p in w] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("uses", [3, 33, 100])
def test_a_gradient_of_many_terms_is_summed_in_eager_order(uses: int) -> None:
    """A parameter used by many nodes: its terms are added in one expression, left to right, in the
    order eager's sweep adds them (more than 32 terms: continued on the next line)."""
    w = Value(0.37, "w")
    ks = [math.sin(i) * 3.0 for i in range(uses)]

    def f(x: Value) -> Value:
        total = x * 0.0
        for k in ks:
            total = total + (w * k + x).tanh()
        return total

    c = autograd.compile(f, 0.2)
    for x in [0.2, -1.7, 3.0]:
        _same_bits(c, f, [x], [w])


# ---- writing gradients: eager's sum of a Value's terms, then one addition to .grad ----------------------
def test_a_value_passed_twice_or_also_read_by_reference_gets_eagers_bits() -> None:
    """Eager sums all of a Value's terms, then adds the sum to .grad once; a compiled function that is
    handed the same Value twice (or a Value it also reads) lets eager do the call: the same bits."""
    w = Value(0.7, "w")
    c1 = autograd.compile(lambda x: x * w + x * 3.1, 0.5)
    c2 = autograd.compile(lambda a, b: a * b + a * 1.7, 1.0, 2.0)
    for start in [0.1, 0.3, -0.2, 1e-3]:
        w.grad = start
        out = w * w + w * 3.1
        out.backward()
        want = w.grad
        w.grad = start
        c1(w)
        assert _bits(w.grad) == _bits(want)
        x = Value(1.3)
        x.grad = start
        (x * x + x * 1.7).backward()
        want = x.grad
        x.grad = start
        c2(x, x)
        assert _bits(x.grad) == _bits(want)


def test_a_zero_gradient_reaches_grad_as_eager_adds_it() -> None:
    """Eager's sum of terms starts at 0.0, so a gradient of -0.0 arrives as 0.0: -0.0 stays -0.0 + 0.0."""
    c = autograd.compile(lambda a: a * 0.0 * -1.0, 1.0)
    y, z = Value(0.0), Value(0.0)
    y.grad = z.grad = -0.0
    (y * 0.0 * -1.0).backward()
    c(z)
    assert _bits(z.grad) == _bits(y.grad)


def test_parameters_computed_outside_f_with_shared_leaves_go_through_eager() -> None:
    p = Value(0.4, "p")
    q = p * 2.0  # a node read by reference, its graph holding another Value f reads

    def f(x: Value) -> Value:
        return x * q + x * p

    c = autograd.compile(f, 0.5)
    for start in [0.0, 0.1, -0.3]:
        p.grad = start
        f(Value(0.9)).backward()
        want = p.grad
        p.grad = start
        c(0.9)
        assert _bits(p.grad) == _bits(want)


def test_a_user_forward_that_gives_a_complex_raises_as_eager_even_under_abs() -> None:
    root = autograd.defop("test_compile_root", lambda x: x**0.5, lambda x, out, m: 0.5 / out, domain={"x": (0.1, 4.0)})
    c = autograd.compile(lambda x: abs(root(x)) + x, 4.0)
    assert "_float((arg_0 ** 0.5))" in c.source
    _same_bits(c, lambda x: abs(root(x)) + x, [9.0], [])
    with pytest.raises(TypeError):
        c(-4.0)  # eager: the forward must return a real number


def test_a_value_passed_twice_still_raises_on_a_changed_branch() -> None:
    c = autograd.compile(lambda a, b: a * b if a.data > 0.0 else a + b, 1.0, 2.0)
    x = Value(-1.5)
    with pytest.raises(CompileBranchError):
        c(x, x)
    assert x.grad == 0.0
    y = Value(2.5)
    assert c(y, y) == 6.25 and y.grad == 5.0
    z = Value(1e200)
    with pytest.raises(OverflowError):
        c(z, z)  # eager's error, from eager itself
    assert z.grad == 0.0


def test_a_parameter_computed_outside_f_passes_its_gradient_on() -> None:
    """One node read by reference whose graph holds nothing else f reads: its gradient goes on through
    its own graph (eager's sweep does the same there), without running f eagerly."""
    p = Value(0.4, "p")
    q = p * 2.0

    def f(x: Value) -> Value:
        return (x * q).tanh()

    c = autograd.compile(f, 0.5)
    for start in [0.0, 0.1]:
        p.grad = start
        f(Value(0.9)).backward()
        want = p.grad
        p.grad = start
        c(0.9)
        assert _bits(p.grad) == _bits(want)


def test_batch_with_a_value_twice_in_a_row_sums_eagers_gradients() -> None:
    c = autograd.compile(lambda a, b: a * b + a * 1.7, 1.0, 2.0)
    x, y = Value(1.3), Value(1.3)
    total = c.batch([(x, x), (0.5, 0.25)])
    out = y * y + y * 1.7
    out.backward()
    assert total == out.data + (0.5 * 0.25 + 0.5 * 1.7) and x.grad == y.grad


def test_a_constants_gradient_is_checked_as_eager_checks_it() -> None:
    """A constant's gradient is returned to no one, but eager checks it: here it overflows while the
    parameter's does not. Its terms sit in the replay's finiteness check, which catches it."""
    c = autograd.compile(lambda w: (w * 1e-300) * 1e10, 1.0)
    assert "c_1_g =" not in c.source and "(t_2_g * arg_0)" in c.source
    w = Value(1e300)
    with pytest.raises(OverflowError, match="gradient"):
        c(w)
    assert w.grad == 0.0
    _same_bits(c, lambda w: (w * 1e-300) * 1e10, [3.0], [])


# ---- what tracing must refuse or see, and what a call must not write ------------------------
def _bad_zero_grad_in_f(model: nn.MLP) -> Callable[[], Value]:
    def loss_fn() -> Value:
        model.zero_grad()
        return (model([0.5, -0.2])[0] - 1.0) ** 2

    return loss_fn


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda m, w: _bad_zero_grad_in_f(m), r"writes \.grad"),
        (lambda m, w: lambda: (m([1.0, 2.0])[0] * w).relu(), None),  # the control: compiles
        (lambda m, w: lambda: _set_grad(w, 0.0) * w, r"writes \.grad"),
        (lambda m, w: lambda: (w * 2.0) * (w.grad + 1.0), r"reads \.grad"),
        (lambda m, w: lambda: _backward_inside(w * 2.0), r"backward\(\), which writes"),
        (lambda m, w: lambda: _zero_inside(w * 2.0), r"zero_grad\(\), which writes"),
        (lambda m, w: lambda: _zero_all(w * 2.0), r"zero_grad\(\), which writes"),
    ],
)
def test_f_that_writes_or_reads_grad_is_refused_and_changes_nothing(
    make: Callable[..., Callable[[], Value]], message: str | None
) -> None:
    """a gradient written (or read) inside f would be written once, at compile time,
    and skipped by every compiled call. Tracing refuses it, before anything is written."""
    model, w = nn.MLP(2, [3, 1], seed=0), Value(2.0, "w")
    for i, p in enumerate([*model.parameters(), w]):
        p.grad = 0.5 + i
    before = [p.grad for p in [*model.parameters(), w]]
    if message is None:
        autograd.compile(make(model, w))
    else:
        with pytest.raises(CompileError, match=message) as info:
            autograd.compile(make(model, w))
        assert "outside f" in str(info.value) or "cannot follow" in str(info.value)
    assert [p.grad for p in [*model.parameters(), w]] == before
    # the class is never patched: .grad is the same property before, during and after tracing
    assert Value.__dict__["grad"] is _GRAD_PROPERTY and Value.__dict__["data"] is _DATA_PROPERTY


def _set_grad(v: Value, g: float) -> Value:
    v.grad = g
    return v


def _backward_inside(y: Value) -> Value:
    y.backward()
    return y


def _zero_inside(y: Value) -> Value:
    y.zero_grad()
    return y


def _zero_all(y: Value) -> Value:
    autograd.zero_grad(y)
    return y


def test_other_threads_use_grad_freely_while_f_is_traced() -> None:
    import threading

    w, u = Value(0.5, "w"), Value(0.25, "u")
    started, done = threading.Event(), threading.Event()

    def f(x: Value) -> Value:
        started.set()
        done.wait(10)
        return x * w

    def trainer() -> None:
        started.wait(10)
        for _ in range(100):
            (u * w).backward()  # another thread trains the same parameter: its .grad writes go through
        done.set()

    t = threading.Thread(target=trainer)
    t.start()
    c = autograd.compile(f, 1.0)
    t.join()
    assert w.grad == 100 * 0.25 and u.grad == 100 * 0.5
    w.grad = 0.0
    assert c(3.0) == 1.5 and w.grad == 3.0


@pytest.mark.parametrize(
    "f",
    [
        lambda x: x * autograd.gradients(x * x, [x])[0],
        lambda x: x * autograd.grad(lambda t: t * t)(x),
        lambda x: x * autograd.value_and_grad(lambda t: t * t)(x)[1],
        lambda x: x * autograd.local_derivatives(x * x)[0],
    ],
)
def test_apis_returning_plain_floats_are_refused_while_traced(f: Callable[[Value], Value]) -> None:
    """their floats would be baked into the replay as constants."""
    with pytest.raises(CompileError, match="create_graph=True"):
        autograd.compile(f, 1.0)


def test_item_and_create_graph_gradients_are_followed() -> None:
    def f(x: Value) -> Value:
        (g,) = autograd.gradients(x * x, [x], create_graph=True)
        return x * g if x.item() > 0 else -x

    c = autograd.compile(f, 1.0)
    assert c.guards == ["arg_0 > 0 is True"]
    _same_bits(c, f, [3.0], [])
    with pytest.raises(CompileBranchError):
        c(-3.0)


def test_copies_and_pickles_of_values_are_refused_while_traced_and_work_outside() -> None:
    """copy and pickle read the number directly, unseen by the tracer."""
    import copy
    import pickle

    for make in (copy.copy, copy.deepcopy, lambda v: pickle.loads(pickle.dumps(v))):
        with pytest.raises(CompileError, match="reads the number directly"):
            autograd.compile(lambda x, make=make: x * make(x), 1.0)
    a = Value(2.0, "a")
    b = a * 3.0
    b.backward()
    shallow, deep, leaf = copy.copy(b), copy.deepcopy(b), pickle.loads(pickle.dumps(a))
    assert (shallow.data, shallow.grad, shallow.inputs[0]) == (6.0, 1.0, a)
    assert deep.data == 6.0 and deep.inputs[0] is not a and deep.inputs[0].grad == 3.0 and deep.op == "*"
    assert (leaf.data, leaf.grad, leaf.label) == (2.0, 3.0, "a")


def test_comparisons_with_bools_are_guarded_and_inexact_numbers_refused() -> None:
    """`x.data > False` is a decision; a Fraction no float equals cannot be a guard."""
    from decimal import Decimal
    from fractions import Fraction

    def f(x: Value) -> Value:
        return x * 2.0 if x.data > False else x * -1.0

    c = autograd.compile(f, 0.5)
    assert c.guards == ["arg_0 > 0 is True"]
    with pytest.raises(CompileBranchError):
        c(-1.0)
    with pytest.raises(CompileError, match="no float equals"):
        autograd.compile(lambda x: x * 2.0 if x.data >= Fraction(1, 3) else x, 0.5)
    c = autograd.compile(lambda x: x * 2.0 if x.data >= Fraction(1, 2) else x, 0.75)  # exact: a guard
    assert c.guards == ["arg_0 >= 0.5 is True"]
    with pytest.raises(TypeError):
        autograd.compile(lambda x: x * 2.0 if x.data >= Decimal("0.5") else x, 0.75)


def test_work_on_fs_values_in_another_thread_is_refused() -> None:
    """the tracer sees only its own thread."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        for work in (lambda x: x.data > 0, lambda x: x > 0, lambda x, d=None: (x.data, x.item())):
            with pytest.raises(CompileError, match="another thread"):
                autograd.compile(lambda x, work=work: x * 2.0 if pool.submit(work, x).result() else -x, 1.0)
        with pytest.raises(CompileError, match="another thread"):  # a number read in f, compared there
            autograd.compile(lambda x: x * 2.0 if pool.submit(lambda d: d > 0, x.data).result() else -x, 1.0)
        with pytest.raises(CompileError, match="another thread"):  # an op built there, used by f
            autograd.compile(lambda x: pool.submit(lambda: x * 2.0).result() * x, 1.0)
        w = Value(3.0, "w")  # a parameter read by another thread while f is traced: fine
        c = autograd.compile(lambda x: x * w if pool.submit(lambda: w > 0 and w.data > 0).result() else -x, 1.0)
    assert c(2.0) == 6.0


def test_a_failed_call_or_batch_through_a_prebuilt_node_writes_nothing() -> None:
    """the node's own backward fails (sqrt at 0); nothing is written, not even to w."""
    w, p = Value(2.0, "w"), Value(0.0, "p")
    q = p.sqrt()
    c = autograd.compile(lambda x: x * w + x * q, 1.0)
    x = Value(3.0)
    with pytest.raises(autograd.DerivativeError):
        c(x)
    with pytest.raises(autograd.DerivativeError):
        c.batch([(1.0,), (2.0,)])
    assert x.grad == w.grad == p.grad == 0.0


def test_batch_leaves_the_grads_sequential_calls_leave_bit_for_bit() -> None:
    """with .grad already nonzero, through a node built outside f, and with a Value
    passed twice, `.batch(rows)` writes what calling row by row writes, bit for bit."""
    import random

    rng = random.Random(1)
    w, p = Value(0.3, "w"), Value(0.7, "p")
    q1 = p * 1.1
    q2 = q1 * 1.3
    for f, nargs in [
        (lambda x: (x * w).tanh(), 1),
        (lambda x: x * q1 + x * q2, 1),
        (lambda x, y: (x * y).sin() + x * w, 2),
    ]:
        c = autograd.compile(f, *[1.0] * nargs)
        shared = Value(1.234)
        rows = [tuple(rng.uniform(-3, 3) for _ in range(nargs)) for _ in range(10)]
        rows += [(shared,) * nargs, tuple(Value(rng.uniform(-1, 1)) for _ in range(nargs))]
        results = []
        for batched in (False, True):
            for v in (w, p, shared):
                v.grad = 0.1
            total = c.batch(rows) if batched else sum(c(*row) for row in rows)
            results.append([total, w.grad, p.grad, shared.grad])
        assert [_bits(x) for x in results[0]] == [_bits(x) for x in results[1]]


def test_a_compiled_call_inside_no_grad_returns_the_value_and_writes_nothing() -> None:
    """eager `f(x).backward()` under no_grad has no graph, so writes no parameter's grad."""
    w = Value(0.5, "w")
    c = autograd.compile(lambda x: (x * w).tanh(), 1.0)
    x = Value(2.0)
    with no_grad():
        assert c(x) == (Value(2.0) * w).tanh().data
        assert c.batch([(1.0,), (x,)]) == c(1.0) + c(2.0)
    assert w.grad == x.grad == 0.0
    c(x)
    assert w.grad != 0.0


def test_a_user_forward_returning_a_bool_or_str_raises_as_eager_does() -> None:
    """the replay checks a user forward's result as eager's Op.check_result does."""
    weird = autograd.defop("bool_forward", lambda x: (x > 10.0) or x, lambda x, out, m: 1.0)
    texty = autograd.defop("str_forward", lambda x: "11.0" if x > 10.0 else x, lambda x, out, m: 1.0)
    for op in (weird, texty):
        c = autograd.compile(lambda x, op=op: op(x) * x, 1.0)
        assert c(2.0) == 4.0
        x = Value(11.0)
        with pytest.raises(TypeError, match="forward must return a real number"):
            c(x)
        assert x.grad == 0.0


def test_aliased_arguments_run_as_eager_and_python_state_is_the_documented_limit() -> None:
    """`x is y` at call time differs from the trace (fresh leaves): eager decides."""

    def f(x: Value, y: Value) -> Value:
        return x * 3.0 if x is y else x * y

    c = autograd.compile(f, 1.0, 2.0)
    v, u = Value(2.0), Value(2.0)
    out = f(u, u)
    out.backward()
    assert c(v, v) == out.data and v.grad == u.grad == 3.0
    w = Value(1.5, "w")
    c = autograd.compile(lambda x: x * w if x is w else x * w * 2.0, 1.0)
    assert c(w) == 2.25 and w.grad == 3.0  # passed and also read by reference: eager's result


@pytest.mark.parametrize("loss", [nn.binary_cross_entropy_with_logits, nn.hinge_loss])
def test_losses_take_value_targets_inside_compiled_f(loss: Callable[..., Value]) -> None:
    """a Value target is compared (guards) and multiplied as a Value."""
    w = Value(0.3, "w")

    def f(x: Value, y: Value) -> Value:
        return loss([x * w], [y])

    c = autograd.compile(f, 1.0, 1.0)
    for x, y in [(2.0, 1.0), (-1.5, 1.0)]:
        _same_bits(c, f, [x, y], [w])
    bad = 1.5 if loss is nn.binary_cross_entropy_with_logits else 0.0
    w.grad = 0.0
    with pytest.raises(ValueError, match="must be"):
        c(2.0, bad)
    assert w.grad == 0.0


def test_a_guard_over_too_many_data_reads_is_a_compile_error() -> None:
    """A guard is written as one expression: past 100 arithmetic steps over .data reads, compile
    refuses with what to write instead (instead of Python's parser or recursion limit failing)."""
    params = [Value(0.01 * i) for i in range(300)]

    def f(x: Value) -> Value:
        norm2 = sum(p.data**2 for p in params)
        return x if norm2 < 1e6 else x * 0.5

    with pytest.raises(CompileError, match="more than 100 numbers read from .data; compute it with Value ops"):
        autograd.compile(f, 1.0)
    short = params[:20]
    c = autograd.compile(lambda x: x if sum(p.data for p in short) < 100.0 else x * 0.5, 1.0)
    assert c(2.0) == 2.0 and len(c.guards) == 1


def test_fs_name_never_becomes_code(capsys: pytest.CaptureFixture[str]) -> None:
    def f(x: Value) -> Value:
        return x * 2.0

    f.__name__ = 'f"""; print("INJECTED"); """\nraise SystemExit'
    c = autograd.compile(f, 1.0)
    assert c(3.0) == 6.0 and "INJECTED" not in capsys.readouterr().out
    assert c.source.splitlines()[1].lstrip().startswith("#")  # the name sits in a comment, as a repr


def test_the_installed_package_list_names_every_subpackage() -> None:
    """A wheel installs only the packages pyproject lists: every folder with an __init__.py must be
    there (autograd.compiler was once missing, so `import autograd` failed outside editable installs)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    line = re.search(r"^packages = \[(.*)\]$", (root / "pyproject.toml").read_text(), flags=re.M)
    assert line is not None
    listed = set(re.findall(r'"([^"]+)"', line.group(1)))
    inits = [p for top in ("autograd", "nn") for p in (root / top).rglob("__init__.py")]
    found = {".".join(p.parent.relative_to(root).parts) for p in inits}
    assert found <= listed, sorted(found - listed)


@pytest.mark.parametrize("k", [2.0, -2.0])
def test_a_where_decided_by_a_parameter_takes_the_branch_eager_takes(k: float) -> None:
    """m.where on a constant condition picks a or b; with a number on one side and an expression
    on the other, the compiled rule once took the expression whatever the condition said."""
    op = autograd.defop(
        f"param_where_{k:+.0f}",
        lambda x, *, k: k * x,
        lambda x, out, m, *, k: m.where(k > 0.0, k, m.exp(k)),
    )
    c = autograd.compile(lambda x: op(x, k=k), Value(0.5))
    x = Value(0.5)
    c(x)
    eager = Value(0.5)
    op(eager, k=k).backward()
    assert x.grad == eager.grad == (k if k > 0.0 else math.exp(k))
