"""Drawings: the textbook graph with values, gradients and edge derivatives; escaping; missing Graphviz."""

from __future__ import annotations

import math
import re
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from requires import needs_dot

import autograd
from autograd import GraphvizNotFoundError, Value, draw, save_svg, to_svg, topological_order
from demos.textbook import textbook_graph as textbook

SVG_NS = "{http://www.w3.org/2000/svg}"
# Every element dot writes for our drawings; anything else in the SVG would have come from a label.
SVG_ELEMENTS = {"svg", "g", "title", "text", "polygon", "polyline", "path", "ellipse"}

HOSTILE = [
    "<script>alert(1)</script>",
    "{a|b}",
    '"q"',
    "\\",
    "\\N \\G \\l",
    "\\\\N \\\\",
    "C:\\new\\table\\",
    "it's & <b>bold</b>",
    "&amp; &#60;script&#62; &lt;",
    "]]><x/>",
    "<!-- c -->",
    "<TABLE><TR><TD>x</TD></TR></TABLE>",
    "a\x00b\x07c\nd\te\rf\x7f",
    "é漢字🙂 ∂L/∂a",
    "\u202eRTL \u200dzwj",
    "\ufffe\uffff",
    "   ",
    "x -> y; }",
    "label=<b>",
]


def svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text for t in root.iter(f"{SVG_NS}text") if t.text is not None]


def norm(s: str) -> str:
    """Whitespace as a reader sees it: dot writes runs of spaces as non-breaking spaces."""
    return " ".join(s.replace("\xa0", " ").split())


def visible(label: str) -> str:
    """How a label is meant to read in the drawing: control characters, surrogates and the XML
    non-characters U+FFFE/U+FFFF as their Python escapes, everything else unchanged."""
    return "".join(
        ascii(ch)[1:-1] if unicodedata.category(ch) in ("Cc", "Cs") or ch in "\ufffe\uffff" else ch for ch in label
    )


def assert_no_injected_markup(svg: str) -> None:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    tags = {el.tag.removeprefix(SVG_NS) for el in root.iter()}
    assert tags <= SVG_ELEMENTS, f"unexpected elements {tags - SVG_ELEMENTS}"


# ---- the textbook drawing ------------------------------------------------------------------------
@needs_dot
def test_textbook_svg_shows_every_label_value_and_gradient() -> None:
    g = textbook()
    g["L"].backward()
    texts = [norm(t) for t in svg_texts(to_svg(g["L"]))]
    # The lecture's numbers: forward values (figure 7.12) and gradients (figure 7.13).
    expected = {
        "a": ("3.0000", "-2.0000"),
        "b": ("1.0000", "-4.0000"),
        "c": ("-2.0000", "5.0000"),
        "d": ("2.0000", "-2.0000"),
        "e": ("5.0000", "-2.0000"),
        "L": ("-10.0000", "1.0000"),
    }
    for label, (data, grad) in expected.items():
        assert label in texts
        assert f"data {data}" in texts
        assert f"grad {grad}" in texts
    # one op node per computed node: two `*` and one `+`
    assert texts.count("*") == 2 and texts.count("+") == 1


@needs_dot
def test_two_renders_of_the_same_graph_are_byte_identical() -> None:
    first, second = textbook(), textbook()  # two separate but equal graphs
    first["L"].backward()
    second["L"].backward()
    svg = to_svg(first["L"], edge_labels=True)
    assert svg == to_svg(first["L"], edge_labels=True)
    assert svg == to_svg(second["L"], edge_labels=True)


def test_dot_source_is_deterministic_and_named_by_topological_position() -> None:
    first, second = textbook(), textbook()
    assert draw(first["L"]).source == draw(second["L"]).source
    source = draw(first["L"]).source
    n = len(topological_order(first["L"]))
    names = set(re.findall(r"^\s*(v\d+)\s*\[", source, flags=re.MULTILINE))
    assert names == {f"v{i}" for i in range(n)}


@needs_dot
def test_each_use_is_an_edge_a_plus_a_has_two() -> None:
    a = Value(1.5, label="a")
    s = a + a
    s.label = "s"
    svg = to_svg(s)
    root = ET.fromstring(svg)
    edges = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "edge"]
    titles = [g.find(f"{SVG_NS}title").text for g in edges]  # type: ignore[union-attr]
    # a -> op twice, op -> s once
    assert len(edges) == 3
    assert titles.count("v0->v1op") == 2
    assert titles.count("v1op->v1") == 1


def edge_label_values(svg: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for t in svg_texts(svg):
        m = re.fullmatch(r"(d\S+/d\S+) = (\S+)", norm(t))
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


@needs_dot
def test_edge_labels_show_the_local_derivatives() -> None:
    g = textbook()
    got = edge_label_values(to_svg(g["L"], edge_labels=True))
    # d(c e)/dc = e = 5, d(c e)/de = c = -2, d(a + d)/da = 1, d(a + d)/dd = 1, d(2 b)/db = 2
    assert got["dL/dc"] == 5.0
    assert got["dL/de"] == -2.0
    assert got["de/da"] == 1.0
    assert got["de/dd"] == 1.0
    assert got["dd/db"] == 2.0
    assert "dL/dc" not in edge_label_values(to_svg(g["L"], edge_labels=False))


@needs_dot
def test_edge_labels_of_unary_ops_match_their_calculus() -> None:
    x = Value(0.7, label="x")
    t = x.tanh()
    t.label = "t"
    y = t**2
    y.label = "y"
    got = edge_label_values(to_svg(y, edge_labels=True))
    tanh = math.tanh(0.7)
    # drawn with 4 decimals: within half a unit of the last digit
    assert abs(got["dt/dx"] - (1 - tanh**2)) <= 5e-5
    assert abs(got["dy/dt"] - 2 * tanh) <= 5e-5


def test_ops_with_a_constant_show_it() -> None:
    x = Value(2.0, label="x")
    y = Value(4.0, label="y")
    source = draw(x**2 + x / y + x.leaky_relu(0.2) + x.elu(1.5) + x**y).source
    assert "label=<**2>" in source
    assert "label=<**-1>" in source  # x / y is x * y ** -1
    assert "label=<leaky_relu(0.2)>" in source
    assert "label=<elu(1.5)>" in source
    assert "label=<pow>" in source  # a Value exponent: the binary op pow, with two edges


def test_leaves_are_styled_differently_from_computed_nodes() -> None:
    g = textbook()
    source = draw(g["L"]).source
    order = topological_order(g["L"])
    fills = dict(re.findall(r'^\s*(v\d+) \[label=<<TABLE [^>]*BGCOLOR="([^"]+)"', source, flags=re.MULTILINE))
    leaf_fills = {fills[f"v{i}"] for i, v in enumerate(order) if v.is_leaf()}
    inner_fills = {fills[f"v{i}"] for i, v in enumerate(order) if not v.is_leaf()}
    assert leaf_fills and inner_fills and not leaf_fills & inner_fills


def test_show_grad_false_leaves_gradients_out() -> None:
    g = textbook()
    g["L"].backward()
    assert "grad " in draw(g["L"]).source
    assert "grad " not in draw(g["L"], show_grad=False).source


def test_unlabelled_nodes_get_their_topological_name() -> None:
    x = Value(1.0)
    y = x.exp()
    source = draw(y).source
    assert ">n0<" in source and ">n1<" in source


def test_draw_returns_a_digraph_that_displays_in_jupyter() -> None:
    import graphviz  # type: ignore[import-untyped]

    g = draw(textbook()["L"])
    assert isinstance(g, graphviz.Digraph)
    assert hasattr(g, "_repr_mimebundle_")


# ---- escaping ------------------------------------------------------------------------------------
def check_label_renders_as_text(label: str) -> None:
    x = Value(1.25, label=label)
    m = x * x
    m.label = "m"
    y = m.tanh()
    y.label = label
    svg = to_svg(y, edge_labels=True)
    assert_no_injected_markup(svg)
    texts = [norm(t) for t in svg_texts(svg)]
    shown = visible(label)
    if norm(shown):
        assert texts.count(norm(shown)) == 2  # the leaf and the output
        assert texts.count(norm(f"dm/d{shown} = 1.2500")) == 2  # d(x x)/dx = x, once per use
        assert sum(t.startswith(norm(f"d{shown}/dm = ")) for t in texts) == 1


@needs_dot
@pytest.mark.parametrize("label", HOSTILE)
def test_hostile_labels_render_as_their_text(label: str) -> None:
    check_label_renders_as_text(label)


@needs_dot
@settings(max_examples=40)
@given(st.text(alphabet=st.one_of(st.characters(), st.sampled_from(list("<>&;#\"'\\{}|NGl "))), max_size=24))
def test_any_text_label_renders_as_its_text(label: str) -> None:
    check_label_renders_as_text(label)


def test_labels_are_escaped_in_the_dot_source() -> None:
    x = Value(1.0, label="<script>&\"'\\N")
    source = draw(x).source
    assert "<script>" not in source
    assert "\\\\N" in source  # a doubled backslash: Graphviz would expand \N to the node's name
    assert "&lt;script&gt;&amp;&quot;&#39;" in source


# ---- size limit and argument checks ------------------------------------------------------------
def chain(n: int) -> Value:
    v = Value(0.5, label="x")
    for _ in range(n - 1):
        v = v * 1.0  # each step adds an op node and a constant leaf
    return v


def test_graph_over_max_nodes_raises_before_any_layout() -> None:
    root = chain(40)
    size = len(topological_order(root))
    with pytest.raises(ValueError, match=rf"{size} nodes.*max_nodes=20"):
        draw(root, max_nodes=20)
    assert draw(root, max_nodes=size).source  # exactly at the limit is fine


def test_default_limit_refuses_a_deep_graph_quickly_without_recursion() -> None:
    with pytest.raises(ValueError, match="max_nodes=500"):
        draw(chain(5000))  # 10,000 nodes, deeper than the recursion limit


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"rankdir": "XY"}, ValueError),
        ({"rankdir": 3}, ValueError),
        ({"max_nodes": 0}, ValueError),
        ({"max_nodes": True}, TypeError),
        ({"max_nodes": 2.5}, TypeError),
        ({"show_grad": 1}, TypeError),
        ({"edge_labels": "yes"}, TypeError),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, object], error: type[Exception]) -> None:
    name = next(iter(kwargs))
    with pytest.raises(error, match=f"draw: {name}"):
        draw(Value(1.0), **kwargs)  # type: ignore[arg-type]


def test_root_must_be_a_value() -> None:
    with pytest.raises(TypeError, match="draw: root must be a Value, got float 3.0"):
        draw(3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="save_svg: path"):
        save_svg(Value(1.0), 42)  # type: ignore[arg-type]


@pytest.mark.parametrize("rankdir", ["LR", "RL", "TB", "BT"])
def test_every_rankdir_is_accepted(rankdir: str) -> None:
    assert f"rankdir={rankdir}" in draw(Value(1.0), rankdir=rankdir).source


# ---- files and missing Graphviz --------------------------------------------------------------
@needs_dot
def test_save_svg_writes_the_same_svg_atomically(tmp_path: Path) -> None:
    g = textbook()
    path = tmp_path / "graph.svg"
    path.write_text("old", encoding="utf-8")
    assert save_svg(g["L"], path, edge_labels=True) == path
    assert path.read_text(encoding="utf-8") == to_svg(g["L"], edge_labels=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.svg"]  # no temp file left behind


@pytest.fixture
def no_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with nothing on it, so Graphviz's `dot` cannot be found."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty


def test_missing_dot_raises_with_install_instructions(no_dot: Path) -> None:
    with pytest.raises(GraphvizNotFoundError) as info:
        to_svg(textbook()["L"])
    message = str(info.value)
    assert "apt-get install graphviz" in message  # Debian/Ubuntu
    assert "brew install graphviz" in message  # macOS
    assert "conda install -c conda-forge graphviz" in message
    assert isinstance(info.value, RuntimeError)
    assert autograd.GraphvizNotFoundError is GraphvizNotFoundError


def test_missing_dot_still_writes_the_dot_source(no_dot: Path, tmp_path: Path) -> None:
    g = textbook()
    out = tmp_path / "out"
    out.mkdir()
    path = out / "graph.svg"
    with pytest.raises(GraphvizNotFoundError) as info:
        save_svg(g["L"], path, edge_labels=True)
    dot = out / "graph.dot"
    assert info.value.dot_path == dot
    assert str(dot) in str(info.value)
    assert not path.exists()
    assert dot.read_text(encoding="utf-8") == draw(g["L"], edge_labels=True).source
    assert sorted(p.name for p in out.iterdir()) == ["graph.dot"]
