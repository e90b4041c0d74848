"""The backward pass narrated: as text, one line per chain-rule step, and as drawings, one per step.

Steps follow exactly the order in which `backward()` runs (the reverse of `topological_order`), and
their numbers are computed the same way (upstream x local, contributions added in the same order),
so they agree with `.grad` after `backward()`. Nothing here reads or writes any `.grad`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .backward import local_derivatives, topological_order
from .draw import (
    Marks,
    PathLike,
    build_digraph,
    check_layout,
    check_path,
    fmt,
    graph_order,
    make_look,
    node_names,
    render_svg,
)
from .files import atomic_write_text
from .value import Value

if TYPE_CHECKING:
    import graphviz  # type: ignore[import-untyped]  # loaded by the drawing functions when first used

    from nn.module import Module

    from .forward import ForwardStep

# Frames redraw the whole graph once per step (about two steps per node), so they get a much
# smaller default limit than `draw`: 50 nodes already make a page of ~100 drawings.
FRAMES_MAX_NODES = 50


def num(x: float) -> str:
    """A number in a narrated step: up to 6 significant digits, always looking like a float."""
    x += 0.0  # -0.0 -> 0.0
    s = f"{x:.6g}"
    return s if any(ch in s for ch in ".eni") else s + ".0"


def _term(x: float) -> str:
    s = num(x)
    return f"({s})" if s.startswith("-") else s


@dataclass(frozen=True)
class BackwardStep:
    """One line of the narrated backward pass.

    kind: "seed" (d root / d root = 1), "edge" (one contribution upstream x local = downstream to an
    input), or "sum" (a node used several times: its gradient as the sum of its contributions).
    `node` is the position (in `topological_order`) of the node whose gradient the line is about;
    for "edge", `source` is the op node the gradient flows back from and `slot` which of its inputs.
    `value` is the seed, the contribution, or the total.
    """

    kind: str
    node: int
    value: float
    text: str
    source: int | None = None
    slot: int | None = None
    upstream: float | None = None
    local: float | None = None
    terms: tuple[float, ...] = ()


def _steps(order: Sequence[Value], names: Sequence[str]) -> list[BackwardStep]:
    """The narrated steps for a graph given in topological order (root last)."""
    index = {v: i for i, v in enumerate(order)}  # lookups only
    n = len(order)
    root = n - 1
    contributions: list[list[float]] = [[] for _ in range(n)]
    total: list[float] = [0.0] * n
    out = names[root]
    steps = [BackwardStep("seed", root, 1.0, f"d{out}/d{out} = 1.0")]
    total[root] = 1.0
    for i in range(root, -1, -1):  # backward's order
        v = order[i]
        terms = contributions[i]
        if len(terms) > 1:
            text = f"d{out}/d{names[i]} = {' + '.join(_term(t) for t in terms)} = {num(total[i])}"
            steps.append(BackwardStep("sum", i, total[i], text, terms=tuple(terms)))
        g = total[i]  # complete: every node using v comes before it in this order
        for slot, (x, local) in enumerate(zip(v.inputs, local_derivatives(v), strict=True)):
            j = index[x]
            c = g * local
            contributions[j].append(c)
            total[j] += c  # the same additions, in the same order, as backward
            chain = f"d{out}/d{names[j]} += d{out}/d{names[i]} * d{names[i]}/d{names[j]}"  # upstream x local
            text = f"{chain} = ({num(g)})({num(local)}) = {num(c)}"
            steps.append(BackwardStep("edge", j, c, text, source=i, slot=slot, upstream=g, local=local))
    return steps


def explain_steps(
    root: Value, mode: str = "backward", *, wrt: Value | None = None
) -> list[BackwardStep] | list[ForwardStep]:
    """The backward pass of `root` as structured steps (what `explain` prints), with exact floats;
    with `mode="forward", wrt=x` forward mode's steps (`autograd.forward.ForwardStep`).

    No size limit: the text grows linearly with the graph and needs no layout.
    """
    if not isinstance(root, Value):
        raise TypeError(f"explain: root must be a Value, got {type(root).__name__} {root!r}")
    if mode == "forward":
        from .forward import forward_steps  # forward mode and its narration live in autograd.forward

        return forward_steps(root, wrt, "explain")
    if mode != "backward":
        raise ValueError(f"explain_steps: mode must be 'backward' or 'forward', got {mode!r}")
    if wrt is not None:
        raise TypeError('explain_steps: wrt= is only for mode="forward" (the backward pass gives every gradient)')
    order = topological_order(root)
    return _steps(order, node_names(order))


def explain(root: Value, mode: str = "backward", *, wrt: Value | None = None) -> str:
    """The backward pass of `root` as text, one line per chain-rule step, in the order it runs.

    e.g. `dL/da += dL/de * de/da = (-2.0)(1.0) = -2.0`. A node used several times gets a line with
    its gradient as the sum of its contributions. Nodes are named by label, else `n<position in
    topological_order>` (as in `draw`). Does not touch any `.grad`.

    `mode="paths", wrt=x`: d root / d x as the sum over every path from x to root of the product of
    the local derivatives on it, one line per path, then their sum, reverse mode's number and what
    each way costs in multiplications (`autograd.paths`; at most 1000 paths are listed).

    `mode="forward", wrt=x`: forward mode, the tangent dv/dx of every node v that depends on the leaf
    x, in evaluation order, as the sum over v's inputs u of local x tangent: `dd/db = dd/db * db/db
    = (2.0)(1.0) = 2.0`. The last line is d root / d x, the number `jvp` computes (`autograd.forward`).
    """
    if mode == "forward":
        return "\n".join(step.text for step in explain_steps(root, mode, wrt=wrt))
    if mode == "paths":
        from .paths import explain_paths  # paths.py imports this module

        return explain_paths(root, wrt)
    if mode != "backward":
        raise ValueError(f"explain: mode must be 'backward', 'forward' or 'paths', got {mode!r}")
    if wrt is not None:
        raise TypeError(
            'explain: wrt= is only for mode="forward" or "paths" (the backward pass gives every gradient at once)'
        )
    return "\n".join(step.text for step in explain_steps(root))


# ---- frames ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BackpropFrame:
    """One step of the backward sweep: its number (from 0), its narrated line, and the drawing."""

    step: int
    text: str
    graph: graphviz.Digraph

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> Any:
        # Jupyter shows a frame as its drawing.
        return self.graph._repr_mimebundle_(include=include, exclude=exclude, **kwargs)


def running_grads(steps: Sequence[BackwardStep], n: int) -> list[list[float | None]]:
    """Every node's gradient as known after each step (None: none has arrived yet), added up in the
    order and the way `backward()` adds them, so the last list is `.grad` after `backward()`."""
    grads: list[float | None] = [None] * n
    out = []
    for step in steps:
        if step.kind == "edge":
            before = grads[step.node]
            grads[step.node] = step.value if before is None else before + step.value
        else:  # seed, or the sum just confirmed
            grads[step.node] = step.value
        out.append(list(grads))
    return out


def _marks(step: BackwardStep) -> Marks:
    edge = (step.source, step.slot) if step.source is not None and step.slot is not None else None
    return Marks(current=step.node, source=step.source, edge=edge)


def backprop_frames(
    root: Value,
    rankdir: str = "LR",
    edge_labels: bool = True,
    max_nodes: int = FRAMES_MAX_NODES,
    *,
    model: Module | None = None,
    compact: bool = False,
) -> list[BackpropFrame]:
    """The backward sweep of `root` as drawings, one per line of `explain(root)`.

    In each, the node receiving a gradient is highlighted (amber; the node it comes from paler, the
    edge red) and every gradient known so far is filled in (`grad ?` where none has arrived yet).
    The default `max_nodes` is 50: a drawing per step of a bigger graph is more than anyone can read.
    `model=` and `compact=` draw a network's graph as `draw` does (neurons boxed, constants as numbers).
    """
    where = "backprop_frames"
    order = graph_order(root, max_nodes, where, "it would take a drawing of the whole graph per backward step")
    look = make_look(order, where, rankdir, True, edge_labels, model, compact)
    check_layout(order, max_nodes, where, edge_labels)
    names = list(look.groups.names) if look.groups else node_names(order)
    steps = _steps(order, names)
    frames: list[BackpropFrame] = []
    for k, (step, grads) in enumerate(zip(steps, running_grads(steps, len(order)), strict=True)):
        caption = f"step {k + 1} of {len(steps)}:  {step.text}"
        g = build_digraph(order, names, look, grads=grads, marks=_marks(step), caption=caption)
        frames.append(BackpropFrame(k, step.text, g))
    return frames


# ---- the HTML stepper: one drawing, restyled per step ----------------------------------------------
# The page holds ONE SVG of the graph (so nodes never move) and, per step, a few numbers: which node
# receives a gradient, its running total (exact, and as drawn), and the node and edge it comes from.
# A small script restyles the drawing for the step in the URL (`page.html#step=4`).
STEPPER_MAX_NODES = 200

_PAGE_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 1.5em; color: #222; }
.controls { display: flex; gap: .6em; align-items: center; margin: .8em 0; }
.controls input[type=range] { flex: 1; max-width: 40em; }
button { font-size: 1em; padding: .3em .8em; }
#figure { border: 1px solid #ddd; padding: .5em; margin-bottom: 1em; overflow-x: auto; }
#figure svg { max-width: 100%; height: auto; }
#figure.full svg { max-width: none; }
#caption { font-family: Menlo, Consolas, monospace; font-size: 1.05em; margin: .2em 0 .6em; min-height: 1.3em; }
#steps { font-family: Menlo, Consolas, monospace; font-size: .9em; }
#steps li { cursor: pointer; padding: .1em .3em; }
#steps li.done { color: #555; }
#steps li.now { background: #ffc94d; color: #000; }
#figure g.now polygon:not([fill="none"]) { fill: #ffc94d; }
#figure g.now polygon { stroke-width: 2; }
#figure g.now text:last-of-type { font-weight: bold; }
#figure g.src polygon:not([fill="none"]), #figure g.src ellipse { fill: #ffefc2; }
#figure g.hot path { stroke: #d12a2a; stroke-width: 2.5; }
#figure g.hot polygon { fill: #d12a2a; stroke: #d12a2a; }
#figure g.hot text { fill: #d12a2a; }
"""

# Restyles the one drawing for step k: gradients known so far, the node receiving one (amber), the
# node it comes from (pale) and the edge (red). Without JS the page shows the final gradients.
_PAGE_SCRIPT = """
(function () {
  var items = document.querySelectorAll("#steps li"), n = FRAMES.length, marked = [];
  var slider = document.getElementById("slider"), count = document.getElementById("count");
  var caption = document.getElementById("caption"), current = 0;
  function el(id) { return document.getElementById(id); }
  function gradText(i) {  // the last text of a node's box is its gradient
    var g = el("v" + i), t = g ? g.getElementsByTagName("text") : [];
    return t.length ? t[t.length - 1] : null;
  }
  function mark(id, cls) { var e = el(id); if (e) { e.classList.add(cls); marked.push([e, cls]); } }
  function show(k) {
    k = Math.max(0, Math.min(n - 1, isNaN(k) ? 0 : k));
    current = k;
    var known = {};
    for (var i = 0; i <= k; i++) known[FRAMES[i][0]] = FRAMES[i][3];
    for (var j = 0; j < PREFIX.length; j++) {
      var t = gradText(j);
      if (t) t.textContent = PREFIX[j] + (j in known ? known[j] : "?");
    }
    while (marked.length) { var m = marked.pop(); m[0].classList.remove(m[1]); }
    var f = FRAMES[k];
    mark("v" + f[0], "now");
    if (f[4] >= 0) { mark("v" + f[4], "src"); mark("v" + f[4] + "op", "src"); mark("e" + f[4] + "_" + f[5], "hot"); }
    for (var i2 = 0; i2 < items.length; i2++) items[i2].className = i2 === k ? "now" : (i2 < k ? "done" : "");
    slider.value = k;
    count.textContent = "step " + (k + 1) + " of " + n;
    caption.textContent = "step " + (k + 1) + " of " + n + ":  " + items[k].textContent;
    try { history.replaceState(null, "", "#step=" + (k + 1)); } catch (e) {}
  }
  function fromHash() { var m = /step=(\\d+)/.exec(location.hash); return m ? parseInt(m[1], 10) - 1 : 0; }
  el("zoom").onclick = function () {  // fit the page's width, or every number at its drawn size
    var full = el("figure").classList.toggle("full");
    el("zoom").textContent = full ? "fit to width" : "actual size";
  };
  el("prev").onclick = function () { show(current - 1); };
  el("next").onclick = function () { show(current + 1); };
  slider.oninput = function () { show(+slider.value); };
  for (var i = 0; i < items.length; i++) items[i].onclick = (function (k) { return function () { show(k); }; })(i);
  document.addEventListener("keydown", function (e) {
    if (e.target === slider) return;  // the slider already moves with the arrow keys
    if (e.key === "ArrowLeft") show(current - 1);
    else if (e.key === "ArrowRight") show(current + 1);
  });
  window.addEventListener("hashchange", function () { if (fromHash() !== current) show(fromHash()); });
  el("controls").hidden = false;
  show(fromHash());
})();
"""


def _inline_svg(svg: str) -> str:
    """An SVG document from `dot` as an element to inline in HTML (no XML declaration or DOCTYPE)."""
    start = svg.find("<svg")
    if start < 0:
        raise RuntimeError("save_backprop_html: dot returned no <svg> element")
    return svg[start:].strip()


def _script_json(data: object) -> str:
    """`data` as JSON that is safe inside a <script> element: no `<`, `>` or `&` can close it."""
    text = json.dumps(data, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _frame(step: BackwardStep, grads: Sequence[float | None]) -> tuple[int, float, float, str, int, int]:
    """One step as the page's script reads it (see `Stepper.frames`)."""
    total = grads[step.node]
    assert total is not None  # the step just gave it a gradient
    source = -1 if step.source is None else step.source
    return (step.node, step.value, total, fmt(total), source, -1 if step.slot is None else step.slot)


@dataclass(frozen=True)
class Stepper:
    """What the HTML stepper shows: the drawing (one SVG), the narrated lines, and per step
    `frames[k] = (node, the step's value, node's gradient so far, that gradient as drawn, source or
    -1, slot or -1)`, the numbers exactly as `explain_steps` computes them;
    `prefix[i]` is the text before node i's drawn gradient (`dL/da = `)."""

    title: str
    svg: str
    lines: tuple[str, ...]
    frames: tuple[tuple[int, float, float, str, int, int], ...]
    prefix: tuple[str, ...]


def stepper(
    root: Value,
    rankdir: str = "LR",
    edge_labels: bool = True,
    max_nodes: int = STEPPER_MAX_NODES,
    *,
    model: Module | None = None,
    constants: bool = False,
    compact: bool = False,
    size: str | tuple[float, float] | None = None,
    ratio: str | float | None = None,
) -> Stepper:
    """The stepper's content for `root` (see `save_backprop_html` for the keywords); needs `dot`."""
    where = "save_backprop_html"
    order = graph_order(root, max_nodes, where, "Graphviz would take very long to lay it out")
    look = make_look(order, where, rankdir, True, edge_labels, model, compact, size, ratio, True, constants)
    check_layout(order, max_nodes, where, edge_labels)
    names = list(look.groups.names) if look.groups else node_names(order)
    steps = _steps(order, names)
    known = running_grads(steps, len(order))
    svg = _inline_svg(render_svg(build_digraph(order, names, look, grads=known[-1])))
    frames = tuple(_frame(s, g) for s, g in zip(steps, known, strict=True))
    shown = look.groups.shown if look.groups else names
    prefix = tuple(f"d{names[-1]}/d{shown[i]} = " for i in range(len(order)))
    return Stepper(order[-1].label or "the output", svg, tuple(s.text for s in steps), frames, prefix)


def backprop_html(
    root: Value,
    rankdir: str = "LR",
    edge_labels: bool = True,
    max_nodes: int = STEPPER_MAX_NODES,
    **options: Any,
) -> str:
    """The self-contained HTML page that `save_backprop_html` writes, as a string."""
    page = stepper(root, rankdir=rankdir, edge_labels=edge_labels, max_nodes=max_nodes, **options)
    n = len(page.frames)
    out_name = html.escape(page.title, quote=True)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>Backward pass of {out_name}, step by step</title>",
        f"<style>{_PAGE_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>Backward pass of {out_name}, step by step</h1>",
        (
            "<p>Each step multiplies the upstream gradient by a local derivative (upstream &times; local ="
            " downstream). Edges show local derivatives &part;e/&part;a; boxes show the gradient"
            f" d{out_name}/da accumulated so far (<code>?</code>: not known yet). The amber box receives"
            " the gradient, the pale one passes it on along the red edge. Use the slider, the buttons, the"
            " arrow keys, or a step in the address (<code>#step=4</code>).</p>"
        ),
        '<div class="controls" id="controls" hidden>',
        '<button id="prev" type="button">&#9664; previous</button>',
        f'<input id="slider" type="range" min="0" max="{n - 1}" value="0" aria-label="step">',
        '<button id="next" type="button">next &#9654;</button>',
        '<span id="count"></span>',
        '<button id="zoom" type="button">actual size</button>',
        "</div>",
        '<p id="caption">After the whole backward pass: every gradient filled in (the steps are listed below).</p>',
        f'<div id="figure">{page.svg}</div>',
        '<ol id="steps">',
        *(f"<li>{html.escape(line, quote=True)}</li>" for line in page.lines),
        "</ol>",
        f"<script>var FRAMES = {_script_json(page.frames)};\nvar PREFIX = {_script_json(page.prefix)};"
        f"\n{_PAGE_SCRIPT}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def save_backprop_html(
    root: Value,
    path: PathLike,
    rankdir: str = "LR",
    edge_labels: bool = True,
    max_nodes: int = STEPPER_MAX_NODES,
    *,
    model: Module | None = None,
    constants: bool = False,
    compact: bool = False,
    size: str | tuple[float, float] | None = None,
    ratio: str | float | None = None,
) -> Path:
    """Write one self-contained HTML page stepping through the backward pass of `root`; return the path.

    ONE drawing of the graph (its nodes stay put) restyled per step by a small inline script: the
    gradients dL/da known so far on the nodes, the local derivatives ∂e/∂a on the edges, the node
    receiving a gradient amber, the edge it flows along red, one caption with the step's line.
    `page.html#step=4` opens at step 4. `model=`, `constants=`, `compact=`, `size=`, `ratio=`: as in
    `draw` (a network's neurons boxed, its inputs and constants named; smaller records). For a
    network, `model=model, compact=True, rankdir="TB"` reads best. No network access needed; needs Graphviz's
    `dot` (GraphvizNotFoundError otherwise). Written atomically.
    """
    p = check_path(path, "save_backprop_html")
    options = {"model": model, "constants": constants, "compact": compact, "size": size, "ratio": ratio}
    page = backprop_html(root, rankdir=rankdir, edge_labels=edge_labels, max_nodes=max_nodes, **options)
    atomic_write_text(p, page)
    return p
