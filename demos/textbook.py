"""The lectures' worked examples of backpropagation, reproduced with chainrule and checked.

1. Lecture 000: L = c(a + 2b) with a = 3, b = 1, c = -2 — forward values, every gradient, the
   backward pass narrated step by step, the graph drawn with its edge derivatives (SVG) and an HTML
   page that steps through the backward pass.
2. Lecture 001: the chain rule for b = sin(2x^3 - 4x), checked against cos(a)(6x^2 - 4).
3. Lecture 001: a tanh neuron o = tanh(s), whose derivative do/dw is (1 - o^2) x.
4. Lecture 003: the two-layer linear network with x = [2, 3], y = 1 (y_hat = 2.162), the 1/2 MSE
   loss, and every gradient of the slide's summary table; its computation graph sized for a 16:9
   slide (two_layer.svg), and the same network as an nn.MLP drawn as a network
   (two_layer_network.svg: weights and gradients on the edges, activations in the units).

Run from the repository root:  python -m demos.textbook  (or  python demos/textbook.py)
  --out DIR   where the drawings go (default: out/textbook)
  --open      open the HTML stepper in a browser afterwards (only when a display is available);
              by default nothing is opened, which is also what --no-open says explicitly.
Without Graphviz's `dot` everything is still computed and printed; the SVG is skipped and its DOT
source written instead. Exits with status 1 if any result disagrees with the lectures.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import webbrowser
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as `python demos/textbook.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nn
from autograd import (
    GraphvizNotFoundError,
    Value,
    explain,
    save_backprop_html,
    save_svg,
    topological_order,
)

DEFAULT_OUT = Path("out") / "textbook"

# Agreement between two ways of computing the same derivative in float64 (different operation order).
_TOL = 1e-12


def _close(x: float, y: float) -> bool:
    return math.isclose(x, y, rel_tol=_TOL, abs_tol=_TOL)


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISMATCH"


# ---- 1. lecture 000: L = c(a + 2b) ---------------------------------------------------------------
def textbook_graph() -> dict[str, Value]:
    """The graph of lecture 000's figures 7.12/7.13, every node labelled: d = 2b, e = a + d, L = c e."""
    a = Value(3.0, label="a")
    b = Value(1.0, label="b")
    c = Value(-2.0, label="c")
    two = Value(2.0, label="2")
    d = two * b
    d.label = "d"
    e = a + d
    e.label = "e"
    L = c * e
    L.label = "L"
    return {"a": a, "b": b, "c": c, "2": two, "d": d, "e": e, "L": L}


# The lecture's numbers: forward values (figure 7.12) and gradients dL/d node (figure 7.13).
TEXTBOOK_DATA = {"a": 3.0, "b": 1.0, "c": -2.0, "d": 2.0, "e": 5.0, "L": -10.0}
TEXTBOOK_GRAD = {"a": -2.0, "b": -4.0, "c": 5.0, "d": -2.0, "e": -2.0, "L": 1.0}


def run_textbook(out: Path) -> bool:
    print("== 1. Lecture 000: L = c(a + 2b), a = 3, b = 1, c = -2 (figures 7.12 and 7.13)")
    nodes = textbook_graph()
    L = nodes["L"]
    # Narrate first: explain() reads no .grad, so it is the same before or after backward().
    narration = explain(L)
    L.backward()
    ok = True
    print(f"   {'node':<5}{'data':>9}{'dL/d node':>12}   lecture")
    for node in topological_order(L):
        name = node.label
        want = (TEXTBOOK_DATA.get(name), TEXTBOOK_GRAD.get(name))
        row_ok = all(w is None or _close(got, w) for got, w in zip((node.data, node.grad), want, strict=True))
        ok &= row_ok
        note = _mark(row_ok) if want != (None, None) else "(the constant 2)"
        print(f"   {name:<5}{node.data:>9.4f}{node.grad:>12.4f}   {note}")
    print("\n   The backward pass, step by step (upstream x local = downstream):")
    for line in narration.splitlines():
        print(f"     {line}")

    out.mkdir(parents=True, exist_ok=True)
    (out / "textbook_backward.txt").write_text(narration + "\n", encoding="utf-8")
    print(f"\n   wrote {out / 'textbook_backward.txt'}")
    svg = out / "textbook.svg"
    try:
        save_svg(L, svg, edge_labels=True)
        print(f"   wrote {svg}  (the graph with values, gradients and edge derivatives)")
        page = save_backprop_html(L, out / "textbook_backprop.html")
        print(f"   wrote {page}  (step through the backward pass: slider, buttons, arrow keys)")
    except GraphvizNotFoundError as err:
        print(f"   SVG skipped: Graphviz's `dot` was not found. DOT source written to {err.dot_path}")
        print("   HTML stepper skipped (it needs `dot` too).")
        print("   " + err.install_help.replace("\n", "\n   "))
    return ok


# ---- 2. lecture 001: the chain rule -------------------------------------------------------------
def chain_rule(x0: float) -> tuple[float, float]:
    """db/dx for a = 2x^3 - 4x, b = sin(a): (by backward, by the lecture's cos(a)(6x^2 - 4))."""
    x = Value(x0, label="x")
    a = 2 * x**3 - 4 * x
    b = a.sin()
    b.backward()
    return x.grad, math.cos(a.data) * (6 * x0**2 - 4)


def run_chain_rule() -> bool:
    print("\n== 2. Lecture 001: the chain rule, a = 2x^3 - 4x, b = sin(a)")
    ok = True
    for x0 in (0.5, 1.5):  # the lecture gives no x; two points, one on each side of the slope's sign change
        got, want = chain_rule(x0)
        ok &= _close(got, want)
        print(f"   x = {x0}: db/dx = {got:.12f}   cos(a)(6x^2 - 4) = {want:.12f}   {_mark(_close(got, want))}")
    return ok


# ---- 3. lecture 001: a tanh neuron --------------------------------------------------------------
def tanh_neuron(w: Sequence[float], x: Sequence[float]) -> tuple[float, float, float]:
    """o = tanh(w0 + w1 x1 + w2 x2): (o, do/dw1 by backward, (1 - o^2) x1 from the lecture)."""
    w0, w1, w2 = (Value(v, label=f"w{i}") for i, v in enumerate(w))
    x1, x2 = (Value(v, label=f"x{i + 1}") for i, v in enumerate(x))
    s = w0 + w1 * x1 + w2 * x2
    o = s.tanh()
    o.backward()
    return o.data, w1.grad, (1 - o.data**2) * x1.data


def run_tanh_neuron() -> bool:
    print("\n== 3. Lecture 001: a tanh neuron, s = w0 + w1 x1 + w2 x2, o = tanh(s)")
    w, x = (0.1, 0.4, -0.3), (0.5, -1.5)  # the lecture's question has no numbers; any will do
    o, got, want = tanh_neuron(w, x)
    ok = _close(got, want)
    print(f"   w = {w}, x = {x}: o = {o:.6f}")
    print(f"   do/dw1 = {got:.12f}   (1 - o^2) x1 = {want:.12f}   {_mark(ok)}")
    return ok


# ---- 4. lecture 003: two-layer linear network ---------------------------------------------------
X = (2.0, 3.0)
Y = 1.0
W1 = ((-0.78, 0.13), (0.85, 0.23))  # W1[i][j]: input i -> hidden unit j
W2 = (1.8, 0.40)
Y_HAT = 2.162  # the slide's value


def two_layer() -> dict[str, Value]:
    """y_hat = sum_j w2_j (sum_i x_i w1_ij + b1_j) + b2 and L = 1/2 (y_hat - y)^2, biases 0.

    The slide's example has no biases; its summary table adds them, so they are here at 0 (which
    leaves y_hat = 2.162) to check the bias rows of the table too.
    """
    v: dict[str, Value] = {}
    x = [Value(xi, label=f"x{i + 1}") for i, xi in enumerate(X)]
    for i in range(2):
        for j in range(2):
            v[f"w1_{i + 1}{j + 1}"] = Value(W1[i][j], label=f"w1_{i + 1}{j + 1}")
    for j in range(2):
        v[f"b1_{j + 1}"] = Value(0.0, label=f"b1_{j + 1}")
        v[f"w2_{j + 1}"] = Value(W2[j], label=f"w2_{j + 1}")
    v["b2"] = Value(0.0, label="b2")
    h = []
    for j in range(2):
        hj = x[0] * v[f"w1_1{j + 1}"] + x[1] * v[f"w1_2{j + 1}"] + v[f"b1_{j + 1}"]
        hj.label = f"h{j + 1}"
        h.append(hj)
    y_hat = v["w2_1"] * h[0] + v["w2_2"] * h[1] + v["b2"]
    y_hat.label = "y_hat"
    err = y_hat - Y
    err.label = "y_hat - y"
    L = 0.5 * err**2
    L.label = "L"
    v.update(h1=h[0], h2=h[1], y_hat=y_hat, L=L)
    return v


def slide_table(y_hat: float) -> list[tuple[str, str, float]]:
    """The slide's gradients evaluated from its formulas: (parameter, formula, value)."""
    r = y_hat - Y
    h = [X[0] * W1[0][j] + X[1] * W1[1][j] for j in range(2)]  # X W1 + b1, b1 = 0
    rows = [(f"w2_{j + 1}", f"(y_hat - y) h{j + 1}", r * h[j]) for j in range(2)]
    rows.append(("b2", "(y_hat - y)", r))
    rows += [
        (f"w1_{i + 1}{j + 1}", f"(y_hat - y) w2_{j + 1} x{i + 1}", r * W2[j] * X[i]) for i in range(2) for j in range(2)
    ]
    rows += [(f"b1_{j + 1}", f"(y_hat - y) w2_{j + 1}", r * W2[j]) for j in range(2)]
    return rows


def run_two_layer(out: Path) -> bool:
    print("\n== 4. Lecture 003: two-layer linear network, x = [2, 3], y = 1, L = 1/2 (y_hat - y)^2")
    v = two_layer()
    L, y_hat = v["L"], v["y_hat"]
    L.backward()
    ok = _close(y_hat.data, Y_HAT)
    print(f"   y_hat = {y_hat.data:.6f}   (slide: {Y_HAT})   {_mark(ok)}")
    loss_ok = _close(L.data, 0.5 * (Y_HAT - Y) ** 2)
    ok &= loss_ok
    print(f"   L = 1/2 (y_hat - y)^2 = {L.data:.6f}   {_mark(loss_ok)}")
    print(f"   {'parameter':<10}{'slide formula':<26}{'formula':>11}{'autograd':>11}")
    for name, formula, want in slide_table(y_hat.data):
        got = v[name].grad
        row_ok = _close(got, want)
        ok &= row_ok
        print(f"   {name:<10}{formula:<26}{want:>11.6f}{got:>11.6f}   {_mark(row_ok)}")
    ok &= run_network(out)
    svg = out / "two_layer.svg"
    try:
        # compact records, constants as numbers, scaled to a 16:9 slide (13.33 x 7.5 in)
        save_svg(L, svg, edge_labels=True, compact=True, constants=True, size=SLIDE)
        print(f"   wrote {svg}  (the computation graph, sized for a 16:9 slide)")
    except GraphvizNotFoundError as err:
        print(f"   SVG skipped: Graphviz's `dot` was not found. DOT source written to {err.dot_path}")
    return ok


SLIDE = (13.33, 7.5)  # a 16:9 slide, in inches


def lecture_network() -> nn.MLP:
    """Lecture 003's network as an nn.MLP: W1 and W2 as the slide prints them, linear units, biases 0."""
    return nn.MLP.from_weights([W1, W2], [[0.0, 0.0], [0.0]], rows="inputs", activation="none")


def run_network(out: Path) -> bool:
    """The same network as an nn.MLP, drawn as the textbook draws networks (two_layer_network.svg);
    its gradients must be the slide's."""
    model = lecture_network()
    L = 0.5 * (model(list(X))[0] - Y) ** 2
    L.backward()
    W = model.layers[0].weight_matrix(rows="inputs")  # W[i][j]: input i -> hidden unit j, as on the slide
    got = {f"w1_{i + 1}{j + 1}": W[i][j].grad for i in range(2) for j in range(2)}
    got.update({f"w2_{j + 1}": w.grad for j, w in enumerate(model.layers[1].neurons[0].w)})
    y_hat = model(list(X))[0].data
    ok = all(_close(got[name], want) for name, _, want in slide_table(y_hat) if name in got)
    print(f"   the same network as nn.MLP: y_hat = {y_hat:.6f}, weight gradients as on the slide: {_mark(ok)}")
    path = out / "two_layer_network.svg"
    try:
        nn.save_network_svg(model, path, x=list(X))
        print(f"   wrote {path}  (the network: weights and their gradients on the edges, activations in the units)")
    except GraphvizNotFoundError as err:
        print(f"   network drawing skipped: Graphviz's `dot` was not found ({err.install_help.splitlines()[0]})")
    return ok


# ---- main --------------------------------------------------------------------------------------
def _has_display() -> bool:
    """Whether a browser window could appear (never on a headless Linux box or over plain SSH)."""
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return sys.platform in ("darwin", "win32")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demos.textbook", description="The lectures' worked examples of backprop, checked."
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    opening = parser.add_mutually_exclusive_group()
    opening.add_argument("--open", dest="open", action="store_true", help="open the HTML stepper in a browser")
    opening.add_argument("--no-open", dest="open", action="store_false", help="open nothing (the default)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out: Path = args.out
    print(f"Output folder: {out.resolve()}\n")
    ok = run_textbook(out)
    ok &= run_chain_rule()
    ok &= run_tanh_neuron()
    ok &= run_two_layer(out)
    page = out / "textbook_backprop.html"
    if args.open:
        if not page.exists():
            print("\nNothing to open: the HTML stepper was not written.")
        elif not _has_display():
            print(f"\nNo display found, so nothing was opened; open {page.resolve()} yourself.")
        else:
            webbrowser.open(page.resolve().as_uri())
    print(f"\n{'All results agree with the lectures.' if ok else 'SOME RESULTS DISAGREE WITH THE LECTURES.'}")
    print(f"Done in {time.perf_counter() - start:.2f} s; files in {out.resolve()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
