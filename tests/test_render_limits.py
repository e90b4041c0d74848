"""Rendering limits and the labels test_draw.py does not try yet.

- Unusual unicode and Graphviz HTML-label elements in labels render as their text (test_draw.py
  covers DOT/HTML/SVG specials, control characters and random text).
- A graph over the limit, by node count or by the long edges that make dot's layout explode, is
  refused before anything is drawn or `dot` is started; a graph at the limit renders.
"""

from __future__ import annotations

import functools
import importlib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import graphviz  # type: ignore[import-untyped]
import pytest
from requires import needs_dot
from test_draw import SVG_NS, assert_no_injected_markup, check_label_renders_as_text

import autograd
from autograd import Value, topological_order
from autograd.draw import LAYOUT_FACTOR, layout_size

# the modules (`autograd.draw` is also the name of the function the package exports)
DRAW = importlib.import_module("autograd.draw")
EXPLAIN = importlib.import_module("autograd.explain")

UNUSUAL = [
    "\ud800 lone surrogate \udfff",
    "\ufeffBOM",
    "line\u2028separator\u2029paragraph",
    "next\x85line",
    "\u0301 lone accent, e\u0301\u0301\u0301 stacked",
    "private \ue000 \U000f0000",
    "\U0010ffff \ufdd0 noncharacters",
    "tag \U000e0041\U000e007f",
    "zero\u200bwidth\u200c\u200djoin \u2060",
    "soft\u00adhyphen",
    "\u2764\ufe0f \U0001f469\u200d\U0001f469\u200d\U0001f467",
    "\U0001d518\U0001d52b\U0001d526",
    "\uff1cscript\uff1e full width",
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u05e2\u05d1\u05e8\u05d9\u05ea",
    "%3Cscript%3E &nbsp; &#x3C;",
    "<![CDATA[x]]> <?xml version='1.0'?> <!DOCTYPE x>",
    "<IMG SRC='/etc/passwd'/> <BR/> <FONT POINT-SIZE='1000'>big</FONT>",
    "node",
    "subgraph cluster_x { }",
    "x" * 300,
]


@needs_dot
@pytest.mark.parametrize("label", UNUSUAL, ids=[ascii(s)[:40] for s in UNUSUAL])
def test_unusual_labels_render_as_their_text(label: str) -> None:
    check_label_renders_as_text(label)


@needs_dot
def test_an_img_label_never_makes_dot_read_a_file() -> None:
    # In an HTML-like label <IMG SRC=...> makes dot read (and embed) that file: escaped, it is text.
    x = Value(1.0, label="<IMG SRC='/etc/passwd'/>")
    svg = autograd.to_svg(x)
    assert_no_injected_markup(svg)
    assert "image" not in svg and "root:" not in svg


@needs_dot
def test_equal_labels_stay_separate_nodes() -> None:
    a, b = Value(1.0, label="same"), Value(2.0, label="same")
    s = a * b
    s.label = "same"
    root = ET.fromstring(autograd.to_svg(s))
    boxes = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "node"]
    assert len(boxes) == 4  # three Value boxes and one op node, though the labels collide


# ---- over the limit: refused before any drawing -----------------------------------------------------
@functools.cache
def deep(n_values: int) -> Value:
    """A chain of at least `n_values` Values: x, then (v * 0.999).tanh() adds three per step."""
    v = Value(0.5, label="x")
    for _ in range(-(-(n_values - 1) // 3)):
        v = (v * 0.999).tanh()
    return v


def trimmed(root: Value, n_values: int) -> Value:
    """The largest subgraph along root's first inputs with at most `n_values` Values (495 or more)."""
    while len(topological_order(root)) > n_values:
        root = root.inputs[0]
    return root


@functools.cache
def wide(n_values: int) -> Value:
    return sum((Value(float(i)) for i in range(n_values // 2)), Value(0.0))


def recurrence(steps: int) -> Value:
    """y = tanh(y w + x) for `steps` steps: w and x are used at every step, far apart."""
    w, x, y = Value(0.5, label="w"), Value(0.1, label="x"), Value(0.0, label="y0")
    for _ in range(steps):
        y = (y * w + x).tanh()
    return y


@pytest.fixture
def nothing_drawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if anything builds a drawing or starts dot."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a drawing was built or dot was started for a graph over the limit")

    for module in (DRAW, EXPLAIN):
        monkeypatch.setattr(module, "build_digraph", forbidden)
        monkeypatch.setattr(module, "render_svg", forbidden)
    monkeypatch.setattr(graphviz.Digraph, "pipe", forbidden)
    monkeypatch.setattr(graphviz.Digraph, "render", forbidden)
    yield


# (entry point, how to call it, the function its message names, the limit it names, a recurrence over
# its layout limit but within its node limit). to_svg and save_svg report from draw, which they call.
ENTRY_POINTS: list[tuple[str, Callable[[Value, Path], object], str, str, int]] = [
    ("draw", lambda root, tmp: autograd.draw(root), "draw", "max_nodes=500", 33),
    ("to_svg", lambda root, tmp: autograd.to_svg(root, edge_labels=True), "draw", "max_nodes=500", 33),
    ("save_svg", lambda root, tmp: autograd.save_svg(root, tmp / "g.svg"), "draw", "max_nodes=500", 33),
    ("backprop_frames", lambda root, tmp: autograd.backprop_frames(root), "backprop_frames", "max_nodes=50", 12),
    (
        "save_backprop_html",
        lambda root, tmp: autograd.save_backprop_html(root, tmp / "g.html"),
        "save_backprop_html",
        "max_nodes=200",  # one drawing for the whole page, not one per step: a larger limit
        20,
    ),
]
IDS = [e[0] for e in ENTRY_POINTS]


@pytest.mark.parametrize("shape", [deep, wide], ids=["deep", "wide"])
@pytest.mark.parametrize(("name", "call", "where", "limit", "steps"), ENTRY_POINTS, ids=IDS)
def test_a_10000_node_graph_is_refused_before_anything_is_drawn(
    nothing_drawn: None,
    tmp_path: Path,
    shape: Callable[[int], Value],
    name: str,
    call: Callable[[Value, Path], object],
    where: str,
    limit: str,
    steps: int,
) -> None:
    root = shape(10_000)
    assert len(topological_order(root)) >= 10_000
    with pytest.raises(ValueError, match=rf"{where}: the graph has 10\d\d\d nodes, more than {limit}"):
        call(root, tmp_path)
    assert list(tmp_path.iterdir()) == []  # and no file was written


@pytest.mark.parametrize(("name", "call", "where", "limit", "steps"), ENTRY_POINTS, ids=IDS)
def test_a_small_graph_with_long_edges_is_refused_before_anything_is_drawn(
    nothing_drawn: None,
    tmp_path: Path,
    name: str,
    call: Callable[[Value, Path], object],
    where: str,
    limit: str,
    steps: int,
) -> None:
    # Few Values, but w and x feed every step: dot took minutes over 100 of them (33 steps).
    root = recurrence(steps)
    assert len(topological_order(root)) <= int(limit.split("=")[1])  # within the node limit
    with pytest.raises(ValueError, match=rf"{where}: the graph has only \d+ nodes.*long edges.*{limit}"):
        call(root, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_layout_estimate_counts_long_edges_only() -> None:
    chain = topological_order(deep(500))
    assert layout_size(chain, False) == 2 * len(chain)  # every edge joins neighbouring ranks

    def virtual(steps: int) -> int:
        loop = topological_order(recurrence(steps))
        return layout_size(loop, False) - 2 * len(loop)

    # step k uses w and x about 4k ranks after their first use: quadratic in the number of steps
    assert virtual(20) > 0
    assert virtual(40) >= 3.5 * virtual(20)
    loop = topological_order(recurrence(20))
    assert layout_size(loop, True) > 2 * layout_size(loop, False) - 2 * len(loop)


def test_a_larger_max_nodes_lifts_the_layout_limit() -> None:
    root = recurrence(33)
    size = layout_size(topological_order(root), False)
    assert autograd.draw(root, max_nodes=-(-size // LAYOUT_FACTOR)).source


# ---- at the limit: renders ---------------------------------------------------------------------
def largest_recurrence(edge_labels: bool, budget: int) -> Value:
    steps = 1
    while layout_size(topological_order(recurrence(steps + 1)), edge_labels) <= budget:
        steps += 1
    return recurrence(steps)


@needs_dot
@pytest.mark.parametrize(
    "make",
    [lambda: deep(500), lambda: wide(500)],
    ids=["deep", "wide"],
)
def test_a_graph_of_max_nodes_renders(make: Callable[[], Value]) -> None:
    root = trimmed(make(), 500)
    n = len(topological_order(root))
    assert 495 <= n <= 500
    root.backward()
    svg = autograd.to_svg(root, edge_labels=True)
    tree = ET.fromstring(svg)
    boxes = [g for g in tree.iter(f"{SVG_NS}g") if g.get("class") == "node"]
    ops = sum(1 for v in topological_order(root) if v.inputs)
    assert len(boxes) == n + ops


@needs_dot
def test_the_worst_graph_within_the_layout_limit_renders() -> None:
    root = largest_recurrence(True, LAYOUT_FACTOR * 500)
    svg = autograd.to_svg(root, edge_labels=True)
    assert_no_injected_markup(svg)
    assert "tanh" in svg


@needs_dot
def test_the_stepper_at_its_limit_renders_one_drawing(tmp_path: Path) -> None:
    root = trimmed(deep(200), 200)
    assert len(topological_order(root)) >= 198
    path = autograd.save_backprop_html(root, tmp_path / "page.html")
    page = path.read_text(encoding="utf-8")
    steps = len(autograd.explain_steps(root))
    assert page.count("<li>") == steps
    assert page.count("<svg") == 1
    assert len(page.encode()) < 500_000  # one drawing per step made it ~400 drawings of ~400 KB
