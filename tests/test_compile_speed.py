"""The code a large replay gets (summed gradients, chunked functions) against eager, bit for bit."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from unittest import mock

import pytest
import test_compile
import test_fuzz
from dags import Recipe
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd
from autograd import Value
from autograd.compiler import chunks, codegen

_same_bits = test_compile._same_bits  # output and every gradient, eager's bits


def test_a_sum_waiting_past_a_rolled_loop_reads_the_values_of_its_own_terms() -> None:
    """A parameter outside a rolled run takes a term reading the run's last value; the backward loop
    reuses that value's name for earlier repeats, so the term is summed before the loop runs."""
    w, b, p = Value(0.7, "w"), Value(-0.1, "b"), Value(1.3, "p")

    def f(x: Value) -> Value:
        for _ in range(400):
            x = (x * w + b).tanh()
        return (x * w + b).tanh() * p + x * p

    c = autograd.compile(f, Value(0.3))
    assert "for " in c.source  # rolled, and above the size where gradient sums wait
    for x in (0.3, -1.7):
        _same_bits(c, f, [x], [w, b, p])


def _wide(n: int, ks: list[float], w: Value, bias: Value) -> Callable[[Value], Value]:
    """n uses of w and of x, each the start of its own small expression: many terms per gradient."""

    def f(x: Value) -> Value:
        total = x * 0.0
        for i in range(n):
            total = total + ((w * ks[i % len(ks)] + x) * bias).relu()
        return total

    return f


@pytest.mark.parametrize("rolls", [False, True])
def test_gradients_of_many_terms_keep_eagers_bits_including_signed_zeros(rolls: bool) -> None:
    """Sums of hundreds of terms (several lines each), with zero terms of both signs first and among
    them (eager's first addition is 0.0 + term), and relu kinks, in a replay large enough to sum them;
    straight-line, and with the repeats rolled into loops."""
    w, bias = Value(-0.0, "w"), Value(0.75, "bias")
    if rolls:
        ks = [-0.0, 0.0, -1.5, 2.25, -0.0, 1e-300]
    else:
        ks = [-0.0 if i % 5 == 0 else 0.0 if i % 7 == 0 else math.sin(i) for i in range(300)]
    f = _wide(300, ks, w, bias)
    c = autograd.compile(f, -0.0)
    assert ("for " in c.source) is rolls
    assert c.source.count("\n") < 2000  # a line per node and per sum, not per term
    for x in (-0.0, 0.0, 0.5, -2.0, 1e150):
        for wv in (-0.0, 0.0, 1.25):
            w.data = wv
            _same_bits(c, f, [x], [w, bias])


# ---- the code of a large replay on small graphs: every gradient summed late, chunks of a few lines -----
@settings(max_examples=100, deadline=None)
@given(
    test_fuzz.recipes(max_steps=40),
    st.lists(test_fuzz.leaf_values, min_size=test_fuzz.N_LEAVES, max_size=test_fuzz.N_LEAVES),
    st.lists(test_fuzz.leaf_values, min_size=test_fuzz.N_LEAVES, max_size=test_fuzz.N_LEAVES),
    st.sampled_from([1, 3, 7]),
)
def test_chunked_replays_of_random_dags_equal_eager_or_raise_its_error(
    recipe: Recipe, traced: list[float], xs: list[float], chunk_lines: int
) -> None:
    """Random DAGs of every op, with the code a large replay gets (sums written late, gradients of
    unary nodes written into their one use) split into chunks of a few lines: eager's bits or its error."""
    with (
        mock.patch.object(codegen, "BORROW_ABOVE", -1),
        mock.patch.multiple(chunks, CHUNK_LINES=chunk_lines, CHUNK_ABOVE=0),
    ):
        inner = test_fuzz.test_compiled_replay_of_random_dags_equals_eager_or_raises_its_error.hypothesis.inner_test
        inner(recipe, traced, xs)


@settings(max_examples=40, deadline=None)
@given(test_compile._step_recipes(), st.lists(st.floats(-1.5, 1.5), min_size=2, max_size=2), st.sampled_from([2, 9]))
def test_chunked_replays_of_periodic_graphs_equal_eager(
    step: tuple[Recipe, int], xs: list[float], chunk_lines: int
) -> None:
    """The same for loop bodies repeated (rolled into loops or not), whose loops sit inside chunks."""
    with (
        mock.patch.object(codegen, "BORROW_ABOVE", -1),
        mock.patch.multiple(chunks, CHUNK_LINES=chunk_lines, CHUNK_ABOVE=0),
    ):
        test_compile.test_random_periodic_graphs_match_eager_bitwise.hypothesis.inner_test(step, xs)


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(range(len(test_fuzz.BRANCHES))),
    st.lists(st.floats(-2.0, 2.0), min_size=2, max_size=2),
    st.lists(st.floats(-2.0, 2.0), min_size=2, max_size=2),
    st.booleans(),
)
def test_chunked_replays_keep_their_guards(which: int, traced: list[float], xs: list[float], with_numpy: bool) -> None:
    """A guard in one chunk stops the replay as it stops one function: a changed branch raises."""
    with (
        mock.patch.object(codegen, "BORROW_ABOVE", -1),
        mock.patch.multiple(chunks, CHUNK_LINES=2, CHUNK_ABOVE=0),
    ):
        inner = test_fuzz.test_compiled_branches_on_data_replay_exactly_or_raise_a_branch_error.hypothesis.inner_test
        inner(which, traced, xs, with_numpy)


def test_a_chunked_replay_passes_on_exactly_what_later_chunks_read() -> None:
    """Chunks take the names they read from earlier ones and return those later ones read; the
    source compiles as a whole and function by function, to the same results."""
    w, b = Value(0.7, "w"), Value(-0.1, "b")

    def f(x: Value) -> Value:  # a constant of its own in each step: nothing rolls
        for i in range(60):
            x = (x * w + b * math.cos(i)).tanh()
        return x

    with mock.patch.multiple(chunks, CHUNK_LINES=25, CHUNK_ABOVE=0):
        c = autograd.compile(f, 0.3)
    assert c.source.count("def _chunk") > 4 and "= _chunk0(" in c.source
    _same_bits(c, f, [0.3], [w, b])
    env = dict(c._core.__globals__)  # the same globals, loaded again from the source
    chunks.load(c.source, env, "<again>")
    whole: dict[str, object] = dict(c._core.__globals__)
    exec(compile(c.source, "<whole>", "exec"), whole)  # noqa: S102
    assert env["replay"](0.3) == whole["replay"](0.3) == c._core(0.3)  # type: ignore[operator]
    lines = c.source.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("def _chunk1(")) + 1
    assert env["_chunk1"].__code__.co_firstlineno == first  # type: ignore[attr-defined]  # tracebacks match `source`


def _left_spine(statement: ast.stmt) -> int:
    """How many operations deep the first operand of an assignment's value is."""
    node, depth = getattr(statement, "value", None), 0
    while isinstance(node, ast.BinOp):
        node, depth = node.left, depth + 1
    return depth


def test_a_long_chain_of_unary_ops_nests_its_gradients_a_bounded_depth() -> None:
    """Each unary node's lone term goes into its own step's text, up to a nesting the bytecode compiler
    takes; then the gradient gets a variable and the nesting starts again. Eager's bits throughout."""
    w = Value(0.9, "w")
    names = ["tanh", "sin", "cos", "exp", "sigmoid"]
    steps = [names[int(abs(math.sin(i)) * 1000) % len(names)] for i in range(300)]  # not periodic: nothing rolls

    def f(x: Value) -> Value:
        y = x * w
        for name in steps:
            y = getattr(y, name)() if name != "exp" else (y * 0.1).exp()
        return y

    with mock.patch.object(codegen, "BORROW_ABOVE", -1):
        c = autograd.compile(f, 0.4)
    assert "for " not in c.source
    backward = c.source.split("# ---- backward")[1]
    # Gradients written into one another: `g * l1 * l2 * ...`, Python's `((g * l1) * l2) * ...`, its
    # parentheses left out (`forms.minimal`); the parse tree's left spine is the nesting.
    grads = [line.strip() for line in backward.splitlines() if line.split(" = ")[0].endswith("_g")]
    spines = [_left_spine(ast.parse(line).body[0]) for line in grads]
    assert 4 < max(spines) <= 21
    for x in (0.4, -1.3):
        _same_bits(c, f, [x], [w])


# ---- a backward loop's one-use gradient variables are written into their use, and only they -------
def test_tighten_writes_a_one_use_variable_into_its_use_and_propagates_a_copy() -> None:
    from autograd.compiler.codegen import _tighten

    body = ["a_g = _C1_0", "b_g = a_g * w", "w_g += a_g * x", "c_g = b_g * (1.0 - x * x)", "_C1_0 = c_g", "k_g += c_g"]
    assert _tighten(body, {"a_g", "b_g", "c_g"}) == [
        "w_g += _C1_0 * x",
        "c_g = (_C1_0 * w) * (1.0 - x * x)",
        "_C1_0 = c_g",
        "k_g += c_g",
    ]


@pytest.mark.parametrize(
    "body",
    [
        ["q_g = a_g * w", "a_g = b * c", "r_g = a_g * q_g"],  # a_g read before it is assigned: last repeat's
        ["a_g = b * w", "w = 2.0", "c_g = a_g * d"],  # what a_g reads changes before its use
        ["a_g = b * w", "c_g = a_g * d", "e_g = a_g * f"],  # two uses of an expression
        ["a_g = b * w", "a_g += d", "c_g = a_g * d"],  # added to again
        ["a_g = b * w", "c_g = a_g * a_g"],  # two mentions in its use
        ["a_g = a_g * w", "c_g = a_g * d"],  # reads its own value from the repeat before
    ],
)
def test_tighten_leaves_a_variable_it_cannot_move_safely(body: list[str]) -> None:
    from autograd.compiler.codegen import _tighten

    assert _tighten(body, {"a_g"}) == body


def test_tighten_only_touches_the_loops_own_variables() -> None:
    from autograd.compiler.codegen import _tighten

    body = ["p_g = b * w", "c_g = p_g * d"]
    assert _tighten(body, {"c_g"}) == body
