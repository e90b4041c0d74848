"""Reading an op's rules with symbols: the same `forward` and `derivative` functions the engine runs,
given operands that write Python source instead of computing.

`SourceMath` is the `m` of this interpretation: `m.exp(x)` writes a call of `FloatMath.exp` (bound as
a global of the generated module, so the replay computes exactly what eager's backward computes) and
`m.where(c, a, b)` writes a choice. Arithmetic operators on symbols write the same operators, so the
generated code does eager's float arithmetic in eager's order. A rule that needs a symbol's number
(`math.exp(x)`, `float(x)`) cannot be read this way: `Untranslatable`.

A *forward* rule may branch (`x if x > 0.0 else 0.0`, `max(x, 0.0)`): Python asks the symbolic
condition for a bool, and `forward_source` answers each way in turn, re-running the rule, then writes
`(A if C else B)` -- the same comparison choosing the same arithmetic as the float rule, so the same bits.
"""

from __future__ import annotations

import contextvars
import itertools
import math
import re
import struct
from typing import Any

from ..ops import MATH_NAMES, FloatMath, Op
from .errors import CompileError
from .trace import DETACH, literal

__all__ = ["MATH_GLOBALS", "SourceMath", "Sym", "Untranslatable", "forward_source", "local_sources"]


class Untranslatable(Exception):
    """A rule asked a symbol for something only a number has."""


class Sym:
    """A float-valued expression as source text; `simple` when evaluating it cannot raise (a name or a literal)."""

    __slots__ = ("simple", "text")
    __array_ufunc__ = None

    def __init__(self, text: str, simple: bool = False) -> None:
        self.text, self.simple = text, simple

    def _bin(self, symbol: str, other: object, reflected: bool) -> Sym:
        theirs = _text(other)
        out = Sym(f"({theirs} {symbol} {self.text})" if reflected else f"({self.text} {symbol} {theirs})")
        run = _RUN.get()
        if run is not None and symbol in _MAY_RAISE:
            run.raising.append(out.text)
        return out

    def __add__(self, o: object) -> Sym:
        return self._bin("+", o, False)

    def __radd__(self, o: object) -> Sym:
        return self._bin("+", o, True)

    def __sub__(self, o: object) -> Sym:
        return self._bin("-", o, False)

    def __rsub__(self, o: object) -> Sym:
        return self._bin("-", o, True)

    def __mul__(self, o: object) -> Sym:
        return self._bin("*", o, False)

    def __rmul__(self, o: object) -> Sym:
        return self._bin("*", o, True)

    def __truediv__(self, o: object) -> Sym:
        return self._bin("/", o, False)

    def __rtruediv__(self, o: object) -> Sym:
        return self._bin("/", o, True)

    def __pow__(self, o: object) -> Sym:
        return self._bin("**", o, False)

    def __rpow__(self, o: object) -> Sym:
        return self._bin("**", o, True)

    def __neg__(self) -> Sym:
        return Sym(f"(-{self.text})")

    def __pos__(self) -> Sym:
        return Sym(f"(+{self.text})")

    def __abs__(self) -> Sym:
        return Sym(f"abs({self.text})")

    def _cmp(self, symbol: str, other: object) -> Cond:
        return Cond(f"{self.text} {symbol} {_text(other)}")

    def __lt__(self, o: object) -> Cond:
        return self._cmp("<", o)

    def __le__(self, o: object) -> Cond:
        return self._cmp("<=", o)

    def __gt__(self, o: object) -> Cond:
        return self._cmp(">", o)

    def __ge__(self, o: object) -> Cond:
        return self._cmp(">=", o)

    def __eq__(self, o: object) -> Cond:  # type: ignore[override]
        return self._cmp("==", o)

    def __ne__(self, o: object) -> Cond:  # type: ignore[override]
        return self._cmp("!=", o)

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:  # `if x:` on a float asks bool(x); so does `(A if x else B)`
        return Cond(self.text).__bool__()

    def _number(self, *_: object) -> Any:
        raise _untranslatable("the rule needs the operand's number (float(), int(), math.*)")

    def __getattr__(self, name: str) -> Any:  # x.real, x.is_integer(): a float's, not a symbol's
        if name.startswith("__"):
            raise AttributeError(name)  # protocol probes (numpy's, copy's) get the usual answer
        raise _untranslatable(f"the rule reads .{name} of an operand")

    __float__ = __int__ = __index__ = __round__ = __trunc__ = __floor__ = __ceil__ = _number


class Cond:
    """A condition (a comparison of symbols) as source text: `m.where` takes it; a forward rule's `if`
    asks it for a bool, which only `forward_source`'s exploration of both branches can answer."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __bool__(self) -> bool:
        run = _RUN.get()
        if run is None:
            raise Untranslatable("the rule branches with a Python if (or and/or/not) on an operand; use m.where")
        return run.decide(self.text)


def _text(x: object) -> str:
    if isinstance(x, Sym):
        return x.text
    if type(x) is float or type(x) is int:
        return literal(x)
    raise _untranslatable(f"the rule mixes an operand with {type(x).__name__} {x!r}")


# ---- a forward rule that branches: both outcomes explored --------------------------------------------
MAX_BRANCHES = 3  # branch points on one path of a forward rule; a rule with more is called instead
_MAY_RAISE = frozenset({"/", "//", "%", "**"})  # on floats: ZeroDivisionError, OverflowError, a complex


class _Branch(Exception):
    """The rule asked for a bool beyond the decisions forced so far."""

    def __init__(self, cond: str) -> None:
        super().__init__(cond)
        self.cond = cond


class _Run:
    """One symbolic run of a forward rule, its first branch decisions forced.

    `raising` collects the operations it wrote that can raise: a path whose generated expression left
    one out would succeed where the float rule raises. `failed` marks a run in which a symbol refused
    (a rule that catches that exception and carries on computed something else than it does on floats).
    """

    def __init__(self, forced: tuple[bool, ...], conds: list[str]) -> None:
        self.forced, self.conds, self.at = forced, conds, 0
        self.raising: list[str] = []
        self.failed = False
        self.pending: str | None = None  # the question asked beyond the forced decisions

    def decide(self, cond: str) -> bool:
        if self.pending is not None:  # the rule caught the _Branch and went on asking
            raise _untranslatable("the rule caught the exception that explores its branches")
        if self.at == len(self.forced):
            self.pending = cond
            raise _Branch(cond)
        if self.conds[self.at] != cond:
            raise _untranslatable("the rule asked a different question when run again")
        self.at += 1
        return self.forced[self.at - 1]


_RUN: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("symbolic_run", default=None)


def _untranslatable(why: str) -> Untranslatable:
    run = _RUN.get()
    if run is not None:
        run.failed = True
    return Untranslatable(why)


def _one_path(op: Op, forced: tuple[bool, ...], conds: list[str], operands: list[str], params: dict[str, float]) -> str:
    """The expression for the path given by `forced`: its result, checked to keep every raising operation."""
    run = _Run(forced, conds)
    token = _RUN.set(run)
    try:
        out = op.forward(*(Sym(x, True) for x in operands), **params)
    except _Branch as branch:
        if run.failed or len(forced) >= MAX_BRANCHES:
            raise Untranslatable("a refusal caught, or too many branches") from None
        conds.append(branch.cond)
        yes = _one_path(op, (*forced, True), conds, operands, params)
        no = _one_path(op, (*forced, False), conds, operands, params)
        del conds[len(forced) :]
        return f"({yes} if {branch.cond} else {no})"
    finally:
        _RUN.reset(token)
    if run.failed or run.pending is not None or run.at != len(forced):
        raise Untranslatable("the rule caught a symbol's refusal, or skipped a forced branch")
    if isinstance(out, Sym):
        text = out.text
    elif type(out) is float or type(out) is int:  # eager keeps float(result): so does the replay
        text = literal(float(out))
    else:
        raise Untranslatable(f"the rule returned {type(out).__name__}")
    evaluated = " ".join([*conds[: len(forced)], text])  # what the generated code evaluates on this path
    if not all(r in evaluated for r in run.raising):
        raise Untranslatable("a path leaves out an operation that can raise")
    return text


def _where(cond: object, a: object, b: object) -> Sym:
    if not isinstance(cond, Cond):
        if type(cond) is bool:  # decided by constants alone
            chosen = a if cond else b
            return chosen if isinstance(chosen, Sym) else Sym(_text(chosen), True)
        raise _untranslatable(f"m.where needs a comparison of operands, got {type(cond).__name__}")
    ta, tb = _text(a), _text(b)
    if all(not isinstance(x, Sym) or x.simple for x in (a, b)):  # nothing to evaluate: a plain choice
        return Sym(f"({ta} if {cond.text} else {tb})")
    return Sym(f"_m_where({cond.text}, {ta}, {tb})")  # both branches evaluated, as FloatMath.where does


def _math(name: str) -> Any:
    def fn(*args: object) -> Sym:
        return Sym(f"_m_{name}({', '.join(_text(a) for a in args)})")

    return staticmethod(fn)


class SourceMath:
    """`m` for code generation: each function writes a call of the same FloatMath function."""

    exp = _math("exp")
    log = _math("log")
    sqrt = _math("sqrt")
    pow = _math("pow")
    sin = _math("sin")
    cos = _math("cos")
    tanh = _math("tanh")
    sigmoid = _math("sigmoid")
    erf = _math("erf")
    abs = _math("abs")
    where = staticmethod(_where)


MATH_GLOBALS: dict[str, Any] = {f"_m_{name}": getattr(FloatMath, name) for name in MATH_NAMES}


def forward_source(op: Op | str, fname: str, operands: list[str], params: dict[str, float] | None) -> str:
    """The forward expression: the rule inlined when it is arithmetic (branches become `(A if C else B)`,
    the float rule's own comparisons choosing its own arithmetic), else a call of op.forward (bound as
    the global `fname`)."""
    if op == DETACH:
        return operands[0]
    assert isinstance(op, Op)
    own = [f"_x{i}" for i in range(len(operands))]
    try:
        text = _one_path(op, (), [], own, dict(params or {}))
    except Exception:  # noqa: BLE001 - any rule that needs numbers is called instead
        text = None
    if text is not None and text not in own and _agrees(op, text, params or {}):
        return _OWN.sub(lambda m: operands[int(m.group(1))], text)
    args = [*operands, *(f"{p}={literal(v)}" for p, v in (params or {}).items())]
    return f"{fname}({', '.join(args)})"


_OWN = re.compile(r"\b_x(\d)\b")
_PROBES = (-2.5, -1.0, -0.0, 0.0, 5e-324, 0.5, 1.0, 3.0, 1e300)


def _agrees(op: Op, text: str, params: dict[str, float]) -> bool:
    """The inlined expression, evaluated at probe points, gives the float rule's bits (or raises where
    it raises). A symbol cannot see a rule that asks what its operand *is* (`isinstance(x, float)`,
    `x is 0.0`) rather than what it computes: such a rule reads differently on symbols, and this
    check catches it at the probes."""
    code = compile(text, "<inlined forward>", "eval")
    env: dict[str, Any] = {"__builtins__": {"abs": abs}, "_inf": math.inf, "_nan": math.nan}
    for point in itertools.product(_PROBES, repeat=op.arity):
        try:
            want: object = _bits(op.forward(*point, **params))
        except Exception:  # noqa: BLE001 - the replay must raise there too
            want = None
        try:
            got: object = _bits(eval(code, env, {f"_x{i}": x for i, x in enumerate(point)}))  # noqa: S307
        except Exception:  # noqa: BLE001
            got = None
        if got != want:
            return False
    return True


def _bits(x: object) -> bytes:
    return struct.pack(">d", float(x))  # type: ignore[arg-type]


def local_sources(op: Op, operands: list[str], out: str, params: dict[str, float] | None) -> list[str]:
    """d out / d operand for each operand, as source, by the op's own derivative rule."""
    try:
        d = op.derivative(*(Sym(x, True) for x in operands), Sym(out, True), SourceMath, **(params or {}))
        parts = [d] if op.arity == 1 else list(d) if isinstance(d, (tuple, list)) else None
        if parts is None or len(parts) != op.arity or isinstance(d, (tuple, list)) and op.arity == 1:
            raise Untranslatable(f"it returned {d!r}; expected {op.arity} local derivative(s)")
        return [_text(x) for x in parts]
    except Untranslatable as error:
        raise CompileError(f"compile: the derivative rule of op {op.name!r} cannot be compiled: {error}") from None
    except Exception as error:  # noqa: BLE001 - a rule that fails on symbols
        raise CompileError(
            f"compile: the derivative rule of op {op.name!r} cannot be compiled: "
            f"it raised {error!r} on symbolic operands"
        ) from None
