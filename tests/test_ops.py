"""Every op in the catalog: forward against math, gradient against central differences and torch."""

from __future__ import annotations

import inspect
import math

import pytest
import requires
from catalog import BY_NAME, CATALOG, NOT_OPS, OpCase
from hypothesis import given
from hypothesis import strategies as st

from autograd import OPS, Value, grad, gradients, local_derivatives, no_grad
from autograd.ops import BUILTINS

H = 1e-6  # central-difference step


def central_difference(case: OpCase, xs: list[float], i: int) -> float:
    """d case.ref / d xs[i] by (f(x + h) - f(x - h)) / 2h on plain floats."""
    up, down = list(xs), list(xs)
    up[i] += H
    down[i] -= H
    return (case.ref(*up) - case.ref(*down)) / (2 * H)


def close(a: float, b: float, rel: float = 1e-5, abs_: float = 1e-6) -> bool:
    return abs(a - b) <= abs_ + rel * abs(b)


def _ids(case: OpCase) -> str:
    return case.name


def samples(case: OpCase) -> st.SearchStrategy[list[float]]:
    return st.tuples(*case.domain).map(list)


@pytest.mark.parametrize("case", CATALOG, ids=_ids)
def test_forward_matches_math(case: OpCase) -> None:
    @given(samples(case))
    def check(xs: list[float]) -> None:
        out = case.fn(*[Value(x) for x in xs])
        assert isinstance(out, Value)
        assert math.isclose(out.data, case.ref(*xs), rel_tol=1e-12, abs_tol=1e-12)

    check()


@pytest.mark.parametrize("case", CATALOG, ids=_ids)
def test_gradient_matches_central_differences(case: OpCase) -> None:
    @given(samples(case))
    def check(xs: list[float]) -> None:
        vs = [Value(x) for x in xs]
        out = case.fn(*vs)
        out.backward()
        for i, v in enumerate(vs):
            numeric = central_difference(case, xs, i)
            assert close(v.grad, numeric), f"{case.name} input {i} at {xs}: {v.grad} vs {numeric}"

    check()


@pytest.mark.parametrize("case", CATALOG, ids=_ids)
def test_second_derivative_matches_differences_of_the_first(case: OpCase) -> None:
    """create_graph differentiates the local-derivative rules themselves: check them against
    central differences of the (already verified) first derivative."""

    first = grad(case.fn, argnums=tuple(range(case.arity)))

    @given(samples(case))
    def check(xs: list[float]) -> None:
        vs = [Value(x) for x in xs]
        out = case.fn(*vs)
        dvs = gradients(out, vs, create_graph=True)
        for i in range(case.arity):
            second = gradients(dvs[i], vs)
            for j in range(case.arity):
                up, down = list(xs), list(xs)
                up[j] += 1e-5
                down[j] -= 1e-5
                numeric = (first(*up)[i] - first(*down)[i]) / 2e-5
                assert close(second[j], numeric, rel=1e-4, abs_=1e-5), (case.name, i, j, xs, second[j], numeric)

    check()


@pytest.mark.parametrize("case", [c for c in CATALOG if c.torch is not None], ids=_ids)
def test_matches_torch_float64(case: OpCase) -> None:
    torch = requires.torch()
    assert case.torch is not None

    @given(samples(case))
    def check(xs: list[float]) -> None:
        vs = [Value(x) for x in xs]
        out = case.fn(*vs)
        out.backward()
        ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
        tout = case.torch(*ts)
        tout.backward()
        assert math.isclose(out.data, tout.item(), rel_tol=1e-12, abs_tol=1e-12)
        for v, t in zip(vs, ts, strict=True):
            tg = 0.0 if t.grad is None else t.grad.item()
            assert math.isclose(v.grad, tg, rel_tol=1e-10, abs_tol=1e-12), (case.name, xs, v.grad, tg)

    check()


def test_every_op_has_a_catalog_entry() -> None:
    """Adding an op to the engine without a catalog row fails here."""
    covered = {case.primitive for case in CATALOG if case.primitive}
    table = set(BUILTINS)
    assert table <= set(OPS)
    assert table - covered == set(), "built-in ops without a catalog row"
    assert covered - table == set(), "catalog rows for ops the op table does not have"

    methods = {
        name
        for name, member in vars(Value).items()
        if (inspect.isfunction(member) or isinstance(member, property))
        and (not name.startswith("_") or name in _OPERATOR_DUNDERS)
    }
    missing = methods - NOT_OPS - set(BY_NAME)
    assert missing == set(), f"Value methods without a catalog row: {sorted(missing)}"


_OPERATOR_DUNDERS = {
    "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__", "__rtruediv__",
    "__pow__", "__rpow__", "__neg__", "__abs__",
}  # fmt: skip


def test_local_derivatives_match_backward_edge_by_edge() -> None:
    for case in CATALOG:
        if case.primitive is None:
            continue
        xs = [1.3, 0.7][: case.arity]
        vs = [Value(x) for x in xs]
        out = case.fn(*vs)
        out.backward()
        assert local_derivatives(out) == tuple(v.grad for v in vs), case.name


# ---- numerically delicate points the issue names --------------------------------------------------
@pytest.mark.parametrize("x", [1e4, -1e4, 745.0, -745.0, 1000.0, -1000.0])
def test_sigmoid_and_softplus_are_stable_for_large_inputs(x: float) -> None:
    s = Value(x).sigmoid()
    s.backward()
    assert 0.0 <= s.data <= 1.0 and math.isfinite(s.grad)
    sp = Value(x)
    out = sp.softplus()
    out.backward()
    assert math.isfinite(out.data) and out.data >= 0.0
    assert math.isclose(out.data, max(x, 0.0), abs_tol=1e-300 if abs(x) > 800 else 1e-12)
    assert math.isclose(sp.grad, 1.0 if x > 0 else 0.0, abs_tol=1e-300 if abs(x) > 800 else 1e-12)


def test_tanh_saturates_cleanly_at_1000() -> None:
    for x, expected in [(1000.0, 1.0), (-1000.0, -1.0)]:
        v = Value(x)
        out = v.tanh()
        out.backward()
        assert out.data == expected and v.grad == 0.0


@pytest.mark.parametrize("op", ["relu", "abs"])
def test_kink_derivative_at_zero_is_zero(op: str) -> None:
    x = Value(0.0)
    getattr(x, op)().backward()
    assert x.grad == 0.0


def test_leaky_relu_and_elu_defaults() -> None:
    x = Value(-2.0)
    x.leaky_relu().backward()
    assert x.grad == pytest.approx(0.01)
    y = Value(-2.0)
    out = y.elu()
    out.backward()
    assert out.data == pytest.approx(math.exp(-2.0) - 1.0) and y.grad == pytest.approx(math.exp(-2.0))


def test_pow_with_value_exponent_gives_both_gradients() -> None:
    a, b = Value(2.0), Value(3.0)
    out = a**b
    out.backward()
    assert out.data == 8.0
    assert a.grad == pytest.approx(3.0 * 4.0)  # b a^(b-1)
    assert b.grad == pytest.approx(8.0 * math.log(2.0))  # a^b log a


def test_negative_base_with_integer_constant_exponent() -> None:
    x = Value(-2.0)
    out = x**3
    out.backward()
    assert out.data == -8.0 and x.grad == 12.0


def test_pow_at_zero_base_with_value_exponent() -> None:
    a, b = Value(0.0), Value(2.0)
    out = a**b
    out.backward()
    assert out.data == 0.0 and a.grad == 0.0 and b.grad == 0.0


def test_no_grad_records_nothing_for_any_op() -> None:
    with no_grad():
        for case in CATALOG:
            out = case.fn(*[Value(0.5) for _ in case.domain])
            assert out.op == "" and out.inputs == (), case.name
