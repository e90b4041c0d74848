"""Bad input: clear errors, raised at forward time, naming the op and the operand."""

from __future__ import annotations

import math

import pytest

from autograd import Value

ANY_BAD = ["3", None, [1], 1j, True, {"a": 1}]


@pytest.mark.parametrize("bad", ANY_BAD, ids=repr)
def test_value_rejects_non_numbers_naming_the_type(bad: object) -> None:
    with pytest.raises(TypeError, match=type(bad).__name__):
        Value(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_value_rejects_non_finite_data(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        Value(bad)


def test_value_rejects_an_int_beyond_float_range() -> None:
    with pytest.raises(OverflowError):
        Value(10**400)


@pytest.mark.parametrize("bad", ["2", None, [1], 1j, True], ids=repr)
@pytest.mark.parametrize(
    "op",
    [
        lambda v, b: v + b,
        lambda v, b: b + v,
        lambda v, b: v - b,
        lambda v, b: b - v,
        lambda v, b: v * b,
        lambda v, b: b * v,
        lambda v, b: v / b,
        lambda v, b: v**b,
        lambda v, b: v < b,
    ],
)
def test_ops_reject_unsupported_operands(op: object, bad: object) -> None:
    with pytest.raises(TypeError, match=type(bad).__name__):
        op(Value(2.0), bad)  # type: ignore[operator]


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: Value(0.0).log(), ValueError, ["log", "0.0"]),
        (lambda: Value(-1.5).log(), ValueError, ["log", "-1.5"]),
        (lambda: Value(-4.0).sqrt(), ValueError, ["sqrt", "-4.0"]),
        (lambda: Value(3.0) / 0, ZeroDivisionError, ["/", "division by zero", "3.0"]),
        (lambda: 1 / Value(0.0), ZeroDivisionError, ["/", "division by zero"]),
        (lambda: Value(0.0) ** -2, ZeroDivisionError, ["**", "0.0", "-2.0"]),
        (lambda: Value(0.0) ** Value(-1.0), ZeroDivisionError, ["**", "-1.0"]),
        (lambda: Value(-8.0) ** Value(1 / 3), ValueError, ["**", "-8.0", "non-integer"]),
        (lambda: Value(-8.0) ** 0.5, ValueError, ["**", "-8.0"]),
        (lambda: Value(1000.0).exp(), OverflowError, ["exp", "1000.0"]),
        (lambda: Value(1e200) * Value(1e200), OverflowError, ["*", "1e+200"]),
        (lambda: Value(1e308) + Value(1e308), OverflowError, ["+"]),
        (lambda: Value(10.0) ** 400, OverflowError, ["**"]),
    ],
)
def test_domain_errors_at_forward_time(make: object, error: type[Exception], words: list[str]) -> None:
    with pytest.raises(error) as info:
        make()  # type: ignore[operator]
    for word in words:
        assert word in str(info.value)


def test_gradients_that_do_not_exist_raise_instead_of_becoming_inf() -> None:
    x = Value(0.0)
    with pytest.raises(ValueError, match="sqrt: the derivative is infinite at x = 0.0"):
        x.sqrt().backward()
    with pytest.raises(ValueError, match=r"\*\*: the derivative d out/d x is inf at x = 0.0: infinite"):
        (x**0.5).backward()
    with pytest.raises(ValueError, match=r"pow: the derivative d out/d y is undefined \(nan\) at x = -2.0, y = 2.0"):
        (Value(-2.0) ** Value(2.0)).backward()


def test_backward_seed_must_be_a_number() -> None:
    with pytest.raises(TypeError, match="backward"):
        Value(1.0).backward("1")  # type: ignore[arg-type]


def test_op_parameters_are_checked() -> None:
    with pytest.raises(TypeError, match="leaky_relu"):
        Value(1.0).leaky_relu("0.1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="elu"):
        Value(1.0).elu(math.nan)


def test_label_must_be_a_string() -> None:
    with pytest.raises(TypeError, match="label must be a str"):
        Value(1.0, 5)  # type: ignore[arg-type]


def _overflowing_gradient() -> tuple[Value, Value]:
    a = Value(1e-200, "a")
    q = (a * Value(1e200)) * Value(1e200)  # q = 1e200 is fine, but dq/da = 1e400 is not a float
    return a, q


def test_a_gradient_that_overflows_raises_instead_of_becoming_inf() -> None:
    a, q = _overflowing_gradient()
    with pytest.raises(OverflowError, match="gradient reaching the node 'a'.*detect_anomaly"):
        q.backward()
    assert a.grad == 0.0  # nothing half-written to the leaf that overflowed


def test_detect_anomaly_names_the_op_the_node_and_its_inputs() -> None:
    from autograd import detect_anomaly

    a, q = _overflowing_gradient()
    with detect_anomaly(), pytest.raises(FloatingPointError) as err:
        q.backward()
    message = str(err.value)
    assert "op '*'" in message and "a=1e-200" in message and "input 0 inf" in message
    # outside the context, backward still catches it (at the leaf, less precisely)
    with pytest.raises(OverflowError):
        q.backward()
