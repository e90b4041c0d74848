"""Draw a computation graph the way textbooks do: every node with its value and gradient.

One box per Value (`label | data | grad`), one small node per op, one edge per *use* of a Value, and
optionally each edge's local derivative d out / d input. Nodes are named by their position in
`topological_order`, never by `id()`, so the same graph always gives the same DOT source and SVG.

All text reaches Graphviz inside HTML-like labels with every character XML-escaped, so a label such
as `<script>` or `{a|b}` is drawn as that text and can never become markup in the SVG.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from .backward import local_derivatives, topological_order
from .files import atomic_write_text
from .value import Value

if TYPE_CHECKING:
    import graphviz  # type: ignore[import-untyped]

    from nn.module import Module

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
_CONST_FILL = "#eeeeee"  # a constant (with `model=`): a number, not something to learn
_OP_TEXT = "#1f4fa8"  # the op inside a compact record
_CLUSTER_FILL = "#f6f8fc"  # a neuron's box (with `model=`)
_CLUSTER_LINE = "#9aa6bd"

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


def check_rankdir(rankdir: object, where: str) -> str:
    if not isinstance(rankdir, str) or rankdir not in RANKDIRS:
        raise ValueError(f"{where}: rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    return rankdir


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


# ---- networks: a graph read as the network it came from -----------------------------------------
@dataclass(frozen=True)
class NeuronGroups:
    """A network's graph read as a network (what `draw(root, model=...)` draws).

    names: each node's name in text: its label; `x<k>` for an unlabelled input of the model's first
    layer (k: the input's slot); the number itself for any other unlabelled leaf (a constant, such as
    the 0.5 of `0.5 * err**2`); else `n<i>`. shown: the name drawn in its box, where a parameter
    inside its neuron's box drops the neuron's prefix (`w.1`, `b`). clusters: (the neuron's name, its
    activation, the positions of its parameters and ops), in the model's order. constants: positions.
    """

    names: tuple[str, ...]
    shown: tuple[str, ...]
    clusters: tuple[tuple[str, str, tuple[int, ...]], ...]
    constants: frozenset[int]


def model_neurons(model: object, where: str) -> list[tuple[str, Any]]:
    """(dotted name, neuron) for each neuron of an nn Module, in the model's order: a neuron is a
    module whose own parameters include a weight list `w` (an `nn.Neuron`; a bare one is `neuron`)."""
    if not (hasattr(model, "named_children") and hasattr(model, "local_parameters")):
        raise TypeError(f"{where}: model must be an nn Module (MLP, Layer or Neuron), got {type(model).__name__}")
    out: list[tuple[str, Any]] = []
    stack: list[tuple[str, Any]] = [("", model)]
    while stack:  # pre-order, children pushed reversed to keep their order
        prefix, mod = stack.pop()
        if any(name == "w" for name, _ in mod.local_parameters()):
            out.append((prefix[:-1] or "neuron", mod))
        stack.extend((f"{prefix}{name}.", child) for name, child in reversed(mod.named_children()))
    return out


def _activation(neuron: Any) -> str:
    return str(getattr(neuron, "activation", ""))


def _continues(v: Value, owners: Sequence[int], ops: Sequence[str], neurons: Sequence[tuple[str, Any]]) -> bool:
    """Is v one more op of the neuron owning its first input: a `+` of two of its things, or its
    activation applied to its weighted sum (a `+`, or a `*` for a one-input neuron without bias)?"""
    if not owners or owners[0] < 0:  # a leaf, or an op on something no neuron owns
        return False
    if v.op == "+":
        return owners[1] == owners[0]
    return len(owners) == 1 and ops[0] in ("+", "*") and v.op == _activation(neurons[owners[0]][1])


def _owners(order: Sequence[Value], neurons: Sequence[tuple[str, Any]]) -> tuple[list[int], dict[int, int]]:
    """Which neuron (its index in `neurons`, -1: none) each node belongs to, and the model's inputs.

    A neuron owns its weights and bias, each product `w_k * x_k` of one of its weights (written
    weight first, as the neuron does), each `+` of two things it owns, and its activation applied
    to its weighted sum. Inputs: position -> k for each leaf x_k multiplied by a weight w_k.
    """
    index = {v: i for i, v in enumerate(order)}  # lookups only
    owner = [-1] * len(order)
    weight_of: dict[Value, tuple[int, int]] = {}  # lookups only
    for k, (_, neuron) in enumerate(neurons):
        params = [*neuron.w, *([] if neuron.b is None else [neuron.b])]
        for p in params:
            if p in index:
                owner[index[p]] = k
        weight_of.update((w, (k, slot)) for slot, w in enumerate(neuron.w))
    inputs: dict[int, int] = {}
    for i, v in enumerate(order):
        ins = [index[x] for x in v.inputs]
        if v.op == "*" and v.inputs[0] in weight_of and v.inputs[1] not in weight_of:
            owner[i], slot = weight_of[v.inputs[0]]
            if v.inputs[1].is_leaf():
                inputs[ins[1]] = slot
        elif _continues(v, [owner[j] for j in ins], [order[j].op for j in ins], neurons):
            owner[i] = owner[ins[0]]
    return owner, inputs


def constant_name(x: float) -> str:
    """An unlabelled leaf drawn as the constant it is: `0.5`, `2`, and `(-1)` (so `dL/d(-1)` reads)."""
    text = short(x)
    return f"({text})" if text.startswith("-") else text


def neuron_groups(order: Sequence[Value], model: object, where: str) -> NeuronGroups:
    """The graph of `order` read as the network `model` (see `NeuronGroups`); with `model=None` no
    neurons, only the constants named by their number."""
    neurons = [] if model is None else model_neurons(model, where)
    owner, inputs = _owners(order, neurons)
    names, shown, constants = [], [], set()
    for i, v in enumerate(order):
        name = v.label
        if not name and i in inputs:
            name = f"x{inputs[i]}"
        elif not name and v.is_leaf():
            name = constant_name(v.data)
            constants.add(i)
        name = name or f"n{i}"
        names.append(name)
        prefix = neurons[owner[i]][0] + "." if owner[i] >= 0 and neurons[owner[i]][0] != "neuron" else ""
        shown.append(name[len(prefix) :] if prefix and name.startswith(prefix) else name)
    clusters = tuple(
        (name, _activation(n), tuple(i for i in range(len(order)) if owner[i] == k))
        for k, (name, n) in enumerate(neurons)
    )
    return NeuronGroups(tuple(names), tuple(shown), tuple(c for c in clusters if c[2]), frozenset(constants))


# ---- building the drawing -------------------------------------------------------------------
RATIOS = ("fill", "compress", "expand", "auto")


@dataclass(frozen=True)
class Look:
    """How a graph is drawn, apart from its numbers (the keywords of `draw` that shape the picture).

    compact: each Value one small record (op, name / data / grad stacked) with no separate op node.
    size / ratio: Graphviz's `size` ("13.3,7.5": at most that many inches; "!" to scale up to it) and
    `ratio`. groups: a network's neurons (`draw(root, model=...)`). lecture: the slides' notation,
    ∂e/∂a on edges and dL/da on nodes. ids: an `id` on every node and edge, for a page's script.
    """

    rankdir: str = "LR"
    show_grad: bool = True
    edge_labels: bool = False
    compact: bool = False
    size: str | None = None
    ratio: str | None = None
    groups: NeuronGroups | None = None
    lecture: bool = False
    ids: bool = False


@dataclass(frozen=True)
class Marks:
    """What one drawing highlights: `current` / `source` node positions, `edge` = (position of the
    consuming node, input slot), and a path's nodes and edges (drawn red and bold)."""

    current: int | None = None
    source: int | None = None
    edge: tuple[int, int] | None = None
    path_nodes: Collection[int] = ()
    path_edges: Collection[tuple[int, int]] = ()


_BOLD = {"color": _HIGHLIGHT_EDGE, "penwidth": "2.5", "fontcolor": _HIGHLIGHT_EDGE}


def _new_digraph(look: Look, caption: str | None) -> graphviz.Digraph:
    from .display import fitting_digraph  # graphviz loads here, when something is drawn

    g = fitting_digraph(name="chainrule")  # in a notebook it scales down to the cell width
    sep = ("0.2", "0.2") if look.compact else ("0.3", "0.35")
    g.attr(rankdir=look.rankdir, bgcolor="white", nodesep=sep[0], ranksep=sep[1])
    if look.size is not None:
        g.attr(size=look.size)
    if look.ratio is not None:
        g.attr(ratio=look.ratio)
    if caption is not None:
        g.attr(label=f"<{escape_label(caption)}>", labelloc="t", fontsize="16")
    g.attr(fontname="Helvetica")
    g.attr("node", fontsize="11" if look.compact else "12", fontname="Helvetica")
    g.attr("edge", fontsize="10", fontname="Helvetica", arrowsize="0.7")
    return g


def _fill(i: int, v: Value, marks: Marks, constant: bool) -> str:
    if i == marks.current:
        return _CURRENT_FILL
    if i == marks.source:
        return _SOURCE_FILL
    if i in marks.path_nodes:
        return _PATH_FILL
    if constant:
        return _CONST_FILL
    return _LEAF_FILL if v.is_leaf() else _INNER_FILL


def _cells(i: int, v: Value, names: Sequence[str], look: Look, grad: float | None, root: int) -> list[str]:
    """The texts of a node's box (escaped HTML): its name, data and (last) its gradient."""
    groups = look.groups
    shown = names[i] if groups is None else groups.shown[i]
    constant = groups is not None and i in groups.constants
    name = escape_label(shown)
    if not v.label and shown == f"n{i}":
        name = f'<FONT COLOR="{_DIM_TEXT}">{name}</FONT>'  # a generated name: it is not a label the user chose
    if look.compact and v.inputs:
        name = f'<B><FONT COLOR="{_OP_TEXT}">{escape_label(op_text(v))}</FONT></B>  {name}'
    cells = [name] if constant else [name, f"data {fmt(v.data)}"]
    if look.show_grad:
        head = f"d{names[root]}/d{shown} = " if look.lecture else "grad "
        cells.append(escape_label(head + ("?" if grad is None else fmt(grad))))
    return cells


def _add_node(
    g: graphviz.Digraph, i: int, v: Value, names: Sequence[str], look: Look, marks: Marks, grad: float | None
) -> None:
    """One Value's box (and, unless compact, its op's small circle with the edge into the box)."""
    groups = look.groups
    constant = groups is not None and i in groups.constants
    cells = _cells(i, v, names, look, grad, len(names) - 1)
    if look.compact:
        rows = "".join(f"<TR><TD>{c}</TD></TR>" for c in cells)
    else:
        rows = "<TR>" + "".join(f"<TD>{c}</TD>" for c in cells) + "</TR>"
    border = "2" if i == marks.current or i in marks.path_nodes else "0"
    pad = "2" if look.compact else "4"
    table = (
        f'<TABLE BORDER="{border}" CELLBORDER="1" CELLSPACING="0" CELLPADDING="{pad}"'
        f' BGCOLOR="{_fill(i, v, marks, constant)}">{rows}</TABLE>'
    )
    ids = {"id": f"v{i}"} if look.ids else {}
    g.node(f"v{i}", label=f"<{table}>", shape="plaintext", margin="0", **ids)
    if v.is_leaf() or look.compact:
        return
    on_path = i in {j for j, _ in marks.path_edges}  # the path passes through this node's op
    style = {**_BOLD, "fillcolor": _PATH_FILL, "style": "filled"} if on_path else {}
    ids = {"id": f"v{i}op"} if look.ids else {}
    g.node(f"v{i}op", label=f"<{escape_label(op_text(v))}>", shape="circle", width="0.3", margin="0.02", **style, **ids)
    g.edge(f"v{i}op", f"v{i}", **(_BOLD if on_path else {}))


def _add_edges(
    g: graphviz.Digraph, i: int, v: Value, index: dict[Value, int], names: Sequence[str], look: Look, marks: Marks
) -> None:
    """The edges from v's inputs into v (its op node), one per use, labelled with local derivatives."""
    shown = names if look.groups is None else look.groups.shown
    locals_ = local_derivatives(v) if look.edge_labels else ()
    d = "∂" if look.lecture else "d"
    target = f"v{i}" if look.compact else f"v{i}op"
    for slot, x in enumerate(v.inputs):
        attrs: dict[str, str] = {"id": f"e{i}_{slot}"} if look.ids else {}
        if look.edge_labels:  # compact: the number alone (the edge says which two nodes it joins)
            text = f"{d}{shown[i]}/{d}{shown[index[x]]} = " if not look.compact else ""
            attrs["label"] = f"<{escape_label(text + fmt(locals_[slot]))}>"
        if marks.edge == (i, slot) or (i, slot) in marks.path_edges:
            attrs.update(_BOLD)
        g.edge(f"v{index[x]}", target, **attrs)


def build_digraph(
    order: Sequence[Value],
    names: Sequence[str],
    look: Look | None = None,
    *,
    grads: Sequence[float | None] | None = None,
    marks: Marks | None = None,
    caption: str | None = None,
) -> graphviz.Digraph:
    """The drawing of a graph given in topological order (shared by `draw` and the backward frames).

    `look` says how it is drawn (see `Look`); `grads` overrides the gradients shown (None shows `?`,
    not known yet); `marks` what is highlighted (see `Marks`); `caption` is a line of text above it.
    With `look.groups`, each neuron's parameters and ops sit in a labelled box (a Graphviz cluster).
    """
    look = look or Look()
    marks = marks or Marks()
    import graphviz

    g = _new_digraph(look, caption)
    index = {v: i for i, v in enumerate(order)}  # lookups only: nothing is drawn in dict order
    home: dict[int, graphviz.Digraph] = {}  # position -> the cluster its box goes in
    clusters = []
    for k, (name, act, members) in enumerate(look.groups.clusters if look.groups else ()):
        sub = graphviz.Digraph(name=f"cluster_{k}")
        title = f"{name} ({act})" if act else name
        sub.attr(label=f"<{escape_label(title)}>", labeljust="l", style="rounded,filled", fillcolor=_CLUSTER_FILL)
        sub.attr(color=_CLUSTER_LINE, fontsize="10", fontcolor=_DIM_TEXT)
        clusters.append(sub)
        home.update((i, sub) for i in members)
    for i, v in enumerate(order):
        grad = v.grad if grads is None else grads[i]
        _add_node(home.get(i, g), i, v, names, look, marks, grad)
    for i, v in enumerate(order):
        _add_edges(g, i, v, index, names, look, marks)
    for sub in clusters:
        g.subgraph(sub)
    return g


def check_size(size: object, ratio: object, where: str) -> tuple[str | None, str | None]:
    """`size` as Graphviz's text ("13.3,7.5", or "13.3,7.5!" to scale up to it) from a str or a
    (width, height) in inches; `ratio` one of RATIOS or a positive number (height / width)."""
    if isinstance(size, tuple) and len(size) == 2 and all(_positive(x) for x in size):
        size = f"{float(size[0]):g},{float(size[1]):g}"
    if size is not None and not (isinstance(size, str) and _SIZE.fullmatch(size)):
        raise ValueError(f'{where}: size must be (width, height) in inches or text like "13.3,7.5", got {size!r}')
    if isinstance(ratio, (int, float)) and _positive(ratio):
        ratio = f"{float(ratio):g}"
    elif ratio is not None and ratio not in RATIOS:
        raise ValueError(f"{where}: ratio must be a positive number or one of {', '.join(RATIOS)}, got {ratio!r}")
    return size, ratio


def _positive(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < x < float("inf")


_SIZE = re.compile(r"\d+(\.\d+)?(,\d+(\.\d+)?)?!?")


def _is_model(root: object) -> bool:
    return not isinstance(root, Value) and hasattr(root, "named_children") and hasattr(root, "local_parameters")


def draw(
    root: Value | Module,
    rankdir: str = "LR",
    show_grad: bool = True,
    edge_labels: bool = False,
    max_nodes: int = 500,
    highlight: GraphPath | None = None,
    *,
    model: Module | None = None,
    constants: bool = False,
    compact: bool = False,
    size: str | tuple[float, float] | None = None,
    ratio: str | float | None = None,
) -> graphviz.Digraph:
    """The computation graph of `root` as a `graphviz.Digraph` (displays inline in Jupyter).

    One box per Value (`label | data | grad`; unlabelled nodes get a stable name `n<i>` from their
    position in `topological_order`), a small node per op, one edge per use. `edge_labels=True`
    writes each local derivative d out / d input on its edge. A graph of more than `max_nodes`
    Values, or whose long edges (a Value used far apart) would make its layout as slow as a graph
    of 10 x max_nodes nodes, raises ValueError instead of keeping Graphviz busy for minutes.
    `highlight=path` (one of `autograd.paths(root, x).paths`) draws that path's nodes and edges red and
    bold, with the path and its product of local derivatives as the caption.

    For a network's graph: `model=` the nn Module it came from puts each neuron's parameters and ops in
    a labelled box, names the model's unlabelled inputs `x0, x1, ...` and shows other unlabelled
    leaves as the constants they are (their number, grey; `constants=True` does that alone).
    `compact=True` draws each Value as one small record (op and name / data / grad) with no separate
    op node, and edge labels as the bare number. `size=(13.3, 7.5)` (inches: a 16:9 slide) scales
    the drawing down to fit, `ratio=` ("fill", "compress", "expand", "auto" or height / width)
    reshapes it; `rankdir="TB"` stacks it top to bottom.
    `draw(model)` itself, for an nn Module, is the network diagram `nn.draw_network(model)`.
    """
    if _is_model(root):
        from nn.viz import draw_network  # the network diagram lives with the networks

        return draw_network(root, rankdir=rankdir, show_grad=show_grad)  # type: ignore[arg-type]
    where = "draw"
    order = graph_order(root, max_nodes, where)
    look = make_look(order, where, rankdir, show_grad, edge_labels, model, compact, size, ratio, constants=constants)
    check_layout(order, max_nodes, where, edge_labels)
    names = list(look.groups.names) if look.groups else node_names(order)
    if highlight is None:
        return build_digraph(order, names, look)
    nodes, edges = _path_positions(order, highlight, where)
    caption = f"path {' -> '.join(names[i] for i in nodes)}: product of local derivatives = {fmt(highlight.product)}"
    return build_digraph(
        order, names, look, caption=caption, marks=Marks(path_nodes=frozenset(nodes), path_edges=frozenset(edges))
    )


def make_look(
    order: Sequence[Value],
    where: str,
    rankdir: object,
    show_grad: object,
    edge_labels: object,
    model: object = None,
    compact: object = False,
    size: object = None,
    ratio: object = None,
    lecture: bool = False,
    constants: object = False,
) -> Look:
    """`draw`'s keywords checked (errors name `where` and the keyword) and gathered in a `Look`."""
    rankdir = check_rankdir(rankdir, where)
    size_text, ratio_text = check_size(size, ratio, where)
    named = check_flag(constants, "constants", where) or model is not None
    return Look(
        rankdir=rankdir,
        show_grad=check_flag(show_grad, "show_grad", where),
        edge_labels=check_flag(edge_labels, "edge_labels", where),
        compact=check_flag(compact, "compact", where),
        size=size_text,
        ratio=ratio_text,
        groups=neuron_groups(order, model, where) if named else None,
        lecture=lecture,
        ids=lecture,
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
    import graphviz

    try:
        svg: str = g.pipe(format="svg", encoding="utf-8")
        return svg
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(_INSTALL_HELP) from None


def dot_path_for(path: Path) -> Path:
    """Where the DOT source goes beside an output path: `graph.svg` -> `graph.dot`."""
    return path.with_name(path.name + ".dot") if path.suffix.lower() == ".dot" else path.with_suffix(".dot")


def to_svg(
    root: Value | Module,
    rankdir: str = "LR",
    show_grad: bool = True,
    edge_labels: bool = False,
    max_nodes: int = 500,
    **options: Any,
) -> str:
    """The drawing of `root` (see `draw`, which takes the same keywords, also `model=`, `compact=`,
    `size=`, `ratio=`) as SVG text."""
    return render_svg(
        draw(root, rankdir=rankdir, show_grad=show_grad, edge_labels=edge_labels, max_nodes=max_nodes, **options)
    )


def save_svg(
    root: Value | Module,
    path: PathLike,
    rankdir: str = "LR",
    show_grad: bool = True,
    edge_labels: bool = False,
    max_nodes: int = 500,
    **options: Any,
) -> Path:
    """Write the drawing of `root` (see `draw` for the keywords) to `path` as SVG; return the path.

    Without Graphviz's `dot` it writes the DOT source beside `path` (`graph.svg` -> `graph.dot`)
    and raises GraphvizNotFoundError saying how to install Graphviz.
    """
    p = check_path(path, "save_svg")
    g = draw(root, rankdir=rankdir, show_grad=show_grad, edge_labels=edge_labels, max_nodes=max_nodes, **options)
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
