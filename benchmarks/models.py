"""The models and data of the training workloads: moons (hinge loss + L2) and XOR (squared error).

chainrule uses `nn.MLP`, `nn.hinge_loss`, `nn.l2_penalty` and `nn.datasets.moons` when they exist;
otherwise `ScalarMLP` below builds the equivalent network from engine scalars directly (the same
code serves PyTorch scalars and plain floats). micrograd uses its own `micrograd.nn.MLP`.
Every model computes a neuron the way micrograd does: `b + w0*x0 + w1*x1 + ...`, relu on hidden
layers, a linear output, so all engines run the same ops.
"""

from __future__ import annotations

import functools
import importlib
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .engines import Engine

L2_ALPHA = 1e-4
XOR_X: tuple[tuple[float, float], ...] = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))
XOR_Y: tuple[float, ...] = (0.0, 1.0, 1.0, 0.0)


def moons(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[list[tuple[float, float]], list[float]]:
    """Two interleaved half circles (scikit-learn's `make_moons`), labels -1 and +1."""
    rng = random.Random(seed)
    n_out = n // 2
    n_in = n - n_out
    xs: list[tuple[float, float]] = []
    ys: list[float] = []
    for i in range(n_out):
        t = math.pi * i / max(n_out - 1, 1)
        xs.append((math.cos(t) + rng.gauss(0.0, noise), math.sin(t) + rng.gauss(0.0, noise)))
        ys.append(-1.0)
    for i in range(n_in):
        t = math.pi * i / max(n_in - 1, 1)
        xs.append((1.0 - math.cos(t) + rng.gauss(0.0, noise), 0.5 - math.sin(t) + rng.gauss(0.0, noise)))
        ys.append(1.0)
    return xs, ys


class ScalarMLP:
    """A multilayer perceptron of engine scalars: weights uniform in [-1, 1], biases 0 (as micrograd)."""

    def __init__(self, engine: Engine, nin: int, nouts: Sequence[int], seed: int = 0) -> None:
        rng = random.Random(seed)
        sizes = [nin, *nouts]
        self.relu = engine.relu
        self.layers: list[list[tuple[list[Any], Any]]] = [
            [([engine.leaf(rng.uniform(-1.0, 1.0)) for _ in range(sizes[i])], engine.leaf(0.0)) for _ in range(nout)]
            for i, nout in enumerate(nouts)
        ]

    def __call__(self, x: Sequence[Any]) -> list[Any]:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            out = []
            for w, b in layer:
                act = b
                for wi, xi in zip(w, x, strict=True):
                    act = act + wi * xi
                out.append(self.relu(act) if i < last else act)
            x = out
        return x  # type: ignore[return-value]

    def parameters(self) -> list[Any]:
        return [p for layer in self.layers for w, b in layer for p in (*w, b)]


def hinge_loss(scores: Sequence[Any], labels: Sequence[float], relu: Callable[[Any], Any]) -> Any:
    """Mean of max(0, 1 - y s): micrograd's moons loss."""
    return sum(relu(1 + -y * s) for y, s in zip(labels, scores, strict=True)) * (1.0 / len(scores))


def moons_rows(xs: Sequence[Sequence[float]], ys: Sequence[float]) -> list[tuple[float, float, float]]:
    """The points as `.batch` rows: (x0, x1, label)."""
    return [(float(a), float(b), float(y)) for (a, b), y in zip(xs, ys, strict=True)]


def point_hinge(model: Any) -> Callable[[Any, Any, Any], Any]:
    """One point's hinge loss max(0, 1 - y s) on `model`, as a function of a `moons_rows` row."""

    def loss(x0: Any, x1: Any, y: Any) -> Any:
        return (1 + -y * model([x0, x1])[0]).relu()

    return loss


def l2_penalty(params: Sequence[Any]) -> Any:
    return sum(p * p for p in params)


def squared_error(scores: Sequence[Any], targets: Sequence[float]) -> Any:
    """Mean of (s - y)^2, written as a product so every engine runs the same ops."""
    total = 0
    for s, y in zip(scores, targets, strict=True):
        d = s - y
        total = total + d * d
    return total * (1.0 / len(scores))


@dataclass
class Task:
    """A model, its parameters, and `loss()` that builds the whole full-batch loss graph."""

    engine: Engine
    params: list[Any]
    loss: Callable[[], Any]
    model: Any = None
    notes: list[str] = field(default_factory=list)


@functools.cache
def chainrule_nn() -> tuple[Any, str]:
    """chainrule's `nn` package (with `nn.datasets`) if it imports, else None and the reason."""
    try:
        nn = importlib.import_module("nn")
        importlib.import_module("nn.datasets")
    except Exception as exc:  # noqa: BLE001 -- any broken nn falls back to the Value-built equivalent
        return None, f"{type(exc).__name__}: {exc}"
    return nn, ""


def load_moons(n: int) -> tuple[list[tuple[float, float]], list[float], str]:
    """The moons data: `nn.datasets.moons` when present, else our own copy of the same recipe."""
    nn, why = chainrule_nn()
    datasets = getattr(nn, "datasets", None)
    fn = getattr(datasets, "moons", None)
    if fn is not None:
        try:
            xs, ys = fn(n=n, noise=0.1, seed=0)
            xs = [(float(a), float(b)) for a, b in xs]
            ys = [float(y) for y in ys]
            if set(ys) <= {0.0, 1.0}:
                ys = [2.0 * y - 1.0 for y in ys]  # hinge loss wants labels -1 / +1
            return xs, ys, "data: nn.datasets.moons(n, noise=0.1, seed=0)"
        except (TypeError, ValueError) as exc:
            return (*moons(n), f"data: benchmarks.models.moons (nn.datasets.moons failed: {exc})")
    return (*moons(n), f"data: benchmarks.models.moons (nn.datasets.moons not available{': ' + why if why else ''})")


def chainrule_task(
    engine: Engine, xs: Sequence[Sequence[float]], ys: Sequence[float], nouts: Sequence[int], kind: str
) -> Task:
    """The moons (`kind="moons"`) or XOR (`kind="xor"`) loss on chainrule, through `nn` when possible."""
    nn, why = chainrule_nn()
    notes: list[str] = []
    model: Any = None
    if nn is not None and hasattr(nn, "MLP"):
        try:
            model = nn.MLP(len(xs[0]), list(nouts), activation="relu", output_activation=None, seed=0)
            notes.append("chainrule model: nn.MLP")
        except (TypeError, ValueError) as exc:
            notes.append(f"chainrule model: ScalarMLP from autograd.Value (nn.MLP failed: {exc})")
    else:
        notes.append(
            f"chainrule model: ScalarMLP from autograd.Value (nn.MLP not available{': ' + why if why else ''})"
        )
    if model is None:
        model = ScalarMLP(engine, len(xs[0]), nouts, seed=0)
    params = list(model.parameters())
    hinge = getattr(nn, "hinge_loss", None)
    l2 = getattr(nn, "l2_penalty", None)
    mse = getattr(nn, "mse_loss", None)
    if kind == "moons":
        notes.append("chainrule loss: " + ("nn.hinge_loss" if hinge else "hinge loss from Values"))
        notes.append("chainrule L2: " + ("nn.l2_penalty" if l2 else "L2 penalty from Values"))
    else:
        notes.append("chainrule loss: " + ("nn.mse_loss" if mse else "squared error from Values"))

    def forward() -> list[Any]:
        inputs = [[engine.const(v) for v in x] for x in xs]
        return [model(x)[0] for x in inputs]

    def loss() -> Any:
        scores = forward()
        if kind == "xor":
            return mse(scores, list(ys)) if mse else squared_error(scores, ys)
        data_loss = hinge(scores, list(ys)) if hinge else hinge_loss(scores, ys, engine.relu)
        return data_loss + L2_ALPHA * (l2(params) if l2 else l2_penalty(params))

    return Task(engine, params, loss, model, notes)


def scalar_task(
    engine: Engine, xs: Sequence[Sequence[float]], ys: Sequence[float], nouts: Sequence[int], kind: str
) -> Task:
    """The same loss on any adapter engine (PyTorch scalars, plain floats) via `ScalarMLP`."""
    model = ScalarMLP(engine, len(xs[0]), nouts, seed=0)
    params = model.parameters()

    def loss() -> Any:
        inputs = [[engine.const(v) for v in x] for x in xs]
        scores = [model(x)[0] for x in inputs]
        if kind == "xor":
            return squared_error(scores, ys)
        return hinge_loss(scores, ys, engine.relu) + L2_ALPHA * l2_penalty(params)

    return Task(engine, params, loss, model)


def micrograd_task(
    engine: Engine, xs: Sequence[Sequence[float]], ys: Sequence[float], nouts: Sequence[int], kind: str
) -> Task:
    """The loss on micrograd's own `MLP`, exactly as micrograd's moons demo writes it."""
    random.seed(0)  # micrograd.nn initialises from the global random module
    model = engine.nn.MLP(len(xs[0]), list(nouts))  # type: ignore[attr-defined]
    params = model.parameters()
    V = engine.Value  # type: ignore[attr-defined]

    def loss() -> Any:
        inputs = [list(map(V, x)) for x in xs]
        scores = list(map(model, inputs))  # micrograd's MLP returns a bare Value for one output
        if kind == "xor":
            return squared_error(scores, ys)
        return hinge_loss(scores, ys, engine.relu) + L2_ALPHA * l2_penalty(params)

    return Task(engine, params, loss, model)


def make_task(
    engine: Engine, xs: Sequence[Sequence[float]], ys: Sequence[float], nouts: Sequence[int], kind: str
) -> Task:
    if engine.key == "eager":
        return chainrule_task(engine, xs, ys, nouts, kind)
    if engine.key == "micrograd":
        return micrograd_task(engine, xs, ys, nouts, kind)
    return scalar_task(engine, xs, ys, nouts, kind)
