"""The backward pass narrated: as text, one line per chain-rule step, and as drawings, one per step.

Steps follow exactly the order in which `backward()` runs (the reverse of `topological_order`), and
their numbers are computed the same way (upstream x local, contributions added in the same order),
so they agree with `.grad` after `backward()`. Nothing here reads or writes any `.grad`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import graphviz  # type: ignore[import-untyped]

from .backward import local_derivatives, topological_order
from .draw import (
    RANKDIRS,
    PathLike,
    build_digraph,
    check_flag,
    check_layout,
    check_path,
    graph_order,
    node_names,
    render_svg,
)
from .files import atomic_write_text
from .value import Value

if TYPE_CHECKING:
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


def backprop_frames(
    root: Value, rankdir: str = "LR", edge_labels: bool = True, max_nodes: int = FRAMES_MAX_NODES
) -> list[BackpropFrame]:
    """The backward sweep of `root` as drawings, one per line of `explain(root)`.

    In each, the node receiving a gradient is highlighted (amber; the node it comes from paler, the
    edge red) and every gradient known so far is filled in (`grad ?` where none has arrived yet).
    The default `max_nodes` is 50: a drawing per step of a bigger graph is more than anyone can read.
    """
    where = "backprop_frames"
    order = graph_order(root, max_nodes, where, "it would take a drawing of the whole graph per backward step")
    if not isinstance(rankdir, str) or rankdir not in RANKDIRS:
        raise ValueError(f"{where}: rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    check_flag(edge_labels, "edge_labels", where)
    check_layout(order, max_nodes, where, edge_labels)
    names = node_names(order)
    steps = _steps(order, names)
    grads: list[float | None] = [None] * len(order)
    frames: list[BackpropFrame] = []
    for k, step in enumerate(steps):
        if step.kind == "edge":
            before = grads[step.node]
            grads[step.node] = step.value if before is None else before + step.value
        else:  # seed, or the sum just confirmed
            grads[step.node] = step.value
        caption = f"step {k + 1} of {len(steps)}:  {step.text}"
        edge = (step.source, step.slot) if step.source is not None and step.slot is not None else None
        g = build_digraph(
            order,
            names,
            rankdir=rankdir,
            edge_labels=edge_labels,
            grads=list(grads),
            current=step.node,
            source=step.source,
            edge=edge,
            caption=caption,
        )
        frames.append(BackpropFrame(k, step.text, g))
    return frames


_PAGE_STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 1.5em; color: #222; }
.controls { display: flex; gap: .6em; align-items: center; margin: .8em 0; }
.controls input[type=range] { flex: 1; max-width: 40em; }
button { font-size: 1em; padding: .3em .8em; }
.frame { border: 1px solid #ddd; padding: .5em; margin-bottom: 1em; overflow-x: auto; }
.frame svg { max-width: 100%; height: auto; }
.caption { font-family: Menlo, Consolas, monospace; font-size: 1.05em; margin: .2em 0 .6em; }
#steps { font-family: Menlo, Consolas, monospace; font-size: .95em; }
#steps li { cursor: pointer; padding: .1em .3em; }
#steps li.done { color: #555; }
#steps li.now { background: #ffc94d; color: #000; }
"""

# A few lines of inline JS: show one frame at a time. Without JS every frame stays visible.
_PAGE_SCRIPT = """
(function () {
  var frames = document.querySelectorAll(".frame"), items = document.querySelectorAll("#steps li");
  var slider = document.getElementById("slider"), count = document.getElementById("count");
  function show(k) {
    k = Math.max(0, Math.min(frames.length - 1, k));
    for (var i = 0; i < frames.length; i++) {
      frames[i].hidden = i !== k;
      items[i].className = i === k ? "now" : (i < k ? "done" : "");
    }
    slider.value = k;
    count.textContent = "step " + (k + 1) + " of " + frames.length;
  }
  document.getElementById("prev").onclick = function () { show(+slider.value - 1); };
  document.getElementById("next").onclick = function () { show(+slider.value + 1); };
  slider.oninput = function () { show(+slider.value); };
  for (var i = 0; i < items.length; i++) {
    items[i].onclick = (function (k) { return function () { show(k); }; })(i);
  }
  document.addEventListener("keydown", function (e) {
    if (e.target === slider) return;  // the slider already moves with the arrow keys
    if (e.key === "ArrowLeft") show(+slider.value - 1);
    else if (e.key === "ArrowRight") show(+slider.value + 1);
  });
  document.getElementById("controls").hidden = false;
  show(0);
})();
"""


def _inline_svg(svg: str) -> str:
    """An SVG document from `dot` as an element to inline in HTML (no XML declaration or DOCTYPE)."""
    start = svg.find("<svg")
    if start < 0:
        raise RuntimeError("save_backprop_html: dot returned no <svg> element")
    return svg[start:].strip()


def backprop_html(root: Value, rankdir: str = "LR", edge_labels: bool = True, max_nodes: int = FRAMES_MAX_NODES) -> str:
    """The self-contained HTML page that `save_backprop_html` writes, as a string."""
    frames = backprop_frames(root, rankdir=rankdir, edge_labels=edge_labels, max_nodes=max_nodes)
    svgs = [_inline_svg(render_svg(f.graph)) for f in frames]
    n = len(frames)
    out_name = html.escape(root.label or "the output", quote=True)
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
            " downstream). The amber node receives the gradient, the pale one passes it on along the red"
            " edge; <code>grad ?</code> marks gradients not known yet. Use the slider, the buttons, or the"
            " arrow keys.</p>"
        ),
        '<div class="controls" id="controls" hidden>',
        '<button id="prev" type="button">&#9664; previous</button>',
        f'<input id="slider" type="range" min="0" max="{n - 1}" value="0" aria-label="step">',
        '<button id="next" type="button">next &#9654;</button>',
        '<span id="count"></span>',
        "</div>",
    ]
    for f, svg in zip(frames, svgs, strict=True):
        parts.append(f'<div class="frame" id="frame{f.step}">')
        parts.append(f'<p class="caption">step {f.step + 1} of {n}: {html.escape(f.text, quote=True)}</p>')
        parts.append(svg)
        parts.append("</div>")
    parts.append('<ol id="steps">')
    parts.extend(f"<li>{html.escape(f.text, quote=True)}</li>" for f in frames)
    parts.append("</ol>")
    parts.append(f"<script>{_PAGE_SCRIPT}</script>")
    parts.append("</body>")
    parts.append("</html>")
    return "\n".join(parts) + "\n"


def save_backprop_html(
    root: Value,
    path: PathLike,
    rankdir: str = "LR",
    edge_labels: bool = True,
    max_nodes: int = FRAMES_MAX_NODES,
) -> Path:
    """Write one self-contained HTML page stepping through the backward pass of `root`; return the path.

    Inline SVGs (one per step of `backprop_frames`), a slider and previous/next buttons; no network
    access needed. Needs Graphviz's `dot` (GraphvizNotFoundError otherwise). Written atomically.
    """
    p = check_path(path, "save_backprop_html")
    page = backprop_html(root, rankdir=rankdir, edge_labels=edge_labels, max_nodes=max_nodes)
    atomic_write_text(p, page)
    return p
