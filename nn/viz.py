"""Views of a network for learning backprop: the network diagram, and the lectures' delta recursion.

`draw_network(model, x)` is the textbook picture: inputs, a column of neurons per layer, one edge
per weight with its value and gradient (see its docstring). The rest of this module is the delta
recursion, layer by layer:

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
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autograd import OPS, FloatMath, Value, no_grad
from autograd.draw import check_flag, check_path, check_rankdir, escape_label, fmt, render_svg
from autograd.explain import num
from autograd.files import atomic_write_text

from .module import MLP, Layer, Neuron

if TYPE_CHECKING:
    import graphviz  # type: ignore[import-untyped]  # loaded when a network is first drawn

__all__ = [
    "LOSSES",
    "LayerDelta",
    "LayerDeltas",
    "NetworkEdge",
    "draw_network",
    "layer_deltas",
    "network_activations",
    "network_edges",
    "save_network_svg",
]

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


def _numbers(xs: object, what: str, where: str = "layer_deltas") -> tuple[float, ...]:
    """A sequence of real numbers (Values give their data), or a single number, as floats."""
    if isinstance(xs, (Value, numbers.Real)) and not isinstance(xs, bool):
        xs = [xs]
    if isinstance(xs, (str, bytes)) or not isinstance(xs, Sequence):
        raise TypeError(f"{where}: {what} must be a list of numbers, got {type(xs).__name__} {xs!r}")
    out = []
    for i, x in enumerate(xs):
        v = x.data if isinstance(x, Value) else x
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise TypeError(f"{where}: {what}[{i}] must be a finite real number, got {x!r}")
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
        total = 0.0 if neuron.b is None else neuron.b.data  # a layer built with bias=False: b = 0
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
        bias = tuple(0.0 if n.b is None else n.b.data for n in layer.neurons)
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


# ---- the network diagram: one circle per neuron, one edge per weight ------------------------------
_POSITIVE = "#2b6cb0"  # an edge whose weight is > 0
_NEGATIVE = "#c0392b"  # < 0
_ZERO = "#8a8a8a"
_NEURON_FILL = "#ffffff"
_INPUT_FILL = "#dbe9ff"
_DIM = "#6b6b6b"


@dataclass(frozen=True)
class NetworkEdge:
    """One weight as the network diagram draws it: from node `src` of column `layer` (column 0 is
    the inputs) to neuron `dst` of column `layer + 1`. `weight` is the parameter itself (read its
    `.data` and `.grad`); `name` its name in `model.named_parameters()`."""

    name: str
    layer: int
    src: int
    dst: int
    weight: Value


def _columns(model: object, where: str) -> list[tuple[str, str, list[tuple[str, Any]]]]:
    """The model's layers as (name, activation, [(neuron name, neuron)]): an MLP's layers, a Layer,
    or a Neuron alone (one column of one)."""
    if isinstance(model, MLP):
        return [
            (f"layers.{i}", layer.activation, [(f"layers.{i}.neurons.{j}", n) for j, n in enumerate(layer.neurons)])
            for i, layer in enumerate(model.layers)
        ]
    if isinstance(model, Layer):
        return [("layer", model.activation, [(f"neurons.{j}", n) for j, n in enumerate(model.neurons)])]
    if isinstance(model, Neuron):
        return [("neuron", model.activation, [("", model)])]
    raise TypeError(f"{where}: model must be an nn.MLP, nn.Layer or nn.Neuron, got {type(model).__name__}")


def network_edges(model: MLP | Layer | Neuron) -> list[NetworkEdge]:
    """Every weight of the network diagram, layer by layer, neuron by neuron, input by input."""
    out: list[NetworkEdge] = []
    for layer, (_, _, neurons) in enumerate(_columns(model, "network_edges")):
        for dst, (name, neuron) in enumerate(neurons):
            prefix = f"{name}." if name else ""
            out.extend(NetworkEdge(f"{prefix}w.{k}", layer, k, dst, w) for k, w in enumerate(neuron.w))
    return out


def network_activations(model: MLP | Layer | Neuron, x: Any) -> list[list[float]]:
    """Each column's numbers for inputs `x`: x itself, then every layer's outputs, computed by the
    model's own neurons (under `no_grad`, so no graph is kept and no `.grad` changes)."""
    columns = _columns(model, "draw_network")
    nin = columns[0][2][0][1].nin
    xs = _numbers(x, "x", "draw_network")
    if len(xs) != nin:
        raise ValueError(f"draw_network: the model takes {nin} inputs, x has {len(xs)}")
    out = [list(xs)]
    with no_grad():
        h: list[Any] = [Value(v) for v in xs]
        for _, _, neurons in columns:
            h = [neuron(h) for _, neuron in neurons]
            out.append([v.data for v in h])
    return out


def _neuron_label(name: str, neuron: Any, show_grad: bool, out: float | None) -> str:
    """A neuron's circle: its name, its bias (and the bias's gradient), its output for the given x."""
    short = name.rsplit(".", 2)[-2:] if name else ["neuron"]
    lines = [f'<FONT POINT-SIZE="9" COLOR="{_DIM}">{escape_label(".".join(short))}</FONT>']
    if neuron.b is None:
        lines.append(f'<FONT COLOR="{_DIM}">no bias</FONT>')
    else:
        lines.append(f"b {fmt(neuron.b.data)}")
        if show_grad:
            lines.append(f"grad {fmt(neuron.b.grad)}")
    if out is not None:
        lines.append(f"<B>out {fmt(out)}</B>")
    return "<" + "<BR/>".join(lines) + ">"


def _edge_attrs(e: NetworkEdge, show_grad: bool, biggest: float) -> dict[str, str]:
    """An edge blue for w > 0, red for w < 0, wider where |grad| is larger; named by its parameter."""
    w = e.weight
    colour = _POSITIVE if w.data > 0 else _NEGATIVE if w.data < 0 else _ZERO
    attrs = {"color": colour, "tooltip": escape_label(e.name), "arrowsize": "0.6"}
    if show_grad and biggest > 0:  # width by |grad|: where the gradient is large
        attrs["penwidth"] = f"{1.0 + 4.0 * abs(w.grad) / biggest:.2f}"
    return attrs


def _xy(col: float, j: float, n: int, rankdir: str, gap: float) -> tuple[float, float]:
    """Where node j of n in column `col` goes (inches): columns `gap` apart in the rankdir's direction,
    the nodes of a column 2 in apart, centred, in the model's order."""
    along, across = col * gap, ((n - 1) / 2 - j) * 2.0
    return {"LR": (along, across), "RL": (-along, across), "TB": (across, -along), "BT": (across, along)}[rankdir]


def _pin(x: float, y: float) -> str:
    return f"{x:.3f},{y:.3f}!"


def _weight_label(g: graphviz.Digraph, e: NetworkEdge, ends: tuple[tuple[float, float], ...], text: str) -> None:
    """An edge's label as a small white box pinned 60% of the way to the neuron it feeds: there the
    labels of a layer's edges never coincide (at the midpoints they do, for evenly spaced columns)."""
    (x0, y0), (x1, y1) = ends
    pos = _pin(x0 + 0.6 * (x1 - x0), y0 + 0.6 * (y1 - y0))
    colour = _POSITIVE if e.weight.data > 0 else _NEGATIVE if e.weight.data < 0 else _ZERO
    name = f"c{e.layer + 1}n{e.dst}w{e.src}"
    style = {"shape": "box", "style": "filled", "fillcolor": "white", "color": "white", "margin": "0.01"}
    g.node(name, label=f"<{text}>", fontsize="9", fontcolor=colour, pos=pos, tooltip=escape_label(e.name), **style)


def _check_network_args(where: str, rankdir: object, flags: dict[str, object], max_weights: object) -> None:
    check_rankdir(rankdir, where)
    for name, flag in flags.items():
        check_flag(flag, name, where)
    if isinstance(max_weights, bool) or not isinstance(max_weights, int) or max_weights < 1:
        raise ValueError(f"{where}: max_weights must be an int >= 1, got {max_weights!r}")


def draw_network(
    model: MLP | Layer | Neuron,
    x: Any = None,
    *,
    rankdir: str = "LR",
    show_grad: bool = True,
    edge_labels: bool = True,
    max_weights: int = 200,
) -> graphviz.Digraph:
    """The textbook picture of a network as a `graphviz.Digraph` (shows inline in Jupyter).

    A column of inputs `x0, x1, ...`, then one column of circles per layer, one circle per neuron
    with its bias `b` (and the bias's `grad`); one edge per weight, labelled `w` and its `grad`
    (dL/dw after `backward()`), blue for w > 0 and red for w < 0, wider where |grad| is larger.
    With `x` (nin numbers or Values) the inputs show their values and each neuron its output `out`,
    computed by the model's own neurons. Every number is the parameter's own `.data` / `.grad`
    (drawn with 4 decimals, as `draw` does). More than `max_weights` weights raises ValueError:
    such a picture is a hairball, not a figure. `autograd.draw(model)` draws this too.
    """
    where = "draw_network"
    columns = _columns(model, where)
    _check_network_args(where, rankdir, {"show_grad": show_grad, "edge_labels": edge_labels}, max_weights)
    edges = network_edges(model)
    if len(edges) > max_weights:
        raise ValueError(
            f"{where}: the model has {len(edges)} weights, more than max_weights={max_weights}; draw one layer"
            f" (draw_network(model.layers[0])) or pass a larger max_weights=..."
        )
    values = None if x is None else network_activations(model, x)
    nin = columns[0][2][0][1].nin
    from autograd.display import fitting_digraph  # graphviz loads here, when something is drawn

    # Every node is pinned (neato, pos="x,y!"): columns in order, neurons in the model's order, as the
    # textbook draws them (dot would reorder a column to save edge crossings).
    g = fitting_digraph(name="network", engine="neato")  # in a notebook it scales to the cell width
    g.attr(bgcolor="white", splines="line", outputorder="edgesfirst", pad="0.3")
    g.attr(fontname="Helvetica", fontsize="11", labelloc="b", fontcolor=_DIM)
    g.attr(label="w: weight, grad: dL/dw (edges; blue w > 0, red w < 0, width by |grad|)   b: bias   out: output")
    g.attr("node", fontname="Helvetica", fontsize="10")
    g.attr("edge", fontname="Helvetica", fontsize="9")
    gap = 3.8 if edge_labels else 2.4
    titles = [("inputs", nin)] + [(f"{n} ({a})", len(ns)) for n, a, ns in columns]
    high = max(n for _, n in titles)
    for col, (title, _) in enumerate(titles):  # every column's title in one line, beyond the tallest column
        g.node(f"c{col}title", label=f"<{escape_label(title)}>", shape="plaintext", fontcolor=_DIM,
               pos=_pin(*_xy(col, -0.8, high, rankdir, gap)))  # fmt: skip
    for k in range(nin):
        text = f"x{k}" if values is None else f"x{k}<BR/><B>{fmt(values[0][k])}</B>"
        pos = _pin(*_xy(0, k, nin, rankdir, gap))
        g.node(f"c0n{k}", label=f"<{text}>", shape="circle", style="filled", fillcolor=_INPUT_FILL, pos=pos)
    for col, (_, _, neurons) in enumerate(columns, start=1):
        for j, (nname, neuron) in enumerate(neurons):
            label = _neuron_label(nname, neuron, show_grad, None if values is None else values[col][j])
            pos = _pin(*_xy(col, j, len(neurons), rankdir, gap))
            g.node(f"c{col}n{j}", label=label, shape="circle", style="filled", fillcolor=_NEURON_FILL, pos=pos)
    sizes = [nin] + [len(ns) for _, _, ns in columns]
    biggest = max((abs(e.weight.grad) for e in edges), default=0.0)
    for e in edges:
        g.edge(f"c{e.layer}n{e.src}", f"c{e.layer + 1}n{e.dst}", **_edge_attrs(e, show_grad, biggest))
        if edge_labels:
            ends = (
                _xy(e.layer, e.src, sizes[e.layer], rankdir, gap),
                _xy(e.layer + 1, e.dst, sizes[e.layer + 1], rankdir, gap),
            )
            text = f"w {fmt(e.weight.data)}" + (f"<BR/>grad {fmt(e.weight.grad)}" if show_grad else "")
            _weight_label(g, e, ends, text)
    return g


def save_network_svg(model: MLP | Layer | Neuron, path: str | os.PathLike[str], x: Any = None, **options: Any) -> Path:
    """Write `draw_network(model, x, **options)` to `path` as SVG (needs Graphviz's `dot`); return the path."""
    p = check_path(path, "save_network_svg")
    atomic_write_text(p, render_svg(draw_network(model, x, **options)))
    return p
