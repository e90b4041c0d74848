"""The narrated backward pass, the backward frames and the HTML stepper."""

from __future__ import annotations

import html
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from requires import needs_dot

import nn
from autograd import (
    BackwardStep,
    GraphvizNotFoundError,
    Value,
    backprop_frames,
    explain,
    explain_steps,
    local_derivatives,
    save_backprop_html,
    topological_order,
)
from autograd.draw import fmt
from demos.textbook import textbook_graph as textbook

# Figure 7.13 worked backward from L: dL/dc = e = 5 and dL/de = c = -2; e = a + d passes -2 on to
# a and d unchanged; d = 2b passes -2 * b = -2 to the constant and -2 * 2 = -4 to b. Backward
# visits L, then e (c is a leaf), then d, as the engine's sweep does.
TEXTBOOK_LINES = [
    "dL/dL = 1.0",
    "dL/dc += dL/dL * dL/dc = (1.0)(5.0) = 5.0",
    "dL/de += dL/dL * dL/de = (1.0)(-2.0) = -2.0",
    "dL/da += dL/de * de/da = (-2.0)(1.0) = -2.0",
    "dL/dd += dL/de * de/dd = (-2.0)(1.0) = -2.0",
    "dL/d2 += dL/dd * dd/d2 = (-2.0)(1.0) = -2.0",
    "dL/db += dL/dd * dd/db = (-2.0)(2.0) = -4.0",
]


def test_explain_of_the_textbook_graph_matches_the_lecture_exactly() -> None:
    assert explain(textbook()["L"]).splitlines() == TEXTBOOK_LINES


def test_explain_follows_backwards_order() -> None:
    L = textbook()["L"]
    order = topological_order(L)
    steps = explain_steps(L)
    # the node whose gradient each step completes or extends, in the order backward handles them
    positions = [s.source for s in steps if s.source is not None]
    assert positions == sorted(positions, reverse=True)
    assert steps[0].kind == "seed" and steps[0].node == len(order) - 1


def test_a_node_used_several_times_shows_its_gradient_as_the_sum() -> None:
    x = Value(2.0, label="x")
    y = x * x + x  # dy/dx = 2x + 1 = 5, from three uses: x * x (twice) and + x
    y.label = "y"
    lines = explain(y).splitlines()
    x_lines = [line for line in lines if line.startswith("dy/dx ")]
    assert len(x_lines) == 4  # three contributions, then their sum
    m = re.fullmatch(r"dy/dx = (\S+) \+ (\S+) \+ (\S+) = (\S+)", x_lines[-1])
    assert m is not None, x_lines[-1]
    assert sorted(float(t) for t in m.groups()[:3]) == [1.0, 2.0, 2.0]
    assert float(m.group(4)) == 5.0
    assert lines.index(x_lines[-1]) == max(lines.index(line) for line in x_lines)


def test_negative_terms_of_a_sum_are_parenthesised() -> None:
    x = Value(1.0, label="x")
    y = x * -3.0 + x  # contributions -3 and 1
    y.label = "y"
    sums = [s for s in explain_steps(y) if s.kind == "sum"]
    assert len(sums) == 1
    assert sums[0].text in ("dy/dx = (-3.0) + 1.0 = -2.0", "dy/dx = 1.0 + (-3.0) = -2.0")


def test_unlabelled_nodes_are_named_by_topological_position() -> None:
    x = Value(0.5)
    y = x.exp()
    assert explain(y).splitlines() == [
        "dn1/dn1 = 1.0",
        f"dn1/dn0 += dn1/dn1 * dn1/dn0 = (1.0)({math.exp(0.5):.6g}) = {math.exp(0.5):.6g}",
    ]


def test_a_leaf_alone_is_just_the_seed() -> None:
    assert explain(Value(3.0, label="w")) == "dw/dw = 1.0"


def test_explain_rejects_non_values() -> None:
    with pytest.raises(TypeError, match="explain: root must be a Value, got int 3"):
        explain(3)  # type: ignore[arg-type]


def test_explain_is_iterative_on_a_deep_graph() -> None:
    v = Value(1.0, label="x")
    for _ in range(3000):  # 6,000 nodes deep: beyond the recursion limit
        v = v + 0.0
    steps = explain_steps(v)
    assert len(steps) == 1 + 2 * 3000
    assert steps[-1].value == 1.0 or steps[-2].value == 1.0


# ---- agreement with backward() on random graphs --------------------------------------------------
UNARY = ["tanh", "sin", "sigmoid", "exp_small", "square", "softplus", "neg"]
BINARY = ["+", "*", "-", "/"]


@st.composite
def random_graph(draw: st.DrawFn) -> Value:
    """A random DAG whose nodes are often used more than once (so sums of contributions occur)."""
    n_leaves = draw(st.integers(1, 4))
    nodes = [Value(draw(st.floats(-2.0, 2.0)), label=f"x{i}") for i in range(n_leaves)]
    for _ in range(draw(st.integers(1, 14))):
        if draw(st.booleans()):
            x = nodes[draw(st.integers(0, len(nodes) - 1))]
            op = draw(st.sampled_from(UNARY))
            if op == "exp_small":
                out = (x * 0.1).exp()
            elif op == "square":
                out = x**2
            elif op == "neg":
                out = -x
            else:
                out = getattr(x, op)()
        else:
            x = nodes[draw(st.integers(0, len(nodes) - 1))]
            y = nodes[draw(st.integers(0, len(nodes) - 1))]
            op = draw(st.sampled_from(BINARY))
            if op == "+":
                out = x + y
            elif op == "*":
                out = x * y
            elif op == "-":
                out = x - y
            else:
                out = x / (y * y + 1.0)  # a denominator that is never 0
        nodes.append(out)
    return nodes[-1]


def final_gradients(steps: list[BackwardStep], n: int) -> list[float]:
    """Each node's gradient as the narration ends up stating it (the last line about the node)."""
    grads = [math.nan] * n
    for s in steps:
        grads[s.node] = s.value
    return grads


@given(random_graph())
def test_explain_agrees_exactly_with_backward_on_random_graphs(root: Value) -> None:
    order = topological_order(root)
    steps = explain_steps(root)
    assert all(v.grad == 0.0 for v in order)  # explain read no .grad and wrote none
    root.backward()
    stated = final_gradients(steps, len(order))
    assert stated == [v.grad for v in order]  # bit for bit: same products, same sums, same order
    for s in steps:
        if s.kind == "edge":
            assert s.source is not None and s.slot is not None
            node = order[s.source]
            assert s.local == local_derivatives(node)[s.slot]
            assert s.upstream == node.grad  # the upstream gradient is complete when it is used
            assert s.value == s.upstream * s.local  # type: ignore[operator]
        elif s.kind == "sum":
            assert len(s.terms) >= 2
            assert s.value == order[s.node].grad
    # The text states the same numbers (rounded to 6 significant digits).
    for s, line in zip(steps, explain(root).splitlines(), strict=True):
        assert line == s.text
        assert math.isclose(float(line.rsplit("= ", 1)[1]), s.value, rel_tol=5e-6)  # half a unit in the 6th digit


@given(random_graph())
def test_explain_leaves_every_grad_alone(root: Value) -> None:
    root.backward()
    root.backward(0.5)
    before = [v.grad for v in topological_order(root)]
    explain(root)
    backprop_frames(root, max_nodes=100)
    assert [v.grad for v in topological_order(root)] == before


# ---- frames ----------------------------------------------------------------------------------------
def test_one_frame_per_step_each_with_its_line() -> None:
    L = textbook()["L"]
    frames = backprop_frames(L)
    assert len(frames) == len(TEXTBOOK_LINES)
    assert [f.text for f in frames] == TEXTBOOK_LINES
    assert [f.step for f in frames] == list(range(len(frames)))
    for f in frames:
        assert f"step {f.step + 1} of {len(frames)}:" in f.graph.source  # the caption above the drawing


def grad_cells(source: str) -> list[str]:
    return re.findall(r"<TD>grad ([^<]+)</TD>", source)


def test_frames_fill_in_gradients_as_they_become_known() -> None:
    L = textbook()["L"]
    frames = backprop_frames(L)
    first, last = grad_cells(frames[0].graph.source), grad_cells(frames[-1].graph.source)
    assert first.count("?") == len(first) - 1 and "1.0000" in first  # only dL/dL is known
    assert "?" not in last
    # gradients only ever become known, never forgotten
    unknown = [grad_cells(f.graph.source).count("?") for f in frames]
    assert unknown == sorted(unknown, reverse=True)
    L.backward()
    # the last frame shows exactly the gradients backward computes (drawn with 4 decimals)
    assert sorted(last) == sorted(f"{v.grad:.4f}" for v in topological_order(L))


def test_each_frame_highlights_the_current_node_and_edge() -> None:
    frames = backprop_frames(textbook()["L"])
    for f in frames:
        source = f.graph.source
        assert source.count('BORDER="2"') == 1  # exactly one current node
        red_edges = source.count("penwidth=2.5")
        assert red_edges == (0 if f.step == 0 else 1)  # the seed has no edge


def test_frames_respect_max_nodes_with_a_small_default() -> None:
    v = Value(1.0, label="x")
    for _ in range(30):
        v = v * 1.0  # 61 nodes
    with pytest.raises(ValueError, match=r"61 nodes, more than max_nodes=50"):
        backprop_frames(v)
    assert len(backprop_frames(v, max_nodes=61)) == len(explain_steps(v))


def test_frames_check_their_arguments() -> None:
    with pytest.raises(TypeError, match="backprop_frames: root must be a Value"):
        backprop_frames(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backprop_frames: rankdir"):
        backprop_frames(Value(1.0), rankdir="up")
    with pytest.raises(TypeError, match="backprop_frames: edge_labels"):
        backprop_frames(Value(1.0), edge_labels=None)  # type: ignore[arg-type]


# ---- the HTML stepper ---------------------------------------------------------------------------
class PageParser(HTMLParser):
    """Collects what matters about a page: tags, attributes, and the text of each element."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag == "script":
            self.scripts += 1


def parse_page(path: Path) -> tuple[str, PageParser]:
    page = path.read_text(encoding="utf-8")
    parser = PageParser()
    parser.feed(page)
    parser.close()
    return page, parser


def page_data(page: str) -> tuple[list[list[Any]], list[str]]:
    """The per-step data and the gradient prefixes the page's script restyles its drawing with."""
    frames = re.search(r"var FRAMES = (.*?);\n", page)
    prefix = re.search(r"var PREFIX = (.*?);\n", page)
    assert frames is not None and prefix is not None
    return json.loads(frames.group(1)), json.loads(prefix.group(1))


@needs_dot
def test_html_page_is_self_contained_with_one_drawing(tmp_path: Path) -> None:
    L = textbook()["L"]
    path = tmp_path / "backprop.html"
    assert save_backprop_html(L, path) == path
    page, parsed = parse_page(path)
    assert parsed.tags.count("svg") == 1  # ONE drawing, restyled per step: nodes never move
    assert len(page_data(page)[0]) == len(TEXTBOOK_LINES)
    assert parsed.scripts == 1
    assert "input" in parsed.tags and parsed.tags.count("button") == 3  # slider, previous, next, zoom
    # nothing fetched from anywhere: no src/href attributes, no CSS imports or urls
    assert not [a for a, _ in parsed.attrs if a in ("src", "href", "xlink:href")]
    assert "@import" not in page and "url(" not in page and "<link" not in page
    for line in TEXTBOOK_LINES:
        assert f"<li>{line}</li>" in page  # none of the textbook lines needs escaping
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backprop.html"]  # atomic: no temp file left


def mlp_loss() -> tuple[Any, Value]:
    """A 2-4-1 tanh MLP and its squared error on one sample, labelled L."""
    model = nn.MLP(2, [4, 1], seed=0)
    L = (model([0.5, -1.0])[0] - 1.0) ** 2
    L.label = "L"
    return model, L


def check_frames_match_explain_steps(page: str, root: Value) -> None:
    frames, prefix = page_data(page)
    steps = explain_steps(root)
    assert len(frames) == len(steps) and len(prefix) == len(topological_order(root))
    totals: dict[int, float] = {}
    for (node, value, total, drawn, source, slot), step in zip(frames, steps):
        assert isinstance(step, BackwardStep)
        want = (step.node, -1 if step.source is None else step.source, -1 if step.slot is None else step.slot)
        assert (node, source, slot) == want
        assert value == step.value  # bit for bit: JSON keeps every digit of a float
        totals[node] = totals[node] + value if step.kind == "edge" and node in totals else value
        assert total == totals[node]
        assert drawn == fmt(total)
    root.backward()  # the last totals are what backward() puts in .grad
    assert [totals[i] for i in range(len(prefix))] == [v.grad for v in topological_order(root)]


@needs_dot
def test_stepper_frames_are_the_engine_numbers(tmp_path: Path) -> None:
    L = textbook()["L"]
    check_frames_match_explain_steps(save_backprop_html(L, tmp_path / "a.html").read_text(encoding="utf-8"), L)
    model, L2 = mlp_loss()
    path = save_backprop_html(L2, tmp_path / "b.html", model=model, compact=True, rankdir="TB")
    check_frames_match_explain_steps(path.read_text(encoding="utf-8"), L2)


@needs_dot
def test_stepper_page_is_tens_of_kb_and_every_restyled_element_exists(tmp_path: Path) -> None:
    model, L = mlp_loss()
    page = save_backprop_html(L, tmp_path / "p.html", model=model, compact=True, rankdir="TB").read_text("utf-8")
    assert len(page.encode()) < 150_000  # one drawing per step made this 2-4-1 network's page 5 MB
    order = topological_order(L)
    ids = set(re.findall(r'<g id="([^"]+)" class="(?:node|edge)"', page))
    assert {f"v{i}" for i in range(len(order))} <= ids  # every box the script re-labels
    assert {f"e{i}_{s}" for i, v in enumerate(order) for s in range(len(v.inputs))} <= ids  # every edge
    assert page.count("<svg") == 1
    small = save_backprop_html(textbook()["L"], tmp_path / "t.html").stat().st_size
    assert small < 30_000


@needs_dot
def test_stepper_opens_at_the_step_in_the_url(tmp_path: Path) -> None:
    page = save_backprop_html(textbook()["L"], tmp_path / "p.html").read_text(encoding="utf-8")
    assert "location.hash" in page and "/step=(\\d+)/" in page  # page.html#step=4 opens at step 4
    assert "hashchange" in page and 'replaceState(null, "", "#step="' in page  # and the URL follows


@needs_dot
def test_stepper_notation_separates_local_and_accumulated(tmp_path: Path) -> None:
    page = save_backprop_html(textbook()["L"], tmp_path / "p.html").read_text(encoding="utf-8")
    assert "∂e/∂a = 1.0000" in html.unescape(page)  # the local derivative, on the edge
    assert "dL/da = -2.0000" in html.unescape(page)  # the accumulated gradient, in its box (without JS: final)
    names = [v.label for v in topological_order(textbook()["L"])]
    assert page_data(page)[1] == [f"dL/d{n} = " for n in names]  # what the script writes each step's value after


@needs_dot
def test_html_page_escapes_hostile_labels(tmp_path: Path) -> None:
    x = Value(2.0, label="<script>alert('x')</script>")
    y = (x * x).tanh()
    y.label = "</title><img src=x onerror=alert(1)>"
    path = save_backprop_html(y, tmp_path / "page.html")
    page, parsed = parse_page(path)
    assert parsed.scripts == 1  # only the page's own stepper script
    assert page.count("</script") == 1
    assert "img" not in parsed.tags
    assert "<script>alert" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page  # the narrated lines, escaped
    assert page_data(page)[1][0].startswith("d</title><img")  # the script's data, decoded, is the text


def test_html_without_dot_raises_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out = tmp_path / "page.html"
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz"):
        save_backprop_html(textbook()["L"], out)
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty-bin"]


def test_html_checks_its_path() -> None:
    with pytest.raises(TypeError, match="save_backprop_html: path"):
        save_backprop_html(Value(1.0), None)  # type: ignore[arg-type]


@needs_dot
def test_a_frame_displays_in_jupyter_as_its_drawing() -> None:
    frame = backprop_frames(textbook()["L"])[3]
    bundle = frame._repr_mimebundle_()
    assert "dL/da += dL/de * de/da" in bundle["image/svg+xml"]


@needs_dot
def test_without_javascript_the_final_gradients_and_every_step_show(tmp_path: Path) -> None:
    page = save_backprop_html(textbook()["L"], tmp_path / "p.html").read_text(encoding="utf-8")
    assert '<div class="controls" id="controls" hidden>' in page  # the controls need the script
    assert "?" not in "".join(re.findall(r">(dL/d[^<]*)<", page))  # every gradient known in the drawing
    assert page.count("<li>") == len(TEXTBOOK_LINES)


def test_frames_of_a_network_box_each_neuron() -> None:
    model, L = mlp_loss()
    frames = backprop_frames(L, model=model, compact=True, max_nodes=60)
    assert len(frames) == len(explain_steps(L))
    assert frames[0].graph.source.count("subgraph cluster_") == 5  # four hidden neurons and the output
