"""A learner's habits with a Value: none of them cuts the graph silently.

Implicit conversions either give a result whose gradient is right or raise an error that says what
to write instead; formatting and rounding work as tutorials use them; `==` and `bool` cannot be
mistaken for number comparisons; numpy behaves the same in both orders.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable

import numpy as np
import pytest

from autograd import Value, gradients


@pytest.mark.parametrize("fn", [math.exp, math.sin, math.log, math.sqrt, math.tanh, float])
def test_math_functions_of_a_value_raise_instead_of_cutting_the_graph(fn: Callable[[float], float]) -> None:
    a, b = Value(0.5), Value(2.0)
    with pytest.raises(TypeError, match=r"float\(Value\) is refused: math.exp\(v\).*v.exp\(\).*v.item\(\) or v.data"):
        fn(a)  # type: ignore[arg-type]
    assert a.grad == 0.0 and b.grad == 0.0  # nothing half-done


def test_the_differentiable_spelling_gives_the_gradient() -> None:
    a, b = Value(0.5), Value(2.0)
    (a.exp() * b).backward()
    assert a.grad == math.exp(0.5) * 2.0 and b.grad == math.exp(0.5)


def test_item_and_data_give_the_number() -> None:
    v = Value(1.25) * 2.0
    assert v.item() == 2.5 and v.data == 2.5 and type(v.item()) is float


def test_formatting_and_rounding_work_as_tutorials_use_them() -> None:
    loss = Value(0.123456789) * 1.0
    assert f"{loss:.4f}" == "0.1235"
    assert f"{loss:e}" == format(loss.data, "e")
    assert f"{loss}" == str(loss) == repr(loss)
    assert round(loss, 3) == 0.123 and round(Value(2.6)) == 3
    assert "data=0.123456789" in str(loss)


def test_equality_with_a_number_raises_with_a_hint() -> None:
    a = Value(3.0)
    with pytest.raises(TypeError, match=r"Value == 3.0: == between Values is identity.*write v.data == 3.0"):
        _ = a == 3.0
    with pytest.raises(TypeError, match="identity"):
        _ = a != 3
    with pytest.raises(TypeError, match="identity"):
        _ = a == 3.0  # the reflected order reaches the same check
    with pytest.raises(TypeError, match="identity"):
        _ = a == np.float64(3.0)


def test_equality_between_values_is_identity_so_dicts_and_sets_work() -> None:
    a, twin = Value(3.0), Value(3.0)
    assert a == a and a != twin  # noqa: PLR0124
    assert {a: 1, twin: 2}[twin] == 2 and len({a, twin, a}) == 2
    assert a in [twin, a] and twin not in [a]
    assert (a == "3.0") is False and (a != None) is True  # noqa: E711  # not a number: just not equal


def test_truthiness_raises_with_a_hint() -> None:
    loss = Value(0.0)
    with pytest.raises(TypeError, match=r"bool\(Value\).*if v.data != 0:.*if v > 0:"):
        if loss:
            pass
    with pytest.raises(TypeError, match="bool"):
        _ = loss or 1.0
    assert (loss > 0) is False and (loss >= 0) is True  # comparisons are the way to ask


_BINARY = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]


@pytest.mark.parametrize("op", _BINARY, ids=lambda f: f.__name__)
def test_numpy_arrays_work_in_both_orders(op: Callable[[object, object], object]) -> None:
    a = Value(1.5)
    array = np.array([1.0, 2.0])
    left, right = op(a, array), op(array, a)
    assert isinstance(left, np.ndarray) and isinstance(right, np.ndarray)
    assert left.dtype == object and right.dtype == object and left.shape == (2,)
    for x, got_left, got_right in zip(array, left, right):
        assert isinstance(got_left, Value) and isinstance(got_right, Value)
        assert got_left.data == op(1.5, float(x)) and got_right.data == op(float(x), 1.5)


def test_an_array_expression_backpropagates_into_the_value() -> None:
    a = Value(1.5)
    total = (a * np.array([1.0, 2.0, 3.0])).sum()
    total.backward()
    assert a.grad == 6.0


@pytest.mark.parametrize("number", [np.array(2.0), np.float64(2.0), np.int64(2), np.float32(2.0)])
def test_numpy_scalars_and_0d_arrays_are_numbers(number: object) -> None:
    v = Value(number)  # type: ignore[arg-type]
    assert v.data == 2.0 and type(v.data) is float
    a = Value(3.0)
    for out in (a * number, number * a, a + number, a - number, a / number, a**number):  # type: ignore[operator]
        assert isinstance(out, Value)
    assert (a > number) is True and (a * number).data == 6.0


def test_comparisons_with_an_array_are_elementwise_in_both_orders() -> None:
    a = Value(1.5)
    array = np.array([1.0, 2.0])
    assert list(a < array) == [False, True] and list(array > a) == [False, True]


def test_a_class_with_reflected_methods_gets_its_turn() -> None:
    class Tagged:
        def __radd__(self, other: object) -> str:
            return f"tagged {other!r}"

        def __rmul__(self, other: object) -> str:
            return "tagged product"

    a = Value(1.0)
    assert (a + Tagged()).startswith("tagged Value(") and a * Tagged() == "tagged product"


@pytest.mark.parametrize("bad", ["2", [1.0], None, {"x": 1}])
def test_an_operand_no_one_understands_is_a_clear_error(bad: object) -> None:
    a = Value(1.0)
    with pytest.raises(TypeError, match=r"unsupported operand for \+: Value and"):
        _ = a + bad  # type: ignore[operator]
    with pytest.raises(TypeError, match=r"unsupported operand for \*: Value and|can't multiply sequence"):
        _ = a * bad  # type: ignore[operator]


def test_gradients_keyed_by_identity_are_unaffected() -> None:
    a, b = Value(2.0), Value(2.0)  # equal numbers, distinct nodes
    assert gradients(a * b, [a, b]) == [2.0, 2.0]
