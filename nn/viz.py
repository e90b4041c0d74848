"""Views of a network for learning backprop: the lectures' delta recursion, layer by layer.

Lecture 001's notation, for an MLP with layers l = 1..L on the input o(0) = x:

    s(l) = W(l) o(l-1) + b(l)                         pre-activations (the "signals")
    o(l) = theta(s(l))                                 outputs, theta the layer's activation
    delta(l) = d loss / d s(l)
    delta(L) = d loss / d o(L)  *  theta'(s(L))        the base case, from the loss
    delta(l) = W(l+1)^T delta(l+1)  *  theta'(s(l))    the recursion (elementwise *)
    G(l) = d loss / d W(l) = delta(l) o(l-1)^T         rows = neurons, as W(l)
    d loss / d b(l) = delta(l)

W(l) has one row per neuron (neuron b's weights w_b,a); the bias is kept apart rather than as the
lecture's column w_b,0 (the same number: o_0 = 1). theta'(s) comes from the op table: the same
`Op.local` rule that `backward()` multiplies by, so the recursion and the engine agree.

Losses (`loss=`), with K outputs and targets y:
- "mse": exactly `nn.mse_loss(outputs, targets)` = (1/K) sum_k (o_k - y_k)^2, so
  d loss / d o_k = (2/K)(o_k - y_k). For one output this is lecture 001's (o - y)^2, delta(L) = 2(o - y).
- "half_mse": half of that, (1/2K) sum_k (o_k - y_k)^2, d loss / d o_k = (o_k - y_k)/K: for one output
  lecture 003's 1/2 (y_hat - y)^2 ("the 1/2 added for convenience"), as `0.5 * nn.mse_loss(...)`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from autograd import OPS, FloatMath, Value
from autograd.explain import num

from .module import MLP, Layer

__all__ = ["LOSSES", "LayerDelta", "LayerDeltas", "layer_deltas"]

LOSSES: tuple[str, ...] = ("mse", "half_mse")
"""The losses `layer_deltas` knows: "mse" as `nn.mse_loss`, "half_mse" as half of it."""

_LOSS_TEXT = {
    "mse": "(1/K) sum_k (o_k - y_k)^2, as nn.mse_loss",
    "half_mse": "(1/2K) sum_k (o_k - y_k)^2, half of nn.mse_loss",
}


@dataclass(frozen=True)
class LayerDelta:
    """One layer l of the recursion (numbered from 1, as in the lecture; layer 0 is the input).

    s: pre-activations s(l); o: outputs o(l) = theta(s(l)); dtheta: theta'(s(l)); upstream: d loss /
    d o(l) (from the loss for the last layer, W(l+1)^T delta(l+1) before it); delta: d loss / d s(l)
    = upstream * dtheta; G: d loss / d W(l), one row per neuron (G[b][a] = delta_b o_a(l-1));
    bias_grad: d loss / d b(l) (= delta). W and b are the layer's weights (rows = neurons) and biases.
    """

    layer: int
    activation: str
    W: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    s: tuple[float, ...]
    o: tuple[float, ...]
    dtheta: tuple[float, ...]
    upstream: tuple[float, ...]
    delta: tuple[float, ...]
    G: tuple[tuple[float, ...], ...]
    bias_grad: tuple[float, ...]


@dataclass(frozen=True)
class LayerDeltas:
    """The delta recursion for one sample: the input, target, loss and every layer (`layers[0]` is
    layer 1). `str()` prints it in the lecture's notation, forward then backward."""

    x: tuple[float, ...]
    target: tuple[float, ...]
    loss_name: str
    loss: float
    layers: tuple[LayerDelta, ...]

    def __str__(self) -> str:
        return _text(self)


def _vec(xs: Sequence[float]) -> str:
    return "[" + ", ".join(num(x) for x in xs) + "]"


def _mat(rows: Sequence[Sequence[float]]) -> str:
    return "[" + ", ".join(_vec(r) for r in rows) + "]"


def _numbers(xs: object, what: str) -> tuple[float, ...]:
    """A sequence of real numbers (Values give their data), or a single number, as floats."""
    if isinstance(xs, (Value, numbers.Real)) and not isinstance(xs, bool):
        xs = [xs]
    if isinstance(xs, (str, bytes)) or not isinstance(xs, Sequence):
        raise TypeError(f"layer_deltas: {what} must be a list of numbers, got {type(xs).__name__} {xs!r}")
    out = []
    for i, x in enumerate(xs):
        v = x.data if isinstance(x, Value) else x
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise TypeError(f"layer_deltas: {what}[{i}] must be a finite real number, got {x!r}")
        out.append(float(v))
    return tuple(out)


def _layers(model: object) -> list[Layer]:
    if isinstance(model, MLP):
        return list(model.layers)
    if isinstance(model, Layer):
        return [model]
    raise TypeError(f"layer_deltas: model must be an nn.MLP or nn.Layer, got {type(model).__name__}")


def _forward(layer: Layer, o_prev: Sequence[float]) -> tuple[list[float], list[float], list[float]]:
    """s = W o_prev + b, o = theta(s) and theta'(s) on floats, by the op table's rules.

    s is summed as the neuron sums it (b first, then each w_a o_a in order), so it is the same float.
    """
    act = layer.activation
    op = None if act == "none" else OPS[act]
    params = op.bind({}) if op is not None else None  # the defaults Value.<activation>() uses
    s, o, d = [], [], []
    for neuron in layer.neurons:
        total = neuron.b.data
        for w, x in zip(neuron.w, o_prev, strict=True):
            total += w.data * x
        s.append(total)
        if op is None:  # "none": theta(s) = s, theta'(s) = 1
            o.append(total)
            d.append(1.0)
        else:
            out = op.forward(total, **(params or {}))
            o.append(out)
            d.append(float(op.local((total,), out, params, FloatMath)[0]))
    return s, o, d


def _loss(loss: str, o: Sequence[float], y: Sequence[float]) -> tuple[float, list[float]]:
    """The loss and d loss / d o_k, written as the engine's nn.mse_loss computes them."""
    k = len(o)
    scale = 1.0 / k
    sq = [(ok - yk) * (ok - yk) for ok, yk in zip(o, y, strict=True)]
    total = sq[0]
    for t in sq[1:]:  # summed in nn.mse_loss's order, so the loss is the engine's float
        total += t
    mse = total * scale
    grads = [2.0 * (scale * (ok - yk)) for ok, yk in zip(o, y, strict=True)]
    if loss == "half_mse":
        return 0.5 * mse, [0.5 * g for g in grads]
    return mse, grads


def _transpose_times(layer: Layer, delta: Sequence[float]) -> list[float]:
    """W^T delta for the layer's weights W (rows = neurons): entry b is sum_c delta_c w_c,b.

    Added from the last neuron c to the first, the order in which `backward()` reaches them, so
    each sum is the engine's float bit for bit (any order is the same number up to rounding).
    """
    out = []
    for b in range(layer.nin):
        total = 0.0
        for c in range(len(delta) - 1, -1, -1):
            total += delta[c] * layer.neurons[c].w[b].data
        out.append(total)
    return out


def layer_deltas(model: MLP | Layer, x: Any, target: Any, loss: str = "mse") -> LayerDeltas:
    """The lecture's delta recursion for one sample: every layer's delta(l), G(l) and bias gradients.

    Forward: s(l) = W(l) o(l-1) + b(l), o(l) = theta(s(l)). Base case: delta(L) = d loss / d o(L) *
    theta'(s(L)). Recursion, from l = L-1 down to 1: delta(l) = W(l+1)^T delta(l+1) * theta'(s(l)).
    Then G(l) = delta(l) o(l-1)^T and d loss / d b(l) = delta(l). These equal what `backward()` puts
    in `.grad` of each weight and bias for the same loss (the tests find them equal bit for bit: the
    same products, and the sums added in the engine's order).
    loss: "mse" (= nn.mse_loss) or "half_mse" (half of it); see the module docstring. Reads `.data`
    only: no graph is built and no `.grad` changes.
    """
    layers = _layers(model)
    if loss not in LOSSES:
        raise ValueError(f"layer_deltas: loss must be one of {', '.join(map(repr, LOSSES))}, got {loss!r}")
    xs = _numbers(x, "x")
    ys = _numbers(target, "target")
    if len(xs) != layers[0].nin:
        raise ValueError(f"layer_deltas: the model takes {layers[0].nin} inputs, x has {len(xs)}")
    if len(ys) != layers[-1].nout:
        raise ValueError(f"layer_deltas: the model has {layers[-1].nout} outputs, target has {len(ys)}")
    outs: list[list[float]] = [list(xs)]  # o(0) = x
    forward = []
    for layer in layers:
        s, o, d = _forward(layer, outs[-1])
        forward.append((s, o, d))
        outs.append(o)
    value, upstream = _loss(loss, outs[-1], ys)  # d loss / d o(L)
    result: list[LayerDelta] = []
    for i in range(len(layers) - 1, -1, -1):  # l = L, ..., 1
        layer, (s, o, d) = layers[i], forward[i]
        if i < len(layers) - 1:  # d loss / d o(l) = W(l+1)^T delta(l+1)
            upstream = _transpose_times(layers[i + 1], result[-1].delta)
        delta = tuple(g * t for g, t in zip(upstream, d, strict=True))
        G = tuple(tuple(db * oa for oa in outs[i]) for db in delta)
        W = tuple(tuple(w.data for w in n.w) for n in layer.neurons)
        bias = tuple(n.b.data for n in layer.neurons)
        result.append(
            LayerDelta(i + 1, layer.activation, W, bias, tuple(s), tuple(o), tuple(d), tuple(upstream), delta, G, delta)
        )
    return LayerDeltas(xs, ys, loss, value, tuple(reversed(result)))


def _theta_text(act: str, n: int) -> str:
    """theta'(s(n)) as the lecture writes it for the common activations."""
    if act == "none":
        return "1 (no activation: o = s)"
    known = {"tanh": f"1 - o({n})^2", "sigmoid": f"o({n}) (1 - o({n}))", "relu": f"1[s({n}) > 0]"}
    return f"{act}'(s({n}))" + (f" = {known[act]}" if act in known else "")


def _text(r: LayerDeltas) -> str:
    """The recursion in the lecture's notation: the forward pass, the loss, then layer by layer back."""
    last = len(r.layers)
    k = len(r.target)
    lines = [f"forward, o(0) = x = {_vec(r.x)}"]
    for ld in r.layers:
        n = ld.layer
        lines.append(f"  s({n}) = W({n}) o({n - 1}) + b({n}) = {_vec(ld.s)}")
        theta = f"s({n})" if ld.activation == "none" else f"{ld.activation}(s({n}))"
        lines.append(f"  o({n}) = {theta} = {_vec(ld.o)}")
    lines.append(f"loss = {_LOSS_TEXT[r.loss_name]} = {num(r.loss)}   (y = {_vec(r.target)}, K = {k})")
    factor = "(2/K)" if r.loss_name == "mse" else "(1/K)"
    lines.append("backward, delta(l) = d loss / d s(l):")
    for ld in reversed(r.layers):
        n = ld.layer
        if n == last:
            lines.append(f"  d loss/d o({n}) = {factor}(o({n}) - y) = {_vec(ld.upstream)}")
        else:
            lines.append(f"  d loss/d o({n}) = W({n + 1})^T delta({n + 1}) = {_vec(ld.upstream)}")
        lines.append(f"  theta'(s({n})) = {_theta_text(ld.activation, n)} = {_vec(ld.dtheta)}")
        lines.append(f"  delta({n}) = d loss/d o({n}) * theta'(s({n})) = {_vec(ld.delta)}")
        lines.append(f"  G({n}) = delta({n}) o({n - 1})^T = {_mat(ld.G)}")
        lines.append(f"  d loss/d b({n}) = delta({n}) = {_vec(ld.bias_grad)}")
    return "\n".join(lines)
