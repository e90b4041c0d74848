"""The lectures' delta recursion, layer by layer, next to the gradients the engine computes.

1. Lecture 001: a small tanh network (2 -> 3 -> 2 -> 1, linear output) with the squared error
   (o - y)^2. The recursion delta(L) = 2(o - y), delta(l) = W(l+1)^T delta(l+1) * (1 - o(l)^2),
   G(l) = delta(l) o(l-1)^T, printed layer by layer and compared with `.grad` after `backward()`.
2. Lecture 003: the two-layer linear network, bias-free as printed (every bias 0), x = [2, 3],
   y = 1, W1 = [[-0.78, 0.13], [0.85, 0.23]], W2 = [1.8, 0.40], y_hat = 2.162, with the slide's
   loss 1/2 (y_hat - y)^2 ("half_mse"), and the slide's gradient table.

Run from the repository root:  python -m demos.delta [--seed 0]
Exits with status 1 if any number of the recursion differs from the engine's.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as `python demos/delta.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nn
from autograd.explain import num

# Lecture 003's network. The slide writes y_hat = x W1 W2 with row vectors, W1[i][j] from input i to
# hidden unit j; here W(1) has one row per neuron (s = W o, lecture 001's convention): W(1) = W1^T.
X = (2.0, 3.0)
Y = 1.0
W1 = ((-0.78, 0.13), (0.85, 0.23))
W2 = (1.8, 0.40)
Y_HAT = 2.162  # the slide's value


def engine_grads(model: nn.MLP, x: Sequence[float], y: Sequence[float], loss: str) -> list[list[list[float]]]:
    """The engine's d loss / d W(l), rows = neurons, from `.grad` after one `backward()`."""
    model.zero_grad()
    value = nn.mse_loss(model(list(x)), list(y))
    if loss == "half_mse":
        value = 0.5 * value
    value.backward()
    return [[[w.grad for w in n.w] for n in layer.neurons] for layer in model.layers]


def engine_bias_grads(model: nn.MLP) -> list[list[float]]:
    """The engine's d loss / d b(l) for each layer (read after `engine_grads`)."""
    return [[n.b.grad for n in layer.neurons] for layer in model.layers]


def compare(model: nn.MLP, x: Sequence[float], y: Sequence[float], loss: str) -> bool:
    """Print the recursion, then each G(l) and bias gradient next to the engine's; True if all equal."""
    result = nn.layer_deltas(model, x, y, loss=loss)
    for line in str(result).splitlines():
        print(f"   {line}")
    grads = engine_grads(model, x, y, loss)
    biases = engine_bias_grads(model)
    print("\n   the recursion next to backward()'s .grad:")
    ok = True
    for ld, g, b in zip(result.layers, grads, biases, strict=True):
        n = ld.layer
        same = [list(row) for row in ld.G] == g and list(ld.bias_grad) == b
        close = all(
            math.isclose(u, v, rel_tol=1e-12, abs_tol=1e-15)
            for mine, theirs in ((ld.G, g), ([ld.bias_grad], [b]))
            for row, erow in zip(mine, theirs, strict=True)
            for u, v in zip(row, erow, strict=True)
        )
        ok &= close
        verdict = "equal bit for bit" if same else ("equal to 1e-12" if close else "MISMATCH")
        print(f"   G({n})       = {_mat(ld.G)}")
        print(f"   W({n}).grad  = {_mat(g)}   {verdict}")
        print(f"   db({n})      = [{', '.join(num(v) for v in ld.bias_grad)}]")
        print(f"   b({n}).grad  = [{', '.join(num(v) for v in b)}]")
    return ok


def _mat(rows: Sequence[Sequence[float]]) -> str:
    return "[" + ", ".join("[" + ", ".join(num(v) for v in row) + "]" for row in rows) + "]"


def lecture_001(seed: int) -> bool:
    print("== 1. Lecture 001: the delta recursion on a 2 -> 3 -> 2 -> 1 tanh network, loss (o - y)^2")
    print("   (loss='mse': nn.mse_loss, the mean over the K outputs of (o - y)^2; K = 1 here, the lecture's loss)")
    model = nn.MLP(2, [3, 2, 1], activation="tanh", seed=seed)
    return compare(model, [0.5, -1.0], [0.2], "mse")


def lecture_003_model() -> nn.MLP:
    """Lecture 003's network: 2 -> 2 -> 1, linear, the slide's weights, biases 0."""
    model = nn.MLP(2, [2, 1], activation="none", seed=0)
    for j, neuron in enumerate(model.layers[0].neurons):
        for i, w in enumerate(neuron.w):
            w.data = W1[i][j]
    for j, w in enumerate(model.layers[1].neurons[0].w):
        w.data = W2[j]
    return model


def slide_table() -> dict[str, list[float]]:
    """Lecture 003's summary table, evaluated: dL/dW2 = (y_hat - y) h, dL/db2 = y_hat - y,
    dL/dW1 = (y_hat - y) W2 x (rows = hidden units), dL/db1 = (y_hat - y) W2, with h = x W1."""
    h = [X[0] * W1[0][j] + X[1] * W1[1][j] for j in range(2)]
    err = h[0] * W2[0] + h[1] * W2[1] - Y
    return {
        "W2": [err * hj for hj in h],
        "b2": [err],
        "W1": [err * W2[j] * X[i] for j in range(2) for i in range(2)],
        "b1": [err * W2[j] for j in range(2)],
    }


def lecture_003() -> bool:
    print("\n== 2. Lecture 003: x = [2, 3], y = 1, W1 = [[-0.78, 0.13], [0.85, 0.23]], W2 = [1.8, 0.40]")
    print("   linear, biases 0, loss 1/2 (y_hat - y)^2 (loss='half_mse'); W(1) = W1^T (one row per neuron)")
    model = lecture_003_model()
    result = nn.layer_deltas(model, X, [Y], loss="half_mse")
    y_hat = result.layers[-1].o[0]
    ok = round(y_hat, 3) == Y_HAT
    print(f"   y_hat = {y_hat:.3f}   slide: {Y_HAT}   {'ok' if ok else 'MISMATCH'}")
    ok &= compare(model, X, [Y], "half_mse")
    table = slide_table()
    mine = {
        "W2": list(result.layers[1].G[0]),
        "b2": list(result.layers[1].bias_grad),
        "W1": [g for row in result.layers[0].G for g in row],
        "b1": list(result.layers[0].bias_grad),
    }
    print("\n   the slide's table: W2: (y_hat - y) x W1, b2: y_hat - y, W1: (y_hat - y) W2 x, b1: (y_hat - y) W2")
    for key, want in table.items():
        row_ok = all(math.isclose(u, v, rel_tol=1e-12) for u, v in zip(mine[key], want, strict=True))
        ok &= row_ok
        got = ", ".join(num(v) for v in mine[key])
        print(f"   dL/d{key}: [{got}]   slide: [{', '.join(num(v) for v in want)}]   {'ok' if row_ok else 'MISMATCH'}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demos.delta",
        description="The lectures' delta recursion, layer by layer, next to the engine's gradients.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for the tanh network's weights")
    args = parser.parse_args(argv)
    ok = lecture_001(args.seed)
    ok &= lecture_003()
    print("\nall agree" if ok else "\nMISMATCH: the recursion and the engine disagree")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
