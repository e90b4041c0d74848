"""Tracing: run `f` once under an `Observer` and record every node, every read of a Value's number and
every decision taken on one.

Nothing here writes user state: the tracer never swaps a Value's `.data`. A read of `v.data` returns a
`Traced` number (not a float) that knows which recorded Value it came from; comparing it records a
*guard*; arithmetic on it gives another `Traced` holding the expression; anything a replay could not
follow (`float()`, `int()`, `Value(v.data)`, `math.exp(v.data)`, hashing) raises `CompileError`.
"""

from __future__ import annotations

import numbers
import operator
import sys
import threading
from collections.abc import Callable
from typing import Any

from ..backward import topological_order
from ..modes import Observer, TracedNumber, _mode, foreign_checks, observing
from ..ops import Op
from ..value import Value, _is_real, _to_float
from .errors import CompileError, _invariant

__all__ = ["ARG", "CONST", "EXT", "NODE", "Guard", "Trace", "Traced", "render", "trace"]

ARG, EXT, CONST, NODE = "arg", "ext", "const", "node"
DETACH = "detach"  # the op of a node made by `v.detach()`: a copy, gradient-free
Expr = tuple[Any, ...]  # ("k", key) | ("c", number) | ("b", symbol, left, right) | ("u", symbol, x)
Guard = tuple[int, Expr, str, Expr, bool]  # position (entries before it), left, comparison, right, outcome

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def render(expr: Expr, name: Callable[[int], str]) -> str:
    """An expression of traced numbers as Python source; `name(key)` names a recorded Value."""
    kind = expr[0]
    if kind == "k":
        return name(expr[1])
    if kind == "c":
        return literal(expr[1])
    if kind == "u":
        inner = render(expr[2], name)
        return f"abs({inner})" if expr[1] == "abs" else f"({expr[1]}{inner})"
    return f"({render(expr[2], name)} {expr[1]} {render(expr[3], name)})"


def literal(x: float) -> str:
    """A number as source text: exact (repr), parenthesised when negative; inf and nan by name."""
    if type(x) is int:
        return f"({x})" if x < 0 else repr(x)
    x = float(x)
    if x != x:
        return "_nan"
    if x in (float("inf"), float("-inf")):
        return "_inf" if x > 0 else "(-_inf)"
    text = repr(x)
    return f"({text})" if text.startswith("-") else text


class Trace:
    """What one call of f did: every Value it met (by key, in order), the ops it ran, its guards."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.active = True
        self.values: list[Value | None] = []
        self.kinds: list[str] = []
        self.data: list[float] = []  # each Value's number, read once f is done (`settle_outsiders`)
        self.key: dict[Value, int] = {}
        self.ops: dict[int, tuple[Op | str, int, int | None, dict[str, float] | None, bool]] = {}
        self.guards: list[Guard] = []

    def add(self, v: Value, kind: str) -> int:
        k = self.key[v] = len(self.values)
        self.values.append(v)
        self.kinds.append(kind)
        return k

    def known(self, v: Value) -> int:
        """The key of `v`; a Value not seen yet was made outside f's ops: read by reference (or, if
        nothing outside the trace holds it once f is done, a constant; see `_settle_outsiders`)."""
        k = self.key.get(v)
        if k is not None:
            return k
        if v._a is not None:  # a node built outside the trace: from none of f's Values, or unseen work
            for x in topological_order(v):
                kx = self.key.get(x)
                if kx is not None and self.kinds[kx] != EXT:
                    raise CompileError(
                        "compile: f uses a node built from f's Values in another thread (or context); "
                        "the tracer sees only f's own thread. Build it in f's thread"
                    )
        return self.add(v, EXT)

    def live(self) -> bool:
        """Whether a decision on this trace's numbers is recorded now: during the trace, in its thread,
        outside trace_invariant. Used from another thread during the trace, a number refuses."""
        if not self.active:
            return False
        if threading.get_ident() != self.thread:
            raise CompileError(
                "compile: a number read from a Value's .data while f is traced was used in another thread; "
                "the tracer sees only f's own thread. Do that work in f's thread (ops built in other "
                "threads are not recorded either)"
            )
        return not _invariant.get()

    def expr(self, x: object) -> Expr | None:
        """The expression of a compared or combined operand; None if it is not a number."""
        if isinstance(x, Traced):
            return x._expr if x._trace is self else ("c", x._x)
        if isinstance(x, Value):
            return ("k", self.known(x))
        if type(x) is float or type(x) is int:
            return ("c", x)
        if type(x) is bool:  # True > 0.5 compares 1 with 0.5
            return ("c", int(x))
        if isinstance(x, numbers.Real):
            return ("c", float(x))
        return None

    def guard(self, left: Expr, op: str, right: Expr | None, outcome: bool) -> None:
        if right is None or (left[0] == "c" and right[0] == "c"):
            return  # not a decision on traced data
        self.guards.append((len(self.values), left, op, right, bool(outcome)))


def _show(x: object) -> str:
    return f"a number read from .data ({x._x!r})" if isinstance(x, Traced) else repr(x)


def _refuse(what: str) -> CompileError:
    return CompileError(
        f"compile: f {what}; a compiled replay cannot follow it. Use Value arithmetic (ops on the Values "
        "themselves), `v.detach()` for a gradient-free copy, an op under autograd.no_grad(), or "
        "autograd.trace_invariant() around code whose result that number cannot change"
    )


_MAX_DEPTH = 100  # arithmetic steps in one expression over .data reads (guards are written as one line)


class Traced(TracedNumber):
    """`v.data` while f is traced: the number, and the expression over recorded Values it came from."""

    __slots__ = ("_depth", "_expr", "_trace", "_x")
    __array_ufunc__ = None  # numpy scalars defer to our reflected methods, so comparisons are seen

    def __init__(self, trace: Trace, expr: Expr, x: float, depth: int = 0) -> None:
        self._trace, self._expr, self._x, self._depth = trace, expr, x, depth

    # ---- what a replay can follow: comparisons (guards) and arithmetic (expressions) --------------
    def _compare(self, op: str, other: object) -> Any:
        if isinstance(other, Traced) and not self._trace.live() and other._trace.live():
            return other._compare(_FLIP[op], self)  # a number kept from an earlier trace: a constant
        other_x = other._x if isinstance(other, Traced) else other._data if isinstance(other, Value) else other
        if not isinstance(other_x, (int, float, numbers.Real)):
            return NotImplemented
        if type(other_x) not in (int, float, bool) and self._trace.live() and float(other_x) != other_x:
            raise _refuse(f"compares a number read from a Value's .data with {other_x!r}, which no float equals")
        outcome = _COMPARE[op](self._x, other_x)
        if self._trace.live():
            self._trace.guard(self._expr, op, self._trace.expr(other), outcome)
        return outcome

    def __lt__(self, other: object) -> Any:
        return self._compare("<", other)

    def __le__(self, other: object) -> Any:
        return self._compare("<=", other)

    def __gt__(self, other: object) -> Any:
        return self._compare(">", other)

    def __ge__(self, other: object) -> Any:
        return self._compare(">=", other)

    def __eq__(self, other: object) -> Any:
        return self._compare("==", other)

    def __ne__(self, other: object) -> Any:
        return self._compare("!=", other)

    def __bool__(self) -> bool:
        outcome = self._x != 0.0
        if self._trace.live():
            self._trace.guard(self._expr, "!=", ("c", 0.0), outcome)
        return outcome

    def _combine(self, symbol: str, fn: Callable[[Any, Any], Any], other: object, reflected: bool) -> Any:
        other_x: Any
        if isinstance(other, Traced) and not self._trace.live() and other._trace.live():
            return other._combine(symbol, fn, self, not reflected)  # this one is a constant to that trace
        if isinstance(other, Traced):
            other_x = other._x
        elif _is_real(other):
            other_x = other
        else:
            return NotImplemented
        x = fn(other_x, self._x) if reflected else fn(self._x, other_x)
        if not self._trace.live():
            return x  # outside the trace (or inside trace_invariant): a plain number
        if type(x) is not float:
            raise _refuse(f"computes {x!r} (not a float) from a Value's .data")
        mine, theirs = self._expr, self._trace.expr(other)
        depth = 1 + max(self._depth, other._depth if isinstance(other, Traced) else 0)
        if depth > _MAX_DEPTH:  # a guard that long would not compile (nor read): say what to write
            raise _refuse(
                f"builds an expression over more than {_MAX_DEPTH} numbers read from .data; "
                "compute it with Value ops instead (e.g. sum(p * p for p in params))"
            )
        expr: Expr = ("b", symbol, theirs, mine) if reflected else ("b", symbol, mine, theirs)
        return Traced(self._trace, expr, x, depth)

    def _unary(self, symbol: str, x: float) -> Any:
        return Traced(self._trace, ("u", symbol, self._expr), x, self._depth + 1) if self._trace.live() else x

    # ---- what it cannot follow: conversions to plain numbers ----------------------------------------
    def _convert(self, how: str) -> None:
        if self._trace.live():
            raise _refuse(f"converts a number read from a Value's .data ({self._x!r}) with {how}")

    def to_float(self, where: str) -> float:
        if where in ("<", "<=", ">", ">="):  # a Value compared with this number: the observer guards it
            return self._x
        if self._trace.live():
            raise _refuse(f"uses a number read from a Value's .data ({self._x!r}) as a constant in {where}")
        return self._x

    def __float__(self) -> float:
        self._convert("float()")
        return self._x

    def __int__(self) -> int:
        self._convert("int()")
        return int(self._x)

    def __index__(self) -> int:
        self._convert("an integer conversion")
        return operator.index(self._x)  # type: ignore[arg-type]

    def __round__(self, ndigits: Any = None) -> Any:
        self._convert("round()")
        return round(self._x, ndigits)

    def __trunc__(self) -> int:
        self._convert("math.trunc()")
        return int(self._x)

    def __floor__(self) -> int:
        self._convert("math.floor()")
        return int(self._x // 1)

    def __ceil__(self) -> int:
        self._convert("math.ceil()")
        return -int(-self._x // 1)

    def __hash__(self) -> int:
        self._convert("hash() (a dict or set lookup)")
        return hash(self._x)

    @property
    def real(self) -> Traced:
        return self

    @property
    def imag(self) -> float:
        return 0.0

    def conjugate(self) -> Traced:
        return self

    # Text of the number is a number in disguise (`float(str(v.data))`): refused while traced.
    def __repr__(self) -> str:
        self._convert("repr() (printing inside f: print after the compiled call instead)")
        return repr(self._x)

    def __str__(self) -> str:
        self._convert("str() or print (printing inside f: print after the compiled call instead)")
        return str(self._x)

    def __format__(self, spec: str) -> str:
        self._convert("format() or an f-string (printing inside f: print after the compiled call instead)")
        return format(self._x, spec)

    def __neg__(self) -> Any:
        return self._unary("-", -self._x)

    def __pos__(self) -> Any:
        return self._unary("+", +self._x)

    def __abs__(self) -> Any:
        return self._unary("abs", abs(self._x))


def _arith(symbol: str, fn: Callable[[Any, Any], Any]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def forward(self: Traced, other: object) -> Any:
        return self._combine(symbol, fn, other, False)

    def reflected(self: Traced, other: object) -> Any:
        return self._combine(symbol, fn, other, True)

    return forward, reflected


for _name, _symbol, _fn in [
    ("add", "+", operator.add),
    ("sub", "-", operator.sub),
    ("mul", "*", operator.mul),
    ("truediv", "/", operator.truediv),
    ("floordiv", "//", operator.floordiv),
    ("mod", "%", operator.mod),
    ("pow", "**", operator.pow),
]:
    _f, _r = _arith(_symbol, _fn)
    setattr(Traced, f"__{_name}__", _f)
    setattr(Traced, f"__r{_name}__", _r)


# ---- the observer ------------------------------------------------------------------------------------
class Tracer(Observer):
    """Records, into one `Trace`, what f does in this thread; `with_grad` views share the trace."""

    def __init__(self, trace: Trace, grad_enabled: bool = True) -> None:
        self.trace = trace
        self.grad_enabled = grad_enabled

    def with_grad(self, enabled: bool) -> Tracer:
        return Tracer(self.trace, enabled)

    def node(self, out: Value, op: Op, a: Value, b: Value | None, params: dict[str, float] | None) -> None:
        t = self.trace
        key = t.key  # the commonest case, operands seen before, without a call
        ka = key.get(a)
        if ka is None:
            ka = t.known(a)
        kb = None if b is None else key.get(b)
        if kb is None and b is not None:
            kb = t.known(b)
        k = key[out] = len(t.values)
        t.values.append(out)
        t.kinds.append(NODE)
        t.ops[k] = (op, ka, kb, params, self.grad_enabled)

    def detached(self, out: Value, source: Value) -> None:
        t = self.trace
        ks = t.known(source)
        k = t.add(out, NODE)
        t.ops[k] = (DETACH, ks, None, None, False)

    def read(self, v: Value) -> Any:
        t = self.trace
        return Traced(t, ("k", t.known(v)), v._data)

    def write(self, v: Value, x: Any) -> None:
        raise _refuse(f"assigns {_show(x)} to a Value's .data while it is traced")

    def compare(self, v: Value, op: str, other: Any, outcome: bool) -> None:
        t = self.trace
        if t.live():
            t.guard(("k", t.known(v)), op, t.expr(other), outcome)

    def convert(self, v: Value, how: str) -> None:
        if self.trace.live():
            raise _refuse(f"converts a Value ({v._data!r}) to a plain number with {how}")

    def escape(self, what: str, writes: bool) -> None:
        if writes:
            raise CompileError(
                f"compile: f {what} while it is traced; the compiled call would skip that write. "
                "Zero gradients outside f (before each compiled call: the compiled call adds the "
                "gradients of f's output itself, as f(...).backward() would), and take derivatives "
                "inside f with gradients(..., create_graph=True)"
            )
        if self.trace.live():
            raise _refuse(
                f"{what}; a replay would keep the numbers of this one trace. For derivatives inside "
                "f use gradients(..., create_graph=True), which returns Values"
            )


# ---- while tracing: f's Values guarded against other threads ------------------------------------------
# The tracer sees only its own thread. While a trace is under way, a check registered with
# `modes.foreign_checks` refuses, in any other thread, reading the number of or comparing a Value that
# f made (an argument or a node of the trace). `.grad` needs no such check: reading or writing it
# inside f goes through the Observer (`escape`), and other threads use it freely.
_watch_lock = threading.Lock()
_tracing: list[Trace] = []  # the traces under way, in any thread


def _foreign(v: object) -> None:
    """Refuse a Value of a trace under way in another thread (an argument or node f made)."""
    for t in _tracing:
        k = t.key.get(v) if isinstance(v, Value) else None
        if k is not None and t.kinds[k] != EXT and t.thread != threading.get_ident():
            raise CompileError(
                "compile: a Value that f made while traced was used in another thread; the tracer sees "
                "only f's own thread. Do that work (reads of .data, comparisons, ops) in f's thread"
            )


class _watching:
    """Registers the foreign-thread check while `trace` is under way (in any thread)."""

    def __init__(self, t: Trace) -> None:
        self.t = t

    def __enter__(self) -> None:
        with _watch_lock:
            _tracing.append(self.t)
            if _foreign not in foreign_checks:
                foreign_checks.append(_foreign)

    def __exit__(self, *exc: object) -> None:
        with _watch_lock:
            _tracing.remove(self.t)
            if not _tracing:
                foreign_checks.remove(_foreign)


def trace(f: Callable[..., Any], example_args: tuple[Any, ...]) -> tuple[Trace, int]:
    """Run f once on fresh leaves and return the trace and the key of its output."""
    if isinstance(_mode.get(), Tracer):
        raise CompileError("compile: cannot compile while tracing another function (compile f's parts separately)")
    t = Trace()
    leaves = []
    for i, x in enumerate(example_args):
        leaf = Value(x._data, x.label) if isinstance(x, Value) else Value(_to_float(x, f"compile: argument {i}"))
        t.add(leaf, ARG)
        leaves.append(leaf)
    try:
        with _watching(t), observing(Tracer(t)):
            out = f(*leaves)
    finally:
        t.active = False
    if not isinstance(out, Value):
        raise TypeError(f"compile: f must return a Value, got {type(out).__name__} {out!r}")
    root = t.known(out)
    return t, root


def settle_outsiders(t: Trace) -> None:
    """Drop the trace's hold on the graph, then decide for each outside leaf: if nothing but the trace
    holds it, no one can ever change it, so it is a constant; otherwise it is read by reference."""
    t.data = [v._data for v in t.values]  # type: ignore[union-attr]  # every Value is still held here
    t.key.clear()
    for k, kind in enumerate(t.kinds):
        if kind == NODE:
            t.values[k] = None  # the graph's nodes go, and with them their hold on their operands
    for k, kind in enumerate(t.kinds):
        v = t.values[k]
        if (
            kind == EXT and v is not None and v._a is None and sys.getrefcount(v) <= 3
        ):  # held by the list, `v` and the call only
            t.kinds[k] = CONST
            t.values[k] = None
