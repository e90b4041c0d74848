"""The vectorised `.batch` (method="numpy") against the row path (method="rows"): the same output and
the same gradients, bit for bit, or the same error with nothing written; rows the vectorised replay
cannot vouch for (guards, non-finite values, Values and odd arguments) are run by the row path."""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
from catalog import CATALOG, NONZERO, POSITIVE, WIDE, OpCase
from dags import nodes_of, recipes
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd
import nn
from autograd import CompileBranchError, Value, no_grad
from autograd.compiler import Compiled, runtime, vector

pytest.importorskip("numpy", reason="numpy not installed: `pip install '.[fast]'`")

Outcome = tuple[Any, ...]


def _bits(x: float) -> bytes:
    return struct.pack(">d", x)


def outcome(c: Compiled, rows: list[tuple[Any, ...]], method: str, watched: list[Value], start: float) -> Outcome:
    """What `c.batch(rows, method=...)` does from .grad == start: (total, grads) as bits, or the error."""
    for v in watched:
        v.grad = start
    try:
        total = c.batch(rows, method=method)
    except Exception as error:  # noqa: BLE001 - the error itself is compared
        return ("raised", type(error), str(error), [_bits(v.grad) for v in watched])
    return ("returned", _bits(total), [_bits(v.grad) for v in watched])


@pytest.fixture
def row_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many rows the row path ran (inside a vectorised batch: the marked ones)."""
    calls: list[int] = []
    run = Compiled._run

    def counting(self: Compiled, args: Any, xs: list[float]) -> Any:
        calls.append(1)
        return run(self, args, xs)

    monkeypatch.setattr(Compiled, "_run", counting)
    yield calls


def both(c: Compiled, rows: list[tuple[Any, ...]], watched: list[Value], start: float = 0.25) -> Outcome:
    """The row path's outcome, asserting the vectorised one is the same."""
    want = outcome(c, rows, "rows", watched, start)
    got = outcome(c, rows, "numpy", watched, start)
    assert got == want
    return want


# ---- every built-in op, and random graphs over all of them ----------------------------------------
def _catalog_f(case: OpCase, w: Value) -> Callable[..., Value]:
    def f(x: Value, y: Value) -> Value:
        return case.fn(*[x * w, y][: case.arity]) * w  # w: a parameter on both sides of the op

    return f


def _sample(domain: Any, draw: random.Random) -> float:
    """A point of one of the catalog's domains."""
    if domain is POSITIVE:
        return draw.uniform(0.05, 8.0)
    if domain is NONZERO:
        return draw.choice([-1.0, 1.0]) * draw.uniform(0.05, 4.0)
    return draw.uniform(-30.0, 30.0) if domain is WIDE else draw.uniform(-4.0, 4.0)


@pytest.mark.parametrize("case", CATALOG, ids=lambda c: c.name)
def test_every_catalog_op_batches_to_the_row_paths_bits(case: OpCase, row_calls: list[int]) -> None:
    w = Value(0.75, "w")
    draw = random.Random(case.name)
    domains = [*case.domain, case.domain[0]][:2]
    rows = [(_sample(domains[0], draw) / 0.75, _sample(domains[1], draw)) for _ in range(80)]
    c = autograd.compile(_catalog_f(case, w), *rows[0])
    result = both(c, rows, [w])
    calls = len(row_calls)
    assert result[0] == "returned" and calls == len(rows)  # the row path ran them; the vectorised did not
    assert w.grad != 0.25 and math.isfinite(w.grad)


FLOATS = st.floats(-3.0, 3.0) | st.sampled_from([0.0, -0.0, 1e-300, -1.0, 2.0])


@settings(max_examples=40)
@given(recipes(max_steps=25), st.lists(st.tuples(FLOATS, FLOATS, FLOATS), min_size=1, max_size=12))
def test_random_graphs_batch_to_the_row_paths_bits(recipe: list[tuple[str, int, int]], rows: list[Any]) -> None:
    w = Value(0.5, "w")

    def f(a: Value, b: Value, c: Value) -> Value:
        nodes = nodes_of(recipe, [a * w, b, c])
        return nodes[-1] + nodes[len(nodes) // 2] * w

    c = autograd.compile(f, *rows[0])
    calls: list[int] = []
    run = Compiled._run

    def counting(self: Compiled, args: Any, xs: list[float]) -> Any:
        calls.append(1)
        return run(self, args, xs)

    want = outcome(c, rows, "rows", [w], -0.5)
    with mock.patch.object(Compiled, "_run", counting):
        assert outcome(c, rows, "numpy", [w], -0.5) == want
    assert want[0] == "raised" or not calls  # bounded graphs on these rows: every row vectorised


def test_a_batch_big_enough_for_auto_is_vectorised_and_exact(row_calls: list[int]) -> None:
    model = nn.MLP(2, [6, 6, 1], activation="tanh", seed=4)
    draw = random.Random(4)
    rows = [(draw.uniform(-2, 2), draw.uniform(-2, 2), draw.choice([-1.0, 1.0])) for _ in range(vector.THRESHOLD)]
    c = autograd.compile(lambda x0, x1, y: (1.0 - y * model([x0, x1])[0]).relu(), *rows[0])
    params = model.parameters()
    want = outcome(c, rows, "rows", params, 0.0)
    row_calls.clear()
    assert outcome(c, rows, "auto", params, 0.0) == want and not row_calls  # auto took numpy
    assert outcome(c, rows[1:], "auto", params, 0.0)[0] == "returned" and len(row_calls) == len(rows) - 1


# ---- kinks, guards, errors ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("f", "slope"),
    [
        (lambda x, w: (x * w).relu(), 0.0),
        (lambda x, w: abs(x * w), 0.0),
        (lambda x, w: (x * w).abs(), 0.0),
        (lambda x, w: (x * w).leaky_relu(0.1), 0.1),
        (lambda x, w: (x * w).elu(1.5), 1.5),
    ],
    ids=["relu", "abs()", "abs", "leaky_relu", "elu"],
)
def test_kinks_take_the_float_paths_side_at_exactly_zero(f: Callable[..., Value], slope: float) -> None:
    w = Value(2.0, "w")
    c = autograd.compile(lambda x: f(x, w), 1.0)
    both(c, [(0.0,), (-0.0,), (1.0,), (-1.0,), (0.0,)], [w])
    shifted = autograd.compile(lambda x: f(x - w, Value(1.0)), 1.0)  # the op's input is x - w: 0 at x = 2
    both(shifted, [(2.0,), (2.0,), (3.0,)], [w])
    w.grad = 0.0
    shifted.batch([(2.0,), (2.0,)], method="numpy")
    assert w.grad == -2 * slope  # d/dw = -(the slope at the kink), twice: the op's own convention


def test_a_row_taking_another_branch_raises_the_row_paths_error(row_calls: list[int]) -> None:
    w = Value(0.5, "w")
    c = autograd.compile(lambda x: (x * w).tanh() if x.data > 0 else x * w, 1.0)
    rows = [(1.0,), (2.0,), (-1.0,), (3.0,)]
    result = both(c, rows, [w])
    assert result[0] == "raised" and result[1] is CompileBranchError
    assert w.grad == 0.25  # nothing written
    row_calls.clear()
    c.batch([(1.0,), (2.0,)], method="numpy")
    assert not row_calls
    ratio = autograd.compile(lambda x, y: x * w if x.data / y.data > 1.0 else y * w, 2.0, 1.0)
    assert both(ratio, [(2.0, 1.0), (1.0, 0.0)], [w])[1] is ZeroDivisionError  # in the guard itself


def test_non_finite_rows_raise_or_fall_back_as_the_row_path_does(row_calls: list[int]) -> None:
    w = Value(0.5, "w")
    c = autograd.compile(lambda x: (x * w).log(), 1.0)
    assert both(c, [(1.0,), (0.0,), (2.0,)], [w])[1] is ValueError  # log's own error, for row 1
    e = autograd.compile(lambda x: (x * w).exp(), 1.0)
    assert both(e, [(1.0,), (2000.0,)], [w])[1] is OverflowError
    # A false alarm: two huge but finite gradients overflow the sum that checks them; eager succeeds.
    big = autograd.compile(lambda x, y: x * 1e308 + y * 1e308, 1.0, -1.0)
    row_calls.clear()
    assert both(big, [(1.0, -1.0), (0.5, -0.5)], [])[0] == "returned"
    assert len(row_calls) == 2 + 2  # both rows ran through the row path in each method


def test_a_gradient_overflowing_in_one_row_writes_nothing() -> None:
    w = Value(1.0, "w")

    def f(x: Value) -> Value:
        y = x * w
        for _ in range(7):
            y = y.sqrt()
        return y

    c = autograd.compile(f, 0.3)
    result = both(c, [(0.3,), (5e-324,), (0.7,)], [w])
    assert result[1] is OverflowError and w.grad == 0.25


def test_gradients_that_overflow_only_when_summed_over_rows_write_nothing() -> None:
    w = Value(1.0, "w")
    c = autograd.compile(lambda x: x * w, 1.0)
    result = both(c, [(1e308,), (1e308,)], [w], start=0.0)
    assert result[1] is OverflowError and "no gradient was written" in result[2] and w.grad == 0.0


def test_bad_arguments_raise_in_row_order() -> None:
    w = Value(0.5, "w")
    c = autograd.compile(lambda x: x * w if x.data > 0 else -x, 1.0)
    for rows in (
        [(1.0,), ("2",)],  # TypeError
        [(1.0,), (math.inf,)],  # ValueError
        [(1.0,), (10**400,)],  # OverflowError
        [("a",), (-1.0,)],  # the first row's error
        [(1.0,), (-1.0,), ("a",)],  # a changed branch before a bad argument
        [(1.0,), (math.nan,), (-1.0,)],
    ):
        assert both(c, rows, [w])[0] == "raised"
        assert w.grad == 0.25


def test_rows_with_values_ints_and_numpy_numbers_add_in_row_order(row_calls: list[int]) -> None:
    import numpy as np

    w = Value(0.3, "w")
    c = autograd.compile(lambda x, y: (x * w).sin() * y + x, 1.0, 1.0)
    x, shared = Value(1.5), Value(-0.5)
    rows = [(0.1, 2.0), (x, 1.0), (3, -2), (0.7, np.float64(0.5)), (shared, shared), (2**60, 1.0), (0.2, 0.3)]
    result = both(c, rows, [w, x, shared])
    assert result[0] == "returned" and x.grad != 0.25 and shared.grad != 0.25
    row_calls.clear()
    c.batch(rows, method="numpy")
    assert len(row_calls) == 3  # the Values and the numpy number; ints convert exactly


def test_inside_no_grad_the_total_is_returned_and_nothing_written() -> None:
    w = Value(0.5, "w")
    c = autograd.compile(lambda x: (x * w).tanh(), 1.0)
    rows = [(0.5,), (1.5,), (-2.0,)]
    want = c.batch(rows, method="rows")
    w.grad = 0.0
    with no_grad():
        assert _bits(c.batch(rows, method="numpy")) == _bits(want)
        assert both(c, [(1.0,), (0.0,)], [w])[0] == "returned"
    assert w.grad == 0.25  # `both` set it; no_grad wrote nothing over it


def test_a_function_reading_a_prebuilt_node_runs_row_by_row(row_calls: list[int]) -> None:
    p = Value(0.7, "p")
    q = p * 1.1
    c = autograd.compile(lambda x: x * q + x, 1.0)
    both(c, [(1.0,), (2.0,)], [p])
    assert len(row_calls) == 4 and p.grad != 0.25


def test_functions_without_arguments_and_constant_outputs() -> None:
    w = Value(0.5, "w")
    both(autograd.compile(lambda: w * 3.0), [(), (), ()], [w])
    both(autograd.compile(lambda x: w * 2.0 + 1.0, 1.0), [(1.0,), (2.0,)], [w])
    both(autograd.compile(lambda x: x, 1.0), [(1.0,), (2.0,)], [w])
    u = Value(0.5, "u")
    fails = autograd.compile(lambda x: u.log() * w + x, 1.0)
    u.data = 0.0  # from now on log fails in every row
    assert both(fails, [(1.0,), (2.0,)], [w, u])[1] is ValueError
    assert autograd.compile(lambda x: x * w, 1.0).batch([], method="numpy") == 0.0
    both(autograd.compile(lambda: w * w), [(), ()], [w])


def test_detached_values_no_grad_parts_and_wide_sums(row_calls: list[int]) -> None:
    ws = [Value(0.1 * i - 2.0, f"w{i}") for i in range(40)]

    def f(x: Value, y: Value) -> Value:
        with no_grad():
            scale = (x * y).tanh()  # recomputed every row, no gradient through it
        wide = sum(((x * w) + y).relu() for w in ws)  # forty kinks: forty values checked on their own
        return wide * scale + (x * ws[0]).detach() * ws[1]

    c = autograd.compile(f, 1.0, 0.5)
    draw = random.Random(3)
    rows = [(draw.uniform(-2, 2), draw.uniform(-2, 2)) for _ in range(25)]
    assert both(c, rows, ws)[0] == "returned"
    assert len(row_calls) == len(rows)  # the row path's; the vectorised batch ran none


# ---- user ops ------------------------------------------------------------------------------------
def _user_ops() -> Callable[..., Value]:
    cube = autograd.defop("batch_cube", lambda x: x**3, lambda x, out, m: 3.0 * x * x)
    hypot = autograd.defop("batch_hypot", math.hypot, lambda x, y, out, m: (x / out, y / out))
    scaled = autograd.defop(
        "batch_scaled_tanh", lambda x, *, k: math.tanh(k * x), lambda x, out, m, *, k: k * (1.0 - out * out)
    )
    kinked = autograd.defop(
        "batch_kinked", lambda x: max(x, 0.0) ** 2, lambda x, out, m: m.where(x > 0.0, 2.0 * x, 0.0)
    )
    root = autograd.defop("batch_root", lambda x: x**0.5, lambda x, out, m: 0.5 / out, domain={"x": (0.1, 4.0)})
    counted = autograd.defop("batch_int", lambda x: int(x) if x > 100.0 else x * 2.0, lambda x, out, m: 2.0)

    def f(x: Value, y: Value) -> Value:
        return cube(x) + hypot(x, y) * scaled(y, k=1.5) + kinked(x - y) + root(x * x) + counted(y)

    return f


def test_user_ops_batch_to_the_row_paths_bits(row_calls: list[int]) -> None:
    f = _user_ops()
    c = autograd.compile(f, 0.3, -1.2)
    draw = random.Random(7)
    rows = [(draw.uniform(0.1, 2), draw.uniform(-2, 2)) for _ in range(30)] + [(1.0, 200.0), (-1.0, -1.0)]
    assert both(c, rows, [])[0] == "returned"
    row_calls.clear()
    c.batch(rows, method="numpy")
    assert len(row_calls) == 1  # (1, 200): the forward returns an int there, which the row path makes a float
    assert both(c, [(1.0, 0.5), (0.0, 1.0)], [])[1] is autograd.DerivativeError  # root's 0.5 / out at x = 0


def test_a_user_forward_that_raises_or_returns_a_non_number_gives_the_row_paths_error() -> None:
    picky = autograd.defop("batch_picky", lambda x: math.sqrt(x) if x < 5.0 else "big", lambda x, out, m: 0.5 / out)
    w = Value(1.0, "w")
    c = autograd.compile(lambda x: picky(x * w), 1.0)
    assert both(c, [(1.0,), (4.0,)], [w])[0] == "returned"
    assert both(c, [(1.0,), (-4.0,)], [w])[1] is ValueError
    assert both(c, [(1.0,), (6.0,)], [w])[1] is TypeError


# ---- choosing the path ---------------------------------------------------------------------------
def test_method_must_be_one_of_the_three() -> None:
    c = autograd.compile(lambda x: x * 2.0, 1.0)
    for bad in ("fast", "Numpy", None, 1):
        with pytest.raises(ValueError, match=r"method must be 'auto', 'rows' or 'numpy', got"):
            c.batch([(1.0,)], method=bad)  # type: ignore[arg-type]


def test_without_numpy_auto_runs_row_by_row_and_numpy_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    w = Value(0.5, "w")
    c = autograd.compile(lambda x: (x * w).tanh(), 1.0)
    rows = [(float(i) / 10,) for i in range(vector.THRESHOLD + 5)]
    want = outcome(c, rows, "numpy", [w], 0.0)
    monkeypatch.setattr(vector, "HAVE_NUMPY", False)
    fresh = autograd.compile(lambda x: (x * w).tanh(), 1.0)
    assert outcome(fresh, rows, "auto", [w], 0.0) == want
    assert fresh._vector is None  # never vectorised
    with pytest.raises(ImportError, match=r"method='numpy' needs numpy.*chainrule\[fast\]"):
        fresh.batch(rows, method="numpy")


def test_a_rule_text_that_cannot_be_translated_runs_every_batch_row_by_row(
    monkeypatch: pytest.MonkeyPatch, row_calls: list[int]
) -> None:
    def refuse(text: str) -> str:
        raise vector.Unvectorisable("as if a rule held something numpy cannot do")

    monkeypatch.setattr(vector, "translate", refuse)
    w = Value(0.5, "w")
    c = autograd.compile(lambda x: (x * w).tanh(), 1.0)
    both(c, [(1.0,), (2.0,)], [w])
    assert len(row_calls) == 4 and c._vector is not None and not c._vector.ok
    assert "numpy cannot do" in c._vector.why


@pytest.mark.parametrize(
    "text",
    ["x @ y", "x.real", "x < y < z", "f(x)", "(lambda: 1)()", "x and y", "'a'", "~x", "x << 1", "g(x)(y)", "x +"],
)
def test_translate_refuses_what_it_does_not_know(text: str) -> None:
    with pytest.raises(vector.Unvectorisable):
        vector.translate(text)


def test_translate_keeps_exact_arithmetic_and_calls_the_rest_row_by_row() -> None:
    assert vector.translate("(x * y) + (-z)") == "x * y + -z"
    assert vector.translate("(a if x > 0.0 else b)") == "_where(x > 0.0, a, b)"
    assert vector.translate("x / y") == "_div(_bad, x, y)"
    assert vector.translate("x ** 3") == "_each(_bad, _pow, x, 3)"
    assert vector.translate("_m_exp(x) + _m_sqrt(y) + _m_abs(z)") == "_each(_bad, _m_exp, x) + _sqrt(y) + abs(z)"
    assert vector.translate("_F0(x, k=1.5)") == "_each(_bad, _F0, x)"
    with pytest.raises(vector.Unvectorisable):
        vector.translate("_m_exp(x, k=1.5)")


def test_runtime_module_keeps_one_write_for_both_paths() -> None:
    w = Value(0.0, "w")
    runtime._write([(w, 1.5)], "here")
    assert w.grad == 1.5
    with pytest.raises(OverflowError, match="here: the gradients summed over the rows are not finite"):
        runtime._write([(w, math.inf)], "here")
    assert w.grad == 1.5
