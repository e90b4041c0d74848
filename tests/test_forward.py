"""Forward mode: `jvp`, `hvp` and `hessian` against PyTorch float64 and central differences on every
op of the catalog, user ops (a parametric one, a binary one and an `m.where` kinked one) and random
DAGs; how forward mode composes with reverse mode; narrated forward mode (`explain(mode="forward")`)
line by line; and the errors bad input gets.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import requires
from catalog import ANY, CATALOG, NONZERO, POSITIVE, WIDE, OpCase
from dags import nodes_of, recipes
from hypothesis import given, settings
from hypothesis import strategies as st
from userops import fresh

from autograd import (
    DerivativeError,
    ForwardStep,
    Op,
    Value,
    defop,
    explain,
    explain_steps,
    grad,
    gradients,
    hessian,
    hvp,
    jvp,
    leaves,
    no_grad,
    topological_order,
)
from demos.textbook import textbook_graph as textbook

Fn = Callable[..., Any]

# torch.func.jvp loads a module that still calls torch.jit.script, deprecated in torch 2.13: not ours.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")

# ---- references: central differences on floats and PyTorch float64 ---------------------------------


def at(f: Fn, xs: Sequence[float]) -> float:
    """f at the point xs, on fresh leaves, recording no graph."""
    with no_grad():
        return f(*[Value(x) for x in xs]).item()


def moved(xs: Sequence[float], direction: Sequence[float], h: float) -> list[float]:
    return [x + h * d for x, d in zip(xs, direction, strict=True)]


def central_jvp(f: Fn, xs: Sequence[float], ts: Sequence[float], h: float = 1e-6) -> float:
    return (at(f, moved(xs, ts, h)) - at(f, moved(xs, ts, -h))) / (2.0 * h)


def backward_gradient(f: Fn, xs: Sequence[float]) -> list[float]:
    """The gradient by reverse mode alone (no forward mode involved)."""
    leaves_ = [Value(x) for x in xs]
    return gradients(f(*leaves_), leaves_)


def central_hvp(f: Fn, xs: Sequence[float], v: Sequence[float], h: float = 1e-5) -> list[float]:
    """(grad f(x + h v) - grad f(x - h v)) / 2h, with the gradients from backward."""
    up, down = backward_gradient(f, moved(xs, v, h)), backward_gradient(f, moved(xs, v, -h))
    return [(u - d) / (2.0 * h) for u, d in zip(up, down, strict=True)]


def central_hessian(f: Fn, xs: Sequence[float], h: float = 1e-4) -> list[list[float]]:
    """Second differences of f itself: (f(++) - f(+-) - f(-+) + f(--)) / 4h^2."""
    n = len(xs)

    def shifted(i: int, si: float, j: int, sj: float) -> float:
        p = list(xs)
        p[i] += si * h
        p[j] += sj * h
        return at(f, p)

    return [
        [
            (shifted(i, 1, j, 1) - shifted(i, 1, j, -1) - shifted(i, -1, j, 1) + shifted(i, -1, j, -1)) / (4 * h * h)
            for j in range(n)
        ]
        for i in range(n)
    ]


def torch_jvp_hvp_hessian(
    f: Fn, xs: Sequence[float], ts: Sequence[float]
) -> tuple[float, float, list[float], list[list[float]]]:
    """PyTorch float64: (f, torch.func.jvp's tangent, hvp with vector ts, the Hessian)."""
    torch = requires.torch()
    primals = tuple(torch.tensor(x, dtype=torch.float64) for x in xs)
    tangents = tuple(torch.tensor(t, dtype=torch.float64) for t in ts)
    out, tangent = torch.func.jvp(f, primals, tangents)
    _, hv = torch.autograd.functional.hvp(f, primals, tangents)
    h = torch.autograd.functional.hessian(f, primals)
    return float(out), float(tangent), [float(x) for x in hv], [[float(x) for x in row] for row in h]


def close(got: float, want: float, rel: float, scale: float = 1.0) -> bool:
    return math.isclose(got, want, rel_tol=rel, abs_tol=rel * max(1.0, abs(scale)))


def assert_close(got: Sequence[Any], want: Sequence[Any], rel: float, what: str) -> None:
    scale = max([1.0] + [abs(w) for w in want])
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert close(g, w, rel, scale), f"{what}[{k}]: got {g!r}, want {w!r} (all: {list(got)} vs {list(want)})"


def check_against_references(f: Fn, tf: Fn | None, xs: list[float], ts: list[float]) -> None:
    """jvp, hvp and hessian of f at xs along ts: against torch (tf, f on tensors) and differences."""
    value, tangent = jvp(f, xs, ts)
    assert isinstance(value, float) and isinstance(tangent, float)
    hv = hvp(f, xs, ts)
    hess = hessian(f)(*xs)
    assert isinstance(hv, tuple) and all(isinstance(x, float) for x in hv)
    assert isinstance(hess, tuple) and all(isinstance(row, tuple) for row in hess)
    assert value == at(f, xs)
    assert_close([tangent], [central_jvp(f, xs, ts)], 1e-5, "jvp vs central differences")
    assert_close(hv, central_hvp(f, xs, ts), 1e-4, "hvp vs central differences")
    for i, row in enumerate(central_hessian(f, xs)):
        assert_close(hess[i], row, 2e-4, f"hessian row {i} vs second differences")
    if tf is not None:  # after the checks that need no torch: skips (saying why) only without it
        t_value, t_tangent, t_hv, t_hess = torch_jvp_hvp_hessian(tf, xs, ts)
        assert_close([value, tangent], [t_value, t_tangent], 1e-10, "jvp vs torch.func.jvp")
        assert_close(hv, t_hv, 1e-10, "hvp vs torch.autograd.functional.hvp")
        for i, row in enumerate(t_hess):
            assert_close(hess[i], row, 1e-10, f"hessian row {i} vs torch.autograd.functional.hessian")


# ---- every op of the catalog ------------------------------------------------------------------------
INTERVALS = [(ANY, [(-4.0, 4.0)]), (POSITIVE, [(0.05, 8.0)]), (NONZERO, [(-4.0, -0.05), (0.05, 4.0)])]
INTERVALS.append((WIDE, [(-30.0, 30.0)]))


def draw_point(rng: random.Random, domain: Sequence[Any]) -> list[float]:
    """One point of the op's catalog domain (the strategies are the catalog's named constants)."""
    point = []
    for strategy in domain:
        intervals = next(iv for s, iv in INTERVALS if s is strategy)
        lo, hi = rng.choice(intervals)
        point.append(rng.uniform(lo, hi))
    return point


def composed(op: Fn) -> Fn:
    """f(*xs, w) = u w + u^2 with u = op(*xs): every first and second derivative of op shows up."""

    def f(*args: Any) -> Any:
        *xs, w = args
        u = op(*xs)
        return u * w + u * u

    return f


@pytest.mark.parametrize("case", CATALOG, ids=[c.name for c in CATALOG])
def test_every_catalog_op_matches_torch_and_central_differences(case: OpCase) -> None:
    rng = random.Random(case.name)
    for _ in range(3):
        xs = draw_point(rng, case.domain) + [rng.uniform(-2.0, 2.0)]
        ts = [rng.uniform(-1.0, 1.0) for _ in xs]
        tf = composed(case.torch) if case.torch is not None else None
        check_against_references(composed(case.fn), tf, xs, ts)


# ---- user ops -------------------------------------------------------------------------------------
def _torch() -> Any:
    return requires.torch()


def user_ops() -> dict[str, tuple[Op, Fn]]:
    """Three ops defined with defop (fresh names) and their torch equivalents."""
    scaled = defop(
        fresh("scaled_tanh"),
        lambda x, *, k=2.0: math.tanh(k * x),
        lambda x, out, m, *, k=2.0: k * (1.0 - out * out),
    )
    kinked = defop(
        fresh("half_square"),  # x^2 for x > 0, else x / 2: both branches of m.where stay finite
        lambda x: x * x if x > 0.0 else 0.5 * x,
        lambda x, out, m: m.where(x > 0.0, 2.0 * x, 0.5),
    )
    mulsin = defop(fresh("mulsin"), lambda x, y: x * math.sin(y), lambda x, y, out, m: (m.sin(y), x * m.cos(y)))
    return {
        "parametric": (scaled, lambda x: _torch().tanh(0.7 * x)),
        "kinked": (kinked, lambda x: _torch().where(x > 0, x * x, 0.5 * x)),
        "binary": (mulsin, lambda x, y: x * _torch().sin(y)),
    }


def test_user_ops_match_torch_and_central_differences() -> None:
    ops = user_ops()
    scaled, t_scaled = ops["parametric"]
    f = composed(lambda x: scaled(x, k=0.7))
    for x in (-1.3, 0.4):
        check_against_references(f, composed(t_scaled), [x, 0.8], [0.6, -1.1])
    kinked, t_kinked = ops["kinked"]
    for x in (-1.5, 0.9):  # one point on each side of the kink
        check_against_references(composed(kinked), composed(t_kinked), [x, -0.3], [1.0, 0.5])
    mulsin, t_mulsin = ops["binary"]
    check_against_references(composed(mulsin), composed(t_mulsin), [0.7, -1.2, 1.4], [0.3, 1.0, -0.6])


def test_user_ops_through_nested_forward_mode() -> None:
    """Reverse over forward runs the rules on Values with ValueMath, m.where included."""
    kinked, _ = user_ops()["kinked"]
    second = grad(lambda x: jvp(lambda y: kinked(y) * y, (x,), (1.0,))[1])
    assert second(0.5) == pytest.approx(6 * 0.5)  # (x^3)'' = 6x
    assert second(-2.0) == pytest.approx(1.0)  # (x^2 / 2)'' = 1


# ---- random DAGs ----------------------------------------------------------------------------------
@settings(max_examples=12)
@given(recipes(n_inputs=3, max_steps=10, smooth=True), st.lists(st.floats(-1.5, 1.5), min_size=6, max_size=6))
def test_random_dags_match_torch_and_central_differences(recipe: Any, numbers: list[float]) -> None:
    f = lambda *v: nodes_of(recipe, list(v))[-1]  # noqa: E731  the same recipe runs on torch tensors
    check_against_references(f, f, numbers[:3], numbers[3:])


@settings(max_examples=20)
@given(recipes(n_inputs=3, max_steps=12), st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3))
def test_forward_mode_gives_backward_gradient_one_input_at_a_time(recipe: Any, xs: list[float]) -> None:
    """jvp along e_i is d out / d x_i; the narrated last line is the same number, bit for bit."""
    grads = backward_gradient(lambda *v: nodes_of(recipe, list(v))[-1], xs)
    inputs = [Value(x) for x in xs]
    root = nodes_of(recipe, inputs)[-1]
    for i in range(3):
        e = [1.0 if j == i else 0.0 for j in range(3)]
        _, tangent = jvp(lambda *v: nodes_of(recipe, list(v))[-1], xs, e)
        assert tangent == pytest.approx(grads[i], rel=1e-12, abs=1e-12)
        if inputs[i] in leaves(root) and root is not inputs[i]:
            steps = explain_steps(root, "forward", wrt=inputs[i])
            assert steps[-1].node == len(topological_order(root)) - 1
            assert steps[-1].value == tangent


def test_hessian_columns_are_hvps_with_the_unit_vectors() -> None:
    f = lambda x, y, z: (x * y).sin() * z + (y / z).exp() * x  # noqa: E731
    xs = [0.3, -0.8, 1.7]
    hess = hessian(f)(*xs)
    for j in range(3):
        column = hvp(f, xs, [1.0 if k == j else 0.0 for k in range(3)])
        assert column == tuple(hess[i][j] for i in range(3))
    assert hess[0][1] == pytest.approx(hess[1][0], rel=1e-12)  # symmetric, up to rounding


# ---- the lecture's graph and compositions ------------------------------------------------------------
def test_jvp_of_the_textbook_function_gives_each_gradient_of_the_lecture() -> None:
    L = lambda a, b, c: c * (a + 2 * b)  # noqa: E731  lecture 000: L = c(a + 2b) at a = 3, b = 1, c = -2
    point = (3.0, 1.0, -2.0)
    assert jvp(L, point, (1.0, 0.0, 0.0)) == (-10.0, -2.0)
    assert jvp(L, point, (0.0, 1.0, 0.0)) == (-10.0, -4.0)
    assert jvp(L, point, (0.0, 0.0, 1.0)) == (-10.0, 5.0)
    assert jvp(L, point, (1.0, 1.0, 1.0)) == (-10.0, -1.0)
    assert hessian(L)(*point) == ((0.0, 0.0, 1.0), (0.0, 0.0, 2.0), (1.0, 2.0, 0.0))


def test_forward_and_reverse_compose_every_way() -> None:
    cube = lambda y: y**3  # noqa: E731
    d_cube = lambda x: jvp(cube, (x,), (1.0,))[1]  # noqa: E731
    assert d_cube(2.0) == 12.0
    assert grad(d_cube)(2.0) == 12.0  # reverse over forward: 6x
    assert jvp(d_cube, (2.0,), (1.0,)) == (12.0, 12.0)  # forward over forward
    assert jvp(grad(cube), (2.0,), (1.0,)) == (12.0, 12.0)  # forward over reverse
    assert hvp(cube, (2.0,), (0.5,)) == (6.0,)
    third = grad(lambda x: hessian(lambda y: y**4)(x)[0][0])  # d/dx 12x^2 = 24x
    assert third(0.5) == 12.0
    inner_hvp = grad(lambda x: hvp(lambda y: y**4, (x,), (1.0,))[0])
    assert inner_hvp(0.5) == 12.0
    along = grad(lambda t: jvp(cube, (2.0,), (t,))[1])  # the tangent out is linear in the tangent in
    assert along(5.0) == 12.0


def test_nested_variables_stay_apart() -> None:
    """d/dx [ d/dy (x y) along 1 at y = x ] = d/dx x = 1 (the inner y is not the outer x)."""
    assert grad(lambda x: jvp(lambda y: x * y, (x,), (1.0,))[1])(2.0) == 1.0
    assert jvp(lambda x: jvp(lambda y: x * y, (x,), (1.0,))[1], (2.0,), (1.0,)) == (2.0, 1.0)


def test_jvp_results_follow_what_f_returns() -> None:
    pair = jvp(lambda x, y: (x * y, x + y, 3.0), [2.0, 5.0], [1.0, 0.0])
    assert pair == ((10.0, 7.0, 3.0), (5.0, 1.0, 0.0))
    assert jvp(lambda x: x, (4.0,), (0.5,)) == (4.0, 0.5)  # the input itself: its tangent
    assert jvp(lambda x: 7, (4.0,), (0.5,)) == (7.0, 0.0)  # a constant: no tangent
    assert jvp(lambda x, y: x * 2.0, (4.0, 1.0), (0.5, 1.0)) == (8.0, 1.0)  # y unused
    v = Value(3.0)
    assert jvp(lambda x: x * x, (v,), (Value(1.0),)) == (9.0, 6.0)  # Values at top level: their numbers
    assert v.grad == 0.0


def test_jvp_inside_no_grad_still_sees_the_graph() -> None:
    with no_grad():
        assert jvp(lambda x: x.sin(), (0.0,), (2.0,)) == (0.0, 2.0)
        assert hessian(lambda x: x**3)(1.0) == ((6.0,),)


def test_help_teaches_the_math() -> None:
    assert "J t" in (jvp.__doc__ or "")
    assert "forward-over-reverse" in (hvp.__doc__ or "")
    assert "d^2 f / dx_i dx_j" in (hessian.__doc__ or "")
    import autograd.forward

    assert "local derivative x input tangent" in (autograd.forward.__doc__ or "")


# ---- narrated forward mode ------------------------------------------------------------------------
# Lecture 000's L = c(a + 2b), d = 2b, e = a + d, forward: the tangent of each node along b is its
# local derivative times the tangent of the input it depends on; a, c and the constant 2 carry none.
TEXTBOOK_FORWARD_B = [
    "db/db = 1.0",
    "dd/db = dd/db * db/db = (2.0)(1.0) = 2.0",
    "de/db = de/dd * dd/db = (1.0)(2.0) = 2.0",
    "dL/db = dL/de * de/db = (-2.0)(2.0) = -4.0",
]


def test_explain_forward_on_the_textbook_graph_exactly() -> None:
    g = textbook()
    L = g["L"]
    assert explain(L, mode="forward", wrt=g["b"]).splitlines() == TEXTBOOK_FORWARD_B
    assert explain(L, "forward", wrt=g["a"]).splitlines() == [
        "da/da = 1.0",
        "de/da = de/da * da/da = (1.0)(1.0) = 1.0",
        "dL/da = dL/de * de/da = (-2.0)(1.0) = -2.0",
    ]
    assert explain(L, "forward", wrt=g["c"]).splitlines() == ["dc/dc = 1.0", "dL/dc = dL/dc * dc/dc = (5.0)(1.0) = 5.0"]
    assert all(v.grad == 0.0 for v in g.values())  # nothing read or written in .grad


def test_explain_forward_on_a_small_chain_exactly() -> None:
    x = Value(3.0, label="x")
    y = x**2
    y.label = "y"
    z = y.log()
    z.label = "z"
    assert explain(z, mode="forward", wrt=x).splitlines() == [
        "dx/dx = 1.0",
        "dy/dx = dy/dx * dx/dx = (6.0)(1.0) = 6.0",
        "dz/dx = dz/dy * dy/dx = (0.111111)(6.0) = 0.666667",
    ]


def test_explain_forward_sums_over_the_inputs_a_tangent_comes_from() -> None:
    x = Value(2.0, label="x")
    y = x * x + x  # x * x is n1 (unlabelled: named by its position, as in draw)
    y.label = "y"
    assert explain(y, mode="forward", wrt=x).splitlines() == [
        "dx/dx = 1.0",
        "dn1/dx = dn1/dx * dx/dx + dn1/dx * dx/dx = (2.0)(1.0) + (2.0)(1.0) = 4.0",
        "dy/dx = dy/dn1 * dn1/dx + dy/dx * dx/dx = (1.0)(4.0) + (1.0)(1.0) = 5.0",
    ]
    steps = explain_steps(y, mode="forward", wrt=x)
    assert all(isinstance(s, ForwardStep) for s in steps)
    last = steps[-1]
    assert isinstance(last, ForwardStep)
    assert (last.kind, last.node, last.value) == ("node", 2, 5.0)
    assert (last.inputs, last.locals, last.tangents) == ((1, 0), (1.0, 1.0), (4.0, 1.0))
    assert steps[0] == ForwardStep("seed", 0, 1.0, "dx/dx = 1.0")


def test_explain_backward_is_unchanged_by_the_mode_argument() -> None:
    L = textbook()["L"]
    assert explain(L, mode="backward") == explain(L)
    assert explain_steps(L, "backward") == explain_steps(L)


# ---- errors -----------------------------------------------------------------------------------------
def test_jvp_rejects_bad_arguments_naming_itself_and_the_value() -> None:
    f = lambda x: x * x  # noqa: E731
    with pytest.raises(TypeError, match=r"jvp: f must be a function, got int 3"):
        jvp(3, (1.0,), (1.0,))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"jvp: primals must be a list or tuple of numbers, got float 1.0.*\(x,\)"):
        jvp(f, 1.0, (1.0,))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"jvp: tangents must be a list or tuple of numbers, got Value"):
        jvp(f, (1.0,), Value(1.0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"jvp: primals must be a list or tuple of numbers, got str 'ab'"):
        jvp(f, "ab", (1.0, 1.0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"jvp: 2 primal\(s\) but 1 tangent\(s\)"):
        jvp(f, (1.0, 2.0), (1.0,))
    with pytest.raises(TypeError, match=r"jvp: tangents\[1\]: expected a real number .* got str 'x'"):
        jvp(f, (1.0, 2.0), (1.0, "x"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"jvp: primals\[0\]: expected a finite number, got nan"):
        jvp(f, (math.nan,), (1.0,))
    with pytest.raises(TypeError, match=r"jvp: f must return a Value or a number .* got dict \{'y': 1\}"):
        jvp(lambda x: {"y": 1}, (1.0,), (1.0,))
    with pytest.raises(TypeError, match=r"jvp: f must return a Value or a number .* got NoneType None"):
        jvp(lambda x: (x, None), (1.0,), (1.0,))


def test_hvp_and_hessian_reject_bad_arguments() -> None:
    f = lambda x, y: x * y  # noqa: E731
    with pytest.raises(TypeError, match=r"hvp: f must be a function"):
        hvp(None, (1.0,), (1.0,))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"hvp: give at least one primal"):
        hvp(f, (), ())
    with pytest.raises(ValueError, match=r"hvp: 2 primal\(s\) but a vector of 3"):
        hvp(f, (1.0, 2.0), (1.0, 0.0, 0.0))
    with pytest.raises(TypeError, match=r"hvp: vector must be a list or tuple of numbers, got int 1"):
        hvp(f, (1.0, 2.0), 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"hvp: f must return one Value or number, got tuple"):
        hvp(lambda x: (x, x), (1.0,), (1.0,))
    with pytest.raises(TypeError, match=r"hessian: f must be a function, got str 'f'"):
        hessian("f")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"hessian: f's Hessian needs at least one argument"):
        hessian(f)()
    with pytest.raises(TypeError, match=r"hessian: arguments\[1\]: expected a real number .* got NoneType"):
        hessian(f)(1.0, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"hessian: f must return one Value or number, got str 'no'"):
        hessian(lambda x: "no")(1.0)


def test_jvp_names_the_op_whose_derivative_blocks_the_tangent() -> None:
    with pytest.raises(DerivativeError, match=r"jvp: sqrt: the derivative is infinite at x = 0.0"):
        jvp(lambda x: x.sqrt(), (0.0,), (1.0,))
    with pytest.raises(DerivativeError, match=r"jvp: pow: the derivative d out/d y is nan at x = -2.0, y = 2.0"):
        jvp(lambda x, y: x**y, (-2.0, 2.0), (0.0, 1.0))
    with pytest.raises(OverflowError, match=r"jvp: the tangent of the node made by '\*' .* is inf: a product"):
        jvp(lambda x: x * 1e300, (1.0,), (1e300,))
    fragile = defop(fresh("fragile"), lambda x: x, lambda x, out, m: 1.0 if x < 5.0 else math.log(-1.0))
    with pytest.raises(ValueError, match=r"jvp: fragile_\d+: the local derivative rule raised at x = 6.0: math"):
        jvp(fragile, (6.0,), (1.0,))
    with pytest.raises(ValueError, match=r"jvp: fragile_\d+: the local derivative rule raised at x = 6.0"):
        grad(lambda x: jvp(fragile, (x,), (1.0,))[1])(6.0)  # nested: the rule runs on Values


def test_explain_forward_errors_name_explain_and_the_value() -> None:
    g = textbook()
    L = g["L"]
    with pytest.raises(TypeError, match=r"explain: mode='forward' needs wrt="):
        explain(L, mode="forward")
    with pytest.raises(TypeError, match=r"explain: wrt must be a leaf Value of root's graph, got float 1.0"):
        explain(L, mode="forward", wrt=1.0)  # type: ignore[arg-type]
    stranger = Value(1.0, label="stranger")
    with pytest.raises(ValueError, match=r"explain: wrt Value\(.*label='stranger'\) is not a node of root's graph"):
        explain(L, mode="forward", wrt=stranger)
    with pytest.raises(ValueError, match=r"explain: wrt must be a leaf .* label='e'\) made by '\+'"):
        explain(L, mode="forward", wrt=g["e"])
    with pytest.raises(ValueError, match=r"explain: mode must be 'backward', 'forward' or 'paths', got 'sideways'"):
        explain(L, mode="sideways")
    with pytest.raises(ValueError, match=r"explain_steps: mode must be 'backward' or 'forward', got 'up'"):
        explain_steps(L, "up")
    with pytest.raises(TypeError, match=r"explain_steps: wrt= is only for mode=\"forward\""):
        explain_steps(L, wrt=g["a"])
    with pytest.raises(TypeError, match=r"explain: wrt= is only for mode=\"forward\" or \"paths\""):
        explain(L, wrt=g["a"])
    with pytest.raises(TypeError, match=r"explain: root must be a Value, got int 3"):
        explain(3, mode="forward", wrt=g["a"])  # type: ignore[arg-type]
