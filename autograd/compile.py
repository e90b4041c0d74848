"""Compiled replay: trace a function once, then rerun its chain rule as generated straight-line Python.

`compile(f, *example_args)` calls `f` once on fresh leaf Values and records the graph it builds.
From that graph it writes Python source: a forward pass (one line per node, plain float
expressions; single-use sums and products are written inline) followed by the backward pass (one
line per edge: upstream x local = downstream), using the engine's local-derivative rules in the
order `backward()` uses, so results match eager mode to the last bit in practice. Calling the
compiled function runs that code on floats - no Value objects, no graph - and adds the gradients
to `.grad` of every pre-existing Value `f` read (model parameters, read by reference, so optimizers
work unchanged) and of every argument passed as a Value. `compiled.batch(rows)` runs it once per
row of arguments and sums, reading and writing the parameters once.

Errors: the generated code keeps eager mode's domain checks. Anything unusual on replay (a domain
error, an inf or NaN, a changed branch) stops it before any gradient is written; `f` then runs
eagerly on the same inputs, so the error raised is eager mode's own.

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


class trace_invariant:
    """Context manager for code whose data-dependent choices cannot change f's result, such as the
    shift of a numerically stable softmax (`z - max(z)`): while tracing, its comparisons on `.data`
    record no guards and numbers it computes from `.data` are baked into the compiled code as
    constants. Outside of tracing it does nothing. The caller vouches for the invariance.

        with autograd.trace_invariant():
            shift = -max(z.data for z in logits)  # arithmetic or float() inside gives a plain number
    """

    def __init__(self) -> None:
        self._tokens: list[contextvars.Token[bool]] = []

    def __enter__(self) -> None:
        self._tokens.append(_invariant.set(True))

    def __exit__(self, *exc: object) -> None:
        _invariant.reset(self._tokens.pop())


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

    def expr(self, k: float) -> str:
        if isinstance(k, float):
            return _lit(k)
        return _lit(self.const[k]) if k in self.const else self.names[k]

    def describe_guard(self, i: int) -> str:
        _, left, op, right, _ = self.guards[i]
        return f"{self.expr(left)} {op} {self.expr(right)}"


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
        rhs = f"{x} if {x} > 0.0 else -{x}"
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


def _contribution(g: str, local: str) -> str:
    if g == "1.0":
        return local
    if local == "1.0":
        return g
    return f"{g} * {local}"


def _generate(plan: _Plan, mask: tuple[bool, ...], finite_check: bool = True, batch: bool = False) -> str:
    """Source of `make_replay(...)`, which returns `replay(a0, a1, ...)` for arguments where mask[i] says
    'passed as a Value'. Helpers and the Values f read are bound once, as closure cells (fast to read).
    With `batch`, `replay(rows)` runs the code once per row of float arguments and returns the sum: the
    Values f read are read once and their gradients summed in locals, written once at the end."""
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

    for k, kind in enumerate(kinds):
        emit_guards(k)
        if kind == ARG:
            body.append(f"{names[k]} = a{k}{'.data' if mask[k] else ''}  # argument {k}")
            checks.append(names[k])
        elif kind == EXT:
            (hoisted if batch else body).append(f"{names[k]} = _e{plan.ext_index[k]}.data  # read by reference")
            checks.append(names[k])
        elif kind == NODE and k not in plan.const:
            rhs, check = _forward_rhs(plan, k, ex)
            a, b = ops[k][1], ops[k][2]
            parts = [*inline.pop(a, []), *([] if b is None else inline.pop(b, []))]
            if k in fusable:
                fused[k] = f"({rhs})"
                inline[k] = [*parts, f"{names[k]} {ops[k][0]}"]
                continue
            line = f"{names[k]} = {rhs}  # {ops[k][0]}{' (inline: ' + ', '.join(parts) + ')' if parts else ''}"
            if not ops[k][4]:
                line += " (under no_grad: no gradient flows through it)"
            body.append(line)
            if check:
                checks.append(check)
    emit_guards(len(kinds))
    checks.extend(names[k] for k in plan.sinks)
    root = plan.root
    if root not in plan.const and names[root] not in checks:
        checks.append(plan.expr(root))
    checks = list(dict.fromkeys(checks))  # each value once, in order
    if checks and finite_check:
        body.append("# inf or NaN anywhere reaches one of these: eager mode would have raised")
        for start in range(0, len(checks), 32):
            chunk = " + ".join(checks[start : start + 32])
            body.append(f"_s {'=' if start == 0 else '+='} {chunk}")
        body.append("if not -_inf < _s < _inf:")
        body.append("    raise _NonFinite")
    body.append("# ---- backward: upstream gradient x local derivative, added into each input ----")
    grad: dict[int, str] = {}  # node -> its gradient so far: a local we own, or an alias of a finished one
    owned: set[int] = set()
    if need.get(root, False):
        grad[root] = "1.0"
    if batch:  # gradients of the Values f read are sums over rows: locals from the start
        for k in plan.ext_index:
            grad[k] = names[k] + "_g"
            owned.add(k)
    for k in plan.backward_order:
        if not need.get(k, False) or k not in grad:
            continue
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
                    "elu": _contribution(g, f"({names[k]} + {_lit(ops[k][3] or 0.0)})"),
                    "abs": f"(-{g} if {x} < 0.0 else 0.0)",
                }[op]
                if op == "relu" and inp in owned:
                    body.append(f"if {x} > 0.0: {target} += {g}{comment}")
                    continue
                contribution = f"({g} if {x} > 0.0 else {neg})"
            else:
                local = _local(plan, k, which)
                if local is None:
                    continue
                contribution = _contribution(g, local)
            if inp in owned:
                body.append(f"{target} += {contribution}{comment}")
            elif inp in grad:  # it held an alias: now it needs a local of its own
                body.append(f"{target} = {grad[inp]} + {contribution}{comment}")
            elif contribution == "1.0" or contribution.isidentifier():
                grad[inp] = contribution  # the same number as an existing one: no line needed
                continue
            else:
                body.append(f"{target} = {contribution}{comment}")
            grad[inp] = target
            owned.add(inp)
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
    tail.append(f"return {plan.expr(root)}")
    lines = [head, *("    " + line for line in preamble), "    try:", *("        " + line for line in body)]
    lines.extend("    " + line for line in tail)
    return _bind_helpers(
        "\n".join([*outer, *("    " + line for line in lines), "    return replay"]) + "\n", plan, mask
    )


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
    "elu": ("_expm1",),
    "erf": ("_erf", "_L1", "_FM"),
    "**": ("_pow", "_L2", "_FM"),
}
_GENERIC_HELPERS = ("_F1", "_F2", "_L1", "_L2", "_FM")


def _bind_helpers(source: str, plan: _Plan, mask: tuple[bool, ...]) -> str:
    """Name in make_replay's signature just the helpers the code can use (a shorter, clearer listing)."""
    wanted = {"_inf", "_NonFinite", "_RECOVERABLE"}
    if plan.guards:
        wanted.add("_GuardFailed")
    if any(mask):
        wanted.add("_accumulate")
    for op in {row[0] for row in plan.ops.values()}:
        wanted.update(_OP_HELPERS.get(op, _GENERIC_HELPERS))
    names = [name for name in _HELPERS if name in wanted]
    return source.replace("HELPERS", ", ".join([*names, "_general", "_recover"]), 1)


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
