"""`Value`: a number in a computation graph, and `_node`, the function that builds a node.

A node stores its operands in two slots (`_a`, `_b`), its op (a row of the op table, see
`autograd.ops`) in `_op` and the op's constant parameters in `_arg` instead of a tuple: no
per-node tuple, no closure, and so no reference cycle — a dropped graph is freed by reference
counting alone, without waiting for the cyclic garbage collector.

Every arithmetic method is thin sugar over a registered op: `a + b` is `autograd.OPS["+"](a, b)`.
Two fast paths, for speed alone, write the same fields `_node` writes (tests hold them to it): `+`
and `*` build their node in the method, and the built-in one-operand ops go through `_unary`.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, SupportsFloat, TypeAlias, TypeGuard

from .modes import TracedNumber, _mode, escape
from .modes import foreign_checks as _FOREIGN

if TYPE_CHECKING:
    from .ops import Op

Number = int | float
Operand: TypeAlias = "Value | int | float"

_INF = math.inf
_isfinite = math.isfinite
_NINF = -math.inf
# Bound once: CPython 3.11 compiles `name.get()` as a plain attribute load (no method-call fast path)
# when `name` was imported, which costs about 30 ns per node (measured with `a * b`).
_get_mode = _mode.get


class Value:
    """A scalar in a computation graph: its `data`, and after `backward()` its `grad`.

    Comparisons (`<`, `<=`, `>`, `>=`) compare the numbers; `==` and hashing stay by identity, so
    Values can be dict keys and set members (`gradients` relies on it).
    """

    # _g and _n are scratch space for a backward sweep (gradient so far, uses not yet processed);
    # they are 0 outside a sweep. Keeping them on the node avoids a dict lookup per edge.
    __slots__ = ("_data", "_grad", "_op", "label", "_a", "_b", "_arg", "_g", "_n")

    _data: float
    _grad: float
    _op: Op | None
    label: str
    _a: Value | None
    _b: Value | None
    _arg: dict[str, float] | None
    _g: Any
    _n: int

    def __init__(self, data: Number, label: str = "") -> None:
        if type(label) is not str and not isinstance(label, str):
            raise TypeError(f"Value: label must be a str, got {type(label).__name__} {label!r}")
        # A finite float (the common case) is taken as it is; anything else is checked and converted.
        self._data = data if type(data) is float and _NINF < data < _INF else _to_float(data, "Value")
        self._grad = 0.0
        self._op = None
        self.label = label
        self._a = None
        self._b = None
        self._arg = None
        self._g = 0.0
        self._n = 0

    # ---- the number: plain attribute access, watched only while a compiler traces this thread ----
    @property
    def data(self) -> float:
        """The number this node holds."""
        mode = _get_mode()
        if mode is True or mode is False:
            if _FOREIGN:  # a trace is under way in some thread: it may need to refuse this read
                _check_foreign(self)
            return self._data
        return mode.read(self)  # type: ignore[no-any-return]

    @data.setter
    def data(self, x: float) -> None:
        mode = _get_mode()
        if mode is not True and mode is not False:
            mode.write(self, x)
        self._data = x if type(x) is float and _NINF < x < _INF else _to_float(x, "Value.data")

    @property
    def grad(self) -> float:
        """d root / d this node, added by `root.backward()` (0.0 until then)."""
        mode = _get_mode()
        if mode is not True and mode is not False:
            mode.escape("reads .grad (a replay cannot follow a gradient read inside f)", False)
        return self._grad

    @grad.setter
    def grad(self, x: float) -> None:
        mode = _get_mode()
        if mode is not True and mode is not False:
            mode.escape("writes .grad (`p.grad = ...`, `model.zero_grad()`)", True)
        self._grad = x

    @property
    def op(self) -> str:
        """The name of the op that made this node ('' for a leaf)."""
        rule = self._op
        return "" if rule is None else rule.name

    @property
    def inputs(self) -> tuple[Value, ...]:
        """The operands this node was computed from (empty for a leaf)."""
        a, b = self._a, self._b
        if a is None:
            return ()
        return (a,) if b is None else (a, b)

    @property
    def params(self) -> dict[str, float]:
        """The op's constant parameters by name (`{'n': 2.0}` for `x ** 2`), empty if none."""
        return dict(self._arg) if self._arg else {}

    @property
    def arg(self) -> float | None:
        """The op's one constant parameter (the exponent of `x ** 2`, leaky_relu's slope), else None."""
        arg = self._arg
        return next(iter(arg.values())) if arg and len(arg) == 1 else None

    def is_leaf(self) -> bool:
        return self._a is None

    # ---- ops: each is a registered row of autograd.ops --------------------------------------------
    # + and * compute their forward result here (as their rows do): the commonest ops skip a call.
    def __add__(self, other: Operand) -> Value:
        """self + other; d/dself = d/dother = 1."""
        if type(other) is not Value:
            other = _operand(other, "+")
            if other is NotImplemented:  # an operand whose own type should take its turn (a numpy array)
                return NotImplemented
        rhs: Value = other  # type: ignore[assignment]  # a Value by now
        # The node is built here rather than by `_node`: the commonest ops skip a call (measured:
        # a 100,000-op chain's forward 10% faster). Tests hold every field to what `_node` writes.
        data = self._data + rhs._data
        if not _isfinite(data):  # the operands are finite, so this is an overflow
            raise _ADD.nonfinite_error(data, self, rhs)
        out: Value = _new(Value)
        out._data = data
        out._grad = 0.0
        out.label = ""
        out._g = 0.0
        out._n = 0
        out._arg = None
        if _get_mode() is True:
            out._op = _ADD
            out._a = self
            out._b = rhs
            return out
        return _link(out, _ADD, self, rhs, None)

    def __mul__(self, other: Operand) -> Value:
        """self * other; d/dself = other, d/dother = self."""
        if type(other) is not Value:
            other = _operand(other, "*")
            if other is NotImplemented:  # an operand whose own type should take its turn (a numpy array)
                return NotImplemented
        rhs: Value = other  # type: ignore[assignment]  # a Value by now
        # The node is built here rather than by `_node`: the commonest ops skip a call (measured:
        # a 100,000-op chain's forward 10% faster). Tests hold every field to what `_node` writes.
        data = self._data * rhs._data
        if not _isfinite(data):  # the operands are finite, so this is an overflow
            raise _MUL.nonfinite_error(data, self, rhs)
        out: Value = _new(Value)
        out._data = data
        out._grad = 0.0
        out.label = ""
        out._g = 0.0
        out._n = 0
        out._arg = None
        if _get_mode() is True:
            out._op = _MUL
            out._a = self
            out._b = rhs
            return out
        return _link(out, _MUL, self, rhs, None)

    def __pow__(self, other: Operand) -> Value:
        """self ** n (op `**`, n a constant: d/dx = n x^(n-1)) or self ** y (op `pow`, y a Value)."""
        if type(other) is float and _NINF < other < _INF:  # the common cases first
            n = other
        elif type(other) is int:
            n = _to_float(other, "**")
        elif isinstance(other, Value):
            return _node(_POW, self, other, None)
        elif _defers(other, "**"):
            return NotImplemented
        else:
            n = _to_float(other, "**")
        # x ** n runs its row's forward rule here, as + and * do: `/` and squared errors use it a lot.
        return _node(_POW_CONST, self, None, {"n": n}, _checked_pow(self._data, n))

    def abs(self) -> Value:
        """|x|; d/dx = sign(x), and 0 at the kink x = 0."""
        return _unary(_OPS["abs"], self)

    def exp(self) -> Value:
        """e^x; d/dx = e^x."""
        return _unary(_OPS["exp"], self)

    def log(self) -> Value:
        """Natural log, for x > 0; d/dx = 1/x."""
        return _unary(_OPS["log"], self)

    def sqrt(self) -> Value:
        """Square root, for x >= 0; d/dx = 1 / (2 sqrt x), infinite at 0."""
        return _unary(_OPS["sqrt"], self)

    def sin(self) -> Value:
        """sin x; d/dx = cos x."""
        return _unary(_OPS["sin"], self)

    def cos(self) -> Value:
        """cos x; d/dx = -sin x."""
        return _unary(_OPS["cos"], self)

    def tanh(self) -> Value:
        """tanh x = (e^x - e^-x) / (e^x + e^-x); d/dx = 1 - tanh(x)^2."""
        return _unary(_OPS["tanh"], self)

    def sigmoid(self) -> Value:
        """s = 1 / (1 + e^-x); d/dx = s (1 - s)."""
        return _unary(_OPS["sigmoid"], self)

    def relu(self) -> Value:
        """max(x, 0); d/dx = 1 for x > 0, else 0 (0 at the kink x = 0)."""
        return _unary(_OPS["relu"], self)

    def leaky_relu(self, negative_slope: float = 0.01) -> Value:
        """x for x > 0, else negative_slope * x; d/dx = 1 for x > 0, else negative_slope (also at 0)."""
        return _node(_OPS["leaky_relu"], self, None, {"negative_slope": _to_float(negative_slope, "leaky_relu")})

    def elu(self, alpha: float = 1.0) -> Value:
        """x for x > 0, else alpha (e^x - 1); d/dx = 1 for x > 0, else alpha e^x (alpha at 0)."""
        return _node(_OPS["elu"], self, None, {"alpha": _to_float(alpha, "elu")})

    def gelu(self) -> Value:
        """x Phi(x), Phi the standard normal CDF; d/dx = Phi(x) + x phi(x)."""
        return _unary(_OPS["gelu"], self)

    def softplus(self) -> Value:
        """log(1 + e^x), computed without overflow; d/dx = sigmoid(x)."""
        return _unary(_OPS["softplus"], self)

    def erf(self) -> Value:
        """The error function; d/dx = 2/sqrt(pi) e^(-x^2)."""
        return _unary(_OPS["erf"], self)

    # ---- derived ops: one line each ---------------------------------------------------------------
    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Operand) -> Value:
        if type(other) is not float and not isinstance(other, Value) and _defers(other, "-"):
            return NotImplemented
        return self + _negated(other)

    def __truediv__(self, other: Operand) -> Value:
        if type(other) is not float and not isinstance(other, Value) and _defers(other, "/"):
            return NotImplemented
        return self * _reciprocal(other, self)

    def __radd__(self, other: Operand) -> Value:
        return _lift(other, "+") + self

    def __rsub__(self, other: Operand) -> Value:
        return _lift(other, "-") - self

    def __rmul__(self, other: Operand) -> Value:
        return _lift(other, "*") * self

    def __rtruediv__(self, other: Operand) -> Value:
        return _lift(other, "/") / self

    def __rpow__(self, other: Operand) -> Value:
        return _lift(other, "**") ** self

    def __abs__(self) -> Value:
        return self.abs()

    # ---- comparisons act on the numbers; == and hashing are by identity ----------------------------
    # `v < 3.0` compares numbers. `==` between Values is identity, so that Values can be dict keys and
    # set members (gradients relies on it); `v == 3.0` would read as a number comparison but could not
    # be one, so it raises and says what to write. `if v:` raises too: say `v.data != 0` or `v > 0`.
    def __lt__(self, other: Operand) -> bool:
        if type(other) is not float and _defers(other, "<"):
            return NotImplemented
        return _compare(self, "<", other, self._data < _data(other, "<"))

    def __le__(self, other: Operand) -> bool:
        if type(other) is not float and _defers(other, "<="):
            return NotImplemented
        return _compare(self, "<=", other, self._data <= _data(other, "<="))

    def __gt__(self, other: Operand) -> bool:
        if type(other) is not float and _defers(other, ">"):
            return NotImplemented
        return _compare(self, ">", other, self._data > _data(other, ">"))

    def __ge__(self, other: Operand) -> bool:
        if type(other) is not float and _defers(other, ">="):
            return NotImplemented
        return _compare(self, ">=", other, self._data >= _data(other, ">="))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Value):
            return self is other
        if _is_number(other):
            raise TypeError(
                f"Value == {other!r}: == between Values is identity (so Values work as dict keys and set "
                f"members), so it cannot compare numbers; write v.data == {other!r} (or v.item() == ...)"
            )
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise TypeError(
            f"bool(Value): `if v:` and `v or ...` would not look at the number ({self._data!r}); "
            "say what you mean: `if v.data != 0:`, `if v > 0:`, or `if v is not None:`"
        )

    # ---- the number, when asked for by name ---------------------------------------------------------
    def item(self) -> float:
        """The number this node holds, as a plain float (PyTorch's name; the same as `.data`)."""
        return self.data

    def __float__(self) -> float:
        mode = _get_mode()
        if mode is not True and mode is not False:
            mode.convert(self, "float()")
        # math.exp(v), math.sin(v), ... come through here: a plain float would silently cut the graph.
        raise TypeError(
            f"float(Value) is refused: math.exp(v), math.sin(v) and the like go through it and would "
            f"return a plain number with no gradient. For a differentiable op write v.exp(), v.sin(), "
            f"...; for the number ({self._data!r}) write v.item() or v.data"
        )

    def __format__(self, spec: str) -> str:
        """f"{v:.4f}" formats the number; f"{v}" shows the Value."""
        return format(self.data, spec) if spec else str(self)

    def __round__(self, ndigits: int | None = None) -> float:
        """round(v, 3): the number, rounded (a plain number: no gradient flows through it)."""
        return round(self.data, ndigits)

    def __repr__(self) -> str:
        parts = [f"data={self._data!r}", f"grad={self._grad!r}"]
        if self._op is not None:
            parts.append(f"op={self.op!r}")
        if self.label:
            parts.append(f"label={self.label!r}")
        return f"Value({', '.join(parts)})"

    def _repr_html_(self) -> str:
        """What Jupyter shows for a Value: its numbers and, for a small graph, its drawing."""
        from .display import value_html  # here: graphviz loads only when a notebook shows a Value

        return value_html(self)

    # ---- copies read the number directly: while a compiler traces this thread, its observer decides ----
    def __copy__(self) -> Value:
        escape("calls copy.copy(v), which reads the number directly", False)
        out: Value = _new(Value)
        for slot in Value.__slots__:
            setattr(out, slot, getattr(self, slot))
        return out

    def __deepcopy__(self, memo: dict[int, Any]) -> Value:
        escape("calls copy.deepcopy(v), which reads the number directly", False)
        out: Value = _new(Value)
        memo[id(self)] = out
        from copy import deepcopy

        for slot in Value.__slots__:  # the op is a row of the registry: shared, not copied
            x = getattr(self, slot)
            setattr(out, slot, x if slot == "_op" else deepcopy(x, memo))
        return out

    def __reduce_ex__(self, protocol: Any) -> Any:
        escape("pickles a Value, which reads the number directly", False)
        return super().__reduce_ex__(protocol)

    # ---- graph-wide operations ------------------------------------------------------------------
    def backward(self, gradient: float = 1.0) -> None:
        """Add d self / d node (times `gradient`) to `.grad` of every node in this graph.

        Gradients accumulate: calling it twice leaves exactly twice the gradients.
        """
        _backward(self, _to_float(gradient, "backward"))

    def zero_grad(self) -> None:
        """Set `.grad` to 0 on every node of this graph."""
        _zero_grad(self)

    def detach(self) -> Value:
        """A new leaf with the same data (and label), cut off from this graph."""
        out = Value(self._data, self.label)
        mode = _get_mode()
        if mode is not True and mode is not False:
            mode.detached(out, self)
        return out


# ---- construction helpers ---------------------------------------------------------------------
def _is_real(x: object) -> TypeGuard[SupportsFloat]:
    """A real number: int, float, or another numbers.Real, but not a bool."""
    return type(x) is float or type(x) is int or (isinstance(x, numbers.Real) and not isinstance(x, bool))


def _to_float(x: object, where: str) -> float:
    """Check that `x` is a real, finite number and return it as a float."""
    if _is_real(x):
        try:
            f = float(x)
        except OverflowError:  # e.g. an int beyond float range; its repr could be thousands of digits
            raise OverflowError(
                f"{where}: expected a finite number, got {type(x).__name__} too large for a float"
            ) from None
    elif isinstance(x, TracedNumber):  # a number read from a Value while a compiler traces
        return x.to_float(where)
    elif _is_scalar_array(x):  # np.array(2.0) is a number
        return _to_float(x.item(), where)  # type: ignore[attr-defined]
    else:
        raise TypeError(f"{where}: expected a real number (int or float), got {type(x).__name__} {x!r}")
    if not _NINF < f < _INF:
        raise ValueError(f"{where}: expected a finite number, got {x!r}")
    return f


def _lift(x: object, op: str) -> Value:
    """Turn a plain number mixed into an expression into a leaf Value."""
    if type(x) is float or type(x) is int:  # the common case first
        return Value(x)
    if isinstance(x, Value):
        return x
    if _is_number(x):
        return Value(_to_float(x, op))
    raise TypeError(f"unsupported operand for {op}: Value and {type(x).__name__} {x!r}")


_REFLECTED = {"+": "__radd__", "*": "__rmul__", "-": "__rsub__", "/": "__rtruediv__", "**": "__rpow__"}


def _defers(x: object, op: str) -> bool:
    """Should `v op x` return NotImplemented, so that x's type takes its turn? Yes for numpy arrays
    (then `v * array` is an object array of Values, as `array * v` is) and for a class of the user's
    with the reflected method; no for numbers, 0-d arrays, and types that would only fail (str, list)."""
    if isinstance(x, Value) or _is_number(x):
        return False
    t = type(x)
    return hasattr(t, "__array_ufunc__") or (t.__module__ != "builtins" and hasattr(t, _REFLECTED.get(op, "_")))


def _operand(x: object, op: str) -> Any:
    """`x` as the right operand of `v op x`: a Value, or NotImplemented when x's type should decide."""
    return NotImplemented if _defers(x, op) else _lift(x, op)


def _is_number(x: object) -> bool:
    """A number in any clothing: a real, a traced number, or a 0-d array."""
    return _is_real(x) or isinstance(x, TracedNumber) or _is_scalar_array(x)


def _is_scalar_array(x: object) -> bool:
    """A 0-d array (numpy's `np.array(2.0)`): a number in an array's clothing."""
    return getattr(x, "ndim", None) == 0 and hasattr(x, "item") and not isinstance(x, Value)


def _data(x: object, op: str) -> float:
    """The number to compare with: a Value's data, or a plain number (inf allowed) as it is."""
    if isinstance(x, Value):
        return x._data
    if _is_real(x):
        return float(x)
    if isinstance(x, TracedNumber):
        return x.to_float(op)
    if _is_scalar_array(x):
        return _data(x.item(), op)  # type: ignore[attr-defined]
    raise TypeError(f"unsupported operand for {op}: Value and {type(x).__name__} {x!r}")


def _compare(v: Value, op: str, other: object, outcome: bool) -> bool:
    mode = _get_mode()
    if mode is not True and mode is not False:
        mode.compare(v, op, other, outcome)
    elif _FOREIGN:
        _check_foreign(v)
        _check_foreign(other)
    return outcome


def _check_foreign(v: object) -> None:
    for check in _FOREIGN:
        check(v)


def _negated(x: object) -> Value:
    """-x as an operand of `a - x`; a plain number is negated as a number (one leaf, no extra node)."""
    return -x if isinstance(x, Value) else Value(-_data(x, "-"))


def _reciprocal(x: object, dividend: Value) -> Value:
    """1/x as an operand of `dividend / x`: `x ** -1` for a Value, the number 1/x for a plain number."""
    d = x._data if isinstance(x, Value) else _data(x, "/")
    if d == 0.0:
        raise ZeroDivisionError(f"/: division by zero ({dividend._data!r} / {d!r})")
    return x**-1.0 if isinstance(x, Value) else Value(1.0 / d)


_new = object.__new__


def _node(op: Op, a: Value, b: Value | None, params: dict[str, float] | None, data: float | None = None) -> Value:
    """Run op's forward rule on a (and b) and record the new node; under no_grad() a leaf instead.

    Every op goes through here (`b` is None for a unary op, `params` its constant parameters), but
    for the fast paths of `+`, `*` and `_unary`, which write the same fields; an op that computed its
    result itself passes it as `data`.
    """
    if data is None:
        try:
            forward = op.forward  # a local first: `op.forward(...)` defeats 3.11's attribute cache
            if params is None:
                data = forward(a._data) if b is None else forward(a._data, b._data)
            else:
                data = forward(a._data, **params) if b is None else forward(a._data, b._data, **params)
        except OverflowError:  # math.exp and friends raise instead of returning inf
            data = _INF
        except Exception as error:  # a user's forward may raise anything: say which op, at which input
            raise op.forward_error(error, a, b) from error
        if type(data) is not float:
            data = op.check_result(data, a, b)
    if not _isfinite(data):  # the inputs are finite, so this is an overflow (or a nan)
        raise op.nonfinite_error(data, a, b)
    out: Value = _new(Value)
    out._data = data
    out._grad = 0.0
    out.label = ""
    out._g = 0.0
    out._n = 0
    if _get_mode() is True:
        out._op = op
        out._a = a
        out._b = b
        out._arg = params
        return out
    return _link(out, op, a, b, params)


def _unary(op: Op, a: Value) -> Value:
    """`_node(op, a, None, None)` for a built-in one-operand op without parameters (exp, tanh, relu,
    ...), whose forward returns a float: the same checks and fields, minus the branches it does not
    need (measured: a 100,000-op chain of x*w + b then tanh builds 5% faster). User ops go through
    `_node`. Tests hold every field (and its type) to what `_node` writes."""
    forward = op.forward
    try:
        data = forward(a._data)
    except OverflowError:  # math.exp and friends raise instead of returning inf
        data = _INF
    except Exception as error:  # a domain error (log of a negative): say which op, at which input
        raise op.forward_error(error, a, None) from error
    if not _isfinite(data):  # the input is finite, so this is an overflow (or a nan)
        raise op.nonfinite_error(data, a, None)
    out: Value = _new(Value)
    out._data = data
    out._grad = 0.0
    out.label = ""
    out._g = 0.0
    out._n = 0
    out._arg = None
    out._b = None
    if _get_mode() is True:
        out._op = op
        out._a = a
        return out
    return _link(out, op, a, None, None)


def _link(out: Value, op: Op, a: Value, b: Value | None, params: dict[str, float] | None) -> Value:
    """Finish a node built outside the default mode: under no_grad() it is a leaf (no op, no
    inputs); under an observer (the compiler's tracer) the observer records it."""
    mode = _get_mode()
    if mode is not False and mode.grad_enabled:
        out._op, out._a, out._b, out._arg = op, a, b, params
    else:
        out._op = out._a = out._b = out._arg = None
    if mode is not False:
        mode.node(out, op, a, b, params)
    return out


# The registered ops the methods above use; imported last because the op table builds Values.
from .backward import _backward, _zero_grad  # noqa: E402
from .ops import _OPS, _checked_pow  # noqa: E402  # isort: split

_ADD, _MUL, _POW, _POW_CONST = _OPS["+"], _OPS["*"], _OPS["pow"], _OPS["**"]
