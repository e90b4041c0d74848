"""backward(): the textbook graph, interior gradients, accumulation, deep and wide graphs, no cycles."""

from __future__ import annotations

import gc
import sys

import pytest

from autograd import Value, gradients, leaves, topological_order, zero_grad


def textbook() -> dict[str, Value]:
    """Lecture 000's graph: L = c * (a + 2b) with a = 3, b = 1, c = -2."""
    a, b, c = Value(3.0, "a"), Value(1.0, "b"), Value(-2.0, "c")
    d = 2 * b
    d.label = "d"
    e = a + d
    e.label = "e"
    L = c * e
    L.label = "L"
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "L": L}


def test_textbook_values_and_gradients() -> None:
    n = textbook()
    n["L"].backward()
    assert [n[k].data for k in "abcdeL"] == [3.0, 1.0, -2.0, 2.0, 5.0, -10.0]
    # upstream x local = downstream, by hand: dL/de = c, dL/dc = e, dL/da = dL/de * 1, dL/db = dL/dd * 2
    assert n["L"].grad == 1.0
    assert n["e"].grad == -2.0 and n["c"].grad == 5.0
    assert n["a"].grad == -2.0 and n["d"].grad == -2.0
    assert n["b"].grad == -4.0


def test_interior_nodes_of_a_shared_subexpression_sum_their_contributions() -> None:
    x = Value(3.0)
    y = x * x  # x feeds * twice
    z = y + y  # y feeds + twice
    z.backward()
    assert y.grad == 2.0
    assert x.grad == 2 * 2 * 3.0  # dz/dx = 4x


def test_second_backward_adds_exactly_one_more_copy() -> None:
    """micrograd compounds interior gradients on a second call (karpathy/micrograd#53); we must not."""
    n = textbook()
    L = n["L"]
    L.backward()
    first = {k: v.grad for k, v in n.items()}
    L.backward()
    assert {k: v.grad for k, v in n.items()} == {k: 2 * g for k, g in first.items()}
    L.backward()
    assert {k: v.grad for k, v in n.items()} == {k: 3 * g for k, g in first.items()}


def test_backward_with_a_seed_gradient() -> None:
    x = Value(2.0)
    (x * x).backward(0.5)
    assert x.grad == 2.0


def test_zero_grad_clears_every_node() -> None:
    n = textbook()
    n["L"].backward()
    zero_grad(n["L"])
    assert all(v.grad == 0.0 for v in n.values())
    n["L"].backward()
    n["L"].zero_grad()
    assert all(v.grad == 0.0 for v in n.values())


def test_topological_order_puts_inputs_first_and_is_deterministic() -> None:
    n = textbook()
    order = topological_order(n["L"])
    position = {id(v): i for i, v in enumerate(order)}
    for v in order:
        for u in v.inputs:
            assert position[id(u)] < position[id(v)]
    assert order[-1] is n["L"]
    assert len(order) == 7  # a, b, c, the constant 2, d, e, L
    assert [v.label for v in order] == [v.label for v in topological_order(n["L"])]
    assert {v.label for v in leaves(n["L"])} == {"a", "b", "c", ""}


def test_deep_chain_of_a_million_nodes_at_the_default_recursion_limit() -> None:
    assert sys.getrecursionlimit() == 1000  # Python's default: backward must not recurse
    x0 = Value(0.5)
    step = Value(1e-6)
    x = x0
    for _ in range(1_000_000):
        x = x + step
    x.backward()
    assert x0.grad == 1.0
    assert step.grad == 1_000_000.0
    assert x.data == pytest.approx(1.5)


def test_python_sum_of_100000_values() -> None:
    xs = [Value(float(i)) for i in range(100_000)]
    total = sum(xs)
    assert isinstance(total, Value)
    total.backward()
    assert total.data == sum(range(100_000))
    assert all(x.grad == 1.0 for x in xs)


def test_dropped_graph_is_freed_by_reference_counting_alone() -> None:
    gc.collect()

    def count_values() -> int:
        return sum(1 for o in gc.get_objects() if type(o) is Value)

    before = count_values()
    gc.disable()
    try:
        x = Value(0.3)
        w = Value(0.9)
        y = x
        for _ in range(2500):  # 4 nodes per step: 10,000 nodes
            y = (y * w + 0.1).tanh()
        y.backward()
        gradients(y, [x, w])
        gradients(y, [x], create_graph=True)
        assert len(topological_order(y)) >= 10_000
        del x, w, y
        assert count_values() == before  # freed at once by reference counts
        assert gc.collect() == 0  # and the cycle collector finds nothing to free
    finally:
        gc.enable()


def test_values_hash_by_identity() -> None:
    a, b = Value(1.0), Value(1.0)
    assert len({a, b}) == 2
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b"
    assert a != b and a == a


def test_comparisons_act_on_data_and_return_bool() -> None:
    a, b = Value(1.0), Value(2.0)
    for result in (a < b, a <= b, b > a, b >= a, a < 1.5, a >= 1, 0.5 < a, 3 > b):  # noqa: SIM300
        assert result is True
    assert (a > b) is False
    assert b.item() == 2.0 and b.data == 2.0
    with pytest.raises(TypeError, match=r"float\(Value\) is refused: math.exp\(v\).*v.item\(\) or v.data"):
        float(b)


def test_repr_is_short_and_shows_what_is_set() -> None:
    n = textbook()
    n["L"].backward()
    assert repr(n["L"]) == "Value(data=-10.0, grad=1.0, op='*', label='L')"
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)"


def test_fields() -> None:
    a, b = Value(2, "a"), Value(3.0)
    c = a * b
    assert type(a.data) is float and a.label == "a" and a.op == "" and a.inputs == ()
    assert c.op == "*" and c.inputs == (a, b) and c.arg is None and not c.is_leaf() and a.is_leaf()
    sq = a**2
    assert sq.op == "**" and sq.inputs == (a,) and sq.arg == 2.0
    c.label = "c"
    assert c.label == "c"
    with pytest.raises(AttributeError):
        a.something = 1  # type: ignore[attr-defined]


def test_a_failed_backward_leaves_the_graph_usable() -> None:
    x = Value(4.0)
    shared = x * 3.0
    bad = (shared - 12.0).sqrt()  # sqrt(0): its derivative is infinite
    total = bad + shared * 2.0  # shared is reached, and would get a gradient, before sqrt fails
    with pytest.raises(ValueError, match="sqrt"):
        total.backward()
    assert [v.grad for v in topological_order(total)] == [0.0] * len(topological_order(total))
    good = shared * shared
    good.backward()
    assert x.grad == 2 * 12.0 * 3.0  # d/dx (3x)^2 = 18x
    assert gradients(good, [x]) == [72.0]


def test_backward_from_several_threads_at_once() -> None:
    import threading

    w = Value(0.5)
    results: list[float] = []

    def work() -> None:
        for _ in range(20):
            y = w
            for _ in range(500):
                y = (y * w + 0.1).tanh()
            results.append(gradients(y, [w])[0])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 80 and len(set(results)) == 1


def test_a_gradient_that_overflows_inside_the_graph_names_that_node() -> None:
    x = Value(1.0, "x")
    u = x * 1e-300
    u.label = "u"
    out = (u * 1e200) * 1e200  # finite forward: 1e100; the gradient reaching u is 1e400
    with pytest.raises(OverflowError, match=r"the gradient reaching the node 'u' .* is inf"):
        out.backward()
    assert x.grad == u.grad == out.grad == 0.0
