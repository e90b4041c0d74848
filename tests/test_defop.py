"""User-defined ops: `defop`'s call shapes, a user op through every path a built-in takes (backward,
gradients and the grad transforms, second derivatives, no_grad, detect_anomaly, explain, draw,
gradcheck), definitions that are refused, the `OPS` listing, and the math namespaces rules use.

The registry is global and a name can be registered once, so every op here gets a fresh name from
`fresh()`, and the autouse fixture unregisters what a test defined (other test files check which
ops `OPS` lists). Nothing depends on test order.
"""

from __future__ import annotations

import math
import random
import re
import struct
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requires
from dags import nodes_of, recipes
from hypothesis import assume, given
from hypothesis import strategies as st
from requires import needs_dot
from userops import fresh

import autograd
from autograd import (
    OPS,
    FloatMath,
    GradcheckError,
    Op,
    Value,
    ValueMath,
    backprop_frames,
    backward_reference,
    defop,
    detect_anomaly,
    draw,
    explain,
    explain_steps,
    grad,
    gradcheck,
    gradients,
    is_grad_enabled,
    local_derivatives,
    no_grad,
    to_svg,
    topological_order,
    value_and_grad,
)
from autograd.ops import BUILTINS, MATH_NAMES


# ---- the issue's three ops, each made fresh --------------------------------------------------------
def make_cube() -> Op:
    return defop(fresh("cube"), lambda x: x**3, lambda x, out, m: 3.0 * x * x)


def make_hypot() -> Op:
    return defop(fresh("hypot"), math.hypot, lambda x, y, out, m: (x / out, y / out))


def make_scaled_tanh() -> Op:
    return defop(
        fresh("scaled_tanh"),
        lambda x, *, k: math.tanh(k * x),
        lambda x, out, m, *, k: k * (1.0 - out * out),
    )


@dataclass
class UserOps:
    cube: Op
    hypot: Op
    stanh: Op


@pytest.fixture
def user() -> UserOps:
    return UserOps(make_cube(), make_hypot(), make_scaled_tanh())


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def close(a: float, b: float, rel: float = 1e-5, abs_: float = 1e-6) -> bool:
    return abs(a - b) <= abs_ + rel * abs(b)


# ---- call shapes --------------------------------------------------------------------------------
def test_the_issues_call_shapes_work() -> None:
    cube = defop(fresh("cube"), lambda x: x**3, lambda x, out, m: 3.0 * x * x)
    hypot = defop(fresh("hypot"), math.hypot, lambda x, y, out, m: (x / out, y / out))
    stanh = defop(fresh("scaled_tanh"), lambda x, *, k: math.tanh(k * x), lambda x, out, m, *, k: k * (1.0 - out * out))
    a, b, c, s0 = Value(2.0), Value(3.0), Value(4.0), Value(0.5)
    y, z, s = cube(a), hypot(b, c), stanh(s0, k=2.0)
    assert (y.data, z.data, s.data) == (8.0, 5.0, math.tanh(1.0))
    assert (y.op, z.op, s.op) == (cube.name, hypot.name, stanh.name)
    assert y.inputs == (a,) and z.inputs == (b, c) and s.inputs == (s0,)
    assert s.params == {"k": 2.0} and s.arg == 2.0 and y.params == {}
    (y + z + s).backward()
    assert a.grad == 12.0
    assert (b.grad, c.grad) == (0.6, 0.8)
    assert s0.grad == pytest.approx(2.0 * (1.0 - math.tanh(1.0) ** 2), rel=1e-15)
    assert (cube.operands, hypot.operands, stanh.operands) == (("x",), ("x", "y"), ("x",))
    assert (cube.arity, hypot.arity, stanh.params) == (1, 2, ("k",))
    assert repr(stanh) == f"<op {stanh.name}(x, *, k)>" and repr(hypot) == f"<op {hypot.name}(x, y)>"


def test_operands_may_be_values_or_plain_numbers(user: UserOps) -> None:
    for out in (user.cube(2.0), user.cube(2), user.cube(Value(2.0))):
        assert isinstance(out, Value) and out.data == 8.0 and out.op == user.cube.name
    y = Value(4.0)
    out = user.hypot(3, y)
    assert out.data == 5.0 and out.inputs[1] is y and out.inputs[0].is_leaf() and out.inputs[0].data == 3.0
    out.backward()
    assert y.grad == 0.8
    assert user.hypot(3.0, 4.0).data == 5.0 and user.hypot(Value(3.0), 4).data == 5.0
    assert user.stanh(0.5, k=2).data == math.tanh(1.0)


def test_a_call_checks_its_operands_and_parameters(user: UserOps) -> None:
    name = re.escape(user.stanh.name)
    with pytest.raises(TypeError, match=rf"^{re.escape(user.cube.name)}: expected 1 operand\(s\), got 2$"):
        user.cube(1.0, 2.0)
    with pytest.raises(TypeError, match=rf"^{re.escape(user.hypot.name)}: expected 2 operand\(s\), got 1$"):
        user.hypot(1.0)
    with pytest.raises(TypeError, match=rf"^{name}: missing the keyword parameter 'k'$"):
        user.stanh(0.5)
    with pytest.raises(TypeError, match=rf"^{name}: unexpected parameter\(s\) \['j'\]; it takes \['k'\]$"):
        user.stanh(0.5, k=1.0, j=2.0)
    with pytest.raises(ValueError, match=rf"^{name}: parameter k: expected a finite number, got nan$"):
        user.stanh(0.5, k=math.nan)
    with pytest.raises(TypeError, match=rf"^{name}: parameter k: expected a real number"):
        user.stanh(0.5, k="2")
    with pytest.raises(TypeError, match=re.escape(user.cube.name)):
        user.cube(True)
    with pytest.raises(TypeError, match=re.escape(user.cube.name)):
        user.cube("2")


def test_a_parameter_must_be_a_number_not_a_value(user: UserOps) -> None:
    with pytest.raises(TypeError, match=rf"^{re.escape(user.stanh.name)}: parameter k must be a number, got a Value"):
        user.stanh(0.5, k=Value(2.0))


def test_a_forward_may_take_optional_or_variadic_operands() -> None:
    """Only operands the forward cannot do without must match the derivative's."""
    shifted = defop(fresh("shifted"), lambda x, c=1.0: x + c, lambda x, out, m: 1.0)
    total = defop(fresh("total"), lambda *xs: sum(xs), lambda x, y, out, m: (1.0, 1.0))
    assert shifted(2.0).data == 3.0 and total(2.0, 3.0).data == 5.0 and total.arity == 2


def test_keyword_defaults_are_used_and_can_be_overridden() -> None:
    op = defop(
        fresh("scaled_sin"),
        lambda x, *, k=2.0: math.sin(k * x),
        lambda x, out, m, *, k=2.0: k * m.cos(k * x),
    )
    assert op.defaults == {"k": 2.0} and op.params == ("k",)
    x = Value(0.3)
    out = op(x)
    assert out.data == math.sin(0.6) and out.params == {"k": 2.0}
    out.backward()
    assert x.grad == 2.0 * math.cos(0.6)
    assert op(0.3, k=-1).data == math.sin(-0.3) and op(0.3, k=-1).params == {"k": -1.0}


def test_a_call_may_give_some_parameters_and_default_the_rest() -> None:
    op = defop(
        fresh("affine"),
        lambda x, *, k, c=0.5: k * x + c,
        lambda x, out, m, *, k, c=0.5: k,
    )
    assert op.defaults == {"c": 0.5}
    out = op(2.0, k=3.0)
    assert out.data == 6.5 and out.params == {"k": 3.0, "c": 0.5}
    assert op(2.0, k=3.0, c=-1.0).data == 5.0


def test_a_doc_is_kept_and_a_default_doc_names_the_op(user: UserOps) -> None:
    documented = defop(fresh("twice"), lambda x: 2.0 * x, lambda x, out, m: 2.0, doc="Twice x.")
    assert documented.__doc__ is not None and user.hypot.__doc__ is not None
    assert "Twice x." in documented.__doc__ and documented.name in documented.__doc__
    assert user.hypot.name in user.hypot.__doc__ and documented.__doc__ != user.hypot.__doc__


def test_a_forward_that_fails_at_call_time_names_the_op_and_the_input() -> None:
    def forward(x: float) -> Any:
        if x > 100.0:
            return None if x < 200.0 else (math.nan if x < 300.0 else 1e308 * 10.0)
        if x < -100.0:
            raise ValueError("too small")
        return x

    op = defop(fresh("fussy"), forward, lambda x, out, m: 1.0)
    name = re.escape(op.name)
    with pytest.raises(
        TypeError, match=rf"^{name}: forward must return a real number, got NoneType None for input 150.0$"
    ):
        op(150.0)
    with pytest.raises(FloatingPointError, match=rf"^{name}: result is nan for input \(250.0\)$"):
        op(250.0)
    with pytest.raises(OverflowError, match=rf"^{name}: result overflows a float for input \(350.0\)$"):
        op(350.0)
    with pytest.raises(ValueError, match=rf"^{name}: too small \(input -150.0\)$"):
        op(-150.0)


def test_an_int_result_is_stored_as_a_float() -> None:
    op = defop(fresh("floor"), lambda x: math.floor(x), lambda x, out, m: 0.0)
    out = op(2.7)
    assert out.data == 2.0 and type(out.data) is float


def test_a_forward_defined_on_part_of_the_sampled_interval_is_accepted() -> None:
    """Probe points where the forward raises an ArithmeticError or ValueError are skipped, not fatal."""
    op = defop(fresh("mylog"), math.log, lambda x, out, m: 1.0 / x)  # no domain: sampled on (-2, 2)
    assert op.domain is None and op(2.0).data == math.log(2.0)


# ---- a user op everywhere a built-in goes ------------------------------------------------------------
@dataclass(frozen=True)
class UserCase:
    id: str
    fn: Callable[..., Any]  # (user ops, *operands) -> Value
    point: tuple[float, ...]
    ref: Callable[..., float]  # the same function on floats, written with math
    torch: Callable[..., Any]  # the same function on torch tensors


def _tf() -> Any:
    import torch

    return torch


CASES = [
    UserCase("cube", lambda u, x: u.cube(x), (1.3,), lambda x: x**3, lambda x: x**3),
    UserCase("cube-negative", lambda u, x: u.cube(x), (-0.7,), lambda x: x**3, lambda x: x**3),
    UserCase("hypot", lambda u, x, y: u.hypot(x, y), (3.0, -4.5), math.hypot, lambda x, y: _tf().hypot(x, y)),
    UserCase(
        "scaled_tanh",
        lambda u, x: u.stanh(x, k=2.0),
        (0.4,),
        lambda x: math.tanh(2.0 * x),
        lambda x: (2.0 * x).tanh(),
    ),
    UserCase(
        "composite",
        lambda u, x, y: u.hypot(u.cube(x), u.stanh(y, k=0.5)) * x + u.stanh(x * y, k=-1.5),
        (0.8, -1.1),
        lambda x, y: math.hypot(x**3, math.tanh(0.5 * y)) * x + math.tanh(-1.5 * x * y),
        lambda x, y: _tf().hypot(x**3, (0.5 * y).tanh()) * x + (-1.5 * x * y).tanh(),
    ),
]


def central(f: Callable[..., float], xs: tuple[float, ...], i: int, h: float) -> float:
    up = tuple(x + h if j == i else x for j, x in enumerate(xs))
    down = tuple(x - h if j == i else x for j, x in enumerate(xs))
    return (f(*up) - f(*down)) / (2.0 * h)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_backward_and_gradients_match_central_differences(case: UserCase, user: UserOps) -> None:
    vs = [Value(x) for x in case.point]
    out = case.fn(user, *vs)
    assert out.data == pytest.approx(case.ref(*case.point), rel=1e-14)
    out.backward()
    fresh_vs = [Value(x) for x in case.point]
    by_gradients = gradients(case.fn(user, *fresh_vs), fresh_vs)
    by_grad = grad(lambda *a: case.fn(user, *a), argnums=tuple(range(len(vs))))(*case.point)
    value, by_vg = value_and_grad(lambda *a: case.fn(user, *a), argnums=tuple(range(len(vs))))(*case.point)
    assert value == out.data
    for i, v in enumerate(vs):
        numeric = central(case.ref, case.point, i, 1e-6)
        assert close(v.grad, numeric), (case.id, i, v.grad, numeric)
        assert by_gradients[i] == v.grad and by_grad[i] == v.grad and by_vg[i] == v.grad
        assert fresh_vs[i].grad == 0.0  # gradients() leaves .grad alone


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_second_derivatives_match_differences_of_the_first(case: UserCase, user: UserOps) -> None:
    """The rules are written with `m` and arithmetic, so create_graph differentiates them again."""
    n = len(case.point)
    f = lambda *a: case.fn(user, *a)  # noqa: E731
    hessian_by_grad = [
        [grad(lambda *a, i=i: grad(f, argnums=i)(*a), argnums=j)(*case.point) for j in range(n)] for i in range(n)
    ]
    vs = [Value(x) for x in case.point]
    firsts = gradients(f(*vs), vs, create_graph=True)
    assert all(isinstance(d, Value) for d in firsts)
    for i in range(n):
        seconds = gradients(firsts[i], vs)
        for j in range(n):
            numeric = central(lambda *a, i=i: grad(f, argnums=i)(*a), case.point, j, 1e-5)
            assert close(seconds[j], numeric, rel=1e-4, abs_=1e-5), (case.id, i, j, seconds[j], numeric)
            assert hessian_by_grad[i][j] == pytest.approx(seconds[j], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_first_and_second_derivatives_match_torch_float64(case: UserCase, user: UserOps) -> None:
    torch = requires.torch()
    n = len(case.point)
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in case.point]
    tout = case.torch(*ts)
    tfirst = torch.autograd.grad(tout, ts, create_graph=True)
    vs = [Value(x) for x in case.point]
    out = case.fn(user, *vs)
    firsts = gradients(out, vs, create_graph=True)
    assert math.isclose(out.data, tout.item(), rel_tol=1e-13, abs_tol=1e-14)
    for i in range(n):
        assert math.isclose(firsts[i].data, tfirst[i].item(), rel_tol=1e-12, abs_tol=1e-14), (case.id, i)
        tsecond = torch.autograd.grad(tfirst[i], ts, retain_graph=True, allow_unused=True)
        seconds = gradients(firsts[i], vs)
        for j in range(n):
            expected = 0.0 if tsecond[j] is None else tsecond[j].item()
            assert math.isclose(seconds[j], expected, rel_tol=1e-11, abs_tol=1e-13), (case.id, i, j)


def test_third_derivative_through_nested_grad(user: UserOps) -> None:
    assert grad(grad(grad(user.cube)))(2.0) == pytest.approx(6.0, rel=1e-15)
    assert grad(grad(grad(grad(user.cube))))(2.0) == 0.0


def test_no_grad_records_no_graph_for_a_user_op(user: UserOps) -> None:
    x, y = Value(3.0), Value(4.0)
    with no_grad():
        assert not is_grad_enabled()
        out = user.hypot(x, y) * user.stanh(x, k=2.0)
    assert is_grad_enabled()
    assert out.data == pytest.approx(5.0 * math.tanh(6.0), rel=1e-15)
    assert out.is_leaf() and out.op == "" and out.params == {}
    out.backward()
    assert x.grad == 0.0 and y.grad == 0.0


def test_local_derivatives_of_a_user_node_are_its_rule(user: UserOps) -> None:
    assert local_derivatives(user.hypot(3.0, 4.0)) == (0.6, 0.8)
    assert local_derivatives(user.cube(-2.0)) == (12.0,)
    t = math.tanh(1.5)
    assert local_derivatives(user.stanh(0.5, k=3.0)) == (3.0 * (1.0 - t * t),)


def test_gradcheck_passes_on_user_ops_and_catches_a_wrong_rule(user: UserOps) -> None:
    assert gradcheck(lambda x, y: user.hypot(x, user.cube(y)) + user.stanh(x * y, k=0.3), 1.3, 0.7)
    off = defop(fresh("cube_off"), lambda x: x**3, lambda x, out, m: 3.03 * x * x)
    with pytest.raises(GradcheckError, match=r"input 0 at 1\.5: backward 6\.81\d*, central difference 6\.7"):
        gradcheck(off, 1.5)


# ---- the backward sweep --------------------------------------------------------------------------
def test_backward_reference_gives_the_same_bits_as_backward_on_random_graphs(user: UserOps) -> None:
    """The fast sweep and the plain one run the chain rule in the same order: identical floats,
    on random DAGs with fan-out, with the user ops on top."""

    @given(recipes(n_inputs=3, max_steps=25), st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3))
    def check(recipe: Any, xs: list[float]) -> None:
        try:
            leaves = [Value(x) for x in xs]
            nodes = nodes_of(recipe, leaves)
            top = nodes[-1]
            out = user.hypot(top, nodes[len(nodes) // 2]) + user.cube(top.tanh()) * user.stanh(nodes[1], k=0.7)
            out.backward()
        except (ArithmeticError, ValueError):
            assume(False)  # a recipe that overflows: nothing to compare
        order = topological_order(out)
        fast = [bits(v.grad) for v in order]
        out.zero_grad()
        backward_reference(out)
        assert [bits(v.grad) for v in order] == fast

    check()


def _cancelling_graph(seed: int, user: UserOps) -> Value:
    """Leaves used many times with weights of very different sizes (1e16 next to 1.0), summed in a
    random tree: the order in which contributions are added decides the last bits of each .grad."""
    rng = random.Random(seed)
    leaves = [Value(rng.uniform(-1.0, 1.0)) for _ in range(3)]
    uses = [
        lambda v, w: v,
        lambda v, w: user.cube(v),
        lambda v, w: user.hypot(v, w),
        lambda v, w: user.stanh(v, k=0.5),
    ]
    nodes = []
    for _ in range(14):
        v, w = rng.choice(leaves), rng.choice(leaves)
        nodes.append(rng.choice(uses)(v, w) * rng.choice([1e16, -1e16, 1.0, 3.0, -7.0, 1e-3]))
    while len(nodes) > 1:
        a, b = nodes.pop(rng.randrange(len(nodes))), nodes.pop(rng.randrange(len(nodes)))
        nodes.append(a + b)
    return nodes[0]


def test_backward_reference_gives_the_same_bits_where_the_order_of_additions_shows(user: UserOps) -> None:
    for seed in range(25):
        out = _cancelling_graph(seed, user)
        out.backward()
        order = topological_order(out)
        fast = [bits(v.grad) for v in order]
        out.zero_grad()
        backward_reference(out)
        assert [bits(v.grad) for v in order] == fast, seed


def test_backward_reference_accumulates_and_takes_a_seed(user: UserOps) -> None:
    x = Value(0.9)
    out = user.stanh(user.cube(x), k=1.7) * x
    out.backward(0.5)
    once = x.grad
    out.zero_grad()
    backward_reference(out, 0.5)
    assert bits(x.grad) == bits(once)
    backward_reference(out, 0.5)
    assert x.grad == 2.0 * once


# ---- errors from a local derivative name the op and the point --------------------------------------
def test_an_infinite_builtin_derivative_names_the_op_and_the_point() -> None:
    for run in (
        lambda: Value(0.0).sqrt().backward(),
        lambda: (Value(0.0).sqrt() * 2.0).backward(),
        lambda: gradients(Value(0.0).sqrt(), [Value(1.0)], create_graph=True),
    ):
        with pytest.raises(ValueError) as error:
            run()
        assert str(error.value).startswith("sqrt: the derivative is infinite at x = 0.0"), str(error.value)


def test_a_user_rule_that_raises_at_a_point_is_blamed_by_name() -> None:
    def derivative(x: Any, out: Any, m: Any) -> Any:
        if float(x) == 1.0:  # float(): the same test on a number or, with create_graph, on a node
            raise RuntimeError("no rule at 1")
        return 2.0 * x

    op = defop(fresh("picky"), lambda x: x * x, derivative)
    expected = f"{op.name}: the local derivative rule raised at x = 1.0: no rule at 1"
    x, w = Value(1.0), Value(3.0)
    loss = op(x) * w
    with pytest.raises(RuntimeError) as error:
        loss.backward()
    assert str(error.value).startswith(expected), str(error.value)
    assert x.grad == 0.0 and w.grad == 0.0  # a failed sweep hands out nothing
    with pytest.raises(RuntimeError) as error:
        gradients(loss, [x], create_graph=True)
    assert str(error.value).startswith(expected), str(error.value)
    loss2 = op(Value(2.0)) * w
    loss2.backward()  # the rule works elsewhere
    assert w.grad == 4.0


def test_a_user_rule_that_gives_nan_is_blamed_by_name_and_operand() -> None:
    # m.log is nan for a negative number; on a node (create_graph) it raises: both are blamed.
    op = defop(fresh("logdy"), lambda x, y: x + y, lambda x, y, out, m: (1.0, m.log(y)))
    name = op.name
    x, y = Value(0.5), Value(-2.0)
    out = op(x, y).tanh()
    expected = f"{name}: the derivative d out/d y is undefined (nan) at x = 0.5, y = -2.0"
    with pytest.raises(ValueError) as error:
        out.backward()
    assert str(error.value).startswith(expected), str(error.value)
    with pytest.raises(ValueError) as error:
        gradients(out, [x, y], create_graph=True)
    assert str(error.value).startswith(expected), str(error.value)
    with pytest.raises(ValueError) as error:  # log 0 = -inf: infinite, not undefined
        op(x, 0.0).backward()
    assert re.match(rf"{re.escape(name)}: the derivative d out/d y is .*inf.* at x = 0\.5, y = 0\.0", str(error.value))


def test_detect_anomaly_stops_at_the_user_op() -> None:
    op = defop(fresh("nanny"), lambda x: x, lambda x, out, m: m.sqrt(x))
    x = Value(-1.0, label="x")
    out = op(x) * 3.0
    with detect_anomaly(), pytest.raises(FloatingPointError) as error:
        out.backward()
    message = str(error.value)
    assert f"op {op.name!r}" in message and "nan" in message and "upstream gradient 3.0" in message
    assert x.grad == 0.0


# ---- explain, frames and drawings show the user op ---------------------------------------------------
def test_explain_names_the_user_op_and_its_local_derivatives(user: UserOps) -> None:
    a, b = Value(3.0, "a"), Value(4.0, "b")
    h = user.hypot(a, b)
    h.label = "h"
    out = user.stanh(h, k=0.25)
    out.label = "s"
    order = topological_order(out)
    steps = explain_steps(out)
    edges = [s for s in steps if s.kind == "edge"]
    assert [(order[s.source].op, order[s.node].label, s.local) for s in edges if s.source is not None] == [
        (user.stanh.name, "h", 0.25 * (1.0 - math.tanh(1.25) ** 2)),
        (user.hypot.name, "a", 0.6),
        (user.hypot.name, "b", 0.8),
    ]
    lines = explain(out).splitlines()
    assert lines[2] == f"ds/da += ds/dh * dh/da = ({edges[0].value:.6g})(0.6) = {edges[1].value:.6g}"
    out.backward()
    assert a.grad == edges[1].value and b.grad == edges[2].value


def test_backprop_frames_draw_the_user_op_and_its_edges(user: UserOps) -> None:
    a, b = Value(3.0, "a"), Value(4.0, "b")
    out = user.hypot(a, b)
    out.label = "h"
    frames = backprop_frames(out)
    assert [f.text for f in frames] == explain(out).splitlines()
    assert all(f"label=<{user.hypot.name}>" in f.graph.source for f in frames)
    assert "label=<dh/da = 0.6000>" in frames[1].graph.source
    assert "label=<dh/db = 0.8000>" in frames[2].graph.source


HOSTILE_STEM = "<b>&\"op'\\N"
HOSTILE_ESCAPED = "&lt;b&gt;&amp;&quot;op&#39;\\\\N"


def _two_parameter_op() -> Op:
    return defop(
        fresh(HOSTILE_STEM),
        lambda x, y, *, k, c=0.5: k * x + c * y,
        lambda x, y, out, m, *, k, c=0.5: (k, c),
    )


def test_draw_shows_a_user_ops_name_and_parameters_escaped() -> None:
    op = _two_parameter_op()
    suffix = op.name[len(HOSTILE_STEM) :]
    out = op(Value(1.0, "a"), 2.0, k=2.0, c=0.25)
    source = draw(out, edge_labels=True).source
    assert f"label=<{HOSTILE_ESCAPED}{suffix}(k=2, c=0.25)>" in source
    assert "<b>" not in source
    assert "label=<dn2/da = 2.0000>" in source and "label=<dn2/dn1 = 0.2500>" in source
    one = defop(fresh("shift"), lambda x, *, c: x + c, lambda x, out, m, *, c: 1.0)
    assert f"label=<{one.name}(0.5)>" in draw(one(1.0, c=0.5)).source


@needs_dot
def test_to_svg_shows_a_user_ops_name_and_parameters_as_text() -> None:
    op = _two_parameter_op()
    out = op(Value(1.0, "a"), 2.0, k=2.0, c=0.25)
    root = ET.fromstring(to_svg(out, edge_labels=True))  # well-formed, or this raises
    ns = "{http://www.w3.org/2000/svg}"
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert f"{op.name}(k=2, c=0.25)" in texts
    tags = {el.tag.removeprefix(ns) for el in root.iter()}
    assert tags <= {"svg", "g", "title", "text", "polygon", "polyline", "path", "ellipse"}


# ---- bad definitions: refused, naming the op, registering nothing -----------------------------------
def _div_by_zero(x: float, out: float, m: Any) -> float:
    return 1.0 / (x - x)


NUMBER = r"-?\d+\.\d+(e-?\d+)?"
BAD = [
    # (id, forward, derivative, keywords, error, what the message says after "defop '<name>'")
    ("forward raises everywhere", lambda x: math.log(-1.0), lambda x, out, m: 1.0, {}, ValueError,
     r": forward \(or derivative\) failed at every sample point of its domain; first: ValueError: math domain error"),
    ("forward raises a bug", lambda x: {}[x], lambda x, out, m: 1.0, {}, TypeError,
     r": forward raised KeyError at x = {X}: {X}"),
    ("forward returns complex", lambda x: x ** (1 / 3), lambda x, out, m: 1.0, {}, TypeError,
     r": forward must return a real number, got complex .* at x = {X}"),
    ("forward returns None", lambda x: None, lambda x, out, m: 1.0, {}, TypeError,
     r": forward must return a real number, got NoneType None at x = {X}"),
    ("forward returns a bool", lambda x: x > 0, lambda x, out, m: 1.0, {}, TypeError,
     r": forward must return a real number, got bool False"),
    ("forward returns a Value", lambda x: Value(x), lambda x, out, m: 1.0, {}, TypeError,
     r": forward must return a real number, got Value"),
    ("forward returns nan", lambda x: math.nan, lambda x, out, m: 1.0, {}, ValueError,
     r": forward returned nan at x = {X}; it must be finite"),
    ("forward returns inf", lambda x: math.inf, lambda x, out, m: 1.0, {}, ValueError,
     r": forward returned inf at x = {X}; it must be finite"),
    ("forward takes the wrong arity", lambda x: x, lambda x, y, out, m: (1.0, 1.0), {}, TypeError,
     r": forward takes 1 operand\(s\) but the derivative \(operands\.\.\., out, m\) names 2: \['x', 'y'\]"),
    ("forward needs more operands", lambda x, y: x, lambda x, out, m: 1.0, {}, TypeError,
     r": forward takes 2 operand\(s\) but the derivative \(operands\.\.\., out, m\) names 1: \['x'\]"),
    ("derivative fails everywhere", lambda x: x, _div_by_zero, {}, ValueError,
     r": forward \(or derivative\) failed at every sample point .* first: ZeroDivisionError: float division by zero"),
    ("derivative raises a bug", lambda x: x, lambda x, out, m: m.nope(x), {}, TypeError,
     r": derivative raised AttributeError at x = {X}"),
    ("derivative takes 2 positionals", lambda x: x, lambda x, m: 1.0, {}, TypeError,
     r": the derivative takes \(operand, out, m\) or \(x, y, out, m\) plus keyword-only parameters; got \(x, m\)"),
    ("derivative takes 5 positionals", lambda x: x, lambda x, y, z, out, m: 1.0, {}, TypeError,
     r": the derivative takes .*; got \(x, y, z, out, m\)"),
    ("derivative takes *args", lambda x: x, lambda *args: 1.0, {}, TypeError,
     r": the derivative must name its arguments \(no \*args or \*\*kwargs\)"),
    ("derivative takes **kwargs", lambda x: x, lambda x, out, m, **kw: 1.0, {}, TypeError,
     r": the derivative must name its arguments"),
    ("derivative signature unreadable", lambda x: x, math.hypot, {}, TypeError,
     r": the derivative's signature cannot be read; use a def or a lambda"),
    ("unary derivative returns a tuple", lambda x: x, lambda x, out, m: (1.0,), {}, TypeError,
     r": the derivative of a one-operand op must return one number, got a tuple of 1 at x = {X}"),
    ("binary derivative returns one number", lambda x, y: x * y, lambda x, y, out, m: y, {}, TypeError,
     r": the derivative must return 2 values \(d out/dx, d out/dy\), got float {X} at x = {X}, y = {X}"),
    ("binary derivative returns three", lambda x, y: x * y, lambda x, y, out, m: (y, x, 1.0), {}, TypeError,
     r": the derivative must return 2 values .*, got .*3.* at x = {X}, y = {X}"),
    ("derivative returns a str", lambda x: x, lambda x, out, m: "1", {}, TypeError,
     r": the derivative must return numbers, got str '1' at x = {X}"),
    ("derivative returns None", lambda x: x, lambda x, out, m: None, {}, TypeError,
     r": the derivative must return numbers, got NoneType None"),
    ("keyword parameters differ", lambda x, *, k: x, lambda x, out, m, *, c: 1.0, {}, TypeError,
     r": forward's keyword parameters \['k'\] differ from the derivative's \['c'\]"),
    ("a default is not a number", lambda x, *, k="a": x, lambda x, out, m, *, k="a": 1.0, {}, TypeError,
     r": default of k: expected a real number"),
    ("forward not callable", 3.0, lambda x, out, m: 1.0, {}, TypeError,
     r": forward and derivative must be callables"),
    ("derivative not callable", lambda x: x, None, {}, TypeError, r": forward and derivative must be callables"),
    ("domain not a mapping", lambda x: x, lambda x, out, m: 1.0, {"domain": [("x", (0, 1))]}, TypeError,
     r": domain must map names to \(low, high\), got list"),
    ("domain misses an operand", lambda x, y: x, lambda x, y, out, m: (1.0, 0.0), {"domain": {"x": (0, 1)}},
     ValueError, r": domain must give an interval for each operand \['x', 'y'\] .*; it names \['x'\]"),
    ("domain names a stranger", lambda x: x, lambda x, out, m: 1.0, {"domain": {"x": (0, 1), "q": (0, 1)}},
     ValueError, r": domain must give an interval for each operand \['x'\] .*; it names \['q', 'x'\]"),
    ("domain empty interval", lambda x: x, lambda x, out, m: 1.0, {"domain": {"x": (1, 1)}}, ValueError,
     r": domain of x must have low < high, got \(1\.0, 1\.0\)"),
    ("domain reversed", lambda x: x, lambda x, out, m: 1.0, {"domain": {"x": (2, 1)}}, ValueError,
     r": domain of x must have low < high, got \(2\.0, 1\.0\)"),
    ("domain not a pair", lambda x: x, lambda x, out, m: 1.0, {"domain": {"x": (0, 1, 2)}}, TypeError,
     r": domain of x must be \(low, high\)"),
    ("domain a number", lambda x: x, lambda x, out, m: 1.0, {"domain": {"x": 5}}, TypeError,
     r": domain of x must be \(low, high\)"),
    ("domain infinite", lambda x: x, lambda x, out, m: 1.0, {"domain": {"x": (0, math.inf)}}, ValueError,
     r": domain of x: expected a finite number, got inf$"),
    ("domain where it fails", math.sqrt, lambda x, out, m: 0.5 / out, {"domain": {"x": (-3, -1)}}, ValueError,
     r": forward \(or derivative\) failed at every sample point"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("forward", "derivative", "keywords", "error", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_a_bad_definition_is_refused_naming_the_op_and_registers_nothing(
    forward: Any, derivative: Any, keywords: dict[str, Any], error: type[Exception], message: str
) -> None:
    name = fresh("bad")
    before = list(OPS.items())
    with pytest.raises(error) as raised:
        defop(name, forward, derivative, **keywords)
    pattern = f"defop {re.escape(repr(name))}" + message.replace("{X}", NUMBER)  # {X}: a probe point
    assert re.match(pattern, str(raised.value)), str(raised.value)
    assert list(OPS.items()) == before and name not in OPS
    # the name is still free: a good definition under it is accepted
    good = defop(name, lambda x: 2.0 * x, lambda x, out, m: 2.0)
    assert OPS[name] is good and good(1.5).data == 3.0


def test_a_taken_name_is_refused_and_the_first_op_stays() -> None:
    first = make_cube()
    before = list(OPS.items())
    with pytest.raises(ValueError, match=rf"^defop: an op named {re.escape(repr(first.name))} is already registered"):
        defop(first.name, lambda x: x, lambda x, out, m: 1.0)
    for builtin in BUILTINS:
        with pytest.raises(ValueError, match=f"an op named {re.escape(repr(builtin))} is already registered"):
            defop(builtin, lambda x: x, lambda x, out, m: 1.0)
    assert list(OPS.items()) == before and OPS[first.name] is first
    assert first(2.0).data == 8.0


@pytest.mark.parametrize("name", ["", "a\nb", "tab\t", 3, None, b"bytes"], ids=repr)
def test_a_name_must_be_a_printable_str(name: Any) -> None:
    before = list(OPS.items())
    with pytest.raises(TypeError, match=r"^defop: name must be a non-empty printable str, got "):
        defop(name, lambda x: x, lambda x, out, m: 1.0)
    assert list(OPS.items()) == before


# ---- the OPS listing ----------------------------------------------------------------------------------
def test_ops_lists_the_builtins_first_then_user_ops_in_order() -> None:
    assert list(OPS)[: len(BUILTINS)] == list(BUILTINS)
    assert {"+", "*", "**", "pow", "exp", "tanh", "relu", "elu", "erf"} <= set(BUILTINS)
    n = len(OPS)
    a, b = make_cube(), make_hypot()
    assert len(OPS) == n + 2 and list(OPS)[-2:] == [a.name, b.name]
    assert OPS[a.name] is a and OPS[b.name] is b and a.name in OPS
    assert repr(OPS).startswith("OPS(+, *, **, pow,") and repr(OPS).endswith(f", {a.name}, {b.name})")
    assert autograd.OPS is OPS and dict(OPS)[b.name] is b
    with pytest.raises(KeyError):
        OPS["no such op"]


def test_ops_is_read_only() -> None:
    op = make_cube()
    with pytest.raises(TypeError):
        OPS["x"] = op  # type: ignore[index]
    with pytest.raises(TypeError):
        del OPS[op.name]  # type: ignore[attr-defined]
    assert OPS[op.name] is op and "x" not in OPS


def test_every_builtin_is_an_op_its_value_method_uses() -> None:
    assert all(isinstance(OPS[name], Op) and OPS[name].name == name for name in BUILTINS)
    assert Value(2.0).exp().op == "exp" and (Value(2.0) ** Value(3.0)).op == "pow" and (Value(2.0) ** 3).op == "**"


# ---- the math a rule may use ---------------------------------------------------------------------------
ARGS: dict[str, tuple[float, ...]] = {
    "exp": (0.7,),
    "log": (1.7,),
    "sqrt": (2.3,),
    "pow": (1.6, 2.5),
    "sin": (0.4,),
    "cos": (0.4,),
    "tanh": (-0.6,),
    "sigmoid": (0.9,),
    "erf": (0.3,),
    "abs": (-1.2,),
}


def test_every_math_name_is_in_both_namespaces() -> None:
    assert set(MATH_NAMES) == set(ARGS) | {"where"}
    for name in MATH_NAMES:
        assert callable(getattr(FloatMath, name)) and callable(getattr(ValueMath, name)), name


@pytest.mark.parametrize("name", sorted(ARGS))
def test_value_math_computes_what_float_math_does_and_is_differentiable(name: str) -> None:
    args = ARGS[name]
    x = Value(args[0])
    value = getattr(ValueMath, name)(x, *args[1:])
    assert isinstance(value, Value)
    assert value.data == pytest.approx(getattr(FloatMath, name)(*args), rel=1e-15)
    (d,) = gradients(value, [x])
    f = lambda t: getattr(FloatMath, name)(t, *args[1:])  # noqa: E731
    assert close(d, central(f, (args[0],), 0, 1e-6)), (name, d)
    plain = getattr(ValueMath, name)(args[0], *args[1:])  # a plain number is lifted
    assert isinstance(plain, Value) and plain.data == value.data


def test_where_picks_a_branch_in_both_namespaces() -> None:
    for m in (FloatMath, ValueMath):
        assert m.where(True, 1.0, 2.0) == 1.0 and m.where(False, 1.0, 2.0) == 2.0
        assert m.where(Value(1.0) > 0.0, "a", "b") == "a"


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: FloatMath.exp(1000.0), math.inf),
        (lambda: FloatMath.exp(-1000.0), 0.0),
        (lambda: FloatMath.log(0.0), -math.inf),
        (lambda: FloatMath.log(-1.0), math.nan),
        (lambda: FloatMath.sqrt(-1.0), math.nan),
        (lambda: FloatMath.sqrt(4.0), 2.0),
        (lambda: FloatMath.pow(-8.0, 0.5), math.nan),
        (lambda: FloatMath.pow(-2.0, 3.0), -8.0),
        (lambda: FloatMath.pow(0.0, -1.0), math.inf),
        (lambda: FloatMath.pow(10.0, 400.0), math.inf),
        (lambda: FloatMath.sigmoid(-1000.0), 0.0),
        (lambda: FloatMath.sigmoid(1000.0), 1.0),
        (lambda: FloatMath.sigmoid(0.0), 0.5),
    ],
)
def test_float_math_is_total_like_numpy(call: Callable[[], float], expected: float) -> None:
    got = call()
    assert type(got) is float
    assert (got != got) if expected != expected else got == expected


def test_any_error_a_forward_raises_names_the_op_and_the_input() -> None:
    op = defop(fresh("picky"), lambda x: [1.0][int(x > 5.0)], lambda x, out, m: 0.0, domain={"x": (0.0, 1.0)})
    with pytest.raises(
        IndexError,
        match=rf"^{re.escape(op.name)}: forward raised IndexError\('list index out of range'\) \(input 7.0\)$",
    ):
        op(Value(7.0))


def test_a_derivative_returning_a_non_number_is_blamed_by_name() -> None:
    op = defop(fresh("holey"), lambda x: x * x, lambda x, out, m: 2.0 * x if x < 3.0 else None)
    with pytest.raises(
        TypeError, match=rf"^{re.escape(op.name)}: the derivative rule returned NoneType None for d out/d x at x = 4.0"
    ):
        op(Value(4.0)).backward()
