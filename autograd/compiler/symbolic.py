"""Reading an op's rules with symbols: the same `forward` and `derivative` functions the engine runs,
given operands that write Python source instead of computing.

`SourceMath` is the `m` of this interpretation: `m.exp(x)` writes a call of `FloatMath.exp` (bound as
a global of the generated module, so the replay computes exactly what eager's backward computes) and
`m.where(c, a, b)` writes a choice. Arithmetic operators on symbols write the same operators, so the
generated code does eager's float arithmetic in eager's order. A rule that needs a symbol's number
(a Python `if` on an operand, `math.exp(x)`) cannot be read this way: `Untranslatable`.
"""

from __future__ import annotations

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
        return Sym(f"({theirs} {symbol} {self.text})" if reflected else f"({self.text} {symbol} {theirs})")

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

    def _number(self, *_: object) -> Any:
        raise Untranslatable("the rule needs the operand's number (a Python if, float(), math.*)")

    __bool__ = __float__ = __int__ = __index__ = __round__ = __trunc__ = __floor__ = __ceil__ = _number


class Cond:
    """A condition (a comparison of symbols) as source text: only `m.where` may use it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __bool__(self) -> bool:
        raise Untranslatable("the rule branches with a Python if (or and/or/not) on an operand; use m.where")


def _text(x: object) -> str:
    if isinstance(x, Sym):
        return x.text
    if type(x) is float or type(x) is int:
        return literal(x)
    raise Untranslatable(f"the rule mixes an operand with {type(x).__name__} {x!r}")


def _where(cond: object, a: object, b: object) -> Sym:
    if not isinstance(cond, Cond):
        if type(cond) is bool:  # decided by constants alone
            return a if cond and isinstance(a, Sym) else b if isinstance(b, Sym) else Sym(_text(a if cond else b), True)
        raise Untranslatable(f"m.where needs a comparison of operands, got {type(cond).__name__}")
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
    """The forward expression: the rule inlined when it is plain arithmetic, else a call of op.forward
    (bound as the global `fname`)."""
    if op == DETACH:
        return operands[0]
    assert isinstance(op, Op)
    try:
        out = op.forward(*(Sym(x, True) for x in operands), **(params or {}))
    except Exception:  # noqa: BLE001 - any rule that needs numbers is called instead
        out = None
    if isinstance(out, Sym) and out.text not in operands:
        return out.text
    args = [*operands, *(f"{p}={literal(v)}" for p, v in (params or {}).items())]
    return f"{fname}({', '.join(args)})"


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
