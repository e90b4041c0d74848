"""The op table: every op is one `defop` call, its forward rule and its local derivative side by side.

    cube = defop("cube", lambda x: x ** 3, lambda x, out, m: 3.0 * x * x)

- `forward` takes one float per operand (constant parameters keyword-only) and returns a float.
- `derivative` takes the operands, the output `out` and a math namespace `m`, and returns
  d out / d operand (a tuple for two operands).

The derivative is *data*: every path reads the same rule with its own `m`. Backward passes floats
and `FloatMath`; a differentiable backward (`create_graph=True`) passes the nodes themselves and
`ValueMath`, so a rule written with `m` and arithmetic is differentiable again; the compiler passes
symbols that write source text. A piecewise rule therefore says `m.where(x > 0.0, 1.0, 0.0)`, which
every interpretation understands, rather than a Python `if`, which only numbers can take.
`m.where` computes both branches (as numpy and PyTorch do): keep each branch finite everywhere.
"""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .value import Value, _is_real, _lift, _node, _to_float

__all__ = ["OPS", "FloatMath", "Op", "ValueMath", "defop"]

_INF = math.inf
_NAN = math.nan


# ---- the math a rule may use --------------------------------------------------------------------
def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:  # as numpy: inf, so the branch `m.where` does not take cannot fail
        return _INF


def _log(x: float) -> float:
    return math.log(x) if x > 0.0 else (-_INF if x == 0.0 else _NAN)


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0.0 else _NAN


def _pow(x: float, p: float) -> float:
    """x ** p, as numpy has it: inf where float ** raises (0 to a negative power, overflow)."""
    if x < 0.0 and not float(p).is_integer():
        return _NAN
    try:
        return float(x**p)
    except (ZeroDivisionError, OverflowError):
        return _INF


def _sigmoid(x: float) -> float:
    # Stable for large |x|: never evaluates exp of a large positive number.
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _where(cond: Any, a: Any, b: Any) -> Any:
    return a if cond else b


class FloatMath:
    """`m` for a plain backward pass: functions on floats. Total, as numpy's: inf or nan, no raise."""

    exp = staticmethod(_exp)
    log = staticmethod(_log)
    sqrt = staticmethod(_sqrt)
    pow = staticmethod(_pow)
    sin = staticmethod(math.sin)
    cos = staticmethod(math.cos)
    tanh = staticmethod(math.tanh)
    sigmoid = staticmethod(_sigmoid)
    erf = staticmethod(math.erf)
    abs = staticmethod(abs)
    where = staticmethod(_where)  # where(cond, a, b): a if cond else b


class ValueMath:
    """`m` for a differentiable backward pass: the same functions as ops on Values."""

    exp = staticmethod(lambda x: _lift(x, "exp").exp())
    log = staticmethod(lambda x: _lift(x, "log").log())
    sqrt = staticmethod(lambda x: _lift(x, "sqrt").sqrt())
    pow = staticmethod(lambda x, p: _lift(x, "**") ** p)
    sin = staticmethod(lambda x: _lift(x, "sin").sin())
    cos = staticmethod(lambda x: _lift(x, "cos").cos())
    tanh = staticmethod(lambda x: _lift(x, "tanh").tanh())
    sigmoid = staticmethod(lambda x: _lift(x, "sigmoid").sigmoid())
    erf = staticmethod(lambda x: _lift(x, "erf").erf())
    abs = staticmethod(lambda x: _lift(x, "abs").abs())
    where = staticmethod(_where)  # the condition compares numbers, so it is a plain bool here


MATH_NAMES = ("exp", "log", "sqrt", "pow", "sin", "cos", "tanh", "sigmoid", "erf", "abs", "where")
"""What `m` offers a rule; every interpretation of `m` provides each of these."""


# ---- an op ----------------------------------------------------------------------------------------
class Op:
    """One row of the op table: a name, a forward rule on floats and a local-derivative rule.

    Call it like a function: `op(x)`, `op(x, y)`, `op(x, k=2.0)`; operands may be Values or numbers.
    """

    # no __slots__: each op keeps its own __doc__, so help(op) teaches what it computes

    def __init__(
        self,
        name: str,
        forward: Callable[..., float],
        derivative: Callable[..., Any],
        operands: tuple[str, ...],
        params: tuple[str, ...],
        defaults: dict[str, float],
        domain: dict[str, tuple[float, float]] | None,
        doc: str | None,
    ) -> None:
        self.name, self.forward, self.derivative = name, forward, derivative
        self.operands, self.arity, self.params, self.defaults = operands, len(operands), params, defaults
        self.domain = domain
        signature = ", ".join(operands) + (", *, " + ", ".join(params) if params else "")
        self.__doc__ = f"{name}({signature}): {doc or 'an op defined with autograd.defop'}"

    def __call__(self, *operands: Any, **params: Any) -> Value:
        if len(operands) != self.arity:
            raise TypeError(f"{self.name}: expected {self.arity} operand(s), got {len(operands)}")
        values = [x if type(x) is Value else _lift(x, self.name) for x in operands]
        return _node(self, values[0], values[1] if self.arity == 2 else None, self.bind(params))

    def bind(self, params: Mapping[str, Any]) -> dict[str, float] | None:
        """Check the constant parameters of a call: every name known, each a finite real number."""
        if not params and len(self.defaults) == len(self.params):  # the common call: nothing to check
            return self.defaults or None  # shared, never mutated: nodes hand out copies (Value.params)
        unknown = set(params) - set(self.params)
        if unknown:
            raise TypeError(f"{self.name}: unexpected parameter(s) {sorted(unknown)}; it takes {list(self.params)}")
        bound = {}
        for p in self.params:
            if isinstance(params.get(p), Value):
                raise TypeError(
                    f"{self.name}: parameter {p} must be a number, got a Value; "
                    "a parameter is a constant (no gradient): pass .data, or make it an operand of the op"
                )
            if p in params:
                bound[p] = _to_float(params[p], f"{self.name}: parameter {p}")
            elif p in self.defaults:
                bound[p] = self.defaults[p]
            else:
                raise TypeError(f"{self.name}: missing the keyword parameter {p!r}")
        return bound

    def local(self, inputs: tuple[Any, ...], out: Any, params: dict[str, float] | None, m: Any) -> tuple[Any, ...]:
        """The local derivatives d out / d input, one per input, by this op's rule with math `m`."""
        d = self.derivative(*inputs, out, m, **(params or {}))
        return (d,) if self.arity == 1 else tuple(d)

    # ---- messages: the op and the numbers, where the mistake is made ------------------------------
    def _inputs(self, a: Value, b: Value | None) -> str:
        return ", ".join(repr(v._data) for v in (a, b) if v is not None)

    def forward_error(self, error: Exception, a: Value, b: Value | None) -> Exception:
        if str(error).startswith(self.name + ":"):
            return error  # already names the op (the built-ins' own checks)
        # A domain error reads as the op's own ("too small"); anything else says what was raised.
        what = str(error) if isinstance(error, (ArithmeticError, ValueError)) else f"forward raised {error!r}"
        message = f"{self.name}: {what} (input {self._inputs(a, b)})"
        try:
            return type(error)(message)
        except Exception:  # an exception type whose constructor wants other arguments
            return RuntimeError(message)

    def check_result(self, data: object, a: Value, b: Value | None) -> float:
        if _is_real(data):
            try:
                return float(data)
            except OverflowError:  # an int (or Fraction) beyond the largest float
                raise OverflowError(f"{self.name}: result overflows a float for input ({self._inputs(a, b)})") from None
        raise TypeError(
            f"{self.name}: forward must return a real number, got {type(data).__name__} {data!r} "
            f"for input {self._inputs(a, b)}"
        )

    def nonfinite_error(self, data: float, a: Value, b: Value | None) -> ArithmeticError:
        if data != data:
            return FloatingPointError(f"{self.name}: result is nan for input ({self._inputs(a, b)})")
        return OverflowError(f"{self.name}: result overflows a float for input ({self._inputs(a, b)})")

    def __repr__(self) -> str:
        sig = ", ".join(self.operands) + "".join(f", *, {p}" if i == 0 else f", {p}" for i, p in enumerate(self.params))
        return f"<op {self.name}({sig})>"


# ---- the registry -----------------------------------------------------------------------------------
_OPS: dict[str, Op] = {}


class _Registry(Mapping[str, Op]):
    """A read-only, live view of the op table: name -> Op. `defop` is the one way to add a row."""

    def __setitem__(self, name: str, value: object) -> None:
        raise TypeError("OPS is read-only: add an op with autograd.defop(name, forward, derivative)")

    __delitem__ = __setitem__

    def __getitem__(self, name: str) -> Op:
        return _OPS[name]

    def __iter__(self) -> Iterator[str]:
        return iter(_OPS)

    def __len__(self) -> int:
        return len(_OPS)

    def __repr__(self) -> str:
        return f"OPS({', '.join(_OPS)})"


OPS: Mapping[str, Op] = _Registry()
"""Every registered op by name, built-ins and user ops alike."""


def defop(
    name: str,
    forward: Callable[..., float],
    derivative: Callable[..., Any],
    *,
    domain: Mapping[str, tuple[float, float]] | None = None,
    doc: str | None = None,
) -> Op:
    """Register an op: `forward(*operands, **params) -> float` and
    `derivative(*operands, out, m, **params) -> d out / d operand` (a tuple for two operands).

    `domain` maps operand and parameter names to intervals where the op is defined and smooth;
    `check_op` samples points there. The definition is tried at a few points before it is
    registered: a bad one raises, naming the op, and registers nothing.
    """
    from ._defcheck import check_definition  # the probing lives beside the checks it shares

    if not isinstance(name, str) or not name or not name.isprintable():
        raise TypeError(f"defop: name must be a non-empty printable str, got {name!r}")
    if name in _OPS:
        raise ValueError(f"defop: an op named {name!r} is already registered ({_OPS[name]!r}); choose another name")
    if not callable(forward) or not callable(derivative):
        raise TypeError(f"defop {name!r}: forward and derivative must be callables")
    operands, params, defaults = _signature(name, forward, derivative)
    checked_domain = _check_domain(name, domain, operands, operands + params)
    op = Op(name, forward, derivative, operands, params, defaults, checked_domain, doc)
    check_definition(op)
    _OPS[name] = op
    return op


def _signature(
    name: str, forward: Callable[..., Any], derivative: Callable[..., Any]
) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, float]]:
    """Operand and parameter names from the derivative's signature: (operands..., out, m, *, params)."""
    try:
        sig = inspect.signature(derivative)
    except (TypeError, ValueError):
        raise TypeError(f"defop {name!r}: the derivative's signature cannot be read; use a def or a lambda") from None
    positional, params, defaults = [], [], {}
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional.append(p.name)
        elif p.kind is p.KEYWORD_ONLY:
            params.append(p.name)
            if p.default is not p.empty:
                defaults[p.name] = _to_float(p.default, f"defop {name!r}: default of {p.name}")
        else:
            raise TypeError(f"defop {name!r}: the derivative must name its arguments (no *args or **kwargs)")
    if len(positional) not in (3, 4):
        raise TypeError(
            f"defop {name!r}: the derivative takes (operand, out, m) or (x, y, out, m) plus keyword-only "
            f"parameters; got ({', '.join(positional)})"
        )
    try:
        fsig = inspect.signature(forward)
    except (TypeError, ValueError):
        return tuple(positional[:-2]), tuple(params), defaults  # a builtin such as math.hypot
    operands = tuple(positional[:-2])
    _match_forward(name, fsig, operands, tuple(params))
    return operands, tuple(params), defaults


def _match_forward(name: str, fsig: inspect.Signature, operands: tuple[str, ...], params: tuple[str, ...]) -> None:
    """The forward takes the derivative's operands positionally and its parameters by keyword."""
    fparams = [p.name for p in fsig.parameters.values() if p.kind is p.KEYWORD_ONLY]
    if fparams and set(fparams) != set(params):
        missing = sorted(set(fparams) - set(params))
        hint = (
            f"; the derivative must take {missing} keyword-only too (after `*`), as the forward does" if missing else ""
        )
        raise TypeError(
            f"defop {name!r}: forward's keyword parameters {fparams} differ from the derivative's {list(params)}{hint}"
        )
    kinds = [p.kind for p in fsig.parameters.values()]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return
    required = [p for p in fsig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    least = sum(1 for p in required if p.default is p.empty)
    if not least <= len(operands) <= len(required):
        raise TypeError(
            f"defop {name!r}: forward takes {len(required)} operand(s) but the derivative "
            f"(operands..., out, m) names {len(operands)}: {list(operands)}"
        )


def _check_domain(
    name: str, domain: Mapping[str, tuple[float, float]] | None, operands: tuple[str, ...], names: tuple[str, ...]
) -> dict[str, tuple[float, float]] | None:
    if domain is None:
        return None
    if not isinstance(domain, Mapping):
        raise TypeError(f"defop {name!r}: domain must map names to (low, high), got {type(domain).__name__}")
    if set(domain) - set(names) or not set(operands) <= set(domain):
        raise ValueError(
            f"defop {name!r}: domain must give an interval for each operand {list(operands)} "
            f"(and may for the parameters); it names {sorted(domain)}"
        )
    out = {}
    for key, bounds in domain.items():
        if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
            raise TypeError(f"defop {name!r}: domain of {key} must be (low, high), got {bounds!r}")
        lo, hi = (_to_float(b, f"defop {name!r}: domain of {key}") for b in bounds)
        if not lo < hi:
            raise ValueError(f"defop {name!r}: domain of {key} must have low < high, got ({lo!r}, {hi!r})")
        out[key] = (lo, hi)
    return out


# ---- the built-in ops: forward and local derivative side by side ------------------------------------
_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _checked_log(x: float) -> float:
    if x <= 0.0:
        raise ValueError(f"log: input must be > 0, got {x!r}")
    return math.log(x)


def _checked_sqrt(x: float) -> float:
    if x < 0.0:
        raise ValueError(f"sqrt: input must be >= 0, got {x!r}")
    return math.sqrt(x)


def _pow_n(x: float, *, n: float) -> float:
    """x ** n for a constant n: the forward rule of `**`."""
    return _checked_pow(x, n)


def _checked_pow(x: float, n: float) -> float:
    """x ** n on floats, with the errors eager mode reports (both `**` and `pow` use it)."""
    if x == 0.0 and n < 0.0:
        raise ZeroDivisionError(f"**: 0.0 cannot be raised to the negative power {n!r}")
    if x < 0.0 and not n.is_integer():
        raise ValueError(f"**: negative base {x!r} to the non-integer power {n!r} is not real")
    try:
        return float(x**n)
    except OverflowError:  # inf: the node builder reports the overflow with the op and the input
        return _INF


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))  # log(1 + e^x) without overflow


# + and *: Value.__add__ and __mul__ compute these forwards inline, and the sweep applies these two
# derivatives inline; the rows are still what every other path reads.
ADD = defop(
    "+",
    operator.add,
    lambda x, y, out, m: (1.0, 1.0),
    domain={"x": (-4, 4), "y": (-4, 4)},
    doc="x + y; d/dx = d/dy = 1",
)
MUL = defop(
    "*", operator.mul, lambda x, y, out, m: (y, x), domain={"x": (-4, 4), "y": (-4, 4)}, doc="x * y; d/dx = y, d/dy = x"
)

# x ** n for a constant n. d/dx x^n = n x^(n-1); m.pow is inf where x^(n-1) has a pole (x = 0, n < 1).
defop(
    "**",
    _pow_n,
    lambda x, out, m, *, n: 0.0 if n == 0.0 else n * m.pow(x, n - 1.0),  # `if` on a constant: fine anywhere
    domain={"x": (0.2, 3.0), "n": (-2.5, 3.5)},
    doc="x ** n for a constant n; d/dx = n x^(n-1)",
)


def _d_pow(x: Any, y: Any, out: Any, m: Any) -> tuple[Any, Any]:
    # d/dx x^y = y x^(y-1);  d/dy x^y = x^y log x, which needs x > 0. At x = 0 (so y > 0) x^y stays 0
    # as y moves: d/dy is 0. For x < 0 the log is not real: nan, which backward reports as an error.
    dx = y * m.pow(x, y - 1.0)
    dy = m.where(x > 0.0, out * m.log(m.where(x > 0.0, x, 1.0)), m.where(x < 0.0, _NAN, 0.0))
    return dx, dy


defop(
    "pow",
    lambda x, y: _checked_pow(x, y),
    _d_pow,
    domain={"x": (0.2, 3.0), "y": (-2.0, 2.0)},
    doc="x ** y with a Value exponent; d/dx = y x^(y-1), d/dy = x^y log x (x > 0; 0 at x = 0)",
)

defop(
    "abs",
    abs,
    lambda x, out, m: m.where(x > 0.0, 1.0, m.where(x < 0.0, -1.0, 0.0)),
    domain={"x": (-3, 3)},
    doc="|x|; d/dx = sign(x), 0 at the kink x = 0",
)
defop("exp", math.exp, lambda x, out, m: out, domain={"x": (-4, 4)}, doc="e^x; d/dx = e^x (the output itself)")
defop("log", _checked_log, lambda x, out, m: 1.0 / x, domain={"x": (0.05, 8)}, doc="natural log, x > 0; d/dx = 1/x")
defop(
    "sqrt",
    _checked_sqrt,
    lambda x, out, m: 0.5 / out,
    domain={"x": (0.05, 8)},
    doc="square root, x >= 0; d/dx = 1 / (2 sqrt x), infinite at 0",
)  # 1 / (2 sqrt x)
defop("sin", math.sin, lambda x, out, m: m.cos(x), domain={"x": (-4, 4)}, doc="sin x; d/dx = cos x")
defop("cos", math.cos, lambda x, out, m: -m.sin(x), domain={"x": (-4, 4)}, doc="cos x; d/dx = -sin x")
defop(
    "tanh",
    math.tanh,
    lambda x, out, m: 1.0 - out * out,
    domain={"x": (-5, 5)},
    doc="tanh x; d/dx = 1 - tanh(x)^2 (from the output)",
)  # 1 - tanh^2
defop(
    "sigmoid",
    _sigmoid,
    lambda x, out, m: out * (1.0 - out),
    domain={"x": (-8, 8)},
    doc="1 / (1 + e^-x); d/dx = s (1 - s) with s the output",
)  # s (1 - s)
# The kinks: the derivative at exactly 0 is 0 for relu and abs, the slope for leaky_relu, alpha for elu.
defop(
    "relu",
    lambda x: x if x > 0.0 else 0.0,
    lambda x, out, m: m.where(x > 0.0, 1.0, 0.0),
    domain={"x": (-3, 3)},
    doc="max(x, 0); d/dx = 1 for x > 0, else 0 (0 at the kink)",
)
defop(
    "leaky_relu",
    lambda x, *, negative_slope=0.01: x if x > 0.0 else negative_slope * x,
    lambda x, out, m, *, negative_slope=0.01: m.where(x > 0.0, 1.0, negative_slope),
    domain={"x": (-3, 3), "negative_slope": (0.01, 0.5)},
    doc="x for x > 0, else negative_slope * x; d/dx = 1 or negative_slope (the slope at 0)",
)
# d/dx alpha (e^x - 1) = alpha e^x, from x itself: `out + alpha` would cancel to garbage for x << 0.
# The exponent is clamped at 0 so the branch not taken stays finite for large x.
defop(
    "elu",
    lambda x, *, alpha=1.0: x if x > 0.0 else alpha * math.expm1(x),
    lambda x, out, m, *, alpha=1.0: m.where(x > 0.0, 1.0, alpha * m.exp(m.where(x > 0.0, 0.0, x))),
    domain={"x": (-3, 3), "alpha": (0.5, 2.0)},
    doc="x for x > 0, else alpha (e^x - 1); d/dx = 1 or alpha e^x (alpha at 0)",
)
defop(
    "gelu",
    lambda x: 0.5 * x * (1.0 + math.erf(x * _SQRT1_2)),  # x Phi(x)
    lambda x, out, m: 0.5 * (1.0 + m.erf(x * _SQRT1_2)) + x * _INV_SQRT_2PI * m.exp(-0.5 * x * x),  # Phi + x phi
    domain={"x": (-4, 4)},
    doc="x Phi(x), Phi the normal CDF; d/dx = Phi(x) + x phi(x)",
)
defop(
    "softplus", _softplus, lambda x, out, m: m.sigmoid(x), domain={"x": (-8, 8)}, doc="log(1 + e^x); d/dx = sigmoid(x)"
)
defop(
    "erf",
    math.erf,
    lambda x, out, m: _TWO_OVER_SQRT_PI * m.exp(-x * x),
    domain={"x": (-3, 3)},
    doc="the error function; d/dx = 2/sqrt(pi) e^(-x^2)",
)

BUILTINS: tuple[str, ...] = tuple(_OPS)
"""The names of the built-in ops (OPS also holds the ops users define)."""
