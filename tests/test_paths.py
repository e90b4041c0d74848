"""The sum over paths: path products add up to the gradient, counts are exact, listing has a limit."""

from __future__ import annotations

import math
import re
import sys
import xml.etree.ElementTree as ET

import pytest
from dags import nodes_of, recipes
from hypothesis import assume, given
from requires import needs_dot

import autograd
from autograd import (
    GraphPath,
    PathSum,
    Value,
    count_paths,
    draw,
    explain,
    gradients,
    local_derivatives,
    paths,
    topological_order,
)
from autograd.draw import render_svg
from autograd.paths import describe_count


def brute_force(output: Value, input: Value) -> list[tuple[tuple[int, int], ...]]:
    """Every path from input to output, found without any counting: walk back from the output along
    every edge, keep the walks that end at input. Each path as its edges (position of the consumer in
    topological order, operand slot), from the input up."""
    index = {v: i for i, v in enumerate(topological_order(output))}
    found = []
    stack: list[tuple[Value, tuple[tuple[int, int], ...]]] = [(output, ())]
    while stack:
        node, trail = stack.pop()
        if node is input:
            found.append(tuple(reversed(trail)))
        for slot, u in enumerate(node.inputs):
            stack.append((u, (*trail, (index[node], slot))))
    return found


def edges_of(path: GraphPath, output: Value) -> tuple[tuple[int, int], ...]:
    index = {v: i for i, v in enumerate(topological_order(output))}
    return tuple((index[v], slot) for v, slot in zip(path.nodes[1:], path.slots))


def diamonds(k: int) -> tuple[Value, Value]:
    """k diamonds in a row: v -> (tanh v, sin v) -> their sum, so 2^k paths."""
    x = v = Value(0.3, label="x")
    for _ in range(k):
        v = v.tanh() + v.sin()
    return x, v


# ---- the products add up to the gradient ------------------------------------------------------------
@given(recipes(n_inputs=3, max_steps=12))
def test_path_products_sum_to_the_gradient_on_random_dags(recipe: list[tuple[str, int, int]]) -> None:
    inputs = [Value(v, label=f"x{i}") for i, v in enumerate((0.7, -0.4, 1.3))]
    out = nodes_of(recipe, inputs)[-1]
    for x in inputs:
        counted = count_paths(out, x)
        assume(counted.count <= 2000)
        result = paths(out, x, limit=2000)
        assert result.count == counted.count == len(result.paths)
        (grad,) = gradients(out, [x])
        assert result.gradient == grad
        scale = math.fsum(abs(p.product) for p in result.paths)
        assert math.isclose(result.total, grad, rel_tol=1e-12, abs_tol=1e-12 * max(scale, 1.0))
        for p in result.paths:  # each product is the product of the graph's own local derivatives
            assert p.nodes[0] is x and p.nodes[-1] is out
            want = [local_derivatives(v)[slot] for v, slot in zip(p.nodes[1:], p.slots)]
            assert list(p.locals) == want
            product = 1.0
            for d in reversed(want):
                product *= d
            assert p.product == product


@given(recipes(n_inputs=2, max_steps=10))
def test_counts_and_listings_equal_brute_force_enumeration(recipe: list[tuple[str, int, int]]) -> None:
    inputs = [Value(0.5, label="a"), Value(-1.5, label="b")]
    nodes = nodes_of(recipe, inputs)
    out = nodes[-1]
    for x in [*inputs, nodes[len(nodes) // 2]]:  # leaves and an inner node
        assume(count_paths(out, x).count <= 3000)
        expected = brute_force(out, x)
        result = paths(out, x, limit=3000)
        assert result.count == len(expected)
        assert sorted(edges_of(p, out) for p in result.paths) == sorted(expected)
        assert result.path_multiplications == sum(len(e) for e in expected)
        on_a_path = {edge for e in expected for edge in e}
        assert result.multiplications == len(on_a_path)  # reverse mode: one per edge between them


def test_x_times_x_is_two_paths_one_per_use() -> None:
    x = Value(3.0, label="x")
    y = x * x
    y.label = "y"
    result = paths(y, x)
    assert result.count == 2
    assert [p.slots for p in result.paths] == [(0,), (1,)]
    assert [p.product for p in result.paths] == [3.0, 3.0]
    assert result.total == result.gradient == 6.0


# ---- exact counts on big graphs -----------------------------------------------------------------------
def test_a_chain_of_k_diamonds_has_2_to_the_k_paths() -> None:
    x, out = diamonds(12)
    result = paths(out, x, limit=5000)
    assert result.count == 2**12 == len(result.paths)
    assert result.multiplications == 4 * 12  # each diamond: 4 edges
    assert result.path_multiplications == 2**12 * 2 * 12  # every path has 2 edges per diamond
    assert math.isclose(result.total, result.gradient, rel_tol=1e-12)


def test_counting_is_exact_and_iterative_far_past_the_recursion_limit() -> None:
    k = 3000  # 12,001 nodes, 2^3000 paths: a 904-digit count
    x, out = diamonds(k)
    assert len(topological_order(out)) > sys.getrecursionlimit()
    counted = count_paths(out, x)
    assert counted.count == 2**k
    assert counted.multiplications == 4 * k
    assert counted.path_multiplications == 2 * k * 2**k
    assert describe_count(counted.count) == "1.230e+903 (904 digits)"


def test_fibonacci_and_layered_graphs_have_their_closed_form_counts() -> None:
    # v(n) = v(n-1) + v(n-2): the paths from v(0) to v(n) are counted by Fibonacci numbers
    x = Value(1.0, label="v0")
    prev, v = x, x * 1.0
    for _ in range(400):
        prev, v = v, v + prev
    fib = [0, 1]
    while len(fib) < 403:
        fib.append(fib[-1] + fib[-2])
    assert count_paths(v, x).count == fib[402]
    # a fully connected net of width w and depth d, each node the sum of the layer before: w^d paths
    w, d = 3, 6
    layer = [x * float(j + 1) for j in range(w)]
    for _ in range(d - 1):
        layer = [sum(layer[1:], layer[0]) * float(j + 1) for j in range(w)]
    out = sum(layer[1:], layer[0])
    assert count_paths(out, x).count == w**d


def test_describe_count_keeps_small_counts_exact_and_summarises_huge_ones() -> None:
    assert describe_count(0) == "0"
    assert describe_count(10**20 - 1) == "99999999999999999999"
    assert describe_count(10**20) == "1.000e+20 (21 digits)"
    assert describe_count(2**1000) == "1.071e+301 (302 digits)"
    assert describe_count(2**100_000).endswith("(30103 digits)")  # past Python's 4300-digit str() limit


# ---- listing refuses past its limit -------------------------------------------------------------------
def test_listing_refuses_past_the_limit_and_points_to_count_paths() -> None:
    x, out = diamonds(5)
    with pytest.raises(ValueError, match=r"there are 32 paths .* more than limit=31") as err:
        paths(out, x, limit=31)
    assert "count_paths(output, input)" in str(err.value)
    assert "reverse mode needs only 20 multiplications" in str(err.value)
    assert paths(out, x, limit=32).count == 32
    x, out = diamonds(1000)
    with pytest.raises(ValueError, match=re.escape("there are 1.071e+301 (302 digits) paths")):
        paths(out, x)  # the default limit: 1000


def test_bad_arguments_are_named() -> None:
    x = Value(1.0)
    with pytest.raises(TypeError, match="paths: output must be a Value, got float 1.0"):
        paths(1.0, x)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="count_paths: input must be a Value, got str 'x'"):
        count_paths(x, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="limit must be an int, got bool"):
        paths(x, x, limit=True)
    with pytest.raises(ValueError, match="limit must be >= 0, got -1"):
        paths(x, x, limit=-1)


def test_an_input_off_the_graph_has_no_path_and_the_output_itself_one_empty_path() -> None:
    x, y = Value(2.0, label="x"), Value(5.0, label="z")
    out = x * 3.0
    out.label = "out"
    none = paths(out, y)
    assert (none.count, none.paths, none.total, none.gradient, none.multiplications) == (0, (), 0.0, 0.0, 0)
    assert "dout/dz = 0.0 (no path: out does not depend on z)" in str(none)
    self = paths(out, out)
    assert self.count == 1 and self.paths[0].nodes == (out,) and self.paths[0].product == 1.0
    assert self.total == self.gradient == 1.0 and self.multiplications == 0
    assert "path 1: out: no edges, the empty product = 1.0" in str(self)


def test_paths_leave_every_grad_alone() -> None:
    x, out = diamonds(3)
    out.backward()
    before = [v.grad for v in topological_order(out)]
    paths(out, x)
    count_paths(out, x)
    assert [v.grad for v in topological_order(out)] == before


# ---- explain(mode="paths") ------------------------------------------------------------------------------
def labelled() -> tuple[Value, Value]:
    x = Value(2.0, label="x")
    a = x * 3.0
    a.label = "a"
    L = a * x + a
    L.label = "L"
    return x, L


def test_explain_paths_lists_every_path_its_sum_and_the_costs() -> None:
    x, L = labelled()
    assert explain(L, mode="paths", wrt=x).splitlines() == [
        "dL/dx as a sum over paths: 3 path(s) from x to L",
        "path 1: x -> a -> n3 -> L: dL/dn3 * dn3/da * da/dx = (1.0)(2.0)(3.0) = 6.0",
        "path 2: x -> n3 -> L: dL/dn3 * dn3/dx = (1.0)(6.0) = 6.0",
        "path 3: x -> a -> L: dL/da * da/dx = (1.0)(3.0) = 3.0",
        "dL/dx = 6.0 + 6.0 + 3.0 = 15.0",
        "reverse mode (gradients): dL/dx = 15.0",
        "multiplications: 7 for the products of the paths, 5 in reverse mode (one upstream x local per edge"
        " between x and L)",
    ]
    assert str(paths(L, x)) == explain(L, mode="paths", wrt=x)
    counted = count_paths(L, x)
    assert counted.summary() == (
        "3 path(s) from x to L; the sum over them takes 7 multiplication(s), reverse mode 5"
        " (one upstream x local per edge between them)"
    )


def test_explain_keeps_its_default_and_checks_the_mode() -> None:
    x, L = labelled()
    assert explain(L) == explain(L, mode="backward")
    with pytest.raises(ValueError, match=r"explain: mode must be 'backward', .*'paths', got 'sideways'"):
        explain(L, mode="sideways")
    with pytest.raises(TypeError, match='mode="paths" needs wrt='):
        explain(L, mode="paths")
    with pytest.raises(TypeError, match=r'explain: wrt= is only for mode=.*"paths"'):
        explain(L, wrt=x)
    with pytest.raises(TypeError, match="explain: root must be a Value, got int 3"):
        explain(3, mode="paths", wrt=x)  # type: ignore[arg-type]


def test_explain_paths_parenthesises_negative_terms_and_refuses_past_the_limit() -> None:
    x = Value(1.0, label="x")
    y = x * -3.0 + x
    y.label = "y"
    assert "dy/dx = (-3.0) + 1.0 = -2.0" in explain(y, mode="paths", wrt=x)
    x, out = diamonds(11)
    with pytest.raises(ValueError, match="2048 paths"):
        explain(out, mode="paths", wrt=x)


# ---- draw(root, highlight=path) -----------------------------------------------------------------------
def bold_edges(source: str) -> list[str]:
    return [line.strip() for line in source.splitlines() if "->" in line and "penwidth=2.5" in line]


def test_draw_highlights_exactly_the_path_and_captions_its_product() -> None:
    x, L = labelled()
    result = paths(L, x)
    plain = draw(L).source
    for p in result.paths:
        src = draw(L, highlight=p).source
        assert len(bold_edges(src)) == 2 * len(p.slots)  # into each op node, and out of it
        assert f"product of local derivatives = {p.product:.4f}" in src
        route = " -&gt; ".join(v.label or f"n{topological_order(L).index(v)}" for v in p.nodes)
        assert f"path {route}" in src
    assert bold_edges(plain) == []
    assert "#ffd9d4" not in plain
    a = topological_order(L)[2]  # an inner node as the input: its own op is not on the path
    assert a.label == "a"
    for p in paths(L, a).paths:
        assert len(bold_edges(draw(L, highlight=p).source)) == 2 * len(p.slots)


def test_draw_tells_the_two_uses_of_x_times_x_apart() -> None:
    x = Value(3.0, label="x")
    y = x * x
    y.label = "y"
    first, second = paths(y, x).paths
    for k, p in enumerate((first, second)):
        lines = draw(y, highlight=p).source.splitlines()
        uses = [line for line in lines if line.strip().startswith("v0 -> v1op")]  # slot 0, then slot 1
        assert len(uses) == 2
        assert ["penwidth" in line for line in uses] == [k == 0, k == 1]


def test_draw_refuses_a_path_of_another_graph_or_not_a_path() -> None:
    x, L = labelled()
    other_x, other = labelled()
    p = paths(other, other_x).paths[0]
    with pytest.raises(ValueError, match="draw: the highlighted path is not a path of this graph"):
        draw(L, highlight=p)
    forged = GraphPath(p.nodes, (1,) * len(p.slots), p.locals, p.product)
    with pytest.raises(ValueError, match="not a path of this graph"):
        draw(other, highlight=forged)
    with pytest.raises(TypeError, match="draw: highlight must be a path from autograd.paths"):
        draw(L, highlight=[x, L])  # type: ignore[arg-type]


@needs_dot
def test_highlighted_svg_is_well_formed_with_hostile_labels() -> None:
    x = Value(1.0, label="<script>alert(1)</script>")
    y = (x * 2.0).tanh()
    y.label = '\\N "q" & {a|b}'
    p = paths(y, x).paths[0]
    svg = render_svg(draw(y, highlight=p))
    root = ET.fromstring(svg)
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "<script>alert(1)</script>" in texts
    assert "script" not in {el.tag.split("}")[-1] for el in root.iter()}


def test_path_sum_is_a_path_count() -> None:
    x, L = labelled()
    assert isinstance(paths(L, x), PathSum)
    assert isinstance(paths(L, x), autograd.PathCount)
