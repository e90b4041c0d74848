"""Compiled replay: trace a function once, then rerun its chain rule as generated Python.

`compile(f, *example_args)` calls `f` once on fresh leaf Values and records the graph it builds.
From that graph it writes Python source: a forward pass (one line per node, plain float
expressions; single-use sums and products are written inline) followed by the backward pass (one
line per edge: upstream x local = downstream), using the engine's local-derivative rules in the
order `backward()` uses, so results match eager mode to the last bit in practice. Calling the
compiled function runs that code on floats - no Value objects, no graph - and adds the gradients
to `.grad` of every pre-existing Value `f` read (model parameters, read by reference, so optimizers
work unchanged) and of every argument passed as a Value. `compiled.batch(rows)` runs it once per
row of arguments and sums, reading and writing the parameters once.

Long repeats of the same ops (a deep chain, one block applied to many inputs) are written once, as a
forward loop and a backward loop, when the loops do exactly the arithmetic of the unrolled lines in
the same order (see "loop rolling" below): long straight-line code runs slower per line in CPython.

Errors: the generated code keeps eager mode's domain checks. Anything unusual on replay (a domain
error, an inf or NaN in a value or in a gradient it would write, a changed branch) stops it before
any gradient is written; `f` then runs eagerly on the same inputs, so the error raised is eager
mode's own.

Tracing follows one path through Python control flow. While tracing, `.data` of every Value in play
is a float subclass that records each comparison on it as a *guard*; the generated code re-checks
every guard and raises `CompileBranchError` when inputs would take another branch.
Detected: `if v.data > 0`, `v > 0`, `0 < v`, `a.data >= b.data`, `==`/`!=`, `if v.data:`,
`max(v.data, w.data)`. Refused at compile time (`CompileError`), since a replay could not follow
them: a number computed from `.data` by arithmetic that is then compared or turned into a Value
(`v.data * 2 > 1`, `Value(v.data)`, `v.detach()`, `x * v.data`), and `int()`/`round()` of `.data`.
Not detected: `math` functions of `.data` (`math.exp(v.data) > 1`), and comparisons on a parameter's
`.data` made before any op of `f` has used that parameter. Ops under `no_grad()` inside `f` are
recomputed on replay with no gradient through them; `trace_invariant()` marks code whose
data-dependent choices cannot change the result (a softmax shift).
"""

from __future__ import annotations

import builtins
import contextvars
import math
import operator
import re
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import engine
from .engine import Value, gradients, topological_order

__all__ = ["CompileBranchError", "CompileError", "Compiled", "compile", "trace_invariant"]


class CompileError(RuntimeError):
    """`f` uses traced numbers in a way a compiled replay could not reproduce."""


class CompileBranchError(CompileError):
    """A replay's inputs take a different branch of `f` than the traced inputs did."""


class _NonFinite(Exception):
    """Raised by generated code when a forward value is inf or NaN (eager mode raises on these)."""


class _GuardFailed(Exception):
    """Raised by generated code when a guard's outcome differs from the traced one."""

    def __init__(self, index: int, left: float, right: float) -> None:
        super().__init__(index)
        self.index, self.left, self.right = index, left, right


# ---- traced numbers ---------------------------------------------------------------------------
_active: _Tracer | None = None  # the running trace (one at a time, see _trace_lock)
_trace_lock = threading.Lock()
_CMP_NAMES = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}


def _caller_is_library(depth: int) -> bool:
    """True when the code `depth` frames up is the engine itself (its kinks and checks are not branches of f)."""
    frame = sys._getframe(depth + 1)
    if frame.f_code in _VALUE_COMPARISONS and frame.f_back is not None:
        frame = frame.f_back  # `v > 0`: whoever compared the Values decides
    module = str(frame.f_globals.get("__name__", ""))
    return module == "autograd" or module.startswith("autograd.")


def _tracing_here() -> bool:
    tracer = _active
    return tracer is not None and tracer.thread == threading.get_ident() and not _invariant.get()


_invariant: contextvars.ContextVar[bool] = contextvars.ContextVar("trace_invariant", default=False)


class trace_invariant(engine._Switch):
    """Context manager for code whose data-dependent choices cannot change f's result, such as the
    shift of a numerically stable softmax (`z - max(z)`): while tracing, its comparisons on `.data`
    record no guards and numbers it computes from `.data` are baked into the compiled code as
    constants. Outside of tracing it does nothing. The caller vouches for the invariance.

        with autograd.trace_invariant():
            shift = -max(z.data for z in logits)  # arithmetic or float() inside gives a plain number
    """

    _var, _value = _invariant, True


class _Tainted(float):
    """A number computed from traced `.data` by plain arithmetic: a replay cannot recompute it."""

    __slots__ = ()

    def _refuse(self, what: str) -> None:
        raise CompileError(
            f"compile: f {what} a number computed from a Value's .data ({float.__repr__(self)}); a compiled replay "
            "cannot recompute it. Write the arithmetic with Values instead (e.g. `v * 2 > 1`, not `v.data * 2 > 1`)"
        )

    def __float__(self) -> float:
        frame = sys._getframe(1)
        if _tracing_here() and frame.f_code is _TO_FLOAT_CODE:
            where = frame.f_locals.get("where", "Value")
            raise CompileError(
                f"compile: f uses the traced number {float.__repr__(self)} (a Value's .data, or arithmetic on it) as a "
                f"constant in {where}; a replay would keep using that number. Use the Value itself, an op under "
                "autograd.no_grad() for a value that should not be differentiated, or autograd.trace_invariant() "
                "around code whose result that number cannot change"
            )
        return float.__float__(self)

    def _compare(self, op: str, other: object) -> Any:
        result = getattr(float, f"__{_CMP_NAMES[op]}__")(self, other)
        if result is not NotImplemented and _tracing_here() and not _caller_is_library(2):
            self._refuse(f"branches on `{op}` with")
        return result

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

    __hash__ = float.__hash__

    def __bool__(self) -> bool:
        if _tracing_here() and not _caller_is_library(1):
            self._refuse("tests the truth of")
        return float.__ne__(self, 0.0)

    def __int__(self) -> int:
        if _tracing_here() and not _caller_is_library(1):
            self._refuse("converts to int")
        return float.__int__(self)

    def __round__(self, ndigits: Any = None) -> Any:
        if _tracing_here() and not _caller_is_library(1):
            self._refuse("rounds")
        return float.__round__(self, ndigits)

    def __trunc__(self) -> int:
        if _tracing_here() and not _caller_is_library(1):
            self._refuse("truncates")
        return float.__trunc__(self)

    def __floor__(self) -> int:
        if _tracing_here() and not _caller_is_library(1):
            self._refuse("floors")
        return float.__floor__(self)

    def __ceil__(self) -> int:
        if _tracing_here() and not _caller_is_library(1):
            self._refuse("ceils")
        return float.__ceil__(self)


def _tainting(name: str) -> Callable[..., Any]:
    """An arithmetic method of _Tainted: the float result, marked as computed from traced data."""
    base = getattr(float, name)

    def method(self: float, *other: Any) -> Any:
        result = base(self, *other)
        if type(result) is not float or _invariant.get():  # inside trace_invariant(): a plain number
            return result
        return float.__new__(_Tainted, result)

    method.__name__ = name
    return method


for _name in [
    "__add__",
    "__radd__",
    "__sub__",
    "__rsub__",
    "__mul__",
    "__rmul__",
    "__truediv__",
    "__rtruediv__",
    "__floordiv__",
    "__rfloordiv__",
    "__mod__",
    "__rmod__",
    "__pow__",
    "__rpow__",
    "__neg__",
    "__pos__",
    "__abs__",
]:
    setattr(_Tainted, _name, _tainting(_name))


class _Traced(_Tainted):
    """`.data` of a Value while tracing: comparisons on it are recorded as guards."""

    __slots__ = ("_key",)
    _key: int

    def _compare(self, op: str, other: object) -> Any:
        result = getattr(float, f"__{_CMP_NAMES[op]}__")(self, other)
        if result is not NotImplemented and _tracing_here() and not _caller_is_library(2):
            _active._guard(self, op, other, result)  # type: ignore[union-attr]
        return result

    def __bool__(self) -> bool:
        result = float.__ne__(self, 0.0)
        if _tracing_here() and not _caller_is_library(1):
            _active._guard(self, "!=", 0.0, result)  # type: ignore[union-attr]
        return result


def _traced(x: float, key: int) -> _Traced:
    t = float.__new__(_Traced, float.__float__(x))
    t._key = key
    return t


_TO_FLOAT_CODE = engine._to_float.__code__
_VALUE_COMPARISONS = frozenset(
    getattr(getattr(Value, name), "__code__", None) for name in ("__lt__", "__le__", "__gt__", "__ge__")
) - {None}


# ---- the trace ----------------------------------------------------------------------------------
ARG, EXT, CONST, NODE = "arg", "ext", "const", "node"


class _Tracer:
    """What one call of f did: every Value it met (by key, in order), the ops it ran, its guards."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.values: list[Value] = []
        self.kinds: list[str] = []
        self.key: dict[Value, int] = {}
        self.ops: dict[int, tuple[str, int, int | None, float | None, bool]] = {}  # op, a, b, arg, recorded
        self.guards: list[tuple[int, int | float, str, int | float, bool]] = []  # position, left, op, right, outcome
        self.saved: list[tuple[Value, float]] = []  # pre-existing Values whose data we wrapped

    def add(self, v: Value, kind: str) -> int:
        k = len(self.values)
        self.values.append(v)
        self.kinds.append(kind)
        self.key[v] = k
        return k

    def known(self, v: Value) -> int:
        """The key of an operand; a Value not seen yet existed before f ran: an external, read by reference."""
        k = self.key.get(v)
        if k is None:
            k = self.add(v, EXT)
            self.saved.append((v, v.data))
            v.data = _traced(v.data, k)
        return k

    def _side(self, x: float) -> int | float:
        """A compared number: the key of the node it is the data of, or a constant."""
        if isinstance(x, _Traced) and x._key < len(self.values) and self.values[x._key].data is x:
            return x._key
        return float.__float__(x)  # a plain number, or traced data kept from an earlier trace

    def _guard(self, x: _Traced, op: str, other: object, outcome: bool) -> None:
        if isinstance(other, _Tainted) and not isinstance(other, _Traced):
            other._refuse(f"compares `{op}` a Value's .data with")
        if not isinstance(other, (int, float)):
            return  # compared with something that is not a number: not a branch on data we can express
        left, right = self._side(x), self._side(float(other) if isinstance(other, int) else other)
        if isinstance(left, int) or isinstance(right, int):
            self.guards.append((len(self.values), left, op, right, bool(outcome)))


def _hooked_node(orig: Callable[..., Value]) -> Callable[..., Value]:
    def _node(op: str, a: Value, b: Value | None, arg: float | None, data: float | None = None) -> Value:
        tracer = _active
        if tracer is None or tracer.thread != threading.get_ident():
            return orig(op, a, b, arg, data)
        ka = tracer.known(a)
        kb = None if b is None else tracer.known(b)
        out = orig(op, a, b, arg, data)
        k = tracer.add(out, NODE)
        tracer.ops[k] = (op, ka, kb, arg, out._a is not None)
        out.data = _traced(out.data, k)
        return out

    return _node


def _hooked_lift(orig: Callable[..., Value]) -> Callable[..., Value]:
    def _lift(x: object, op: str) -> Value:
        v = orig(x, op)
        tracer = _active
        if v is not x and tracer is not None and tracer.thread == threading.get_ident():
            tracer.add(v, CONST)  # a number mixed into an expression: baked into the code
        return v

    return _lift


def _trace(f: Callable[..., Any], example_args: tuple[Any, ...]) -> tuple[_Tracer, Value]:
    global _active
    if _active is not None and _active.thread == threading.get_ident():
        raise CompileError("compile: cannot compile while tracing another function (compile f's parts separately)")
    with _trace_lock:
        tracer = _Tracer()
        leaves = []
        for i, x in enumerate(example_args):
            if isinstance(x, Value):
                leaf = Value(x.data, x.label)
            else:
                leaf = Value(engine._to_float(x, f"compile: argument {i}"))
            k = tracer.add(leaf, ARG)
            leaf.data = _traced(leaf.data, k)
            leaves.append(leaf)
        orig_node, orig_lift = engine._node, engine._lift
        engine._node, engine._lift = _hooked_node(orig_node), _hooked_lift(orig_lift)
        try:
            with engine._enable_grad():
                _active = probe = _Tracer()  # the engine's ops must reach the hooks, or nothing is traced
                Value(1.0) * 2.0
                if len(probe.ops) != 1 or CONST not in probe.kinds:
                    raise CompileError("compile: cannot trace this engine (ops do not go through engine._node)")
                _active = tracer
                out = f(*leaves)
        finally:
            _active = None
            engine._node, engine._lift = orig_node, orig_lift
            for v, data in tracer.saved:
                v.data = data
            for v in tracer.values:
                if type(v.data) is not float:
                    v.data = float.__float__(v.data)
        if not isinstance(out, Value):
            raise TypeError(f"compile: f must return a Value, got {type(out).__name__} {out!r}")
        if out not in tracer.key:
            tracer.add(out, EXT)  # f returned a Value it did not compute
        return tracer, out


def _keys_in(root: Value, tracer: _Tracer) -> list[int]:
    return [tracer.key[v] for v in topological_order(root) if v in tracer.key]


# ---- the plan: the traced graph as plain data (no Values but the externals) ---------------------
_IDENT = re.compile(r"[^A-Za-z0-9_]")


def _sanitize(label: str) -> str:
    """A label as the start of an identifier: ASCII letters, digits, '_'; never starting with '_' or a digit."""
    name = _IDENT.sub("_", label)[:40].strip("_")
    if not name:
        return ""
    return name if name[0].isalpha() else "v" + name


def _lit(x: float) -> str:
    """A float as source text (always a valid expression operand)."""
    text = repr(float(x))
    return f"({text})" if text.startswith("-") else text


class _Plan:
    """The traced graph reduced to what code generation needs."""

    def __init__(self, tracer: _Tracer, out: Value, nargs: int) -> None:
        n = len(tracer.values)
        self.nargs = nargs
        self.kinds = list(tracer.kinds)
        self.ops = dict(tracer.ops)
        self.root = tracer.key[out]
        self.names: list[str] = []
        self.const: dict[int, float] = {}
        defaults = {ARG: "arg", EXT: "p", CONST: "c", NODE: "t"}
        for k, (v, kind) in enumerate(zip(tracer.values, tracer.kinds, strict=True)):
            self.names.append(f"{_sanitize(v.label) or defaults[kind]}_{k}")
            if kind == CONST:
                self.const[k] = float(v.data)
            elif kind == NODE:
                _, a, b, _, _ = self.ops[k]
                if a in self.const and (b is None or b in self.const):
                    self.const[k] = float(v.data)  # depends on constants only: folded
        self.externals = [v for v, kind in zip(tracer.values, tracer.kinds, strict=True) if kind == EXT]
        self.ext_index = {k: i for i, k in enumerate(k for k in range(n) if self.kinds[k] == EXT)}
        self.ext_leaf = [v.is_leaf() for v in self.externals]
        # Backward visits nodes in exactly the order eager backward does: reversed topological order.
        self.backward_order = [k for k in reversed(_keys_in(out, tracer)) if self.kinds[k] == NODE]
        self.guards = list(tracer.guards)
        users: dict[int, int] = {}
        for _, a, b, _, _ in self.ops.values():
            users[a] = users.get(a, 0) + 1
            if b is not None:
                users[b] = users.get(b, 0) + 1
        self.sinks = [k for k in self.ops if k not in self.const and k not in users]
        self.runs = _find_runs(self)  # long periodic stretches, written as loops

    def expr(self, k: float) -> str:
        if isinstance(k, float):
            return _lit(k)
        return _lit(self.const[k]) if k in self.const else self.names[k]

    def describe_guard(self, i: int) -> str:
        _, left, op, right, _ = self.guards[i]
        return f"{self.expr(left)} {op} {self.expr(right)}"


# ---- loop rolling, part 1: finding periodic runs ------------------------------------------------
# Generated code runs slower per op the longer it is (a 100,000-line function thrashes CPython's caches),
# so a long run of repeats of the same ops is written as a `for` loop instead. A run qualifies when
# every repeat has the same ops, each operand fixed (computed before the run), from the same repeat
# or from the previous one, and eager backward visits the run's nodes repeat by repeat, last first,
# in the same order within each: then the loop does exactly the arithmetic the unrolled code does.
_ROLL_MIN_REPEATS = 8  # fewer repeats: the unrolled code is short anyway and reads better
_ROLL_MIN_OPS = 128  # ops in the whole run
_ROLL_PHASES = 4  # where in the period repeats may start: the best few tried (eager's backward order decides)


class _Run:
    """`count` repeats of `period` keys starting at key `start`; the last repeat starts at `last`.
    Template positions (0..period-1) that the next repeat reads are `carried`; `leaves` are positions
    holding a different pre-existing Value each repeat; `fixed` are the keys before the run it reads;
    `order` is eager backward's order within a repeat (as positions)."""

    __slots__ = ("carried", "count", "end", "fixed", "last", "leaves", "order", "period", "start")

    def __init__(
        self,
        start: int,
        period: int,
        count: int,
        carried: list[int],
        leaves: list[int],
        fixed: list[int],
        order: list[int],
    ) -> None:
        self.start, self.period, self.count = start, period, count
        self.end = start + period * count
        self.last = self.end - period
        self.carried, self.leaves, self.fixed, self.order = carried, leaves, fixed, order


def _token(plan: _Plan, k: int) -> tuple[Any, ...]:
    """What must be equal for two keys to be the same step of a repeat (operands are checked later)."""
    if k in plan.const:
        return ("const", float.hex(plan.const[k]))
    if plan.kinds[k] != NODE:
        return (plan.kinds[k],)
    op, _, b, arg, recorded = plan.ops[k]
    return (op, None if arg is None else float.hex(float(arg)), recorded, b is None)


def _find_runs(plan: _Plan) -> list[_Run]:
    """The periodic runs worth rolling, non-overlapping, in key order."""
    n = len(plan.kinds)
    if n < _ROLL_MIN_OPS:
        return []
    tokens = [_token(plan, k) for k in range(n)]
    for i, (position, *_) in enumerate(plan.guards):
        if position < n:
            tokens[position] = ("guard", i)  # matches nothing: no run crosses a guard
    last: dict[tuple[Any, ...], int] = {}
    gaps: dict[int, int] = {}
    for k, token in enumerate(tokens):
        j = last.get(token)
        if j is not None:
            gaps[k - j] = gaps.get(k - j, 0) + 1
        last[token] = k
    periods = sorted((p for p, c in gaps.items() if c >= _ROLL_MIN_REPEATS - 1), key=lambda p: -gaps[p])[:8]
    candidates: list[tuple[int, int, int, int]] = []  # (keys covered, -period, first key, end key)
    for period in periods:
        k = 0
        while k + period < n:
            if tokens[k] != tokens[k + period]:
                k += 1
                continue
            j = k
            while j + period < n and tokens[j] == tokens[j + period]:
                j += 1
            if (j + period - k) // period >= _ROLL_MIN_REPEATS:
                candidates.append((j + period - k, -period, k, j + period))
            k = j + 1
    candidates.sort(reverse=True)
    users: dict[int, list[int]] = {}
    for k, (_, a, b, _, _) in plan.ops.items():
        users.setdefault(a, []).append(k)
        if b is not None and b != a:
            users.setdefault(b, []).append(k)
    at = {k: i for i, k in enumerate(plan.backward_order)}
    runs: list[_Run] = []
    for _, period, s0, e0 in candidates:
        if any(s0 < r.end and r.start < e0 for r in runs):
            continue
        for phase in _phases(plan, users, -period, s0, e0)[:_ROLL_PHASES]:
            run = _periodic_run(plan, users, at, -period, s0 + phase, e0)
            if run is not None:
                if not any(run.start < r.end and r.start < run.end for r in runs):
                    runs.append(run)
                break
    return sorted(runs, key=lambda r: r.start)


def _phases(plan: _Plan, users: dict[int, list[int]], period: int, s0: int, e0: int) -> list[int]:
    """Where in the period repeats could start, best first: where the fewest values cross from one repeat
    to the next (a crossing value needs a variable of its own; one that could be written inline costs more)."""
    cost = [0] * (period + 1)
    middle = s0 + (e0 - s0) // period // 2 * period
    for k in range(middle, min(middle + period, e0)):
        if plan.kinds[k] != NODE or k in plan.const:
            continue
        for x in plan.ops[k][1:3]:
            if x is None or x in plan.const or not 0 < k - x < period:
                continue
            op = plan.ops.get(x)
            weight = 2 if op is not None and op[0] in ("+", "*") and op[2] is not None and len(users[x]) == 1 else 1
            lo, hi = (x + 1 - s0) % period, (k - s0) % period  # repeats starting at these phases cut the edge
            if lo <= hi:
                cost[lo] += weight
                cost[hi + 1] -= weight
            else:
                cost[lo] += weight
                cost[period] -= weight
                cost[0] += weight
                cost[hi + 1] -= weight
    totals, total = [], 0
    for phase in range(period):
        total += cost[phase]
        totals.append(total)
    return sorted(range(period), key=totals.__getitem__)


def _periodic_run(
    plan: _Plan, users: dict[int, list[int]], at: dict[int, int], period: int, s0: int, e0: int
) -> _Run | None:
    """The longest run of repeats starting at s0 + j * period within keys [s0, e0) (periodic op by op)
    that can be rolled exactly."""
    kinds, ops = plan.kinds, plan.ops
    first = s0
    repeats = (e0 - first) // period
    if repeats < _ROLL_MIN_REPEATS:
        return None
    t = first + (repeats - 1) * period  # the last repeat is the template: its names live on after the loop
    refs: dict[int, list[tuple[str, int] | None]] = {}
    fixed: set[int] = set()
    carried: set[int] = set()
    for p in range(period):
        k = t + p
        if kinds[k] == ARG:
            return None
        if kinds[k] != NODE or k in plan.const:
            continue
        row: list[tuple[str, int] | None] = []
        for x in ops[k][1:3]:
            if x is None:
                row.append(None)
            elif x >= t:
                row.append(("same", x - t))
            elif x >= t - period:
                if x in plan.const or kinds[x] == EXT:
                    return None  # a carried literal or Value: not worth the bookkeeping
                row.append(("prev", x - t + period))
                carried.add(x - t + period)
            else:
                row.append(("fixed", x))
                fixed.add(x)
        refs[k - t] = row
    floor = max(fixed, default=-1)  # fixed operands must be computed before the loop starts

    def fits(base: int) -> bool:
        """Repeat at `base` matches the template, and its values are used only by itself and the next."""
        for p, row in refs.items():
            for x, ref in zip(ops[base + p][1:3], row, strict=True):
                if ref is None or x is None:
                    if (ref is None) != (x is None):
                        return False
                    continue
                kind, v = ref
                want = base + v if kind == "same" else base - period + v if kind == "prev" else v
                if x != want:
                    return False
        for k in range(base, base + period):
            if k in plan.const:
                continue
            us = users.get(k)
            if not us or max(us) >= base + 2 * period or (kinds[k] == NODE and k not in at):
                return False
        return True

    i = repeats - 1
    while i > 0 and first + (i - 1) * period > floor and fits(first + (i - 1) * period):
        i -= 1
    count = repeats - i
    start = first + i * period
    end = t + period
    nodes = sum(1 for k in range(t, end) if kinds[k] == NODE)
    if count < _ROLL_MIN_REPEATS or count * nodes < _ROLL_MIN_OPS:
        return None
    if plan.root in range(start, t) or any(kinds[k] == NODE and k not in at for k in range(t, end)):
        return None
    for position, left, _, right, _ in plan.guards:
        if start < position < end or any(isinstance(s, int) and start <= s < t for s in (left, right)):
            return None
    for p in carried:  # the values the first repeat reads from before the loop
        seed = start - period + p  # its gradient variable becomes the loop's carried gradient, so it must not
        if seed == plan.root or seed in fixed or max(users.get(seed, [0])) >= end:  # be a fixed operand's too
            return None
    leaves = [p for p in range(period) if kinds[t + p] == EXT]
    for p in leaves:
        idx = [plan.ext_index[start + j * period + p] for j in range(count)]
        step = idx[1] - idx[0]
        if step <= 0 or idx != list(range(idx[0], idx[0] + step * count, step)):
            return None
        if not all(plan.ext_leaf[i] for i in idx):
            return None
    # Eager backward must visit the run as one stretch: the last repeat first, each in the template's order.
    order = sorted((k for k in range(t, end) if kinds[k] == NODE), key=at.__getitem__)
    offsets = [k - t for k in order]
    pos = at[order[0]]
    bo = plan.backward_order
    for j in range(count - 1, -1, -1):
        base = start + j * period
        for off in offsets:
            if pos >= len(bo) or bo[pos] != base + off:
                return None
            pos += 1
    return _Run(start, period, count, sorted(carried), leaves, sorted(fixed), offsets)


# ---- code generation ----------------------------------------------------------------------------
# Ops whose output can be finite when the input is inf or NaN: their inputs join the finiteness check.
_TRANSPARENT = {"+", "*", "abs", "log", "sqrt", "leaky_relu"}  # inf/NaN in -> inf/NaN out (or an exception)


def _forward_rhs(plan: _Plan, k: int, ex: Callable[[int], str]) -> tuple[str, str | None]:
    """The forward expression of node k, and the operand whose finiteness must be checked (if masking)."""
    op, a, b, arg, _ = plan.ops[k]
    x = ex(a)
    y = None if b is None else ex(b)
    if b is not None:
        if op == "+":
            rhs = f"{x} + {y}"
        elif op == "*":
            rhs = f"{x} * {y}"
        elif op == "**":
            rhs = f"_pow({x}, {y})"  # math.pow: a negative base to a fractional power raises, not complex
        else:
            rhs = f"_F2[{op!r}]({x}, {y})"
    elif op == "**":
        n = float(arg)  # type: ignore[arg-type]
        rhs = f"{x} ** {_lit(n)}" if n.is_integer() else f"_pow({x}, {_lit(n)})"
    elif op in ("exp", "log", "sqrt", "sin", "cos", "tanh", "erf"):
        rhs = f"_{op}({x})"
    elif op == "abs":
        rhs = f"{x} if {x} > 0.0 else 0.0 - {x}"  # not -x: abs(0.0) is 0.0, never -0.0
    elif op == "relu":
        rhs = f"{x} if {x} > 0.0 else 0.0"
    elif op == "leaky_relu":
        rhs = f"{x} if {x} > 0.0 else {_lit(arg)} * {x}"  # type: ignore[arg-type]
    elif op == "elu":
        rhs = f"{x} if {x} > 0.0 else {_lit(arg)} * _expm1({x})"  # type: ignore[arg-type]
    else:  # any other op: the engine's own forward rule
        rhs = f"_F1[{op!r}]({x}, {'None' if arg is None else _lit(arg)})"
    check = None
    if op not in _TRANSPARENT or (op == "**" and b is None):
        check = x if b is None else f"{x} + {y}"
    return rhs, check


# What a node's backward line reads: its inputs ('in'), its output ('out'). Ops not listed read both.
_BACKWARD_READS = {
    "+": "",
    "*": "in",
    "exp": "out",
    "sqrt": "out",
    "tanh": "out",
    "sigmoid": "out",
    "log": "in",
    "sin": "in",
    "cos": "in",
    "relu": "in",
    "abs": "in",
    "leaky_relu": "in",
}
_INLINE_DEPTH = 24  # nesting limit for fused expressions (the bytecode compiler recurses over them)


def _fusable(plan: _Plan, checked: set[int]) -> dict[int, int]:
    """Nodes whose value is needed once, right away, by one forward expression and nowhere else:
    `+` and `*` nodes (they never raise) are written inline into their user instead of into a local.
    Returns node -> nesting depth."""
    uses: dict[int, int] = {}
    pinned = set(checked) | {plan.root}
    for _, left, _, right, _ in plan.guards:
        pinned.update(side for side in (left, right) if isinstance(side, int))
    for k, (op, a, b, _, _) in plan.ops.items():
        if k in plan.const:
            continue
        reads = _BACKWARD_READS.get(op, "in out")
        if "out" in reads:
            pinned.add(k)
        for inp in (a, b):
            if inp is None:
                continue
            uses[inp] = uses.get(inp, 0) + 1
            if "in" in reads or op in ("relu", "abs", "leaky_relu", "elu"):  # those read x twice in forward
                pinned.add(inp)
    depth: dict[int, int] = {}
    for k in sorted(plan.ops):
        op, a, b, _, _ = plan.ops[k]
        if k in plan.const or k in pinned or uses.get(k, 0) != 1 or op not in ("+", "*") or b is None:
            continue
        d = 1 + max(depth.get(a, 0), depth.get(b, 0))
        if d <= _INLINE_DEPTH:
            depth[k] = d
    return depth


def _local(plan: _Plan, k: int, which: int) -> str | None:
    """d node / d input `which` as an expression (None: exactly 0, no contribution)."""
    op, a, b, arg, _ = plan.ops[k]
    o, x = plan.names[k], plan.expr(a)
    y = None if b is None else plan.expr(b)
    if b is not None:
        if op == "+":
            return "1.0"
        if op == "*":
            return y if which == 0 else x
        return f"_L2[{op!r}]({x}, {y}, {o}, _FM)[{which}]"
    if op == "**":
        n = float(arg)  # type: ignore[arg-type]
        if n == 0.0:
            return None
        if n - 1.0 == 0.0:
            return _lit(n)  # n * x ** 0
        if n - 1.0 == 1.0:
            return f"({_lit(n)} * {x})"  # n * x ** 1
        return f"({_lit(n)} * {x} ** {_lit(n - 1.0)})"  # d/dx x^n = n x^(n-1); 0 ** negative raises, like eager
    simple = {
        "exp": o,
        "log": f"(1.0 / {x})",
        "sqrt": f"(0.5 / {o})",  # raises at 0, where eager raises too
        "sin": f"_cos({x})",
        "cos": f"(-_sin({x}))",
        "tanh": f"(1.0 - {o} * {o})",
        "sigmoid": f"({o} * (1.0 - {o}))",
    }
    if op in simple:
        return simple[op]
    return f"_L1[{op!r}]({x}, {o}, {'None' if arg is None else _lit(arg)}, _FM)"


def _sum_lines(var: str, terms: list[str], first: bool = True) -> list[str]:
    """Lines adding `terms` into `var` (the first line assigns it when `first`), 32 terms a line: one long
    `+` chain nests too deep for CPython's compiler."""
    return [
        f"{var} {'=' if first and i == 0 else '+='} {' + '.join(terms[i : i + 32])}" for i in range(0, len(terms), 32)
    ]


def _finite_check(terms: list[str], comment: str) -> list[str]:
    """Lines that raise _NonFinite when the sum of `terms` is inf or NaN (so is one of them, or the sum overflowed:
    a false alarm the slow path sorts out)."""
    return [f"# {comment}", *_sum_lines("_s", terms), "if not -_inf < _s < _inf:", "    raise _NonFinite"]


def _contribution(g: str, local: str) -> str:
    if g == "1.0":
        return local
    if local == "1.0":
        return g
    return f"{g} * {local}"


class _RollMismatch(Exception):
    """Code generation met a run it cannot roll after all (for this mix of arguments): generate without it."""

    def __init__(self, run: _Run) -> None:
        super().__init__(run.start)
        self.run = run


def _generate(plan: _Plan, mask: tuple[bool, ...], finite_check: bool = True, batch: bool = False) -> str:
    """Source of `make_replay(...)`, which returns `replay(a0, a1, ...)` for arguments where mask[i] says
    'passed as a Value'. Helpers and the Values f read are bound once, as closure cells (fast to read).
    With `batch`, `replay(rows)` runs the code once per row of float arguments and returns the sum: the
    Values f read are read once and their gradients summed in locals, written once at the end.
    Long periodic runs of ops are written as loops (not in batch mode)."""
    skip: set[int] = set()
    while True:
        try:
            return _generate_once(plan, mask, finite_check, batch, skip)
        except _RollMismatch as mismatch:
            skip.add(mismatch.run.start)


def _generate_once(plan: _Plan, mask: tuple[bool, ...], finite_check: bool, batch: bool, skip: set[int]) -> str:
    names, kinds, ops = plan.names, plan.kinds, plan.ops
    need: dict[int, bool] = {}
    for k, kind in enumerate(kinds):
        if kind == EXT:
            need[k] = True
        elif kind == ARG:
            need[k] = mask[k]
        elif kind == NODE and k not in plan.const:
            _, a, b, _, recorded = ops[k]
            need[k] = recorded and (need.get(a, False) or (b is not None and need.get(b, False)))
    params = [f"a{i}" for i in range(plan.nargs)]
    outer = ["def make_replay(_ext, HELPERS):"]  # HELPERS: filled in by _bind_helpers
    if plan.externals:
        ext_names = [f"_e{i}" for i in range(len(plan.externals))]
        outer.append(f"    {', '.join(ext_names)}{',' if len(ext_names) == 1 else ''} = _ext  # the Values f read")
    head = f"def replay({'rows' if batch else ', '.join(params)}):"
    preamble: list[str] = ['"""Forward, then backward: the chain rule written out for the traced graph."""']
    hoisted: list[str] = []  # batch: reads of the Values f read, once before the loop
    if batch:
        preamble = ['"""The replay once per row, summed: the Values f read are read and written once."""']
    elif params and not any(mask):  # the entry point: anything but floats goes through the general path
        preamble.append(f"if {' or '.join(f'type({a}) is not float' for a in params)}:")
        preamble.append(f"    return _general({', '.join(params)})")
    body: list[str] = []
    body.append("# ---- forward ----")
    checks: list[str] = []
    fused: dict[int, str] = {}  # node -> its expression, written into its single user
    inline: dict[int, list[str]] = {}  # node -> the fused nodes inside its expression (for the comment)

    def ex(k: int) -> str:
        return fused.get(k) or plan.expr(k)

    checked = set(plan.sinks)
    for op, a, b, _, _ in ops.values():
        if op not in _TRANSPARENT or (op == "**" and b is None):
            checked.update(i for i in (a, b) if i is not None)
    fusable = _fusable(plan, checked)
    guards = sorted(range(len(plan.guards)), key=lambda i: plan.guards[i][0])
    gi = 0

    def emit_guards(upto: int) -> None:
        nonlocal gi
        while gi < len(guards) and plan.guards[guards[gi]][0] <= upto:
            i = guards[gi]
            gi += 1
            _, left, op, right, outcome = plan.guards[i]
            if all(isinstance(side, float) or side in plan.const for side in (left, right)):
                continue  # both sides constant: always the traced outcome
            lx, rx = plan.expr(left), plan.expr(right)
            cond = f"{lx} {op} {rx}"
            body.append(f"if {'not ' if outcome else ''}{cond}:  # guard: traced branch had `{cond}` {outcome}")
            body.append(f"    raise _GuardFailed({i}, {lx}, {rx})")

    def forward_node(k: int) -> tuple[str | None, str | None]:
        """Node k's forward line (None: written inline into its user) and the value to check for inf/NaN."""
        rhs, check = _forward_rhs(plan, k, ex)
        a, b = ops[k][1], ops[k][2]
        parts = [*inline.pop(a, []), *([] if b is None else inline.pop(b, []))]
        if k in fusable:
            fused[k] = f"({rhs})"
            inline[k] = [*parts, f"{names[k]} {ops[k][0]}"]
            return None, None
        line = f"{names[k]} = {rhs}  # {ops[k][0]}{' (inline: ' + ', '.join(parts) + ')' if parts else ''}"
        if not ops[k][4]:
            line += " (under no_grad: no gradient flows through it)"
        return line, check

    def backward_node(k: int, grad: dict[int, str], owned: set[int], out: list[str]) -> None:
        """Node k's backward lines: its gradient times each local derivative, into its inputs' gradients."""
        if not need.get(k, False) or k not in grad:
            return
        op, a, b, _, recorded = ops[k]
        g = grad[k]
        for which, inp in enumerate((a, b)):
            if inp is None or not need.get(inp, False):
                continue
            target = names[inp] + "_g"
            comment = f"  # {op}: {names[k]} -> {names[inp]}"
            if op in ("relu", "leaky_relu", "elu", "abs"):
                x = plan.expr(a)
                neg = {
                    "relu": "0.0",
                    "leaky_relu": _contribution(g, _lit(ops[k][3] or 0.0)),
                    "elu": _contribution(g, f"({_lit(ops[k][3] or 0.0)} * _exp({x}))"),  # as eager: not out + alpha
                    "abs": f"(-{g} if {x} < 0.0 else 0.0)",
                }[op]
                if op == "relu" and inp in owned:
                    out.append(f"if {x} > 0.0: {target} += {g}{comment}")
                    continue
                contribution = f"({g} if {x} > 0.0 else {neg})"
            else:
                local = _local(plan, k, which)
                if local is None:
                    continue
                contribution = _contribution(g, local)
            if inp in owned:
                out.append(f"{target} += {contribution}{comment}")
            elif inp in grad:  # it held an alias: now it needs a local of its own
                out.append(f"{target} = {grad[inp]} + {contribution}{comment}")
            elif contribution == "1.0" or contribution.isidentifier():
                grad[inp] = contribution  # the same number as an existing one: no line needed
                continue
            else:
                out.append(f"{target} = {contribution}{comment}")
            grad[inp] = target
            owned.add(inp)

    loops: list[_RolledLoop] = []
    if not batch:
        for run in plan.runs:
            trimmed = _need_repeats(plan, run, need)
            if trimmed is not None and trimmed.start not in skip:
                loops.append(_RolledLoop(plan, trimmed, len(loops), need, backward_node))
    for loop in loops:
        for k in loop.named:
            fusable.pop(k, None)
        outer.extend(loop.outer())
    loop_at = {loop.run.start: loop for loop in loops}
    k = 0
    while k < len(kinds):
        emit_guards(k)
        kind = kinds[k]
        if k in loop_at:
            loop = loop_at[k]
            body.extend(loop.forward(forward_node, finite_check))
            if loop.checked and finite_check:
                checks.append(f"_f{loop.rid}")
            k = loop.run.end
            continue
        if kind == ARG:
            body.append(f"{names[k]} = a{k}{'.data' if mask[k] else ''}  # argument {k}")
            checks.append(names[k])
        elif kind == EXT:
            (hoisted if batch else body).append(f"{names[k]} = _e{plan.ext_index[k]}.data  # read by reference")
            checks.append(names[k])
        elif kind == NODE and k not in plan.const:
            line, check = forward_node(k)
            if line is not None:
                body.append(line)
            if check:
                checks.append(check)
        k += 1
    emit_guards(len(kinds))
    checks.extend(names[k] for k in plan.sinks)
    root = plan.root
    if root not in plan.const and names[root] not in checks:
        checks.append(plan.expr(root))
    checks = list(dict.fromkeys(checks))  # each value once, in order
    if checks and finite_check:
        body.extend(_finite_check(checks, "inf or NaN anywhere reaches one of these: eager mode would have raised"))
    body.append("# ---- backward: upstream gradient x local derivative, added into each input ----")
    grad: dict[int, str] = {}  # node -> its gradient so far: a local we own, or an alias of a finished one
    owned: set[int] = set()
    if need.get(root, False):
        grad[root] = "1.0"
    if batch:  # gradients of the Values f read are sums over rows: locals from the start
        for k in plan.ext_index:
            grad[k] = names[k] + "_g"
            owned.add(k)
    loop_from = {loop.run.last + loop.run.order[0]: loop for loop in loops}
    order = plan.backward_order
    i = 0
    while i < len(order):
        k = order[i]
        if k in loop_from:
            loop = loop_from[k]
            loop.backward(grad, owned, body, backward_node)
            i += len(loop.run.order) * loop.run.count
            continue
        backward_node(k, grad, owned, body)
        i += 1
    written = [grad[k] for k, kind in enumerate(kinds) if k in grad and kind in (EXT, ARG)]
    written += [f"sum({name})" for loop in loops for name in loop.gradient_lists()]
    if written and finite_check and not batch:
        body.extend(_finite_check(written, "a gradient that overflowed: eager mode would have raised"))
    if all(line.lstrip().startswith("#") for line in body):
        body.append("pass")
    if batch:
        return _bind_helpers(_assemble_batch(plan, outer, head, preamble, hoisted, body, params, grad), plan, mask)
    tail = ["except _RECOVERABLE as _error:  # eager mode's error, a changed branch, or a false alarm"]
    tail.append(f"    return _recover(_error, ({', '.join(params)}{',' if len(params) == 1 else ''}), {mask!r})")
    tail.append("# ---- gradients into the Values f read ----")
    for k, kind in enumerate(kinds):
        if k not in grad or grad[k] == "1.0" and kind == NODE:
            continue
        g = grad[k]
        if kind == EXT:
            i = plan.ext_index[k]
            tail.append(f"_e{i}.grad += {g}" if plan.ext_leaf[i] else f"_e{i}.backward({g})")
        elif kind == ARG:
            tail.append(f"_accumulate(a{k}, {g})")
    for loop in loops:
        tail.extend(loop.tail())
    tail.append(f"return {plan.expr(root)}")
    lines = [head, *("    " + line for line in preamble), "    try:", *("        " + line for line in body)]
    lines.extend("    " + line for line in tail)
    return _bind_helpers(
        "\n".join([*outer, *("    " + line for line in lines), "    return replay"]) + "\n", plan, mask
    )


# ---- loop rolling, part 2: writing a run as a loop ----------------------------------------------
def _need_repeats(plan: _Plan, run: _Run, need: dict[int, bool]) -> _Run | None:
    """The run without its first repeats where they need gradients elsewhere than the last one does (which
    depends on which arguments are Values: a float argument needs none), if still long enough."""
    period, last = run.period, run.last
    template = [need.get(last + p, False) for p in range(period)]
    start = run.start
    for k in range(run.end - 1, run.start - 1, -1):
        if plan.kinds[k] == NODE and need.get(k, False) != template[(k - run.start) % period]:
            start = run.start + ((k - run.start) // period + 1) * period
            break
    while start < run.end and any(
        need.get(start - period + p, False) != need.get(last - period + p, False) for p in run.carried
    ):
        start += period  # the values carried into the first repeat must need gradients like the others
    count = (run.end - start) // period
    nodes = sum(1 for k in range(last, run.end) if plan.kinds[k] == NODE)
    if count < _ROLL_MIN_REPEATS or count * nodes < _ROLL_MIN_OPS:
        return None
    if start == run.start:
        return run
    return _Run(start, period, count, run.carried, run.leaves, run.fixed, run.order)


_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def _mentions(lines: list[str]) -> dict[str, list[int]]:
    """Identifier -> indices of the lines whose code (not comment) uses it; one pass, so asking about
    every name of a long loop body stays linear in its length."""
    index: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        for name in dict.fromkeys(_IDENTIFIER.findall(line.split("#", 1)[0])):
            index.setdefault(name, []).append(i)
    return index


def _rename(lines: list[str], renames: dict[str, str]) -> list[str]:
    if not renames:
        return lines
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, renames)) + r")\b")
    return [pattern.sub(lambda m: renames[m[0]], line) for line in lines]


def _targets(names: list[str], nested: bool = False) -> str:
    """Unpacking targets: `a`, or `a, b` (`(a, b)` inside a larger target)."""
    if len(names) == 1:
        return names[0]
    return f"({', '.join(names)})" if nested else ", ".join(names)


def _packed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"({', '.join(names)})"


class _RolledLoop:
    """One run written as a forward loop and a backward loop.

    The forward loop body is the last repeat's lines: after the loop its variables hold the last repeat,
    which is all the code after the run reads. A value the next repeat reads is carried in a variable.
    Backward does the last repeat unrolled (its gradients arrive from the code after the run), then
    loops over the other repeats, last first, with the second-to-last repeat's lines as the body. The
    forward loop keeps per repeat just the values that body reads: `_kept` (the repeat's own values) and
    `_carried` (values the next repeat's backward reads too). The backward body is written first, as it
    decides what the forward loop keeps."""

    def __init__(
        self,
        plan: _Plan,
        run: _Run,
        rid: int,
        need: dict[int, bool],
        backward_node: Callable[[int, dict[int, str], set[int], list[str]], None],
    ) -> None:
        self.plan, self.run, self.rid = plan, run, rid
        names, period = plan.names, run.period
        u = run.last - period  # the body's repeat; u - period + p: the repeat before it
        # A carried gradient lives in the variable of the value the loop's first repeat reads (its "seed"):
        # after the loop it holds exactly that value's gradient, as the unrolled code would.
        self.gname = {p: names[run.start - period + p] + "_g" for p in run.carried}
        fixed = [f for f in run.fixed if need.get(f, False)]
        has = set(run.carried)  # carried positions that receive gradient (found by iterating to a fixed point)
        for _ in range(len(run.carried) + 1):
            grad = {f: names[f] + "_g" for f in fixed}
            owned = set(fixed)
            for p in has:
                grad[u + p] = names[u + p] + "_g"
                owned.add(u + p)
            lines: list[str] = []
            for off in run.order:
                backward_node(u + off, grad, owned, lines)
            produced = {p for p in run.carried if u - period + p in grad}
            if produced == has:
                break
            has = produced
        else:
            raise _RollMismatch(run)
        self.has = sorted(has)
        self.leaf_grads = [p for p in run.leaves if u + p in grad]
        lines.extend(f"_g{rid}_{p}.append({grad[u + p]})  # gradient of this repeat's Value" for p in self.leaf_grads)
        # Gradients for the previous repeat: written straight into the carried variable when this repeat no
        # longer reads its own by then; else kept apart and moved at the end.
        prev_g = {p: grad[u - period + p] for p in self.has}
        renames = {names[u + p] + "_g": self.gname[p] for p in self.has}  # the body's own carried gradients
        mentions = _mentions(lines)
        for p in self.has:
            own, fresh = names[u + p] + "_g", names[u - period + p] + "_g"
            if prev_g[p] != fresh or any(own == prev_g[q] for q in self.has if q != p):
                continue
            reads, writes = mentions.get(own, []), mentions.get(fresh, [])
            if not reads or max(reads) <= min(writes):
                renames[fresh] = self.gname[p]
        self.lines = _rename(lines, renames)
        self.moves = [(self.gname[p], renames.get(prev_g[p], prev_g[p])) for p in self.has]
        self.moves = [(a, b) for a, b in self.moves if a != b]
        mentions = _mentions(self.lines)
        self.fixed = [f for f in fixed if names[f] + "_g" in mentions]
        # The forward values the body reads: of its own repeat, and of the repeat before (carried ones).
        readable = [p for p in range(period) if u + p not in plan.const and plan.kinds[u + p] != CONST]
        own_reads = [p for p in readable if names[u + p] in mentions]
        self.carry = [p for p in run.carried if names[u - period + p] in mentions]
        self.keep = [p for p in own_reads if p not in self.carry]
        self.shift = [p for p in self.carry if p in own_reads]
        # Values that must stay in named variables (never written inline into a user).
        t = run.last
        after = {
            x
            for k in range(run.end, len(plan.kinds))
            if k in plan.ops
            for x in plan.ops[k][1:3]
            if x is not None and t <= x < run.end
        }
        self.named = after | {t + p for p in [*run.carried, *own_reads]} | {run.start - period + p for p in run.carried}
        self.checked = False

    def outer(self) -> list[str]:
        """Tuples of the Values read once per repeat, bound once in make_replay."""
        plan, run = self.plan, self.run
        out = []
        for p in run.leaves:
            i0 = plan.ext_index[run.start + p]
            step = plan.ext_index[run.start + run.period + p] - i0
            i1 = plan.ext_index[run.last + p] + 1
            out.append(f"    _r{self.rid}_{p} = _ext[{i0}:{i1}:{step}]  # repeat j of loop {self.rid} reads the j-th")
        return out

    def forward(self, forward_node: Callable[[int], tuple[str | None, str | None]], finite_check: bool) -> list[str]:
        plan, run, rid = self.plan, self.run, self.rid
        names, period, t = plan.names, run.period, run.last
        nodes = sum(1 for k in range(t, run.end) if plan.kinds[k] == NODE)
        lines: list[str] = []
        checks: list[str] = []
        for p in range(period):
            k = t + p
            check: str | None
            if plan.kinds[k] == EXT:
                lines.append(f"{names[k]} = _x{rid}_{p}.data  # read by reference, a different Value each repeat")
                check = names[k]
            elif plan.kinds[k] == NODE and k not in plan.const:
                line, check = forward_node(k)
                if line is not None:
                    lines.append(line)
            else:
                continue
            if check and finite_check:
                checks.append(check)
        # A carried value is read in place when the repeat reads it before overwriting it; else it is copied.
        renames: dict[str, str] = {}
        shifts: list[tuple[str, str]] = []
        mentions = _mentions(lines)
        first_write: dict[str, int] = {}  # variable -> the first line that assigns it
        for i, line in enumerate(lines):
            first_write.setdefault(line.split(" = ", 1)[0], i)
        for p in run.carried:
            prev, own = names[t - period + p], names[t + p]
            reads = mentions.get(prev, [])
            write = first_write.get(own)
            if write is not None and (not reads or max(reads) <= write):
                renames[prev] = own
            else:
                shifts.append((prev, own))
        if checks:  # one sum per repeat, at its end: a value carried in place is by then the next repeat's
            self.checked = True
            lines.append("# inf/NaN check")
            lines.extend(_sum_lines(f"_f{rid}", list(dict.fromkeys(renames.get(c, c) for c in checks)), first=False))
        lines = _rename(lines, renames)
        if shifts:
            lines.append(
                f"{_targets([a for a, _ in shifts])} = {', '.join(b for _, b in shifts)}  # to the next repeat"
            )
        if self.keep:
            lines.append(f"_keep{rid}({_packed([names[t + p] for p in self.keep])})  # for backward")
        if self.carry:
            lines.append(f"_carry{rid}({_packed([names[t + p] for p in self.carry])})  # for backward")
        out = [f"# ---- forward: {run.count:,} repeats of the same {nodes} ops, as a loop ----"]
        for p in run.carried:
            prev = names[t - period + p]
            out.append(f"{renames.get(prev, prev)} = {plan.expr(run.start - period + p)}  # read by the first repeat")
        if self.keep:
            out.append(f"_kept{rid} = []")
            out.append(f"_keep{rid} = _kept{rid}.append")
        if self.carry:
            seeds = [plan.expr(run.start - period + p) for p in self.carry]
            out.append(f"_carried{rid} = [{_packed(seeds)}]  # the values before the first repeat")
            out.append(f"_carry{rid} = _carried{rid}.append")
        if self.checked:  # plus every value carried into the first repeat: the sums above read their successors
            seeds = [plan.expr(run.start - period + p) for p in run.carried]
            out.append(f"_f{rid} = {' + '.join(seeds) if seeds else '0.0'}")
        if run.leaves:
            xs = [f"_x{rid}_{p}" for p in run.leaves]
            rs = [f"_r{rid}_{p}" for p in run.leaves]
            source = rs[0] if len(rs) == 1 else f"zip({', '.join(rs)})"
            out.append(f"for {', '.join(xs)} in {source}:")
        else:
            out.append(f"for _ in range({run.count}):")
        out.extend("    " + line for line in lines)
        out.append("# ---- forward, after the loop (its variables hold the last repeat) ----")
        return out

    def backward(
        self,
        grad: dict[int, str],
        owned: set[int],
        body: list[str],
        backward_node: Callable[[int, dict[int, str], set[int], list[str]], None],
    ) -> None:
        plan, run, rid = self.plan, self.run, self.rid
        names, period, t = plan.names, run.period, run.last
        u = t - period
        body.append(f"# ---- backward: the last of the {run.count:,} repeats, then the others in a loop ----")
        if self.keep:
            body.append(f"_kept{rid}.pop()  # the last repeat's values are still in their variables")
        if self.carry:
            body.append(f"_carried{rid}.pop()")
            body.append(f"{_targets([names[u + p] for p in self.carry])} = _carried{rid}.pop()")
        peeled: list[str] = []
        for off in run.order:
            backward_node(t + off, grad, owned, peeled)
        mentions = _mentions(peeled)
        for p in range(period):  # it may read the repeat before only where the loop keeps values
            if p not in self.carry and u + p not in plan.const and names[u + p] in mentions:
                raise _RollMismatch(run)
        body.extend(peeled)
        for f in self.fixed:  # gradients the loop adds into: locals of their own from here on
            if f not in grad:
                raise _RollMismatch(run)
            if f not in owned:
                body.append(f"{names[f]}_g = {grad[f]}")
                grad[f] = names[f] + "_g"
                owned.add(f)
        for p in run.carried:
            if (u + p in grad) != (p in self.has):
                raise _RollMismatch(run)
            if p in self.has:
                if run.start - period + p in grad:  # the seed has a gradient of its own already: not ours to replace
                    raise _RollMismatch(run)
                body.append(f"{self.gname[p]} = {grad[u + p]}  # carried gradient")
        for p in self.leaf_grads:
            body.append(f"_g{rid}_{p} = []  # gradients of the Values read per repeat, last repeat first")
        kept = [names[u + p] for p in self.keep]
        prev = [names[u - period + p] for p in self.carry]
        if kept and prev:
            pairs = f"zip(reversed(_kept{rid}), reversed(_carried{rid}))"
            head = f"for {_targets(kept, True)}, {_targets(prev, True)} in {pairs}:"
        elif kept:
            head = f"for {_targets(kept)} in reversed(_kept{rid}):"
        elif prev:
            head = f"for {_targets(prev)} in reversed(_carried{rid}):"
        else:
            head = f"for _ in range({run.count - 1}):"
        body.append(head + "  # repeats before the last, last first")
        lines = list(self.lines)
        if self.moves:
            lines.append(f"{_targets([a for a, _ in self.moves])} = {', '.join(b for _, b in self.moves)}")
        if self.shift:
            lines.append(
                f"{_targets([names[u + p] for p in self.shift])} = "
                f"{', '.join(names[u - period + p] for p in self.shift)}  # values of the repeat before"
            )
        body.extend("    " + line for line in (lines or ["pass"]))
        for p in self.has:
            seed = run.start - period + p
            grad[seed] = self.gname[p]
            owned.add(seed)

    def gradient_lists(self) -> list[str]:
        """The lists holding the gradients of the Values read once per repeat."""
        return [f"_g{self.rid}_{p}" for p in self.leaf_grads]

    def tail(self) -> list[str]:
        out = []
        for p in self.leaf_grads:
            out.append(f"for _v, _g in zip(_r{self.rid}_{p}[-2::-1], _g{self.rid}_{p}):  # one Value per repeat")
            out.append("    _v.grad += _g")
        return out


def _assemble_batch(
    plan: _Plan,
    outer: list[str],
    head: str,
    preamble: list[str],
    hoisted: list[str],
    body: list[str],
    params: list[str],
    grad: dict[int, str],
) -> str:
    used = [k for k in plan.ext_index if any(grad[k] in line for line in body)]
    args = ", ".join(params)
    lines = [head, *("    " + line for line in [*preamble, *hoisted])]
    lines.extend(f"    {grad[k]} = 0.0" for k in used)
    lines.append("    _total = 0.0")
    lines.append(f"    for {args}{',' if len(params) == 1 else ''} in rows:")
    lines.append(f"        if {' or '.join(f'type({a}) is not float' for a in params)}:")
    lines.append(f"            _total += _general({args})  # not all floats: this row alone, the general way")
    lines.append("            continue")
    lines.append("        try:")
    lines.extend("            " + line for line in body)
    lines.append("        except _RECOVERABLE as _error:")
    lines.append(f"            _total += _recover(_error, ({args},), {(False,) * len(params)!r})")
    lines.append("            continue")
    lines.append(f"        _total += {plan.expr(plan.root)}")
    if used:  # a row's gradient overflowed, or the sum over rows did: write nothing, say so
        lines.extend("    " + line for line in _sum_lines("_s", [grad[k] for k in used]))
        lines.append("    if not -_inf < _s < _inf:")
        lines.append(f"        _batch_overflow(({', '.join(grad[k] for k in used)},))")
    for k in used:
        i = plan.ext_index[k]
        lines.append(f"    _e{i}.grad += {grad[k]}" if plan.ext_leaf[i] else f"    _e{i}.backward({grad[k]})")
    lines.append("    return _total")
    return "\n".join([*outer, *("    " + line for line in lines), "    return replay"]) + "\n"


_OP_HELPERS = {  # the helpers each op's forward and backward lines may call; any other op uses the engine's table
    "+": (),
    "*": (),
    "relu": (),
    "abs": (),
    "leaky_relu": (),
    "exp": ("_exp",),
    "log": ("_log",),
    "sqrt": ("_sqrt",),
    "sin": ("_sin", "_cos"),
    "cos": ("_cos", "_sin"),
    "tanh": ("_tanh",),
    "elu": ("_expm1", "_exp"),
    "erf": ("_erf", "_L1", "_FM"),
    "**": ("_pow", "_L2", "_FM"),
}
_GENERIC_HELPERS = ("_F1", "_F2", "_L1", "_L2", "_FM")


def _bind_helpers(source: str, plan: _Plan, mask: tuple[bool, ...]) -> str:
    """Name in make_replay's signature just the helpers the code can use (a shorter, clearer listing)."""
    wanted = {"_inf", "_NonFinite", "_RECOVERABLE"}
    if "_batch_overflow(" in source:
        wanted.add("_batch_overflow")
    if plan.guards:
        wanted.add("_GuardFailed")
    if any(mask):
        wanted.add("_accumulate")
    for op in {row[0] for row in plan.ops.values()}:
        wanted.update(_OP_HELPERS.get(op, _GENERIC_HELPERS))
    names = [name for name in _HELPERS if name in wanted]
    return source.replace("HELPERS", ", ".join([*names, "_general", "_recover"]), 1)


def _batch_overflow(grads: tuple[float, ...]) -> None:
    """`.batch()`: the summed gradients are not finite; nothing has been written."""
    raise OverflowError(
        f"compiled batch: the gradients summed over the rows are not finite ({', '.join(map(repr, grads))}): "
        "a row's gradient overflowed, or the sum over rows did; no gradient was written. "
        "Call the compiled function row by row to find the row"
    )


def _accumulate(v: Value, g: float) -> None:
    """Add g into an argument passed as a Value; through its own graph too, as eager backward would."""
    if v.is_leaf():
        v.grad += g
    else:
        v.backward(g)


_HELPERS: dict[str, Any] = {
    "_pow": math.pow,
    "_exp": math.exp,
    "_expm1": math.expm1,
    "_log": math.log,
    "_sqrt": math.sqrt,
    "_sin": math.sin,
    "_cos": math.cos,
    "_tanh": math.tanh,
    "_erf": math.erf,
    "_inf": math.inf,
    "_F1": engine._FORWARD1,
    "_F2": engine._FORWARD2,
    "_L1": engine._LOCAL1,
    "_L2": engine._LOCAL2,
    "_FM": engine.FloatMath,
    "_accumulate": _accumulate,
    "_batch_overflow": _batch_overflow,
    "_NonFinite": _NonFinite,
    "_GuardFailed": _GuardFailed,
    "_RECOVERABLE": (_NonFinite, _GuardFailed, ArithmeticError, ValueError),
}


# ---- the compiled function ----------------------------------------------------------------------
class _Runtime:
    """Everything a replay needs besides its own code: the plan, the code for other argument kinds, and
    the slow paths. Generated functions reference it (never the reverse for the entry point: no cycle)."""

    def __init__(self, f: Callable[..., Any], plan: _Plan) -> None:
        self.f = f
        self.plan = plan
        self.variants: dict[tuple[tuple[bool, ...], bool], Callable[..., float]] = {}
        self.sources: dict[tuple[bool, ...], str] = {}
        self.batch: Callable[..., float] | None = None

    def build(self, mask: tuple[bool, ...], check: bool = True, batch: bool = False) -> Callable[..., float]:
        """Generate and compile the replay for arguments of this kind (mask[i]: passed as a Value)."""
        source = _generate(self.plan, mask, finite_check=check, batch=batch)
        namespace: dict[str, Any] = {}
        name = _sanitize(getattr(self.f, "__name__", "")) or "f"
        # Our own generated text only (structure, op names, repr(float)); it defines make_replay, nothing else.
        exec(builtins.compile(source, f"<compiled {name}>", "exec"), namespace)  # noqa: S102
        general, recover = self._slow_paths()
        if check and not batch:
            self.sources[mask] = source
        make = namespace.pop("make_replay")  # popped: no namespace -> function -> namespace cycle
        bound = {**_HELPERS, "_ext": tuple(self.plan.externals), "_general": general, "_recover": recover}
        return make(*(bound[name] for name in make.__code__.co_varnames[: make.__code__.co_argcount]))  # type: ignore[no-any-return]

    def _slow_paths(self) -> tuple[Callable[..., float], Callable[..., float]]:
        """`_general` and `_recover` for generated code, holding the runtime weakly: the runtime keeps its
        generated functions, so a strong reference back would be a cycle."""
        ref = weakref.ref(self)

        def _general(*args: Any) -> float:
            return ref().general(*args)  # type: ignore[union-attr]

        def _recover(error: BaseException, args: tuple[Any, ...], mask: tuple[bool, ...]) -> float:
            return ref().recover(error, args, mask)  # type: ignore[union-attr]

        return _general, _recover

    def variant(self, mask: tuple[bool, ...], check: bool = True) -> Callable[..., float]:
        fn = self.variants.get((mask, check))
        if fn is None:
            fn = self.variants[(mask, check)] = self.build(mask, check)
        return fn

    def general(self, *args: Any) -> float:
        """Any mix of floats, ints and Values: check the arguments, then run the matching replay."""
        xs = list(args)
        mask = tuple(isinstance(x, Value) for x in xs)
        for i, x in enumerate(xs):
            if not mask[i]:
                xs[i] = engine._to_float(x, f"compiled {getattr(self.f, '__name__', 'f')}: argument {i}")
        return self.variant(mask)(*xs)

    def recover(self, error: BaseException, args: tuple[Any, ...], mask: tuple[bool, ...]) -> float:
        """A replay stopped: raise what eager mode raises for these inputs, else explain, else carry on."""
        name = getattr(self.f, "__name__", "f")
        for i, x in enumerate(args):
            if not mask[i]:
                engine._to_float(x, f"compiled {name}: argument {i}")  # inf / NaN arguments
        self.diagnose(args)
        if isinstance(error, _GuardFailed):
            plan = self.plan
            outcome = plan.guards[error.index][4]
            raise CompileBranchError(
                f"compiled {name}: these inputs take a different branch than the traced ones: "
                f"`{plan.describe_guard(error.index)}` was {outcome} when traced and is {not outcome} now "
                f"(left = {error.left!r}, right = {error.right!r}). "
                f"Call {name} eagerly for such inputs, or compile it again"
            ) from None
        if isinstance(error, _NonFinite):  # a false alarm: a sum of huge but finite values overflowed
            return self.variant(mask, check=False)(*args)
        raise CompileError(f"compiled {name} failed where eager mode does not: {error!r}") from error

    def diagnose(self, args: tuple[Any, ...]) -> None:
        """Run f eagerly (no .grad touched) so that its error, if it has one, is the one raised."""
        values = [x if isinstance(x, Value) else Value(x) for x in args]
        out = self.f(*values)
        if isinstance(out, Value):
            gradients(out, [])


class Compiled:
    """`f` traced once and compiled to straight-line Python; call it like `f`, get the output's value."""

    __slots__ = ("__weakref__", "_entry", "_mask0", "_runtime")

    def __init__(self, f: Callable[..., Any], example_args: tuple[Any, ...]) -> None:
        tracer, out = _trace(f, example_args)
        plan = _Plan(tracer, out, len(example_args))
        del tracer, out  # the traced graph is not kept: only the plan and the externals
        self._runtime = _Runtime(f, plan)
        self._mask0 = tuple(isinstance(x, Value) for x in example_args)
        # The all-floats replay is the entry point; the runtime builds its own copy if it ever needs one.
        self._entry = self._runtime.build((False,) * plan.nargs)

    # Calling a Compiled calls its entry function directly: the property hands Python the generated
    # function to call, which saves a Python-level method frame per call (a third of a small replay).
    __call__ = property(operator.attrgetter("_entry"))

    def batch(self, rows: Iterable[Sequence[Any]]) -> float:
        """Sum of f over rows of arguments, with gradients, as `sum(compiled(*row) for row in rows)` gives;
        faster for rows of floats: the Values f read are read once and their gradients written once.
        If a row fails, no gradient of the batch is written."""
        runtime = self._runtime
        nargs = runtime.plan.nargs
        rows = [tuple(row) for row in rows]
        for i, row in enumerate(rows):
            if len(row) != nargs:
                raise TypeError(f"compiled f.batch: row {i} has {len(row)} arguments, f takes {nargs}")
        if nargs == 0 or runtime.plan.kinds[runtime.plan.root] != NODE:
            return sum((self._entry(*row) for row in rows), 0.0)
        if runtime.batch is None:
            runtime.batch = runtime.build((False,) * nargs, batch=True)
        return runtime.batch(rows)

    @property
    def source(self) -> str:
        """The generated forward and backward code (for the example arguments' mix of floats and Values)."""
        runtime = self._runtime
        if self._mask0 not in runtime.sources:
            runtime.variant(self._mask0)
        return runtime.sources[self._mask0]

    @property
    def guards(self) -> list[str]:
        """The value-dependent branches recorded while tracing, as the conditions that held then."""
        plan = self._runtime.plan
        return [f"{plan.describe_guard(i)} is {plan.guards[i][4]}" for i in range(len(plan.guards))]

    @property
    def parameters(self) -> list[Value]:
        """The pre-existing Values f read (by reference): they receive gradients on every call."""
        return list(self._runtime.plan.externals)

    def __repr__(self) -> str:
        plan = self._runtime.plan
        nodes = sum(1 for kind in plan.kinds if kind == NODE)
        return f"<compiled {getattr(self._runtime.f, '__name__', 'f')}: {nodes} ops, {len(plan.guards)} guards>"


def compile(f: Callable[..., Any], *example_args: Any) -> Compiled:
    """Trace `f(*example_args)` once and return it compiled: calling the result returns the output's value and
    adds gradients into `.grad` of every Value f read, like `out = f(*args); out.backward()`.
    """
    if not callable(f):
        raise TypeError(f"compile: f must be callable, got {type(f).__name__} {f!r}")
    return Compiled(f, example_args)
