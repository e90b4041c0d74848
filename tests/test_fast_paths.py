"""The engine's fast paths equal its one node builder, field for field, in every mode.

`+` and `*` build their node in the method itself and the one-operand ops without parameters go
through `_unary`; both exist for speed only, so every field they write (and every error they raise)
must be what `_node`, the general builder, would write or raise.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

import autograd
from autograd import Value, no_grad
from autograd.modes import Observer, observing
from autograd.ops import _OPS
from autograd.value import _node

FIELDS = ("_data", "_grad", "_op", "label", "_a", "_b", "_arg", "_g", "_n")
UNARY = ("abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "gelu", "softplus", "erf")


def fields(v: Value) -> tuple[Any, ...]:
    return tuple(getattr(v, f) for f in FIELDS)


def fast_and_general(name: str, a: Value, b: Value) -> tuple[Value, Value]:
    """The node the user's call builds, and the one `_node` builds from the same operands."""
    if name == "+":
        return a + b, _node(_OPS["+"], a, b, None, a._data + b._data)
    if name == "*":
        return a * b, _node(_OPS["*"], a, b, None, a._data * b._data)
    return getattr(a, name)(), _node(_OPS[name], a, None, None)


@pytest.mark.parametrize("name", ["+", "*", *UNARY])
@pytest.mark.parametrize("x", [0.0, 0.7, -1.3])
def test_fast_path_fields_equal_the_general_builder(name: str, x: float) -> None:
    a, b = Value(abs(x) + 0.25 if name in ("log", "sqrt") else x), Value(2.5)
    fast, general = fast_and_general(name, a, b)
    assert fields(fast) == fields(general)
    assert type(fast._data) is float  # not an int that equals the float
    assert math.copysign(1.0, fast._data) == math.copysign(1.0, general._data)  # -0.0 stays -0.0


@pytest.mark.parametrize("name", ["+", "*", "tanh", "relu"])
def test_fast_path_under_no_grad_builds_a_leaf(name: str) -> None:
    a, b = Value(0.5), Value(-1.5)
    with no_grad():
        fast, general = fast_and_general(name, a, b)
    assert fast._a is None and fast._b is None and fast._op is None and fast._arg is None
    assert fields(fast) == fields(general)


class Recorder(Observer):
    def __init__(self) -> None:
        self.seen: list[tuple[str, Value, Value | None]] = []

    def with_grad(self, enabled: bool) -> Observer:
        return self

    def node(self, out: Value, op: Any, a: Value, b: Value | None, params: Any) -> None:
        self.seen.append((op.name, a, b))


@pytest.mark.parametrize("name", ["+", "*", "exp"])
def test_fast_path_reports_to_an_observer_as_the_general_builder(name: str) -> None:
    a, b = Value(0.5), Value(-1.5)
    fast_rec, general_rec = Recorder(), Recorder()
    with observing(fast_rec):
        fast = a + b if name == "+" else a * b if name == "*" else a.exp()
    with observing(general_rec):
        general = _node(_OPS[name], a, None if name == "exp" else b, None, None if name == "exp" else fast._data)
    assert fast_rec.seen == general_rec.seen == [(name, a, None if name == "exp" else b)]
    assert fields(fast) == fields(general)


@pytest.mark.parametrize(
    ("build", "needle"),
    [
        (lambda: Value(1e200) * Value(1e200), "*"),
        (lambda: Value(1.7e308) + Value(1.7e308), "+"),
        (lambda: Value(800.0).exp(), "exp"),
        (lambda: Value(-1.0).log(), "log"),
    ],
)
def test_fast_path_errors_name_the_op(build: Any, needle: str) -> None:
    with pytest.raises((OverflowError, ValueError)) as info:
        build()
    assert needle in str(info.value)


def test_a_user_unary_op_without_parameters_goes_through_the_same_checks() -> None:
    from tests.userops import fresh

    name = fresh("half")
    op = autograd.defop(name, lambda x: x / 2.0, lambda x, out, m: 0.5)
    out = op(Value(3.0))
    assert out._data == 1.5 and out._op is op and out._arg is None and out._b is None


# ---- backward checks gradients at the leaves, then names the node by a checked second sweep -------
def test_a_leaf_whose_finite_terms_sum_past_the_largest_float_is_named() -> None:
    a = Value(1e-300, "a")
    out = a * 1.5e308 + a * 1.5e308  # forward 3e8; every node's gradient is finite but a's sum of two
    with pytest.raises(OverflowError, match=r"the gradient reaching the node 'a' .* is inf"):
        out.backward()
    assert a.grad == 0.0 and out.grad == 0.0


def test_an_overflow_upstream_of_a_raising_rule_blames_the_rule() -> None:
    from tests.userops import fresh

    # 1/x raises ZeroDivisionError at exactly 0, below a gradient that overflowed: the report names
    # the op whose local derivative is not finite (that is the cause), and nothing is written.
    op = autograd.defop(fresh("inv_rule"), lambda x: x, lambda x, out, m: 1.0 / x)
    x = Value(0.0, "x")
    u = op(x)
    out = (u * 1e200) * 1e200  # forward 0.0; the gradient reaching u is inf
    with pytest.raises(autograd.DerivativeError, match=r"inv_rule_\d+: the derivative is infinite at x = 0.0"):
        out.backward()
    assert x.grad == u.grad == out.grad == 0.0


def test_a_user_unary_forward_that_raises_is_named_with_its_input() -> None:
    from tests.userops import fresh

    def forward(x: float) -> float:
        if x > 5.0:
            raise ValueError("only defined up to 5")
        return x

    name = fresh("capped")
    op = autograd.defop(name, forward, lambda x, out, m: 1.0, domain={"x": (-4.0, 4.0)})
    with pytest.raises(ValueError, match=rf"{name}: only defined up to 5 \(input .*6\.0"):
        op(Value(6.0))


@pytest.mark.parametrize("arity", [1, 2])
def test_a_user_forward_raising_overflow_reads_as_an_overflow_naming_the_op(arity: int) -> None:
    from tests.userops import fresh

    name = fresh("grows")
    if arity == 1:
        op = autograd.defop(name, lambda x: math.exp(x), lambda x, out, m: out, domain={"x": (-4.0, 4.0)})
        build = lambda: op(Value(1000.0))  # noqa: E731
    else:
        op = autograd.defop(
            name,
            lambda x, y: math.exp(x) * y,
            lambda x, y, out, m: (out, out / y),
            domain={"x": (0.5, 4.0), "y": (0.5, 4.0)},
        )
        build = lambda: op(Value(1000.0), Value(2.0))  # noqa: E731
    with pytest.raises(OverflowError, match=rf"{name}: result overflows a float"):
        build()


def test_a_user_unary_forward_returning_an_int_gives_a_float_node() -> None:
    from tests.userops import fresh

    name = fresh("rounds_far_out")
    op = autograd.defop(name, lambda x: round(x) if x > 10.0 else x, lambda x, out, m: 1.0, domain={"x": (-4.0, 4.0)})
    out = op(Value(12.25))
    assert type(out._data) is float and out._data == 12.0
