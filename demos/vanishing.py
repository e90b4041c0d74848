"""Vanishing gradients: how big each layer's gradient is in deep sigmoid, tanh and ReLU networks.

Lecture 001's recursion says why: delta(l) = W(l+1)^T delta(l+1) * theta'(s(l)), so each layer down
multiplies by another theta'. sigmoid' <= 1/4, so with weights of moderate size the gradient shrinks
by a roughly constant factor per layer; tanh' <= 1 (equal to 1 at 0) and relu' in {0, 1} shrink it
far less. This demo measures it: for each activation, an MLP of `--depth` layers (`--width` units
each, Xavier init, one linear output) fits y = sin(2 x1) cos(x2) on `--batch` points by plain SGD
on the mean squared error. For every layer l it prints and plots |G(l)|, the Frobenius norm of
d loss / d W(l) over the batch, computed with `nn.layer_deltas` (the delta recursion, averaged over
the samples), at initialisation and after `--steps` steps.

    python -m demos.vanishing [--depth 10] [--width 8] [--steps 50] [--batch 32] [--dpi 150] [--no-plot]

Writes `gradients.png` (or .svg: one line per activation, log scale) and `metrics.json` to
`out/vanishing` (or `--out DIR`). Without matplotlib it runs with `--no-plot`.
"""

from __future__ import annotations

import math
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as `python demos/vanishing.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nn
from demos import _common
from nn import optim

ACTIVATIONS = ("sigmoid", "tanh", "relu")
LR = 0.1
# colour-blind-safe (Okabe & Ito), and a marker each so the lines differ without colour too
_STYLE = {"sigmoid": ("#D55E00", "o"), "tanh": ("#0072B2", "s"), "relu": ("#009E73", "^")}


def data(n: int, seed: int) -> tuple[list[list[float]], list[float]]:
    """n points of [-1, 1]^2 and their targets sin(2 x1) cos(x2)."""
    rng = random.Random(seed)
    X = [[rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)] for _ in range(n)]
    return X, [math.sin(2.0 * a) * math.cos(b) for a, b in X]


def gradient_norms(model: nn.MLP, X: Sequence[Sequence[float]], Y: Sequence[float]) -> list[float]:
    """|G(l)| for l = 1..L: the Frobenius norm of d loss / d W(l) for loss = nn.mse_loss over the batch.

    The batch loss is (1/N) sum_i (o_i - y_i)^2, so its G(l) is the mean of the samples' G(l), each
    from the delta recursion (`nn.layer_deltas`, loss "mse" on one output).
    """
    total: list[list[list[float]]] | None = None
    for x, y in zip(X, Y, strict=True):
        result = nn.layer_deltas(model, x, [y])
        if total is None:
            total = [[list(row) for row in ld.G] for ld in result.layers]
            continue
        for acc, ld in zip(total, result.layers, strict=True):
            for arow, grow in zip(acc, ld.G, strict=True):
                for a, g in enumerate(grow):
                    arow[a] += g
    assert total is not None  # X is not empty
    n = len(X)
    return [math.sqrt(sum((g / n) ** 2 for row in G for g in row)) for G in total]


def train(model: nn.MLP, X: Sequence[Sequence[float]], Y: Sequence[float], steps: int) -> float:
    """Plain full-batch SGD on the mean squared error (lecture 001's update); returns the last loss."""
    opt = optim.SGD(model.parameters(), lr=LR)
    loss = math.nan
    for _ in range(steps):
        value = nn.mse_loss([model(x)[0] for x in X], list(Y))
        opt.zero_grad()
        value.backward()
        opt.step()
        loss = value.data
    return loss


def run(activation: str, args: Any, X: list[list[float]], Y: list[float]) -> dict[str, Any]:
    model = nn.MLP(2, [args.width] * (args.depth - 1) + [1], activation=activation, init="xavier", seed=args.seed)
    before = gradient_norms(model, X, Y)
    loss = train(model, X, Y, args.steps)
    after = gradient_norms(model, X, Y)
    return {"init": before, "trained": after, "final_loss": loss}


def print_table(results: dict[str, dict[str, Any]], steps: int, baseline: float) -> None:
    print(f"|G(l)| = |d loss / d W(l)| (Frobenius norm), at initialisation and after {steps} SGD steps")
    head = "".join(f"{a + ' init':>15}{a + ' trained':>17}" for a in results)
    print(f"{'layer':>5}{head}")
    depth = len(next(iter(results.values()))["init"])
    for i in range(depth):
        cells = "".join(f"{r['init'][i]:>15.3e}{r['trained'][i]:>17.3e}" for r in results.values())
        print(f"{i + 1:>5}{cells}")
    for name, r in results.items():
        first, last = r["init"][0], r["init"][-1]
        ratio = f"{first / last:.2e}" if last > 0.0 else "n/a"
        print(f"{name}: layer 1 / layer {depth} at init = {ratio}; final training loss {r['final_loss']:.4f}")
    print(f"(a network that predicts the mean target has loss {baseline:.4f})")


def plot(results: dict[str, dict[str, Any]], steps: int, path: Path, dpi: int, batch: int) -> Path:
    """One line per activation (solid: at initialisation, dashed: after training), log scale."""
    with _common.slide_style():
        fig = _common._figure(10.0, 5.0)
        ax = fig.add_subplot()
        for name, r in results.items():
            layers = range(1, len(r["init"]) + 1)
            colour, marker = _STYLE.get(name, (None, "o"))
            for key, style, label in (("init", "-", "at init"), ("trained", "--", f"after {steps} steps")):
                ys = [v if v > 0.0 else math.nan for v in r[key]]  # a log axis cannot show 0 (a dead layer)
                ax.plot(layers, ys, style, marker=marker, markersize=6, color=colour, label=f"{name}, {label}")
        ax.set_yscale("log")
        ax.set_xlabel("layer l (1 = next to the input)")
        ax.set_ylabel("|G(l)| = |d loss / d W(l)|")
        ax.set_title(f"Gradient size per layer; loss: mean squared error on {batch} training points")
        ax.set_xticks(list(range(1, len(next(iter(results.values()))["init"]) + 1)))
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
        return _common._save(fig, path, dpi)


def main(argv: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    parser = _common.make_parser("vanishing", "Gradient size per layer in deep sigmoid, tanh and ReLU MLPs.", steps=50)
    parser.add_argument("--depth", type=_common.positive_int, default=10, help="layers, the linear output included")
    parser.add_argument("--width", type=_common.positive_int, default=8, help="units per hidden layer")
    parser.add_argument("--batch", type=_common.positive_int, default=32, help="training points")
    args = parser.parse_args(argv)
    _common.check_plotting(args)
    out = _common.prepare_out(args.out)
    timer = _common.Timer()
    X, Y = data(args.batch, args.seed)
    results = {name: run(name, args, X, Y) for name in ACTIVATIONS}
    mean = sum(Y) / len(Y)
    print_table(results, args.steps, sum((y - mean) ** 2 for y in Y) / len(Y))
    files = [_common.write_metrics(out, results)]
    if not args.no_plot:
        files.append(plot(results, args.steps, out / f"gradients.{args.format}", args.dpi, args.batch))
    print(f"done in {timer.seconds():.2f} s (wall time)")
    print(f"output folder: {out}")
    for f in files:
        print(f"  {f.name}")
    return results


if __name__ == "__main__":
    main()
