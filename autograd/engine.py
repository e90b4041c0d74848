"""The engine: `Value`, its ops, and the backward pass.

Every op is one row of a table holding its forward rule and its *local* derivative side by side.
The chain rule (upstream x local = downstream) is written exactly once, in `_sweep`.

A node stores its operands in two slots (`_a`, `_b`) and an op parameter in `_arg` instead of a
tuple: no per-node tuple, no closure, and so no reference cycle — a dropped graph is freed by
reference counting alone, without waiting for the cyclic garbage collector.
"""

from __future__ import annotations

import contextvars
import math
import numbers
import operator
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, SupportsFloat, TypeAlias, TypeGuard

Number = int | float
Operand: TypeAlias = "Value | int | float"

_INF = math.inf
_NINF = -math.inf
_grad_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("grad_enabled", default=True)


class Value:
    """A scalar in a computation graph: its `data`, and after `backward()` its `grad`."""

    # _g and _n are scratch space for a backward sweep (gradient so far, uses not yet processed);
    # they are 0 outside a sweep. Keeping them on the node avoids a dict lookup per edge.
    __slots__ = ("data", "grad", "op", "label", "_a", "_b", "_arg", "_g", "_n")

    data: float
    grad: float
    op: str
    label: str
    _a: Value | None
    _b: Value | None
    _arg: float | None
    _g: Any
    _n: int

    def __init__(self, data: Number, label: str = "") -> None:
        if type(label) is not str and not isinstance(label, str):
            raise TypeError(f"Value: label must be a str, got {type(label).__name__} {label!r}")
        # A finite float (the common case) is taken as it is; anything else is checked and converted.
        self.data = data if type(data) is float and -_INF < data < _INF else _to_float(data, "Value")
        self.grad = 0.0
        self.op = ""
        self.label = label
        self._a = None
        self._b = None
        self._arg = None
        self._g = 0.0
        self._n = 0

    @property
    def inputs(self) -> tuple[Value, ...]:
        """The operands this node was computed from (empty for a leaf)."""
        a, b = self._a, self._b
        if a is None:
            return ()
        return (a,) if b is None else (a, b)

    @property
    def arg(self) -> float | None:
        """The op's constant parameter (the exponent of `x ** 2`, leaky_relu's slope), else None."""
        return self._arg

    def is_leaf(self) -> bool:
        return self._a is None

    # ---- primitive ops: each is one row of _UNARY / _BINARY below -------------------------------
    # + and *, the commonest ops, compute their forward result here (as their table rows do), which
    # spares them the table lookup; every other op's forward rule is run by _node from the table.
    def __add__(self, other: Operand) -> Value:
        if type(other) is not Value:
            other = _lift(other, "+")
        return _node("+", self, other, None, self.data + other.data)

    def __mul__(self, other: Operand) -> Value:
        if type(other) is not Value:
            other = _lift(other, "*")
        return _node("*", self, other, None, self.data * other.data)

    def __pow__(self, other: Operand) -> Value:
        if isinstance(other, Value):
            return _node("**", self, other, None)
        return _node("**", self, None, _to_float(other, "**"))

    def abs(self) -> Value:
        return _node("abs", self, None, None)

    def exp(self) -> Value:
        return _node("exp", self, None, None)

    def log(self) -> Value:
        return _node("log", self, None, None)

    def sqrt(self) -> Value:
        return _node("sqrt", self, None, None)

    def sin(self) -> Value:
        return _node("sin", self, None, None)

    def cos(self) -> Value:
        return _node("cos", self, None, None)

    def tanh(self) -> Value:
        return _node("tanh", self, None, None)

    def sigmoid(self) -> Value:
        return _node("sigmoid", self, None, None)

    def relu(self) -> Value:
        return _node("relu", self, None, None)

    def leaky_relu(self, negative_slope: float = 0.01) -> Value:
        return _node("leaky_relu", self, None, _to_float(negative_slope, "leaky_relu"))

    def elu(self, alpha: float = 1.0) -> Value:
        return _node("elu", self, None, _to_float(alpha, "elu"))

    def gelu(self) -> Value:
        return _node("gelu", self, None, None)

    def softplus(self) -> Value:
        return _node("softplus", self, None, None)

    def erf(self) -> Value:
        return _node("erf", self, None, None)

    # ---- derived ops: one line each ---------------------------------------------------------------
    def __neg__(self) -> Value:
        return self * -1.0

    def __sub__(self, other: Operand) -> Value:
        return self + _negated(other)

    def __truediv__(self, other: Operand) -> Value:
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

    # ---- comparisons act on data; equality and hashing stay by identity --------------------------
    def __lt__(self, other: Operand) -> bool:
        return self.data < _data(other, "<")

    def __le__(self, other: Operand) -> bool:
        return self.data <= _data(other, "<=")

    def __gt__(self, other: Operand) -> bool:
        return self.data > _data(other, ">")

    def __ge__(self, other: Operand) -> bool:
        return self.data >= _data(other, ">=")

    __hash__ = object.__hash__

    def __float__(self) -> float:
        return self.data

    def __repr__(self) -> str:
        parts = [f"data={self.data!r}", f"grad={self.grad!r}"]
        if self.op:
            parts.append(f"op={self.op!r}")
        if self.label:
            parts.append(f"label={self.label!r}")
        return f"Value({', '.join(parts)})"

    # ---- graph-wide operations ------------------------------------------------------------------
    def backward(self, gradient: float = 1.0) -> None:
        """Add d self / d node (times `gradient`) to `.grad` of every node in this graph.

        Gradients accumulate: calling it twice leaves exactly twice the gradients.
        """
        _sweep(self, _to_float(gradient, "backward"), None, False)

    def zero_grad(self) -> None:
        """Set `.grad` to 0 on every node of this graph."""
        zero_grad(self)

    def detach(self) -> Value:
        """A new leaf with the same data (and label), cut off from this graph."""
        return Value(self.data, self.label)


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
    else:
        raise TypeError(f"{where}: expected a real number (int or float), got {type(x).__name__} {x!r}")
    if not -_INF < f < _INF:
        raise ValueError(f"{where}: expected a finite number, got {x!r}")
    return f


def _lift(x: object, op: str) -> Value:
    """Turn a plain number mixed into an expression into a leaf Value."""
    if type(x) is float or type(x) is int:  # the common case first
        return Value(x)
    if isinstance(x, Value):
        return x
    if _is_real(x):
        return Value(x)  # type: ignore[arg-type]
    raise TypeError(f"unsupported operand for {op}: Value and {type(x).__name__} {x!r}")


def _data(x: object, op: str) -> float:
    """The number to compare with: a Value's data, or a plain number (inf allowed) as it is."""
    if isinstance(x, Value):
        return x.data
    if _is_real(x):
        return float(x)
    raise TypeError(f"unsupported operand for {op}: Value and {type(x).__name__} {x!r}")


def _negated(x: object) -> Value:
    """-x as an operand of `a - x`; a plain number is negated as a number (one leaf, no extra node)."""
    return -x if isinstance(x, Value) else Value(-_data(x, "-"))


def _reciprocal(x: object, dividend: Value) -> Value:
    """1/x as an operand of `dividend / x`: `x ** -1` for a Value, the number 1/x for a plain number."""
    d = _data(x, "/")
    if d == 0.0:
        raise ZeroDivisionError(f"/: division by zero ({dividend.data!r} / {d!r})")
    return x**-1.0 if isinstance(x, Value) else Value(1.0 / d)


_new = object.__new__


def _node(op: str, a: Value, b: Value | None, arg: float | None, data: float | None = None) -> Value:
    """Run op's forward rule on a (and b) and record the new node; under no_grad() a leaf instead.

    Every op goes through here (`b` is None for a unary op, `arg` its constant parameter); an op that
    computed its result itself passes it as `data`.
    """
    if data is None:
        try:
            data = _FORWARD1[op](a.data, arg) if b is None else _FORWARD2[op](a.data, b.data)
        except OverflowError:  # math.exp and friends raise instead of returning inf
            data = _INF
    if not _NINF < data < _INF:  # the inputs are finite, so this is an overflow
        operands = ", ".join(repr(v.data) for v in (a, b) if v is not None)
        raise OverflowError(f"{op}: result overflows a float for input ({operands})")
    out: Value = _new(Value)
    out.data = data
    out.grad = 0.0
    out.label = ""
    out._g = 0.0
    out._n = 0
    if _grad_enabled.get():
        out.op = op
        out._a = a
        out._b = b
        out._arg = arg
    else:
        out.op = ""
        out._a = out._b = None
        out._arg = None
    return out


# ---- forward rules with domain checks ---------------------------------------------------------
def _log(x: float, _: object) -> float:
    if x <= 0.0:
        raise ValueError(f"log: input must be > 0, got {x!r}")
    return math.log(x)


def _sqrt(x: float, _: object) -> float:
    if x < 0.0:
        raise ValueError(f"sqrt: input must be >= 0, got {x!r}")
    return math.sqrt(x)


def _pow_const(x: float, n: float) -> float:
    if x == 0.0 and n < 0.0:
        raise ZeroDivisionError(f"**: 0.0 cannot be raised to the negative power {n!r}")
    if x < 0.0 and not n.is_integer():
        raise ValueError(f"**: negative base {x!r} to the non-integer power {n!r} is not real")
    return float(x**n)


def _pow(x: float, y: float) -> float:
    return _pow_const(x, y)


def _sigmoid(x: float, _: object = None) -> float:
    # Stable for large |x|: never evaluates exp of a large positive number.
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x: float, _: object = None) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))  # log(1 + e^x) without overflow


def _elu(x: float, alpha: float) -> float:
    return x if x > 0.0 else alpha * math.expm1(x)


def _gelu(x: float, _: object) -> float:
    return 0.5 * x * (1.0 + math.erf(x * _SQRT1_2))


_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# ---- local derivatives: `m` is math on floats, or the same functions on Values -----------------
class FloatMath:
    """The functions local derivatives call, on floats (for a plain backward pass)."""

    exp = staticmethod(math.exp)
    log = staticmethod(math.log)
    sin = staticmethod(math.sin)
    cos = staticmethod(math.cos)
    erf = staticmethod(math.erf)
    sigmoid = staticmethod(_sigmoid)


class ValueMath:
    """The same functions on Values, so a backward pass can itself be differentiated."""

    exp = staticmethod(Value.exp)
    log = staticmethod(Value.log)
    sin = staticmethod(Value.sin)
    cos = staticmethod(Value.cos)
    erf = staticmethod(Value.erf)
    sigmoid = staticmethod(Value.sigmoid)


def _pow_or_inf(x: Any, p: Any) -> Any:
    """x ** p, but inf where float ** raises a bare OverflowError, so backward reports the
    overflow with the node (and under detect_anomaly the op) instead of "(34, 'Numerical result ...')"."""
    try:
        return x**p
    except OverflowError:
        if isinstance(x, Value):  # the engine's own ** already raised a clear error
            raise
        return _INF


def _d_pow_const(x: Any, out: Any, n: float, m: Any) -> Any:
    if n == 0.0:
        return 0.0
    if float(x) == 0.0 and n < 1.0:
        raise ValueError(f"**: the derivative of x ** {n!r} is infinite at x = 0")
    return n * _pow_or_inf(x, n - 1.0)  # d/dx x^n = n x^(n-1)


def _d_pow(x: Any, y: Any, out: Any, m: Any) -> tuple[Any, Any]:
    dx = y * _pow_or_inf(x, y - 1.0) if float(x) != 0.0 or y >= 1.0 else _d_pow_const(x, out, float(y), m)
    if x > 0.0:
        dy = out * m.log(x)  # d/dy x^y = x^y log x
    elif float(x) == 0.0 and y > 0.0:
        dy = 0.0  # x^y is 0 for every y > 0 near here
    else:
        raise ValueError(f"**: the derivative with respect to the exponent needs a positive base, got {x!r}")
    return dx, dy


def _d_sqrt(x: Any, out: Any, _: object, m: Any) -> Any:
    if float(out) == 0.0:
        raise ValueError("sqrt: the derivative is infinite at 0")
    return 0.5 / out  # d/dx sqrt(x) = 1 / (2 sqrt(x))


# op -> (forward(x, arg) -> float, local derivative(x, out, arg, m) -> d out / d x)
_UNARY: dict[str, tuple[Callable[[float, Any], float], Callable[[Any, Any, Any, Any], Any]]] = {
    "**": (_pow_const, _d_pow_const),
    "abs": (lambda x, _: abs(x), lambda x, out, _, m: 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)),  # 0 at the kink
    "exp": (lambda x, _: math.exp(x), lambda x, out, _, m: out),
    "log": (_log, lambda x, out, _, m: 1.0 / x),
    "sqrt": (_sqrt, _d_sqrt),
    "sin": (lambda x, _: math.sin(x), lambda x, out, _, m: m.cos(x)),
    "cos": (lambda x, _: math.cos(x), lambda x, out, _, m: -m.sin(x)),
    "tanh": (lambda x, _: math.tanh(x), lambda x, out, _, m: 1.0 - out * out),  # 1 - tanh^2
    "sigmoid": (_sigmoid, lambda x, out, _, m: out * (1.0 - out)),  # s (1 - s)
    "relu": (lambda x, _: x if x > 0.0 else 0.0, lambda x, out, _, m: 1.0 if x > 0.0 else 0.0),  # 0 at the kink
    "leaky_relu": (lambda x, s: x if x > 0.0 else s * x, lambda x, out, s, m: 1.0 if x > 0.0 else s),
    # d/dx alpha (e^x - 1) = alpha e^x, from x itself: `out + alpha` would cancel to garbage for x << 0
    "elu": (_elu, lambda x, out, alpha, m: 1.0 if x > 0.0 else alpha * m.exp(x)),
    "gelu": (
        _gelu,  # x Phi(x); d/dx = Phi(x) + x phi(x)
        lambda x, out, _, m: 0.5 * (1.0 + m.erf(x * _SQRT1_2)) + x * _INV_SQRT_2PI * m.exp(-0.5 * x * x),
    ),
    "softplus": (_softplus, lambda x, out, _, m: m.sigmoid(x)),
    "erf": (lambda x, _: math.erf(x), lambda x, out, _, m: _TWO_OVER_SQRT_PI * m.exp(-x * x)),
}


# op -> (forward(x, y) -> float, local derivatives(x, y, out, m) -> (d out / d x, d out / d y))
_BINARY: dict[str, tuple[Callable[[float, float], float], Callable[[Any, Any, Any, Any], tuple[Any, Any]]]] = {
    "+": (operator.add, lambda x, y, out, m: (1.0, 1.0)),  # _sweep applies these two rows inline
    "*": (operator.mul, lambda x, y, out, m: (y, x)),
    "**": (_pow, _d_pow),
}

# The same tables split by column, so the hot loops do one dict lookup per node.
_FORWARD1 = {op: row[0] for op, row in _UNARY.items()}
_LOCAL1 = {op: row[1] for op, row in _UNARY.items()}
_FORWARD2 = {op: row[0] for op, row in _BINARY.items()}
_LOCAL2 = {op: row[1] for op, row in _BINARY.items()}

OPS: tuple[str, ...] = tuple(dict.fromkeys([*_UNARY, *_BINARY]))
"""The names of all primitive ops."""


def local_derivatives(node: Value) -> tuple[float, ...]:
    """d node / d input for each of `node.inputs`, as numbers (what an edge of the graph carries)."""
    if not isinstance(node, Value):
        raise TypeError(f"local_derivatives: node must be a Value, got {type(node).__name__} {node!r}")
    a, b = node._a, node._b
    if a is None:
        return ()
    if b is None:
        return (float(_LOCAL1[node.op](a.data, node.data, node._arg, FloatMath)),)
    dx, dy = _LOCAL2[node.op](a.data, b.data, node.data, FloatMath)
    return (float(dx), float(dy))


# ---- graph traversal and the backward pass ------------------------------------------------------
# Every pass over a graph (backward, gradients, topological_order) visits nodes in the same order.
# It is Kahn's algorithm: count each node's uses inside the graph, then start at the root and
# release a node once every node that uses it is done — at that moment its gradient is complete.
# Counts and partial gradients live in the nodes' scratch slots (`_n`, `_g`); a lock keeps two
# threads from sweeping overlapping graphs at once.
_sweep_lock = threading.RLock()


def _count_uses(root: Value) -> tuple[list[Value], list[Value]]:
    """Set each node's `_n` to the number of edges into it from inside root's graph.

    Returns the nodes that have inputs (root first) and the leaves, each in order of discovery.
    """
    inner: list[Value] = []
    leaves: list[Value] = []
    (leaves if root._a is None else inner).append(root)
    inner_add, leaf_add = inner.append, leaves.append
    for node in inner:  # `inner` grows as the walk finds nodes: each node with inputs is expanded once
        a: Value = node._a  # type: ignore[assignment]  # in `inner`, so it has inputs
        if a._n:
            a._n += 1
        else:  # first visit
            a._n = 1
            if a._a is None:
                leaf_add(a)
            else:
                inner_add(a)
        b = node._b
        if b is not None:
            if b._n:
                b._n += 1
            else:
                b._n = 1
                if b._a is None:
                    leaf_add(b)
                else:
                    inner_add(b)
    return inner, leaves


def _sweep(root: Value, seed: Any, want: dict[Value, Any] | None, create_graph: bool) -> None:
    """Run the chain rule once over root's graph: upstream x local = downstream.

    Adds each node's gradient to `.grad` once the whole sweep has succeeded (a sweep that raises
    leaves every `.grad` as it was), or with `want` stores the gradients of the nodes in `want` there
    instead and leaves `.grad` alone. With `create_graph` gradients are Values built by
    differentiable ops.
    """
    with _sweep_lock:
        try:
            inner, leaves = _count_uses(root)
            root._g = seed
            m = ValueMath if create_graph else FloatMath
            anomaly = _detect_anomaly.get()
            local1, local2, ninf, inf = _LOCAL1, _LOCAL2, _NINF, _INF  # locals: read once per node
            # Only nodes with inputs take a step; a leaf's gradient is complete when the sweep ends.
            ready: list[Value] = []  # released nodes waiting for their step, the last released on top
            pop, push = ready.pop, ready.append
            node: Value | None = inner[0] if inner else None  # the root, unless it is a leaf
            while node is not None:
                g = node._g  # complete now: every node that uses this one is done
                if not ninf < g < inf:  # a product overflowed somewhere upstream
                    raise _nonfinite_gradient(node, g)
                a: Value = node._a  # type: ignore[assignment]  # only nodes with inputs take a step
                b, op = node._b, node.op
                # The chain rule: each input gains upstream x local. Local derivatives take the
                # numbers, or with create_graph the nodes themselves (so they are differentiable).
                if b is None:
                    if create_graph:
                        a._g += g * local1[op](a, node, node._arg, m)
                    else:
                        a._g += g * local1[op](a.data, node.data, node._arg, m)
                elif op == "+":  # the commonest ops' rows, applied inline: d(x + y)/dx = d(x + y)/dy = 1
                    a._g += g
                    b._g += g
                elif op == "*" and not create_graph:  # d(x y)/dx = y, d(x y)/dy = x
                    a._g += g * b.data
                    b._g += g * a.data
                else:
                    if create_graph:
                        dx, dy = local2[op](a, b, node, m)
                    else:
                        dx, dy = local2[op](a.data, b.data, node.data, m)
                    a._g += g * dx
                    b._g += g * dy
                if anomaly:
                    _check_step(node, g)
                # Release the inputs; the last one released runs next (the same order as pushing
                # it and popping it straight back, without the list round trip).
                following = None
                if a._a is not None:
                    n = a._n - 1
                    a._n = n
                    if not n:
                        following = a
                if b is not None and b._a is not None:
                    n = b._n - 1
                    b._n = n
                    if not n:
                        if following is not None:
                            push(following)
                        following = b
                node = following if following is not None else (pop() if ready else None)
            for node in leaves:
                g = node._g
                if not ninf < g < inf:
                    raise _nonfinite_gradient(node, g)
        except BaseException:
            _reset_scratch(root)
            raise
        # Hand the gradients out and clear the scratch slots (a leaf's count is never run down to 0).
        if want is None:
            for node in inner:
                node.grad += node._g
                node._g = 0.0
            for node in leaves:
                node.grad += node._g
                node._g, node._n = 0.0, 0
        else:
            for node in want:
                want[node] = node._g
            for node in inner:
                node._g = 0.0
            for node in leaves:
                node._g, node._n = 0.0, 0


def _name(node: Value) -> str:
    return repr(node.label) if node.label else (f"made by {node.op!r}" if node.op else "(a leaf)")


def _nonfinite_gradient(node: Value, g: Any) -> ArithmeticError:
    return OverflowError(
        f"backward: the gradient reaching the node {_name(node)} (data {node.data!r}) is {float(g)!r}: "
        "a product of gradients overflowed; run backward inside autograd.detect_anomaly() to see the op"
    )


def _check_step(node: Value, g: Any) -> None:
    """detect_anomaly(): fail at the op whose backward step first produced nan or inf."""
    for i, child in enumerate(node.inputs):
        if not -_INF < child._g < _INF:
            inputs = ", ".join(f"{v.label or 'input ' + str(j)}={v.data!r}" for j, v in enumerate(node.inputs))
            raise FloatingPointError(
                f"detect_anomaly: the backward step of op {node.op!r} (node {_name(node)}, data {node.data!r}) "
                f"made the gradient of its input {i} {float(child._g)!r} from upstream gradient {float(g)!r}; "
                f"inputs: {inputs}"
            )


def _reset_scratch(root: Value) -> None:
    """After a sweep failed midway: clear the scratch slots it left behind."""
    stack, seen = [root], {root}
    while stack:
        node = stack.pop()
        node._g, node._n = 0.0, 0
        for child in node.inputs:
            if child not in seen:
                seen.add(child)
                stack.append(child)


def topological_order(root: Value) -> list[Value]:
    """Every node of root's graph, each after all of its inputs, root last.

    Its reverse is exactly the order in which backward runs the chain rule through the nodes (a leaf,
    which has no step of its own, sits where its gradient becomes complete). Iterative.
    """
    if not isinstance(root, Value):
        raise TypeError(f"topological_order: root must be a Value, got {type(root).__name__} {root!r}")
    order: list[Value] = []
    with _sweep_lock:
        try:
            _count_uses(root)
            ready = [root]  # the same releases as _sweep, but leaves pass through `ready` too
            while ready:
                node = ready.pop()
                order.append(node)
                for x in (node._a, node._b):
                    if x is not None:
                        x._n -= 1
                        if not x._n:
                            ready.append(x)
        except BaseException:
            _reset_scratch(root)
            raise
    order.reverse()
    return order


def zero_grad(*roots: Value) -> None:
    """Set `.grad` to 0 on every node of the graphs of `roots`."""
    for root in roots:
        if not isinstance(root, Value):
            raise TypeError(f"zero_grad: roots must be Values, got {type(root).__name__} {root!r}")
        for node in topological_order(root):
            node.grad = 0.0


def leaves(root: Value) -> list[Value]:
    """The leaf Values of root's graph, in topological order."""
    if not isinstance(root, Value):
        raise TypeError(f"leaves: root must be a Value, got {type(root).__name__} {root!r}")
    return [node for node in topological_order(root) if node._a is None]


# ---- no_grad --------------------------------------------------------------------------------------
class _Switch:
    """A context manager that sets a context variable for the `with` block: per thread and per
    context, and nestable (one token per open block). A subclass names the variable and the value."""

    _var: contextvars.ContextVar[bool]
    _value: bool

    def __init__(self) -> None:
        self._tokens: list[contextvars.Token[bool]] = []

    def __enter__(self) -> None:
        self._tokens.append(self._var.set(self._value))

    def __exit__(self, *exc: object) -> None:
        self._var.reset(self._tokens.pop())


class no_grad(_Switch):
    """Context manager (and decorator): ops inside it record no graph. Per thread and per context."""

    _var, _value = _grad_enabled, False

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    return _grad_enabled.get()


_detect_anomaly: contextvars.ContextVar[bool] = contextvars.ContextVar("detect_anomaly", default=False)


class detect_anomaly(_Switch):
    """Context manager: backward checks every step and fails at the op that makes a nan or inf."""

    _var, _value = _detect_anomaly, True


class _enable_grad(_Switch):
    """Record graphs even inside no_grad (used while building differentiable gradients)."""

    _var, _value = _grad_enabled, True


def _as_values(xs: Iterable[Any], where: str) -> Iterator[Value]:
    for x in xs:
        if not isinstance(x, Value):
            raise TypeError(f"{where}: expected Value, got {type(x).__name__} {x!r}")
        yield x


def gradients(output: Value, inputs: Sequence[Value], create_graph: bool = False) -> list[Any]:
    """d output / d each of `inputs`, without touching any `.grad`.

    Returns a list of floats, or with `create_graph=True` a list of Values that can be
    differentiated again. An input that `output` does not depend on gets 0.
    """
    if not isinstance(output, Value):
        raise TypeError(f"gradients: output must be a Value, got {type(output).__name__} {output!r}")
    if isinstance(inputs, Value) or not isinstance(inputs, Sequence):
        raise TypeError(
            f"gradients: inputs must be a list or tuple of Values, got {type(inputs).__name__}"
            " (wrap a single Value in a list)"
        )
    wanted = list(_as_values(inputs, "gradients"))
    grads: dict[Value, Any] = dict.fromkeys(wanted, 0.0)
    if create_graph:
        with _enable_grad():
            _sweep(output, Value(1.0), grads, True)
        return [_lift(grads[x], "gradients") for x in wanted]
    _sweep(output, 1.0, grads, False)
    return [float(grads[x]) for x in wanted]
