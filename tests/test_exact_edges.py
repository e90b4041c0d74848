"""Exactness at the edges of the fast paths: ints no float equals (numpy would round them), parameters
that differ only in the sign of zero, forwards returning ints beyond the float range. A fast path
equals the slow path bit for bit or raises; errors name the op and the value."""

from __future__ import annotations

import struct
from itertools import count

import pytest

import autograd
from autograd import CompileBranchError, Value

pytest.importorskip("numpy", reason="the vectorised batch needs numpy")

_names = count()


def _bits(x: float) -> bytes:
    return struct.pack(">d", x)


def _outcome(c: autograd.Compiled, rows: list[tuple[float, ...]], method: str, w: Value) -> tuple[object, ...]:
    w.grad = 0.0
    try:
        total = c.batch(rows, method=method)
    except Exception as error:  # noqa: BLE001 - the error itself is compared
        return ("raised", type(error).__name__, str(error), _bits(w.grad))
    return ("returned", _bits(total), _bits(w.grad))


# ---- 1. numpy batch: an int constant no float equals, in a user op's kink ------------------------------
def test_numpy_batch_compares_with_an_int_threshold_exactly_as_floats_do() -> None:
    """Python compares a float with an int exactly; numpy rounds the int to float64 first. A user op
    whose forward branches on `x >= 2**53 + 1` is inlined as `(x if x >= 9007199254740993 else 0.0)`;
    at x = 2.0**53 the float replay (and eager) take 0.0, the vectorised replay takes x: a different
    total and different gradients, silently (method="auto" does this from 16 rows)."""
    n = 2**53 + 1
    op = autograd.defop(
        f"gate_big_{next(_names)}",
        lambda x: x if x >= n else 0.0,
        lambda x, out, m: m.where(x >= n, 1.0, 0.0),
    )
    w = Value(1.0, "w")
    c = autograd.compile(lambda x: op(x * w), 1.0)
    rows = [(float(2**53),)] * 20
    assert op(Value(float(2**53))).data == 0.0  # eager
    assert _outcome(c, rows, "numpy", w) == _outcome(c, rows, "rows", w)


# ---- 2. numpy batch: a guard against such an int passes where the row path's fails ---------------------
def test_numpy_batch_marks_a_guard_on_an_int_no_float_equals() -> None:
    """`if x.data >= 2**53 + 1` traced True; a row x = 2.0**53 takes the other branch (eager and the row
    path: CompileBranchError), but numpy's rounded comparison says the guard holds and the batch returns
    the traced branch's result and writes its gradients."""
    n = 2**53 + 1
    w = Value(0.5, "w")

    def f(x: Value) -> Value:
        return x * w if x.data >= n else x * 2.0

    c = autograd.compile(f, float(2**53 + 2))
    rows = [(float(2**53),)] * 20
    with pytest.raises(CompileBranchError):
        c.batch(rows, method="rows")
    w.grad = 0.0
    with pytest.raises(CompileBranchError):
        c.batch(rows, method="numpy")
    assert w.grad == 0.0


# ---- 3. numpy batch: a guard against an int beyond float range crashes ----------------------------------
def test_numpy_batch_with_a_guard_on_a_huge_int_does_what_the_row_path_does() -> None:
    """`if x.data < 10**400` compiles and runs row by row; the vectorised replay raises a bare
    `OverflowError: int too large to convert to float` (naming nothing) from inside numpy."""
    w = Value(0.5, "w")

    def f(x: Value) -> Value:
        return x * w if x.data < 10**400 else x * 2.0

    c = autograd.compile(f, 1.0)
    rows = [(float(i),) for i in range(1, 21)]
    want = _outcome(c, rows, "rows", w)
    assert want[0] == "returned"
    assert _outcome(c, rows, "numpy", w) == want
    assert _outcome(c, rows, "auto", w) == want  # the default, from 16 rows


# ---- 4. parameters that differ only in the sign of zero share one template ------------------------------
def test_ops_whose_parameters_differ_only_in_the_sign_of_zero_keep_their_own_parameters() -> None:
    """leaky_relu(0.0) and leaky_relu(-0.0) key the same template ((op, params) tuples compare 0.0 ==
    -0.0): the replay computes both with slope 0.0, so at x = -1 it returns -0.0 where eager returns
    0.0. (forms.Forms forward/local caches; vector._Writer.key; rolling._token has the same key.)"""

    def f(x: Value) -> Value:
        u = x.leaky_relu(0.0)
        v = x.leaky_relu(-0.0)
        return v * (u + 1.0)

    c = autograd.compile(f, -1.0)
    assert _bits(c(-1.0)) == _bits(f(Value(-1.0)).data)


# ---- 5. backward: which leaf an overflow error names changed ----------------------------------------------
def test_a_user_forward_returning_a_huge_int_gets_an_error_naming_the_op() -> None:
    """`check_result` calls float() on what a user's forward returns: an int beyond float range raises
    `OverflowError: int too large to convert to float`, naming neither the op nor the input."""
    name = f"huge_int_{next(_names)}"
    op = autograd.defop(name, lambda x: 10**400 if x > 5 else 1, lambda x, out, m: 0.0)
    with pytest.raises(OverflowError, match=name):
        op(Value(10.0))
