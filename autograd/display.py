"""How a Value shows itself in Jupyter: its numbers and, for a small graph, its drawing.

A cell that ends with a Value displays `Value._repr_html_()`, which is `value_html(value)`: a line
with the label, data, grad and op (the numbers exactly as `repr` prints them), then the drawing of
the graph that computed it. The drawing is left out, with a note saying why and what to call
instead, when the graph is a single leaf, has more than `MAX_DRAWN_NODES` nodes, or Graphviz's
`dot` program is not installed; the numbers are always there.

The SVG is inlined so that it scales down to the cell's width (`fit_svg`): `dot` writes a fixed
width in points, which overflows a narrow cell. It shrinks to at most half its size, where its text
is still readable; a drawing wider than twice the cell scrolls sideways at that scale instead.
graphviz is imported only when a drawing is made, never by `import autograd`.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

from .backward import topological_order
from .draw import GraphvizNotFoundError, draw, render_svg
from .value import Value

if TYPE_CHECKING:
    import graphviz  # type: ignore[import-untyped]

# A graph of more nodes shows its numbers only: its drawing would be too small to read in a cell,
# and laying it out would make displaying a Value slow.
MAX_DRAWN_NODES = 24

# What dot writes before the drawing: an XML declaration, a DOCTYPE and comments.
_PROLOGUE = re.compile(r"\A(?:\s*(?:<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->))*\s*", re.DOTALL)
_SVG_TAG = re.compile(r"<svg\b[^>]*>", re.IGNORECASE)
_WIDTH = re.compile(r'\swidth="([0-9.]+)pt"')
# A drawing scaled below half its size has text too small to read: it scrolls instead.
MIN_SCALE = 0.5
SCROLL = "overflow-x: auto;"  # the style of the element around a fitted drawing


def fit_svg(svg: str) -> str:
    """SVG text from `dot` made ready to inline in HTML and to fit its container.

    The prologue before `<svg` is dropped and the root element gets `style="max-width: 100%;
    min-width: <half its width>; height: auto;"`: a drawing narrower than the cell keeps its natural
    size, a wider one scales down with its proportions (its `viewBox` is kept), but not below half
    its size (put it in an element styled `SCROLL` to scroll the rest). Text without an `<svg`
    element is returned unchanged.
    """
    body = _PROLOGUE.sub("", svg, count=1)
    tag = _SVG_TAG.search(body)
    if tag is None:
        return svg
    width = _WIDTH.search(tag.group())
    least = "" if width is None else f" min-width: {float(width.group(1)) * MIN_SCALE:g}pt;"
    start = tag.start() + len("<svg")
    return f'{body[:start]} style="max-width: 100%;{least} height: auto;"{body[start:]}'


def _numbers(value: Value) -> str:
    """One line of HTML: `Value label  data = ...  grad = ...  op *`, every piece escaped."""
    parts = ["<b>Value</b>"]
    if value.label:
        parts.append(f"<code>{html.escape(value.label)}</code>")
    parts.append(f"data = <code>{value.data!r}</code>")
    parts.append(f"grad = <code>{value.grad!r}</code>")
    if value.op:
        parts.append(f"op <code>{html.escape(value.op)}</code>")
    return "&nbsp;&nbsp;".join(parts)


def _drawing(value: Value) -> str:
    """The inline SVG of the graph of `value`, or a note (in grey) saying why there is none."""
    size = len(topological_order(value))
    if size == 1:
        return ""
    if size > MAX_DRAWN_NODES:
        return _note(
            f"a graph of {size} nodes is not drawn here (more than {MAX_DRAWN_NODES}); "
            f"autograd.draw(value) draws it, or draw a smaller part such as one neuron"
        )
    try:
        svg = render_svg(draw(value, max_nodes=MAX_DRAWN_NODES))
    except GraphvizNotFoundError:
        return _note("no drawing: Graphviz's `dot` program is not installed (apt-get install graphviz)")
    except ValueError as error:  # long edges (a Value used far apart): the layout would be slow
        return _note(str(error))
    return f'<div style="{SCROLL}">{fit_svg(svg)}</div>'


def _note(text: str) -> str:
    return f'<div style="color: #6b6b6b; font-size: smaller;">{html.escape(text)}</div>'


def value_html(value: Value) -> str:
    """A Value as HTML for a notebook: its numbers, then (for a small graph) its drawing."""
    return f'<div class="chainrule-value">{_numbers(value)}{_drawing(value)}</div>'


_fit_class: type[Any] | None = None


def fitting_digraph(**attrs: Any) -> graphviz.Digraph:
    """A `graphviz.Digraph(**attrs)` whose drawing, displayed in Jupyter, scales down to the cell width.

    graphviz's own Digraph shows the SVG from `dot` at its fixed size in points, which overflows a
    narrow cell; this one shows it through `fit_svg`. Everything else is graphviz's Digraph.
    """
    global _fit_class
    if _fit_class is None:
        import graphviz  # here, not at the top: `import autograd` stays light until something is drawn

        class FitDigraph(graphviz.Digraph):  # type: ignore[misc]
            """A graphviz.Digraph whose notebook display scales down to the cell width."""

            def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, Any]:
                # Frontends show an image/svg+xml output as an <img> at its size in points, and only
                # some of them confine it to the cell; inline SVG in text/html (which they prefer) scales.
                bundle: dict[str, Any] = super()._repr_mimebundle_(include, exclude, **kwargs)
                if "image/svg+xml" in bundle:
                    svg = fit_svg(bundle["image/svg+xml"])
                    bundle["image/svg+xml"] = svg
                    bundle["text/html"] = f'<div style="{SCROLL}">{svg}</div>'
                return bundle

        _fit_class = FitDigraph
    return _fit_class(**attrs)
