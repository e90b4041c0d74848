"""The floors the targets are judged against, measured in the same run on the same workloads.

- `FloorNode`: the object-per-node floor. A `__slots__` node with the same 9 fields as
  `autograd.Value`, whose op result is computed in the dunder method itself: no ContextVar read,
  no finite check, no try. Building a graph of them is the least an engine that allocates one
  Python object per op can spend on its forward pass.
- `value_sweep`: the given-order sweep, the backward floor. It walks chainrule's own nodes (a copy of
  the `FloorNode` graph as `autograd.Value`s, built before the timer starts) in the order eager
  backward visits them, handed to it, and adds upstream x each op's own local derivative rule into
  each input's `.grad`: the chain rule over the same nodes with no bookkeeping of its own (no use
  counts, no release of inputs, no checks, no separate pass to write `.grad`).
- `straight_line_moons`: the moons loss as generated straight-line float code (one expression per
  neuron, no lists or loops at run time), the forward floor for the compiled replay.
- `TorchMoons`: the moons training step as PyTorch would write it, with tensors for the weights and
  the points as one batch (float64, one thread): a reference for the compiled step.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from typing import Any

from autograd import Value, topological_order
from autograd.ops import ADD as ADD_OP
from autograd.ops import MUL as MUL_OP
from autograd.ops import FloatMath

_tanh = math.tanh
L2_ALPHA = 1e-4
ADD, MUL, TANH, RELU = "+", "*", "tanh", "relu"  # a FloorNode's op: the name of the op that made it


class FloorNode:
    """One op's node: its number, gradient, op name, operands; the same 9 slots as `autograd.Value`."""

    __slots__ = ("data", "grad", "op", "label", "a", "b", "arg", "g", "n")

    def __init__(self, data: float, op: Any = None, a: FloorNode | None = None, b: FloorNode | None = None) -> None:
        self.data = data
        self.grad = 0.0
        self.op = op
        self.label = ""
        self.a = a
        self.b = b
        self.arg = None
        self.g = 0.0
        self.n = 0

    def __add__(self, other: FloorNode | float) -> FloorNode:
        if type(other) is not FloorNode:
            other = FloorNode(float(other))  # type: ignore[arg-type]
        return FloorNode(self.data + other.data, ADD, self, other)

    def __mul__(self, other: FloorNode | float) -> FloorNode:
        if type(other) is not FloorNode:
            other = FloorNode(float(other))  # type: ignore[arg-type]
        return FloorNode(self.data * other.data, MUL, self, other)

    def __radd__(self, other: float) -> FloorNode:
        return FloorNode(float(other)) + self

    def __rmul__(self, other: float) -> FloorNode:
        return FloorNode(float(other)) * self

    def tanh(self) -> FloorNode:
        return FloorNode(_tanh(self.data), TANH, self)

    def relu(self) -> FloorNode:
        x = self.data
        return FloorNode(x if x > 0.0 else 0.0, RELU, self)  # noqa: FURB136 -- a conditional is the fastest form


def given_order(root: FloorNode) -> list[FloorNode]:
    """Every node of root's graph, root first, each before its inputs (reversed depth-first post-order).

    For the benchmark graphs this is their creation order reversed; it is computed before the
    sweep's timer starts, so the sweep is charged for the chain rule alone.
    """
    post: list[FloorNode] = []
    seen: set[int] = {id(root)}
    stack: list[tuple[FloorNode, int]] = [(root, 0)]
    while stack:
        node, state = stack.pop()
        nxt = node.a if state == 0 else node.b if state == 1 else None
        if state < 2:
            stack.append((node, state + 1))
            if nxt is not None and id(nxt) not in seen:
                seen.add(id(nxt))
                stack.append((nxt, 0))
        else:
            post.append(node)
    post.reverse()
    return post


def as_values(root: FloorNode) -> tuple[Value, dict[int, Value]]:
    """The same graph as chainrule nodes: each `FloorNode` rebuilt as a `Value` by the same op.
    Returns the root's twin and every node's twin by the `id` of its `FloorNode`."""
    made: dict[int, Value] = {}
    for node in reversed(given_order(root)):  # inputs first
        if node.op is None:
            made[id(node)] = Value(node.data)
            continue
        a = made[id(node.a)]
        if node.b is None:
            v = getattr(a, node.op)()  # tanh or relu: Value's method of that name
        else:
            v = a + made[id(node.b)] if node.op == ADD else a * made[id(node.b)]
        made[id(node)] = v
    return made[id(root)], made


def eager_order(root: Value) -> list[Value]:
    """The nodes of root's graph in the order eager backward takes their steps (root first)."""
    return topological_order(root)[::-1]


def value_sweep(order: Sequence[Value], seed: float = 1.0) -> None:
    """The backward floor: the chain rule over chainrule's own nodes in an order handed to it.

    Each node adds upstream x local derivative into its inputs' gradient (written straight into
    `.grad`'s slot), with the derivatives of + and * inline and each other op's own rule called
    with `FloatMath`, as eager backward does; what eager does besides (finding the order, counting
    uses, checks, writing `.grad` in a pass of its own once nothing failed) is not done here.
    """
    m, add, mul = FloatMath, ADD_OP, MUL_OP
    order[0]._grad = seed
    for node in order:
        op = node._op
        a = node._a
        if op is None or a is None:
            continue
        g = node._grad
        b = node._b
        if op is add:
            a._grad += g
            b._grad += g  # type: ignore[union-attr]
        elif op is mul:
            a._grad += g * b._data  # type: ignore[union-attr]
            b._grad += g * a._data  # type: ignore[union-attr]
        else:
            rule, arg = op.derivative, node._arg
            if b is None:
                d = rule(a._data, node._data, m) if arg is None else rule(a._data, node._data, m, **arg)
                a._grad += g * d
            else:
                x, y, out = a._data, b._data, node._data
                dx, dy = rule(x, y, out, m) if arg is None else rule(x, y, out, m, **arg)
                a._grad += g * dx
                b._grad += g * dy


# ---- moons: straight-line float code ------------------------------------------------------------------
Layers = Sequence[Sequence[tuple[Sequence[float], float]]]  # per layer, per neuron: (weights, bias)


def _params_of(layers: Layers) -> list[tuple[int, int, int]]:
    """(layer, neuron, input) for every weight, with input -1 for the bias, in `ScalarMLP.parameters()` order."""
    out: list[tuple[int, int, int]] = []
    for li, layer in enumerate(layers):
        for ni, (w, _b) in enumerate(layer):
            out.extend((li, ni, k) for k in range(len(w)))
            out.append((li, ni, -1))
    return out


def moons_source(layers: Layers, xs: Sequence[Sequence[float]], ys: Sequence[float]) -> str:
    """Python source of `loss(p)`: the moons loss (hinge + 1e-4 L2) for parameters `p`, straight-line.

    The ops are those `ScalarMLP` and `models.hinge_loss` run, in the same order (so the result is
    the same float): `b + w0*x0 + w1*x1 + ...` per neuron, relu on hidden layers, a linear output,
    then `mean(relu(1 + -y*s)) + 1e-4 * sum(p*p)`. The points are constants of the code.
    """
    index = _params_of(layers)
    name = {key: f"p{i}" for i, key in enumerate(index)}
    lines = ["def loss(p):", f"    {', '.join(name.values())}, = p"]
    last = len(layers) - 1
    for j, (x, y) in enumerate(zip(xs, ys, strict=True)):
        inputs = [repr(float(v)) for v in x]
        for li, layer in enumerate(layers):
            outs = []
            for ni, (w, _b) in enumerate(layer):
                terms = "".join(f" + {name[li, ni, k]} * {inputs[k]}" for k in range(len(w)))
                h = f"h{li}_{ni}"
                lines.append(f"    {h} = {name[li, ni, -1]}{terms}")
                if li < last:
                    lines.append(f"    {h} = {h} if {h} > 0.0 else 0.0")
                outs.append(h)
            inputs = outs
        term = f"1 + {-float(y)!r} * {inputs[0]}"
        lines.append(f"    t = {term}")
        lines.append(f"    total {'+=' if j else '='} t if t > 0.0 else 0.0")  # sum() starts at 0: 0 + t is t
    l2 = " + ".join(f"{n} * {n}" for n in name.values())
    lines.append(f"    return total * {1.0 / len(xs)!r} + {L2_ALPHA!r} * ({l2})")
    return "\n".join(lines) + "\n"


def straight_line_moons(
    layers: Layers, xs: Sequence[Sequence[float]], ys: Sequence[float]
) -> tuple[Callable[[Sequence[float]], float], str]:
    """`moons_source` compiled: the function and its source."""
    src = moons_source(layers, xs, ys)
    scope: dict[str, Any] = {}
    exec(compile(src, "<straight-line moons loss>", "exec"), scope)  # noqa: S102 -- our own generated code
    return scope["loss"], src


def flat_params(layers: Layers) -> list[float]:
    """The parameters in `ScalarMLP.parameters()` order (each neuron's weights, then its bias)."""
    return [float(v) for layer in layers for w, b in layer for v in (*w, b)]


# ---- moons: PyTorch, vectorised --------------------------------------------------------------------------
class TorchMoons:
    """The moons step in PyTorch tensors: all points in one batch, weights as matrices, float64."""

    def __init__(self, layers: Layers, xs: Sequence[Sequence[float]], ys: Sequence[float], lr: float) -> None:
        self.torch = torch = importlib.import_module("torch")
        f64 = torch.float64
        self.weights = [torch.tensor([list(w) for w, _b in layer], dtype=f64).T.contiguous() for layer in layers]
        self.biases = [torch.tensor([b for _w, b in layer], dtype=f64) for layer in layers]
        self.params = [p for pair in zip(self.weights, self.biases, strict=True) for p in pair]
        for p in self.params:
            p.requires_grad_(True)
        self.x = torch.tensor([list(x) for x in xs], dtype=f64)
        self.y = torch.tensor(list(ys), dtype=f64)
        self.lr = lr

    def loss(self) -> Any:
        h = self.x
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < last:
                h = h.relu()
        scores = h[:, 0]
        data_loss = (1 - self.y * scores).relu().mean()
        return data_loss + L2_ALPHA * sum((p * p).sum() for p in self.params)

    def step(self) -> None:
        """Forward, zero_grad, backward, SGD: the same step as every scalar engine's."""
        loss = self.loss()
        for p in self.params:
            p.grad = None
        loss.backward()
        with self.torch.no_grad():
            for p in self.params:
                p.sub_(self.lr * p.grad)


__all__ = [
    "FloorNode",
    "TorchMoons",
    "flat_params",
    "given_order",
    "moons_source",
    "straight_line_moons",
]
