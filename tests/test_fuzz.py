"""Fuzzing the engine with random expression DAGs built from every op in the catalog.

Each generated case is a recipe: leaves, then steps that each apply one catalog op to earlier
nodes (the previous node mostly, so chains get a few hundred deep; any earlier node too, so
subexpressions are shared and nodes fan out). Inputs include domain edges (0, -0.0, subnormals,
the exp overflow threshold) and huge magnitudes. Every case must end in exactly one of:

- a clear error from a documented family (ValueError / ZeroDivisionError / OverflowError whose
  message starts with the op or with `backward`), or
- finite values and gradients that agree with central differences (on the catalog's independent
  float formulas) wherever those are trustworthy, and with torch in float64 when it is present.

Never a NaN or inf, never a wrong number. The outcomes are counted and shown at the end of the module.
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from unittest import mock

import numpy as np
import pytest
from catalog import CATALOG, OpCase
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd
from autograd import OPS, Value, detect_anomaly, gradients, local_derivatives, no_grad, topological_order
from autograd.compiler import codegen

# ---- the documented errors --------------------------------------------------------------------
ERRORS = (ValueError, ZeroDivisionError, OverflowError)
# An error message starts with what failed: an op ("log: input must be > 0"), "/" (division by
# zero, raised by a derived op) or "backward" (a gradient that overflowed).
PREFIXES = {*OPS, "/", "backward"}


def assert_documented(err: BaseException) -> None:
    assert isinstance(err, ERRORS), f"undocumented error type {type(err).__name__}: {err}"
    prefix = str(err).split(":", 1)[0]
    assert prefix in PREFIXES, f"error message does not start with the op: {err}"


# ---- recipes -------------------------------------------------------------------------------------
KINKS = {"abs", "__abs__", "relu", "leaky_relu", "elu"}  # not differentiable at 0; the engine picks a side
PERIODIC = {"sin", "cos"}
EDGES = [
    0.0,
    -0.0,
    5e-324,
    -5e-324,
    1e-300,
    -1e-8,
    1e-8,
    0.5,
    -1.0,
    1.0,
    2.0,
    -30.0,
    88.0,
    709.78,
    710.0,
    -745.2,
    1e150,
    -1e154,
    1e300,
    -1.7e308,
]
leaf_values = st.one_of(
    st.sampled_from(EDGES),
    st.floats(-4.0, 4.0),
    st.floats(-2.0, 2.0),
    st.floats(-1e6, 1e6),
    st.floats(allow_nan=False, allow_infinity=False),
)

Recipe = list[tuple[int, int, int]]  # (catalog index, first operand, second operand)
N_LEAVES = 3


@st.composite
def recipes(draw: st.DrawFn, max_steps: int, min_steps: int = 1) -> Recipe:
    n = draw(st.one_of(st.integers(min_steps, max(min_steps, 12)), st.integers(max_steps // 2, max_steps)))
    steps: Recipe = []
    for k in range(n):
        available = N_LEAVES + k
        op = draw(st.integers(0, len(CATALOG) - 1))
        i = max(0, available - 1 - draw(st.integers(0, 3)))  # mostly a recent node: depth
        j = draw(st.integers(0, available - 1))  # any earlier node: sharing and fan-out
        steps.append((op, i, j))
    return steps


def run(recipe: Recipe, inputs: Sequence[Any], apply: Callable[[OpCase, list[Any]], Any]) -> list[Any]:
    """Every node of the recipe (leaves first), built with `apply(case, operands)`."""
    nodes = list(inputs)
    for op, i, j in recipe:
        case = CATALOG[op]
        nodes.append(apply(case, [nodes[i], nodes[j]][: case.arity]))
    return nodes


def output(nodes: list[Any]) -> Any:
    # The last node plus two interior ones: interior nodes feed the output along several paths.
    return nodes[-1] + nodes[len(nodes) // 2] * nodes[len(nodes) // 3]


def on_values(case: OpCase, xs: list[Any]) -> Any:
    return case.fn(*xs)


def on_tensors(case: OpCase, xs: list[Any]) -> Any:
    assert case.torch is not None, f"catalog row {case.name} has no torch form"
    return case.torch(*xs)


def linear_regime(recipe: Recipe, base: list[float], shifted: list[float]) -> bool:
    """Whether a shifted evaluation stays where a difference quotient means something: no kink op's
    input is at 0 or crosses it, no sin/cos input moves by 1e-3 or more (a step near their period
    samples them at random), and no node moves by 1% of max(|node|, 1) (the step jumped over a pole
    such as 1 / x at x = 1e-8, or is otherwise far outside the linear regime)."""
    for a, b in zip(base, shifted, strict=True):
        if not abs(a - b) <= 1e-2 * max(abs(a), 1.0):
            return False
    for op, i, _ in recipe:
        name = CATALOG[op].name
        x, y = base[i], shifted[i]
        if name in KINKS and not (x != 0.0 and y != 0.0 and (x > 0.0) == (y > 0.0)):
            return False
        if name in PERIODIC and not abs(x - y) < 1e-3:
            return False
    return True


# ---- the checks ----------------------------------------------------------------------------------
COUNTS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and COUNTS:
        reporter.write_line("")
        reporter.write_line("fuzz case counts: " + ", ".join(f"{k} {v}" for k, v in sorted(COUNTS.items())))


def gradient_scale(root: Value) -> dict[Value, float]:
    """For every node, the sum over paths of |product of local derivatives|: what the gradient's
    rounding error is proportional to (a gradient of 0 made of terms of 1e10 is only known to ~1e-6)."""
    order = topological_order(root)
    scale: dict[Value, float] = dict.fromkeys(order, 0.0)
    scale[root] = 1.0
    for node in reversed(order):
        for child, d in zip(node.inputs, local_derivatives(node), strict=True):
            scale[child] += scale[node] * abs(d)
    return scale


def evaluate(recipe: Recipe, point: Sequence[float]) -> tuple[list[float], float] | None:
    """The data of every recipe node and of the output at `point` (no graph); None where undefined.

    Central differences use the engine's own forward pass, which `check_forward_locally` holds to
    the catalog's independent formulas op by op (the catalog's alpha (e^x - 1) for elu, say, is
    itself only accurate to ~1e-16 absolute, too coarse for a difference quotient near 0).
    """
    try:
        with no_grad():
            nodes = run(recipe, [Value(x) for x in point], on_values)
            out = output(nodes)
    except ERRORS:
        return None
    return [v.data for v in nodes], out.data


def rounding_noise(recipe: Recipe, data: list[float], out: float, weights: list[float]) -> float:
    """How far rounding can move f: each op's result is off by ~eps (|result| + |operands|), or by
    the smallest subnormal where it underflows, and that moves f by the error times the node's weight
    (its gradient scale). inf when even this estimate overflows (values near 1.7e308)."""
    total = 1e-15 * abs(out)
    for k, (op, i, j) in enumerate(recipe):
        operands = [data[i], data[j]][: CATALOG[op].arity]
        size = abs(data[N_LEAVES + k]) + sum(map(abs, operands))
        total += (1e-15 * size + 1e-323) * weights[N_LEAVES + k]
    return total if math.isfinite(total) else math.inf


def central_difference(
    recipe: Recipe, xs: list[float], i: int, h: float, weights: list[float], base: list[float]
) -> tuple[float, float] | None:
    """d out / d xs[i] and the rounding noise of the quotient; None where f is undefined at a shifted
    point or the step leaves the linear regime around `base` (the node data at xs)."""
    points = []
    for delta in (h, -h):
        shifted = [x + delta if k == i else x for k, x in enumerate(xs)]
        got = evaluate(recipe, shifted)
        if got is None:
            return None
        data, out = got
        if not linear_regime(recipe, base, data):
            return None
        points.append((out, rounding_noise(recipe, data, out, weights)))
    (up, n_up), (down, n_down) = points
    numeric = (up - down) / (2.0 * h)
    if not math.isfinite(numeric):
        return None
    return numeric, (n_up + n_down) / (2.0 * h)


def check_against_central_differences(
    recipe: Recipe, xs: list[float], nodes: list[Value], scale: dict[Value, float]
) -> None:
    leaves = nodes[:N_LEAVES]
    weights = [scale.get(v, 0.0) for v in nodes]
    base = [v.data for v in nodes]
    for i, leaf in enumerate(leaves):
        # a step relative to |x|: a fixed step would jump over the pole of 1 / x at x = 1e-137
        h = max(1e-6 * abs(xs[i]), 1e-300) if xs[i] != 0.0 else 1e-6
        coarse = central_difference(recipe, xs, i, h, weights, base)
        fine = central_difference(recipe, xs, i, h / 4.0, weights, base)
        if coarse is None or fine is None:
            COUNTS["gradient: central difference undefined or not linear nearby (kink, pole, sin of 1e150)"] += 1
            continue
        n1, n2 = coarse[0], fine[0]
        rounding = 2.0 * (coarse[1] + fine[1])
        if not math.isfinite(rounding):
            COUNTS["gradient: central difference unstable"] += 1
            continue
        if abs(n1 - n2) > 1e-6 * abs(n2) + rounding:  # the steps disagree: not smooth, or rounding dominates
            COUNTS["gradient: central difference unstable"] += 1
            continue
        # backward's own rounding is ~eps x (sum of |terms|) = eps x scale
        tol = 1e-5 * abs(n2) + 1e-9 * scale.get(leaf, 0.0) + rounding + 1e-300
        assert abs(leaf.grad - n2) <= tol, f"input {i}: backward {leaf.grad!r}, central difference {n2!r}; {recipe}"
        COUNTS["gradient: equals central differences"] += 1


def check_against_torch(recipe: Recipe, xs: list[float], nodes: list[Value], scale: dict[Value, float]) -> None:
    try:
        import torch
    except ImportError:
        return
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    tnodes = run(recipe, ts, on_tensors)
    tout = output(tnodes)
    # Only where torch computes the same forward point: both use float64 but different libm
    # routines, and a few hundred chained ops can amplify a 1-ulp difference without bound.
    if not all(
        math.isclose(v.data, t.item(), rel_tol=1e-12, abs_tol=1e-300) for v, t in zip(nodes, tnodes, strict=True)
    ):
        COUNTS["torch: forward differs by rounding amplification, not compared"] += 1
        return
    tout.backward()
    for leaf, t in zip(nodes[:N_LEAVES], ts, strict=True):
        tg = 0.0 if t.grad is None else t.grad.item()
        assert math.isclose(leaf.grad, tg, rel_tol=1e-9, abs_tol=1e-9 * scale.get(leaf, 0.0) + 1e-300), (
            f"backward {leaf.grad!r}, torch {tg!r}; {recipe} at {xs}"
        )
    COUNTS["torch: gradients equal"] += 1


def check_forward_locally(recipe: Recipe, nodes: list[Value]) -> None:
    """Each op's result equals the catalog's formula on the op's actual inputs (no amplification)."""
    for k, (op, i, j) in enumerate(recipe):
        case = CATALOG[op]
        args = [nodes[i].data, nodes[j].data][: case.arity]
        got = nodes[N_LEAVES + k].data
        want = case.ref(*args)
        # abs_tol: a formula's absolute rounding error is ~eps times its largest intermediate, at least 1
        # (the catalog's elu is alpha (exp(x) - 1), which near 0 is only good to ~1e-16 absolute).
        tol = 1e-14 * max(1.0, *map(abs, args))
        assert math.isclose(got, want, rel_tol=1e-12, abs_tol=tol), f"{case.name}{tuple(args)}: {got!r} vs {want!r}"


@settings(max_examples=300)
@given(recipes(max_steps=300), st.lists(leaf_values, min_size=N_LEAVES, max_size=N_LEAVES))
def test_random_dags_give_right_gradients_or_a_clear_error(recipe: Recipe, xs: list[float]) -> None:
    check_case(recipe, xs)


@settings(max_examples=100)
@given(recipes(max_steps=300, min_steps=100), st.lists(st.floats(-2.0, 2.0), min_size=N_LEAVES, max_size=N_LEAVES))
def test_deep_random_dags_give_right_gradients_or_a_clear_error(recipe: Recipe, xs: list[float]) -> None:
    # Moderate inputs, 100 to 300 ops: most cases get through the forward pass to be compared.
    check_case(recipe, xs)


def check_case(recipe: Recipe, xs: list[float]) -> None:
    leaves = [Value(x) for x in xs]
    try:
        nodes = run(recipe, leaves, on_values)
        out = output(nodes)
    except ERRORS as e:
        assert_documented(e)
        COUNTS["cases"] += 1
        COUNTS["forward: clear error"] += 1
        return
    COUNTS["cases"] += 1
    assert math.isfinite(out.data)
    check_forward_locally(recipe, nodes)
    try:
        out.backward()
    except ERRORS as e:
        assert_documented(e)
        # A failed backward changes no gradient at all.
        assert all(node.grad == 0.0 for node in topological_order(out))
        COUNTS["backward: clear error"] += 1
        # detect_anomaly names the op instead (or reports the same domain error)
        with detect_anomaly(), pytest.raises((*ERRORS, FloatingPointError)) as info:
            out.backward()
        if isinstance(info.value, FloatingPointError):
            assert "op '" in str(info.value)
        return
    grads = [node.grad for node in topological_order(out)]
    assert all(math.isfinite(g) for g in grads), "a silent nan/inf gradient"
    COUNTS["backward: finite gradients"] += 1
    if len(recipe) >= 100:
        COUNTS["backward: finite gradients, 100+ ops deep"] += 1
    scale = gradient_scale(out)
    check_against_central_differences(recipe, xs, nodes, scale)
    check_against_torch(recipe, xs, nodes, scale)


# ---- second derivatives: create_graph against nested central differences -----------------------
moderate = st.one_of(st.sampled_from([0.0, 1.0, -1.0, 0.5]), st.floats(-3.0, 3.0))


@settings(max_examples=80)
@given(recipes(max_steps=16), st.lists(moderate, min_size=N_LEAVES, max_size=N_LEAVES))
def test_create_graph_second_derivatives_equal_nested_central_differences(recipe: Recipe, xs: list[float]) -> None:
    leaves = [Value(x) for x in xs]
    try:
        out = output(run(recipe, leaves, on_values))
        first = gradients(out, leaves, create_graph=True)
        rows = [gradients(g, leaves) for g in first]
    except ERRORS as e:
        assert_documented(e)
        COUNTS["second order: clear error"] += 1
        return
    assert [g.data for g in first] == pytest.approx(gradients(out, leaves), rel=1e-12, abs=1e-300)

    base = [v.data for v in run(recipe, leaves, on_values)]

    def f(point: list[float]) -> float | None:
        got = evaluate(recipe, point)
        return None if got is None or not linear_regime(recipe, base, got[0]) else got[1]

    def nested(i: int, j: int, h: float) -> tuple[float, float] | None:
        """d/dx_i (d/dx_j f) with central differences of central differences, and the size of f there."""
        corners = []
        for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
            p = list(xs)
            p[i] += si * h
            p[j] += sj * h
            c = f(p)
            if c is None:
                return None
            corners.append(c)
        pp, pm, mp, mm = corners
        return (pp - pm - mp + mm) / (4.0 * h * h), max(1.0, *map(abs, corners))

    h = 1e-4
    for i in range(N_LEAVES):
        for j in range(N_LEAVES):
            assert math.isfinite(rows[i][j])
            coarse, fine = nested(i, j, h), nested(i, j, h / 2.0)
            if coarse is None or fine is None:
                COUNTS["second order: central difference undefined or not linear nearby"] += 1
                continue
            # truncation error ~ h^2, rounding error ~ eps |f| / h^2 (the second term)
            tol = 1e-4 * (abs(fine[0]) + 1.0) + 1e-15 * fine[1] / (h * h / 4.0)
            if abs(coarse[0] - fine[0]) > 4.0 * tol:  # the two steps disagree: differences not accurate here
                COUNTS["second order: central difference unstable"] += 1
                continue
            assert abs(rows[i][j] - fine[0]) <= 4.0 * tol, (
                f"d2/dx{i}dx{j}: {rows[i][j]!r} vs {fine[0]!r}; {recipe} at {xs}"
            )
            COUNTS["second order: equals nested central differences"] += 1


# ---- regressions found by the fuzzer -----------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [lambda: Value(1e-300) ** -1, lambda: 1 / Value(1e-200), lambda: Value(1e-200) ** Value(-1.0)],
    ids=["x**-1", "1/x", "x**y"],
)
def test_a_power_whose_derivative_overflows_is_a_clear_error(make: Callable[[], Value]) -> None:
    # d/dx x^-1 = -x^-2 = -1e400 is not a float: Python's float ** used to escape as the bare
    # "OverflowError: (34, 'Numerical result out of range')", naming neither the op nor the node.
    y = make()
    with pytest.raises(
        OverflowError, match=r"the derivative d out/d x is -inf at x = 1e-[23]00.*too large for a float"
    ):
        y.backward()
    with detect_anomaly(), pytest.raises(FloatingPointError, match=r"op '(\*\*|pow)'"):
        y.backward()


# ---- compiled replay: eager's numbers bit for bit, or eager's error ----------------------------------
def _bits(xs: Sequence[float]) -> list[bytes]:
    return [struct.pack(">d", x) for x in xs]


def _eager_outcome(f: Callable[..., Value], xs: Sequence[float]) -> list[float] | type[BaseException]:
    vs = [Value(x) for x in xs]
    try:
        out = f(*vs)
        out.backward()
    except ERRORS as error:
        return type(error)
    return [out.data, *(v.grad for v in vs)]


def _replay_matches(c: autograd.Compiled, f: Callable[..., Value], xs: Sequence[float]) -> None:
    want = _eager_outcome(f, xs)
    vs = [Value(x) for x in xs]
    if isinstance(want, type):
        with pytest.raises(want):
            c(*vs)
        assert all(v.grad == 0.0 for v in vs)  # nothing half-written
        return
    got = [c(*vs), *(v.grad for v in vs)]
    assert _bits(got) == _bits(want)


@settings(max_examples=150, deadline=None)
@given(
    recipes(max_steps=40),
    st.lists(leaf_values, min_size=N_LEAVES, max_size=N_LEAVES),
    st.lists(leaf_values, min_size=N_LEAVES, max_size=N_LEAVES),
)
def test_compiled_replay_of_random_dags_equals_eager_or_raises_its_error(
    recipe: Recipe, traced: list[float], xs: list[float]
) -> None:
    def f(*leaves: Value) -> Value:
        return output(run(recipe, list(leaves), on_values))  # type: ignore[no-any-return]

    try:
        c = autograd.compile(f, *traced)
    except ERRORS:  # tracing runs f eagerly: eager's own forward error at the traced point
        return
    _replay_matches(c, f, traced)
    _replay_matches(c, f, xs)


@settings(max_examples=100, deadline=None)
@given(
    recipes(max_steps=40),
    st.lists(leaf_values, min_size=N_LEAVES, max_size=N_LEAVES),
    st.lists(leaf_values, min_size=N_LEAVES, max_size=N_LEAVES),
)
def test_compiled_replay_with_borrowed_gradients_equals_eager(
    recipe: Recipe, traced: list[float], xs: list[float]
) -> None:
    """The same, with the code a large graph gets (gradients of + operands borrowed, not copied)."""
    with mock.patch.object(codegen, "BORROW_ABOVE", -1):
        test_compiled_replay_of_random_dags_equals_eager_or_raises_its_error.hypothesis.inner_test(recipe, traced, xs)


BRANCHES: list[Callable[[Value, Value], bool]] = [
    lambda x, y: x.data > 0.5,
    lambda x, y: x.data.real >= y.data,
    lambda x, y: (x.data * 2.0 - y.data) / 4.0 < 0.25,  # arithmetic on .data: an expression, guarded
    lambda x, y: 0.5 < x,  # noqa: SIM300 - the reflected comparison is the point
    lambda x, y: x <= y,
    lambda x, y: bool(x.data - y.data),
    lambda x, y: max(x.data, y.data) == x.data,
    lambda x, y: abs(-x.data) ** 2.0 % 3.0 > 1.0,
]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(range(len(BRANCHES))),
    st.lists(st.floats(-2.0, 2.0), min_size=2, max_size=2),
    st.lists(st.floats(-2.0, 2.0), min_size=2, max_size=2),
    st.booleans(),
)
def test_compiled_branches_on_data_replay_exactly_or_raise_a_branch_error(
    which: int, traced: list[float], xs: list[float], with_numpy: bool
) -> None:
    branch = BRANCHES[which]
    w = Value(0.75, "w")

    def f(x: Value, y: Value) -> Value:
        taken = branch(x, y)
        if with_numpy:
            taken = taken and bool(np.float64(-3.0) < y.data)
        if taken:
            return (x * w).tanh() + y.relu()
        return (x - y * w).exp() * 0.5

    c = autograd.compile(f, *traced)
    assert c.guards
    probe = [Value(x) for x in xs]
    if bool(branch(*probe)) != bool(branch(*[Value(x) for x in traced])):
        with pytest.raises(autograd.CompileBranchError):
            c(*xs)
        return
    w.grad = 0.0
    want = _eager_outcome(f, xs)
    assert not isinstance(want, type)  # these functions are finite on [-2, 2]
    want.append(w.grad)
    w.grad = 0.0
    vs = [Value(x) for x in xs]
    got = [c(*vs), *(v.grad for v in vs), w.grad]
    assert _bits(got) == _bits(want)


@settings(max_examples=60, deadline=None)
@given(
    recipes(max_steps=30),
    st.lists(st.lists(leaf_values, min_size=N_LEAVES, max_size=N_LEAVES), min_size=1, max_size=4),
    st.floats(-2.0, 2.0),
    st.sampled_from(["floats", "values", "aliased"]),
)
def test_compiled_batch_writes_what_row_by_row_calls_write_or_nothing(
    recipe: Recipe, rows: list[list[float]], start: float, how: str
) -> None:
    """`.batch(rows)` leaves every .grad (already nonzero, a parameter's too) as calling row by row
    leaves it, bit for bit; when a row fails, nothing is written."""
    w = Value(0.75, "w")

    def f(*leaves: Value) -> Value:
        return output(run(recipe, [leaves[0] * w, *leaves[1:]], on_values))  # type: ignore[no-any-return]

    try:
        c = autograd.compile(f, *rows[0])
    except ERRORS:
        return
    shared = Value(rows[0][0])
    args: list[tuple[Any, ...]] = [tuple(row) for row in rows]
    if how == "values":
        args = [tuple(Value(x) for x in row) for row in rows]
    elif how == "aliased":
        args[0] = (shared,) * N_LEAVES
    watched = [w, shared, *(x for row in args for x in row if isinstance(x, Value))]
    for v in watched:
        v.grad = start
    try:
        want: list[float] | None = [sum(c(*row) for row in args)]
    except (*ERRORS, autograd.CompileBranchError):
        want = None
    after = [v.grad for v in watched]
    for v in watched:
        v.grad = start
    if want is None:
        with pytest.raises((*ERRORS, autograd.CompileBranchError)):
            c.batch(args)
        assert all(v.grad == start for v in watched)  # a failed batch writes nothing
        return
    try:
        got = [c.batch(args)]
    except OverflowError:  # the batch checks the gradients it would write; calls write inf
        assert not all(math.isfinite(g) for g in after)
        return
    assert _bits(got + [v.grad for v in watched]) == _bits(want + after)
