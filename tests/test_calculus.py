"""gradients(), grad / value_and_grad transforms, higher derivatives, no_grad, detach, gradcheck."""

from __future__ import annotations

import math
import threading

import pytest

from autograd import GradcheckError, Value, grad, gradcheck, gradients, is_grad_enabled, no_grad, value_and_grad


def test_gradients_leaves_grad_untouched() -> None:
    x, y = Value(2.0), Value(3.0)
    out = x * y + x
    gx, gy = gradients(out, [x, y])
    assert (gx, gy) == (4.0, 2.0)
    assert x.grad == 0.0 and y.grad == 0.0 and out.grad == 0.0


def test_gradients_of_unrelated_input_is_zero() -> None:
    x, z = Value(2.0), Value(5.0)
    assert gradients(x * x, [z]) == [0.0]


def test_gradients_of_an_interior_node() -> None:
    x = Value(2.0)
    h = x * 3.0
    out = h.tanh()
    (gh,) = gradients(out, [h])
    assert gh == pytest.approx(1 - math.tanh(6.0) ** 2)


def test_gradients_create_graph_can_be_differentiated_again() -> None:
    x = Value(0.7)
    (dx,) = gradients(x.sin() * x, [x], create_graph=True)
    assert isinstance(dx, Value)
    assert dx.data == pytest.approx(math.cos(0.7) * 0.7 + math.sin(0.7))
    (ddx,) = gradients(dx, [x])
    assert ddx == pytest.approx(-math.sin(0.7) * 0.7 + 2 * math.cos(0.7))


def test_gradients_rejects_a_bare_value_for_inputs() -> None:
    x = Value(1.0)
    with pytest.raises(TypeError, match="list or tuple of Values"):
        gradients(x * x, x)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="output must be a Value"):
        gradients(1.0, [x])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected Value, got float"):
        gradients(x * x, [1.0])  # type: ignore[list-item]


def test_grad_nests_to_second_and_third_derivatives() -> None:
    cube = lambda x: x**3  # noqa: E731
    assert grad(cube)(2.0) == 12.0
    assert grad(grad(cube))(2.0) == 12.0
    assert grad(grad(grad(cube)))(2.0) == 6.0
    assert grad(grad(grad(grad(cube))))(2.0) == 0.0
    assert grad(grad(lambda x: x.sin()))(0.3) == pytest.approx(-math.sin(0.3))
    assert grad(grad(grad(lambda x: x.exp() * x)))(0.5) == pytest.approx(math.exp(0.5) * 3.5)


def test_grad_keeps_nested_variables_apart() -> None:
    """d/dx [ d/dy (x*y) at y = x ] = d/dx x = 1 (not 2: the inner y is not the outer x)."""
    assert grad(lambda x: grad(lambda y: x * y)(x))(2.0) == 1.0
    assert grad(lambda x: grad(lambda y: x * y)(3.0))(2.0) == 1.0


def test_grad_argnums_int_and_tuple() -> None:
    f = lambda x, y: x * y**2  # noqa: E731
    assert grad(f)(3.0, 2.0) == 4.0
    assert grad(f, argnums=1)(3.0, 2.0) == 12.0
    assert grad(f, argnums=(0, 1))(3.0, 2.0) == (4.0, 12.0)
    assert grad(f, argnums=(1,))(3.0, 2.0) == (12.0,)
    assert grad(f, argnums=-1)(3.0, 2.0) == 12.0
    with pytest.raises(ValueError, match="argnums"):
        grad(f, argnums=2)(3.0, 2.0)
    with pytest.raises(TypeError, match="argnums"):
        grad(f, argnums="0")(3.0, 2.0)  # type: ignore[arg-type]


def test_value_and_grad_returns_floats_at_top_level() -> None:
    value, g = value_and_grad(lambda x: x * x + 1)(3.0)
    assert (value, g) == (10.0, 6.0)
    assert type(value) is float and type(g) is float


def test_value_and_grad_accepts_values_and_leaves_their_grad_alone() -> None:
    x = Value(3.0)
    value, g = value_and_grad(lambda x: x * x)(x)
    assert (value, g) == (9.0, 6.0) and x.grad == 0.0


def test_value_and_grad_of_a_constant_function_is_zero() -> None:
    assert value_and_grad(lambda x: 5.0)(1.0) == (5.0, 0.0)


def test_no_grad_records_no_graph_and_restores() -> None:
    x = Value(2.0)
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = x * x
        with no_grad():
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()
    assert y.data == 4.0 and y.op == "" and y.inputs == ()
    y.backward()
    assert x.grad == 0.0


def test_no_grad_as_a_decorator() -> None:
    @no_grad()
    def f(x: Value) -> Value:
        return x * x

    assert f(Value(3.0)).inputs == ()
    assert is_grad_enabled()


def test_no_grad_is_per_thread() -> None:
    inside, outside = threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def worker() -> None:
        with no_grad():
            inside.set()
            outside.wait(5)
            seen["worker"] = is_grad_enabled()

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    seen["main"] = is_grad_enabled()
    y = Value(2.0) * 3.0
    outside.set()
    t.join()
    assert seen == {"main": True, "worker": False}
    assert y.op == "*"


def test_detach_is_a_leaf_with_the_same_data() -> None:
    x = Value(2.0, "x")
    y = (x * 3).detach()
    assert y.data == 6.0 and y.inputs == () and y.op == ""
    (y * x).backward()
    assert x.grad == 6.0  # y is a constant to backward


def test_gradcheck_passes_on_correct_gradients() -> None:
    assert gradcheck(lambda x, y: (x * y).tanh() + x.gelu() * y.softplus() + x**y, 1.3, 0.7)
    assert gradcheck(lambda x: x.log() / x.sqrt(), Value(2.0))


def test_gradcheck_reports_each_mismatch_with_both_numbers() -> None:
    # x.detach() * x: backward sees a constant times x (gradient x), central differences see x^2 (2x)
    with pytest.raises(GradcheckError) as err:
        gradcheck(lambda x, y: x.detach() * x + y, Value(3.0, "x"), 1.0)
    message = str(err.value)
    assert "input 0 (x)" in message and "backward 3.0" in message and "6.0" in message
    assert "input 1" not in message


def test_gradcheck_validates_inputs() -> None:
    with pytest.raises(ValueError, match="at least one input"):
        gradcheck(lambda: Value(1.0))
    with pytest.raises(TypeError, match="must return a Value"):
        gradcheck(lambda x: 1.0, 2.0)


def test_transforms_record_their_graph_inside_no_grad() -> None:
    """grad, value_and_grad and gradcheck build f's graph even inside no_grad() (as jvp does):
    a transform that recorded nothing there would silently return 0."""
    with no_grad():
        assert grad(lambda x: x**2)(3.0) == 6.0
        assert value_and_grad(lambda x: x * x)(3.0) == (9.0, 6.0)
        assert gradcheck(lambda x: x * x, 3.0) is True
        assert not is_grad_enabled()  # and the switch is left as it was
