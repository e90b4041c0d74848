"""Random expression DAGs with shared subexpressions: backward vs central differences and torch."""

from __future__ import annotations

import math
from typing import Any

import requires
from dags import Recipe, nodes_of, recipes
from hypothesis import given
from hypothesis import strategies as st

from autograd import Value, gradients, no_grad, topological_order


def run(recipe: Recipe, inputs: list[Any]) -> Any:
    nodes = nodes_of(recipe, inputs)
    # the output uses the last node and a few earlier ones, so interior nodes fan out too
    return nodes[-1] + nodes[len(nodes) // 2] * nodes[len(nodes) // 3]


points = st.lists(st.floats(-2.0, 2.0), min_size=3, max_size=3)


@given(recipes(max_steps=25, smooth=True), points)
def test_random_dags_match_central_differences(recipe: Recipe, xs: list[float]) -> None:
    leaves = [Value(x) for x in xs]
    out = run(recipe, leaves)
    out.backward()
    h = 1e-6
    for i, leaf in enumerate(leaves):
        with no_grad():
            up = run(recipe, [Value(x + h * (k == i)) for k, x in enumerate(xs)]).data
            down = run(recipe, [Value(x - h * (k == i)) for k, x in enumerate(xs)]).data
        numeric = (up - down) / (2 * h)
        assert abs(leaf.grad - numeric) <= 1e-5 * (1 + abs(numeric)), (recipe, i, leaf.grad, numeric)
    assert gradients(out, leaves) == [leaf.grad for leaf in leaves]


@given(recipes(max_steps=25, smooth=True), points)
def test_random_dags_match_torch_float64(recipe: Recipe, xs: list[float]) -> None:
    torch = requires.torch()
    leaves = [Value(x) for x in xs]
    out = run(recipe, leaves)
    out.backward()
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    tout = run(recipe, ts)
    tout.backward()
    assert math.isclose(out.data, tout.item(), rel_tol=1e-12, abs_tol=1e-12)
    for leaf, t in zip(leaves, ts, strict=True):
        tg = 0.0 if t.grad is None else t.grad.item()
        assert math.isclose(leaf.grad, tg, rel_tol=1e-9, abs_tol=1e-12), (recipe, leaf.grad, tg)


@given(recipes(max_steps=12, smooth=True), points)
def test_random_dags_second_derivatives_match_torch(recipe: Recipe, xs: list[float]) -> None:
    torch = requires.torch()
    leaves = [Value(x) for x in xs]
    g0 = gradients(run(recipe, leaves), leaves, create_graph=True)[0]
    second = gradients(g0, leaves)
    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    (tg0,) = torch.autograd.grad(run(recipe, ts), ts[0], create_graph=True, allow_unused=True)
    if tg0 is None or not tg0.requires_grad:  # d out / d x0 is a constant
        assert second == [0.0, 0.0, 0.0]
        return
    tsecond = torch.autograd.grad(tg0, ts, allow_unused=True)
    for s, t in zip(second, tsecond, strict=True):
        tv = 0.0 if t is None else t.item()
        assert math.isclose(s, tv, rel_tol=1e-9, abs_tol=1e-10), (recipe, s, tv)


@given(recipes(max_steps=25), points)
def test_passes_over_a_random_dag_leave_no_trace(recipe: Recipe, xs: list[float]) -> None:
    """backward, gradients and topological_order each reset their scratch state: repeating gives the same."""
    leaves = [Value(x) for x in xs]
    out = run(recipe, leaves)
    order = topological_order(out)
    out.backward()
    first = [v.grad for v in order]
    assert gradients(out, order) == first
    assert topological_order(out) == order
    out.backward()
    assert [v.grad for v in order] == [2 * g for g in first]
