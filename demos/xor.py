"""XOR: a 2-4-1 tanh MLP learns it; a single neuron cannot (lecture 003).

    python -m demos.xor [--steps 100] [--seed 0] [--out out/xor] [--no-plot] [--resume PATH]

Both models train with Adam on the binary cross-entropy of their logits over the 4 points. A single
neuron draws one straight line, and no line puts (0, 1), (1, 0) on one side and (0, 0), (1, 1) on
the other, so its accuracy can never beat 3 of 4; the hidden layer bends the boundary.
The loss and accuracy shown for a step are those of the model after that step's update, so the
last progress line and the summary print the same numbers.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import nn
from autograd import Value, no_grad
from nn import datasets
from nn.optim import Adam

from . import _common

LR = 0.1
CLASSES = ("x1 xor x2 = 0", "x1 xor x2 = 1")  # the plots' legend


def logit_accuracy(logits: Sequence[Value], y: Sequence[int]) -> float:
    """Share of points whose logit has the sign of their 0/1 label (logit > 0 means class 1)."""
    return sum((z.data > 0.0) == (t == 1) for z, t in zip(logits, y, strict=True)) / len(y)


def train(
    forward: Callable[[Sequence[float]], Value],
    params: list[Value],
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    steps: int,
    progress: _common.Progress | None = None,
    *,
    opt: Adam | None = None,
    start: int = 0,
) -> tuple[list[float], list[float]]:
    """Full-batch Adam on the mean BCE-with-logits for steps start+1..steps; returns (loss, accuracy) per step.

    Both are measured after the step's update, on a forward pass of the updated model: the numbers
    of the last step are the trained model's. `opt` (default: a fresh Adam) and `start` let a resumed
    run continue with the optimizer state it had.
    """
    opt = Adam(params, lr=LR) if opt is None else opt
    losses: list[float] = []
    accs: list[float] = []
    for _ in range(start, steps):
        loss = nn.binary_cross_entropy_with_logits([forward(x) for x in X], list(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        with no_grad():
            logits = [forward(x) for x in X]
            losses.append(nn.binary_cross_entropy_with_logits(logits, list(y)).data)
        accs.append(logit_accuracy(logits, y))
        if progress is not None:
            progress.update(losses[-1], acc=accs[-1])
    return losses, accs


def scorer(forward: Callable[[Sequence[float]], Value]) -> Callable[[list[list[float]]], list[list[float]]]:
    """Each point's logit (class 1 where > 0), for the decision-boundary plot."""

    def scores(points: list[list[float]]) -> list[list[float]]:
        with no_grad():
            return [[forward(p).data] for p in points]

    return scores


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = _common.make_parser(
        "xor", "Train a 2-4-1 tanh MLP on XOR, and a single neuron that cannot learn it.", steps=100
    )
    args = parser.parse_args(argv)
    _common.check_plotting(args)
    out = _common.prepare_out(args.out)
    timer = _common.Timer()

    X, y = datasets.xor()
    mlp = nn.MLP(2, [4, 1], activation="tanh", seed=args.seed)
    neuron = nn.Neuron(2, activation="none", rng=random.Random(args.seed))
    models = {"mlp": mlp, "neuron": neuron}
    opts = {"mlp": Adam(mlp.parameters(), lr=LR), "neuron": Adam(neuron.parameters(), lr=LR)}
    settings = {"seed": args.seed}
    run = _common.resume(args, args.steps, settings, model=models, optimizer=opts)

    def mlp_logit(x: Sequence[float]) -> Value:
        return mlp(x)[0]

    print(mlp)
    curves: dict[str, list[float]] = {}
    stages: list[tuple[str, Callable[[Sequence[float]], Value], str]] = [
        ("mlp", mlp_logit, "xor MLP 2-4-1"),
        ("neuron", neuron, "xor single neuron"),
    ]
    for key, forward, desc in stages:
        with _common.Progress(args.steps, desc, args.quiet, start=run.start) as bar:
            losses, accs = train(forward, models[key].parameters(), X, y, run.stop, bar, opt=opts[key], start=run.start)
        curves[f"{key}_loss"] = run.extend(f"{key}_loss", losses)
        curves[f"{key}_accuracy"] = run.extend(f"{key}_accuracy", accs)
    mlp_losses, mlp_accs = curves["mlp_loss"], curves["mlp_accuracy"]
    neuron_losses, neuron_accs = curves["neuron_loss"], curves["neuron_accuracy"]

    reached = next((i + 1 for i, a in enumerate(mlp_accs) if a == 1.0), None)
    metrics: dict[str, float] = {  # the last step's numbers are the trained models' (see `train`)
        "mlp_accuracy": mlp_accs[-1],
        "mlp_loss": mlp_losses[-1],
        "mlp_steps_to_100pct": reached if reached is not None else -1,
        "neuron_accuracy": neuron_accs[-1],
        "neuron_best_accuracy": max(neuron_accs),
        "neuron_loss": neuron_losses[-1],
    }
    seconds = timer.seconds()
    files = _common.save_results(out, metrics, mlp)
    files.append(_common.save_checkpoint(out, args, settings, run.stop, curves, model=models, optimizer=opts))
    if not args.no_plot:
        ext = args.format
        curves = {"MLP 2-4-1 (tanh)": mlp_losses, "single neuron": neuron_losses}
        loss_name = "binary cross-entropy (training, 4 points)"
        files.append(
            _common.plot_losses(curves, out / f"loss.{ext}", "XOR: training loss", ylabel=loss_name, dpi=args.dpi)
        )
        for forward, name, title in [
            (mlp_logit, "boundary", "XOR: MLP 2-4-1 decision regions"),
            (neuron, "boundary_neuron", "XOR: a single neuron (one straight line)"),
        ]:
            files.append(
                _common.plot_decision_boundary(
                    scorer(forward), X, y, out / f"{name}.{ext}", title, class_names=CLASSES, dpi=args.dpi
                )
            )
    _common.report("xor", metrics, seconds, out, files)
    return metrics


if __name__ == "__main__":
    main()
