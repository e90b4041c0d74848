"""Networks drawn as networks: `nn.draw_network`, `draw(model)`, a network's computation graph
grouped by neuron (`draw(root, model=...)`), constants, compact records and slide-sized drawings."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from requires import needs_dot
from test_draw import SVG_ELEMENTS, SVG_NS, assert_no_injected_markup

import nn
from autograd import Value, draw, save_svg, to_svg, topological_order
from autograd.draw import fmt
from demos import textbook
from nn.viz import network_activations, network_edges


def trained(seed: int = 0, sizes: tuple[int, ...] = (4, 1), bias: bool = True) -> tuple[nn.MLP, Value]:
    """A tanh MLP on 2 inputs after one backward pass of its squared error on one sample."""
    model = nn.MLP(2, list(sizes), seed=seed, bias=bias)
    L = (model([0.5, -1.0])[0] - 1.0) ** 2
    L.label = "L"
    L.backward()
    return model, L


def node_label(source: str, name: str) -> str:
    m = re.search(rf"^\s*{name} \[label=<(.*?)> ", source, flags=re.MULTILINE)
    assert m is not None, name
    return m.group(1)


# ---- the network diagram ------------------------------------------------------------------------
def test_one_edge_per_weight_labelled_with_its_value_and_gradient() -> None:
    model, _ = trained()
    edges = network_edges(model)
    params = dict(model.named_parameters())
    assert [e.name for e in edges] == [n for n in params if ".w." in n]  # every weight, in the model's order
    source = nn.draw_network(model).source
    for e in edges:
        assert e.weight is params[e.name]  # the parameter itself, so its numbers are the engine's
        arrow = f"c{e.layer}n{e.src} -> c{e.layer + 1}n{e.dst}"
        assert source.count(arrow) == 1
        label = node_label(source, f"c{e.layer + 1}n{e.dst}w{e.src}")
        assert label == f"w {fmt(e.weight.data)}<BR/>grad {fmt(e.weight.grad)}"
    assert source.count(" -> ") == len(edges)


def test_neurons_show_their_bias_its_gradient_and_with_x_their_output() -> None:
    model, _ = trained()
    x = [0.5, -1.0]
    hidden = [n([Value(v) for v in x]).data for n in model.layers[0].neurons]
    source = nn.draw_network(model, x).source
    for j, neuron in enumerate(model.layers[0].neurons):
        label = node_label(source, f"c1n{j}")
        assert neuron.b is not None
        assert f"b {fmt(neuron.b.data)}<BR/>grad {fmt(neuron.b.grad)}" in label
        assert f"<B>out {fmt(hidden[j])}</B>" in label
    out = model(x)[0].data
    assert f"out {fmt(out)}" in node_label(source, "c2n0")
    assert node_label(source, "c0n1") == f"x1<BR/><B>{fmt(-1.0)}</B>"
    values = network_activations(model, x)
    assert values[1] == hidden and values[2] == [out]  # the model's own forward, bit for bit


def test_edge_width_follows_the_gradient_and_colour_the_sign_of_the_weight() -> None:
    model, _ = trained()
    source = nn.draw_network(model).source
    lines = [line for line in source.splitlines() if " -> " in line]
    widths = {re.search(r'tooltip="([^"]+)"', t).group(1): re.search(r"penwidth=([\d.]+)", t).group(1) for t in lines}  # type: ignore[union-attr]
    biggest = max(abs(e.weight.grad) for e in network_edges(model))
    for e in network_edges(model):
        assert float(widths[e.name]) == pytest.approx(1 + 4 * abs(e.weight.grad) / biggest, abs=0.01)
    assert "penwidth" not in nn.draw_network(model, show_grad=False).source
    assert "grad" not in nn.draw_network(model, show_grad=False, edge_labels=False).source.split("label=")[-1]
    fresh = nn.MLP(2, [2], seed=1)  # no backward yet: every grad 0, no widths
    assert "penwidth" not in nn.draw_network(fresh).source


def test_columns_keep_the_model_order_top_to_bottom() -> None:
    source = nn.draw_network(nn.MLP(3, [4, 2], seed=3)).source
    for col, n in enumerate((3, 4, 2)):
        ys = [float(re.search(rf'c{col}n{j} \[.*?pos="[-\d.]+,([-\d.]+)!"', source).group(1)) for j in range(n)]  # type: ignore[union-attr]
        assert ys == sorted(ys, reverse=True)
    tb = nn.draw_network(nn.MLP(3, [4, 2], seed=3), rankdir="TB").source
    assert 'c1n0 [label=<<FONT POINT-SIZE="9" COLOR="#6b6b6b">neurons.0' in tb


def test_layers_neurons_and_networks_without_biases() -> None:
    layer = nn.Layer(3, 2, rng=__import__("random").Random(0))
    assert [e.name for e in network_edges(layer)] == [f"neurons.{j}.w.{k}" for j in range(2) for k in range(3)]
    neuron = nn.Neuron(2, rng=__import__("random").Random(0))
    assert [e.name for e in network_edges(neuron)] == ["w.0", "w.1"]
    assert "neuron" in node_label(nn.draw_network(neuron).source, "c1n0")
    model, _ = trained(bias=False)
    assert "no bias" in node_label(nn.draw_network(model).source, "c1n0")


def test_draw_of_a_model_is_the_network_diagram() -> None:
    model, _ = trained()
    assert draw(model).source == nn.draw_network(model).source  # type: ignore[arg-type]
    assert (
        draw(model, rankdir="TB", show_grad=False).source
        == nn.draw_network(  # type: ignore[arg-type]
            model, rankdir="TB", show_grad=False
        ).source
    )


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m: nn.draw_network(object()), TypeError, "draw_network: model must be an nn.MLP"),  # type: ignore[arg-type]
        (lambda m: nn.draw_network(m, rankdir="up"), ValueError, "draw_network: rankdir"),
        (lambda m: nn.draw_network(m, show_grad=1), TypeError, "draw_network: show_grad"),  # type: ignore[arg-type]
        (lambda m: nn.draw_network(m, max_weights=0), ValueError, "draw_network: max_weights"),
        (lambda m: nn.draw_network(m, max_weights=5), ValueError, r"has 12 weights, more than max_weights=5"),
        (lambda m: nn.draw_network(m, [1.0]), ValueError, "draw_network: the model takes 2 inputs, x has 1"),
        (lambda m: nn.draw_network(m, "ab"), TypeError, "draw_network: x must be a list of numbers"),
        (lambda m: network_edges(3), TypeError, "network_edges: model must be"),  # type: ignore[arg-type]
    ],
)
def test_draw_network_checks_its_arguments(call: object, error: type[Exception], message: str) -> None:
    model, _ = trained()
    with pytest.raises(error, match=message):
        call(model)  # type: ignore[operator]


@needs_dot
def test_network_svg_is_written_and_well_formed(tmp_path: Path) -> None:
    model, _ = trained()
    path = nn.save_network_svg(model, tmp_path / "net.svg", x=[0.5, -1.0])
    svg = path.read_text(encoding="utf-8")
    root = ET.fromstring(svg)  # well-formed
    tags = {el.tag.removeprefix(SVG_NS) for el in root.iter()}
    assert tags <= SVG_ELEMENTS | {"a"}  # <a xlink:title=...>: each weight's name as a tooltip
    assert "href" not in svg
    assert svg == to_svg(model) or "out " in svg  # with x it also shows the outputs
    assert save_svg(model, tmp_path / "m.svg").read_text(encoding="utf-8") == to_svg(model)
    with pytest.raises(TypeError, match="save_network_svg: path"):
        nn.save_network_svg(model, 3)  # type: ignore[arg-type]


# ---- a network's computation graph, grouped by neuron ---------------------------------------------
def clusters(source: str) -> dict[str, set[int]]:
    """Each cluster's label and the positions of the boxes in it."""
    out = {}
    for part in source.split("subgraph cluster_")[1:]:
        body = part.split("\n\t}")[0]
        label = re.search(r"label=<([^>]*)>", body).group(1)  # type: ignore[union-attr]
        out[label] = {int(i) for i in re.findall(r"^\s*v(\d+) \[", body, flags=re.MULTILINE)}
    return out


def test_each_neuron_is_a_labelled_box_with_its_parameters_and_ops() -> None:
    model, L = trained()
    order = topological_order(L)
    index = {v: i for i, v in enumerate(order)}
    boxes = clusters(draw(L, model=model).source)
    assert list(boxes) == [f"layers.0.neurons.{j} (tanh)" for j in range(4)] + ["layers.1.neurons.0 (none)"]
    for (name, members), neuron in zip(boxes.items(), [*model.layers[0].neurons, *model.layers[1].neurons]):
        params = {index[p] for p in neuron.parameters()}
        assert params <= members
        ops = [order[i].op for i in sorted(members - params)]
        assert ops.count("*") == 2 * (len(neuron.w) == 2) + 4 * (len(neuron.w) == 4)  # one w_k x_k per input
        assert ops.count("tanh") == (1 if "tanh" in name else 0)
    loss_ops = {i for i, v in enumerate(order) if v.op == "**" or v is L}
    assert not loss_ops & set().union(*boxes.values())  # the loss is no neuron's


def test_inputs_are_named_x_k_constants_by_their_number_parameters_short() -> None:
    model, L = trained()
    source = draw(L, model=model, edge_labels=True).source
    assert "<TD>x0</TD>" in source and "<TD>x1</TD>" in source
    assert "<TD>(-1)</TD>" in source  # the constant of `out - 1.0`, not n<i>
    assert "<TD>w.0</TD>" in source and "<TD>b</TD>" in source  # inside its neuron's box
    assert "dn5/dx0 = " in source  # the edge labels use the same names
    plain = draw(L).source
    assert "<TD>x0</TD>" not in plain  # without model=: n<i> as before


def test_constants_alone_and_compact_records() -> None:
    g = textbook.two_layer()
    source = draw(g["L"], constants=True).source
    assert "<TD>0.5</TD>" in source and "<TD>(-1)</TD>" in source
    assert "subgraph" not in source
    compact = draw(g["L"], edge_labels=True, compact=True).source
    assert "op [" not in compact and re.search(r"v\d+op", compact) is None  # the op is inside the record
    assert "<TR><TD>data 2.1620</TD></TR>" in compact  # stacked rows
    assert re.search(r"label=<1\.0000>", compact)  # edge labels: the local derivative alone


def test_size_and_ratio_reach_graphviz_and_are_checked() -> None:
    root = textbook.two_layer()["L"]
    assert 'size="13.33,7.5"' in draw(root, size=(13.33, 7.5)).source
    assert 'size="10,5!"' in draw(root, size="10,5!").source
    assert "ratio=fill" in draw(root, ratio="fill").source
    assert "ratio=0.5625" in draw(root, ratio=0.5625).source
    for bad in ({"size": "big"}, {"size": (0, 3)}, {"size": (1, 2, 3)}, {"ratio": "square"}, {"ratio": -1}):
        with pytest.raises(ValueError, match=f"draw: {next(iter(bad))}"):
            draw(root, **bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="draw: constants"):
        draw(root, constants="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="draw: model must be an nn Module"):
        draw(root, model=3)  # type: ignore[arg-type]


def test_a_layer_or_a_lone_neuron_groups_too() -> None:
    import random

    layer = nn.Layer(2, 2, rng=random.Random(0))
    out = layer([1.0, 2.0])
    assert list(clusters(draw(out[0] + out[1], model=layer).source)) == ["neurons.0 (tanh)", "neurons.1 (tanh)"]
    assert list(clusters(draw(out[1], model=layer).source)) == ["neurons.1 (tanh)"]  # a neuron not drawn: no box
    neuron = nn.Neuron(1, activation="relu", rng=random.Random(0), bias=False)
    assert list(clusters(draw(neuron([3.0]), model=neuron).source)) == ["neuron (relu)"]


def test_hostile_labels_in_a_grouped_graph_are_escaped() -> None:
    model, _ = trained()
    L = (model([Value(0.5, label="<b>x</b>"), -1.0])[0] - 1.0) ** 2
    L.label = "</TD><script>"
    source = draw(L, model=model, compact=True, edge_labels=True).source
    assert "<script>" not in source and "<b>x" not in source
    assert "&lt;/TD&gt;&lt;script&gt;" in source and "&lt;b&gt;x&lt;/b&gt;" in source


@needs_dot
def test_lecture_003_graph_fits_a_16_9_slide(tmp_path: Path) -> None:
    g = textbook.two_layer()
    g["L"].backward()
    svg = to_svg(g["L"], edge_labels=True, compact=True, constants=True, size=textbook.SLIDE)
    width, height = (float(x) for x in re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', svg).groups())  # type: ignore[union-attr]
    assert width <= 960 and height <= 540  # 13.33 x 7.5 in
    natural = to_svg(g["L"], edge_labels=True, compact=True, constants=True)
    w0 = float(re.search(r'<svg width="([\d.]+)pt"', natural).group(1))  # type: ignore[union-attr]
    assert w0 < 1400  # the default drawing is 3,703 pt wide: text on a slide would be a quarter of its size
    assert_no_injected_markup(svg)


@needs_dot
def test_the_demo_draws_lecture_003_as_a_network(tmp_path: Path) -> None:
    assert textbook.run_network(tmp_path)
    svg = (tmp_path / "two_layer_network.svg").read_text(encoding="utf-8")
    assert "4.1832" in svg and "6.2748" in svg  # dL/dw1_11 and dL/dw1_21 from the slide's table
    assert "2.1620" in svg  # y_hat = 2.162


@needs_dot
def test_a_module_at_the_end_of_a_notebook_cell_shows_its_network() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    bundle = model._repr_mimebundle_()
    assert bundle["text/plain"] == repr(model)
    assert "<svg" in bundle["text/html"] and "max-width" in bundle["text/html"]
    big = nn.MLP(30, [30, 1], seed=0)  # more weights than a diagram can show: the text alone
    assert set(big._repr_mimebundle_()) == {"text/plain"}
