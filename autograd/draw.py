"""Draw a computation graph the way textbooks do: every node with its value and gradient.

One box per Value (`label | data | grad`), one small node per op, one edge per *use* of a Value, and
optionally each edge's local derivative d out / d input. Nodes are named by their position in
`topological_order`, never by `id()`, so the same graph always gives the same DOT source and SVG.

All text reaches Graphviz inside HTML-like labels with every character XML-escaped, so a label such
as `<script>` or `{a|b}` is drawn as that text and can never become markup in the SVG.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Union

import graphviz  # type: ignore[import-untyped]

from .backward import local_derivatives, topological_order
from .files import atomic_write_text
from .value import Value

if TYPE_CHECKING:
    from .paths import GraphPath

PathLike = Union[str, "os.PathLike[str]"]

RANKDIRS = ("LR", "RL", "TB", "BT")

# Colours: leaves (inputs and parameters) blue, computed nodes white; in backward frames the node
# receiving a gradient is amber and the node it comes from a paler amber.
_LEAF_FILL = "#dbe9ff"
_INNER_FILL = "#ffffff"
_CURRENT_FILL = "#ffc94d"
_SOURCE_FILL = "#ffefc2"
_HIGHLIGHT_EDGE = "#d12a2a"
_PATH_FILL = "#ffd9d4"  # a node on the highlighted path of `draw(root, highlight=path)`
_DIM_TEXT = "#6b6b6b"

_INSTALL_HELP = (
    "Graphviz's `dot` program was not found on PATH; it renders the drawings. Install it with\n"
    "  Debian/Ubuntu: sudo apt-get install graphviz\n"
    "  macOS:         brew install graphviz\n"
    "  conda:         conda install -c conda-forge graphviz\n"
    "(the Python package `graphviz` alone is not enough: it calls the `dot` program)."
)


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's `dot` program is not installed; the message says how to install it.

    `dot_path` is where the DOT source was written instead, when there was a path to write beside.
    """

    install_help = _INSTALL_HELP

    def __init__(self, message: str, dot_path: Path | None = None) -> None:
        super().__init__(message)
        self.dot_path = dot_path


# ---- text ---------------------------------------------------------------------------------------
# Graphviz expands escapes such as \N (node name) and \G (graph name) even in the text of HTML-like
# labels, and reads \\ there as one backslash; so a backslash is doubled to stay a backslash.
_XML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "\\": "\\\\"}


def _visible(ch: str) -> str:
    """A character as it may appear in a label: control characters, surrogates and the XML
    non-characters U+FFFE/U+FFFF (which XML, and so Graphviz's label parser, rejects) become a
    visible escape such as `\\x07`; everything else is kept."""
    if unicodedata.category(ch) in ("Cc", "Cs") or ch in "\ufffe\uffff":
        return ascii(ch)[1:-1]
    return ch


def escape_label(text: str) -> str:
    """`text` made safe for an HTML-like Graphviz label: XML-escaped, no raw control characters."""
    return "".join(_XML_ESCAPES.get(ch) or _visible(ch) for ch in text)


def fmt(x: float) -> str:
    """A number as drawn in a node: 4 decimals, or scientific notation when that would mislead."""
    x += 0.0  # -0.0 -> 0.0: the sign of zero only confuses a reader
    if x == 0.0 or 1e-4 <= abs(x) < 1e7:
        return f"{x:.4f}"
    return f"{x:.4e}"


def short(x: float) -> str:
    """An op's constant parameter as compactly as it reads: 2.0 -> '2', 0.01 -> '0.01'."""
    x += 0.0
    return str(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def node_names(order: Sequence[Value]) -> list[str]:
    """Names for the nodes of a topological order: the label where set, else `n<position>`."""
    return [v.label if v.label else f"n{i}" for i, v in enumerate(order)]


def op_text(node: Value) -> str:
    """The op as drawn: `+`, `*`, `tanh`, `**2` (constant exponent), `leaky_relu(0.01)`, `f(k=2, c=0.5)`."""
    params = node.params
    if not params:
        return node.op
    if node.op == "**":
        return f"**{short(params['n'])}"
    if len(params) == 1:
        return f"{node.op}({short(next(iter(params.values())))})"
    return f"{node.op}({', '.join(f'{name}={short(x)}' for name, x in params.items())})"


# ---- checks ----------------------------------------------------------------------------------
def _check_root(root: object, where: str) -> Value:
    if not isinstance(root, Value):
        raise TypeError(f"{where}: root must be a Value, got {type(root).__name__} {root!r}")
    return root


def _check_max_nodes(max_nodes: object, where: str) -> int:
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int):
        raise TypeError(f"{where}: max_nodes must be an int, got {type(max_nodes).__name__} {max_nodes!r}")
    if max_nodes < 1:
        raise ValueError(f"{where}: max_nodes must be >= 1, got {max_nodes!r}")
    return max_nodes


def check_flag(value: object, name: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def graph_order(
    root: object, max_nodes: object, where: str, why: str = "Graphviz would take very long to lay it out"
) -> list[Value]:
    """root's topological order, refusing graphs too big to draw before any drawing starts."""
    root = _check_root(root, where)
    limit = _check_max_nodes(max_nodes, where)
    order = topological_order(root)
    if len(order) > limit:
        raise ValueError(
            f"{where}: the graph has {len(order)} nodes, more than max_nodes={limit}; {why}. Draw a smaller"
            f" part of it (e.g. one neuron, or a loss on one sample), or pass a larger max_nodes=... if you"
            f" really want the whole graph."
        )
    return order


# dot gives an edge spanning k ranks k - 1 invisible "virtual" nodes, and its layout time grows much
# faster than linearly in them. A Value used far apart (a weight reused at every step of a loop)
# makes long edges: a 100-node recurrence can keep dot busy for minutes. So the estimated layout
# size, not only the node count, must stay within a budget: LAYOUT_FACTOR x max_nodes.
LAYOUT_FACTOR = 10


def layout_size(order: Sequence[Value], edge_labels: bool) -> int:
    """An estimate of the nodes dot lays out: a box and an op node per Value, plus the virtual
    nodes of edges spanning several ranks. Computed node by node in topological order (no recursion)."""
    index = {v: i for i, v in enumerate(order)}  # lookups only
    rank = [0] * len(order)  # a computed Value: one rank after its op node, which follows its inputs
    for i, v in enumerate(order):
        if v.inputs:
            rank[i] = max(rank[index[x]] for x in v.inputs) + 2
    # dot pulls a leaf next to its earliest use (it minimises total edge length)
    first_use: dict[int, int] = {}
    for i, v in enumerate(order):
        for x in v.inputs:
            j = index[x]
            if not x.inputs:
                first_use[j] = min(first_use.get(j, rank[i] - 2), rank[i] - 2)
    for j, r in first_use.items():
        rank[j] = r
    virtual = sum(max(rank[i] - 2 - rank[index[x]], 0) for i, v in enumerate(order) for x in v.inputs)
    edges = sum(len(v.inputs) for v in order)
    if edge_labels:  # a label is one more node on its edge, and dot doubles the ranks to make room
        virtual = 2 * virtual + edges
    return 2 * len(order) + virtual


def check_layout(order: Sequence[Value], max_nodes: int, where: str, edge_labels: bool) -> None:
    """Refuse, before dot runs, a graph whose long edges would make its layout take minutes."""
    size, budget = layout_size(order, edge_labels), LAYOUT_FACTOR * max_nodes
    if size > budget:
        raise ValueError(
            f"{where}: the graph has only {len(order)} nodes, but Values used far apart from each other (such"
            f" as a weight reused at every step of a loop) give it long edges: Graphviz would lay out about"
            f" {size} points, more than {LAYOUT_FACTOR} x max_nodes={budget}, and take minutes. Draw fewer"
            f" steps, leave out edge_labels, or pass a larger max_nodes=... if you really want this graph."
        )


def check_path(path: object, where: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    p = Path(path)
    if str(p) in ("", "."):
        raise ValueError(f"{where}: path must name a file, got {path!r}")
    return p


# ---- building the drawing -------------------------------------------------------------------
def build_digraph(
    order: Sequence[Value],
    names: Sequence[str],
    *,
    rankdir: str = "LR",
    show_grad: bool = True,
    edge_labels: bool = False,
    grads: Sequence[float | None] | None = None,
    current: int | None = None,
    source: int | None = None,
    edge: tuple[int, int] | None = None,
    caption: str | None = None,
    path_nodes: Collection[int] = (),
    path_edges: Collection[tuple[int, int]] = (),
) -> graphviz.Digraph:
    """The drawing of a graph given in topological order (shared by `draw` and the backward frames).

    `grads` overrides the gradients shown (None shows `?`, not known yet); `current` / `source` are
    positions of nodes to highlight and `edge` = (position of the op's node, input slot) the edge to
    highlight; `caption` is a line of text above the drawing. `path_nodes` (positions) and
    `path_edges` ((position of the op's node, input slot)) are a path drawn red and bold.
    """
    bold = {"color": _HIGHLIGHT_EDGE, "penwidth": "2.5", "fontcolor": _HIGHLIGHT_EDGE}
    path_ops = {i for i, _ in path_edges}  # the path passes through these nodes' ops (not its first node's)
    index = {v: i for i, v in enumerate(order)}  # lookups only: nothing is drawn in dict order
    g = graphviz.Digraph(name="chainrule")
    g.attr(rankdir=rankdir, bgcolor="white", nodesep="0.3", ranksep="0.35")
    if caption is not None:
        g.attr(label=f"<{escape_label(caption)}>", labelloc="t", fontsize="16")
    g.attr(fontname="Helvetica")
    g.attr("node", fontsize="12", fontname="Helvetica")
    g.attr("edge", fontsize="10", fontname="Helvetica", arrowsize="0.7")
    for i, v in enumerate(order):
        fill = _LEAF_FILL if v.is_leaf() else _INNER_FILL
        if i == current:
            fill = _CURRENT_FILL
        elif i == source:
            fill = _SOURCE_FILL
        elif i in path_nodes:
            fill = _PATH_FILL
        name = escape_label(names[i])
        if not v.label:  # a generated name: grey, so it does not pass for a label the user chose
            name = f'<FONT COLOR="{_DIM_TEXT}">{name}</FONT>'
        cells = [name, f"data {fmt(v.data)}"]
        if show_grad:
            shown = v.grad if grads is None else grads[i]
            cells.append("grad ?" if shown is None else f"grad {fmt(shown)}")
        row = "".join(f"<TD>{c}</TD>" for c in cells)
        border = "2" if i == current or i in path_nodes else "0"
        table = (
            f'<TABLE BORDER="{border}" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4" BGCOLOR="{fill}">'
            f"<TR>{row}</TR></TABLE>"
        )
        g.node(f"v{i}", label=f"<{table}>", shape="plaintext", margin="0")
        if v.is_leaf():
            continue
        on_path = {**bold, "fillcolor": _PATH_FILL, "style": "filled"} if i in path_ops else {}
        op_label = f"<{escape_label(op_text(v))}>"
        g.node(f"v{i}op", label=op_label, shape="circle", width="0.3", margin="0.02", **on_path)
        g.edge(f"v{i}op", f"v{i}", **(bold if i in path_ops else {}))
        locals_ = local_derivatives(v) if edge_labels else ()
        for slot, x in enumerate(v.inputs):
            attrs: dict[str, str] = {}
            if edge_labels:
                text = f"d{names[i]}/d{names[index[x]]} = {fmt(locals_[slot])}"
                attrs["label"] = f"<{escape_label(text)}>"
            if edge == (i, slot) or (i, slot) in path_edges:
                attrs.update(bold)
            g.edge(f"v{index[x]}", f"v{i}op", **attrs)
    return g


def draw(
    root: Value,
    rankdir: str = "LR",
    show_grad: bool = True,
    edge_labels: bool = False,
    max_nodes: int = 500,
    highlight: GraphPath | None = None,
) -> graphviz.Digraph:
    """The computation graph of `root` as a `graphviz.Digraph` (displays inline in Jupyter).

    One box per Value (`label | data | grad`; unlabelled nodes get a stable name `n<i>` from their
    position in `topological_order`), a small node per op, one edge per use. `edge_labels=True`
    writes each local derivative d out / d input on its edge. A graph of more than `max_nodes`
    Values, or whose long edges (a Value used far apart) would make its layout as slow as a graph
    of 10 x max_nodes nodes, raises ValueError instead of keeping Graphviz busy for minutes.
    `highlight=path` (one of `autograd.paths(root, x).paths`) draws that path's nodes and edges red and
    bold, with the path and its product of local derivatives as the caption.
    """
    where = "draw"
    order = graph_order(root, max_nodes, where)
    if not isinstance(rankdir, str) or rankdir not in RANKDIRS:
        raise ValueError(f"{where}: rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    check_flag(show_grad, "show_grad", where)
    check_flag(edge_labels, "edge_labels", where)
    check_layout(order, max_nodes, where, edge_labels)
    names = node_names(order)
    if highlight is None:
        return build_digraph(order, names, rankdir=rankdir, show_grad=show_grad, edge_labels=edge_labels)
    nodes, edges = _path_positions(order, highlight, where)
    caption = f"path {' -> '.join(names[i] for i in nodes)}: product of local derivatives = {fmt(highlight.product)}"
    return build_digraph(
        order,
        names,
        rankdir=rankdir,
        show_grad=show_grad,
        edge_labels=edge_labels,
        caption=caption,
        path_nodes=frozenset(nodes),
        path_edges=frozenset(edges),
    )


def _path_positions(order: Sequence[Value], path: object, where: str) -> tuple[list[int], list[tuple[int, int]]]:
    """A path's nodes as positions in `order`, and its edges as (position of the consumer, slot);
    ValueError unless every edge is an edge of this graph."""
    from .paths import GraphPath  # paths.py imports this module

    if not isinstance(path, GraphPath):
        raise TypeError(
            f"{where}: highlight must be a path from autograd.paths(root, x).paths, got {type(path).__name__}"
        )
    index = {v: i for i, v in enumerate(order)}  # lookups only
    nodes = [index.get(v, -1) for v in path.nodes]
    inside = -1 not in nodes and len(path.slots) == len(nodes) - 1
    if inside:
        steps = zip(path.nodes[:-1], path.nodes[1:], path.slots, strict=True)
        inside = all(0 <= slot < len(v.inputs) and v.inputs[slot] is u for u, v, slot in steps)
    if not inside:
        raise ValueError(
            f"{where}: the highlighted path is not a path of this graph; take it from autograd.paths(root, x)"
        )
    edges = list(zip(nodes[1:], path.slots, strict=True))
    return nodes, edges


# ---- rendering --------------------------------------------------------------------------------
def render_svg(g: graphviz.Digraph) -> str:
    """Run `dot` on a drawing and return the SVG text; GraphvizNotFoundError when `dot` is missing."""
    try:
        svg: str = g.pipe(format="svg", encoding="utf-8")
        return svg
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(_INSTALL_HELP) from None


def dot_path_for(path: Path) -> Path:
    """Where the DOT source goes beside an output path: `graph.svg` -> `graph.dot`."""
    return path.with_name(path.name + ".dot") if path.suffix.lower() == ".dot" else path.with_suffix(".dot")


def to_svg(
    root: Value, rankdir: str = "LR", show_grad: bool = True, edge_labels: bool = False, max_nodes: int = 500
) -> str:
    """The drawing of `root` (see `draw`, which takes the same keywords) as SVG text."""
    return render_svg(draw(root, rankdir=rankdir, show_grad=show_grad, edge_labels=edge_labels, max_nodes=max_nodes))


def save_svg(
    root: Value,
    path: PathLike,
    rankdir: str = "LR",
    show_grad: bool = True,
    edge_labels: bool = False,
    max_nodes: int = 500,
) -> Path:
    """Write the drawing of `root` (see `draw` for the keywords) to `path` as SVG; return the path.

    Without Graphviz's `dot` it writes the DOT source beside `path` (`graph.svg` -> `graph.dot`)
    and raises GraphvizNotFoundError saying how to install Graphviz.
    """
    p = check_path(path, "save_svg")
    g = draw(root, rankdir=rankdir, show_grad=show_grad, edge_labels=edge_labels, max_nodes=max_nodes)
    try:
        svg = render_svg(g)
    except GraphvizNotFoundError:
        dot = dot_path_for(p)
        atomic_write_text(dot, g.source)
        raise GraphvizNotFoundError(
            f"{_INSTALL_HELP}\nThe DOT source was written to {dot}; once Graphviz is installed, render it with:"
            f" dot -Tsvg {dot} -o {p}",
            dot,
        ) from None
    atomic_write_text(p, svg)
    return p
