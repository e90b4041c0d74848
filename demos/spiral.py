"""The lectures' spiral (lecture 004): a linear softmax classifier versus a 2-layer ReLU network.

    python -m demos.spiral [--steps 100] [--hidden 16] [--seed 0] [--out out/spiral] [--no-plot] [--resume PATH]

Three classes of 100 points each (X is 300 x 2) on interleaved spiral arms. Both models minimise
the mean softmax cross-entropy plus 1e-3 times the sum of squares of all weights and biases (the
lecture's L2 penalty), with full-batch Adam. No straight-line partition fits the arms, so the
linear model stays near 50%; one hidden ReLU layer gets close to all of it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import nn
from autograd import no_grad
from nn import datasets
from nn.optim import Adam

from . import _common

REG = 1e-3  # L2 coefficient (lecture 004 / CS231n's spiral example)
LR = 0.1


def train(
    model: nn.Module,
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    steps: int,
    progress: _common.Progress | None = None,
    *,
    opt: Adam | None = None,
    start: int = 0,
) -> tuple[list[float], list[float]]:
    """Full-batch Adam on cross-entropy + REG * L2 for steps start+1..steps; returns (loss, accuracy)
    per step. `opt` (default: a fresh Adam) and `start` let a resumed run go on where it stopped."""
    params = model.parameters()
    opt = Adam(params, lr=LR) if opt is None else opt
    losses: list[float] = []
    accs: list[float] = []
    for _ in range(start, steps):
        logits = [model(x) for x in X]
        loss = nn.cross_entropy_batch(logits, list(y)) + REG * nn.l2_penalty(params)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.data)
        accs.append(sum(_common.predict_class(z) == t for z, t in zip(logits, y, strict=True)) / len(y))
        if progress is not None:
            progress.update(loss.data, acc=accs[-1])
    return losses, accs


def classify(model: nn.Module, points: Sequence[Sequence[float]]) -> list[int]:
    with no_grad():
        return [_common.predict_class(model(p)) for p in points]


def class_scores(model: nn.Module, points: Sequence[Sequence[float]]) -> list[list[float]]:
    with no_grad():
        return [[z.data for z in model(p)] for p in points]


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = _common.make_parser(
        "spiral", "Lecture 004's spiral: linear softmax classifier vs a 2-layer ReLU network.", steps=100
    )
    parser.add_argument("--hidden", type=_common.positive_int, default=16, help="hidden units of the ReLU network")
    args = parser.parse_args(argv)
    _common.check_plotting(args)
    out = _common.prepare_out(args.out)
    timer = _common.Timer()

    X, y = datasets.spiral(n_per_class=100, classes=3, noise=0.2, seed=args.seed)
    linear = nn.Layer(2, 3, activation="none", rng=random.Random(args.seed))
    mlp = nn.MLP(2, [args.hidden, 3], activation="relu", init="he", seed=args.seed)
    models: dict[str, nn.Module] = {"linear": linear, "mlp": mlp}
    opts = {key: Adam(m.parameters(), lr=LR) for key, m in models.items()}
    settings = {"seed": args.seed, "hidden": args.hidden}
    run = _common.resume(args, args.steps, settings, model=models, optimizer=opts)
    print(f"linear classifier: {linear!r}")
    print(mlp)
    history: dict[str, list[float]] = {}
    for key, desc in [("linear", "spiral linear"), ("mlp", f"spiral 2-{args.hidden}-3 ReLU")]:
        with _common.Progress(args.steps, desc, args.quiet, start=run.start) as bar:
            losses, _ = train(models[key], X, y, run.stop, bar, opt=opts[key], start=run.start)
        history[f"{key}_loss"] = run.extend(f"{key}_loss", losses)
    linear_losses, mlp_losses = history["linear_loss"], history["mlp_loss"]

    linear_pred = classify(linear, X)
    mlp_pred = classify(mlp, X)
    metrics: dict[str, float] = {
        "linear_accuracy": sum(p == t for p, t in zip(linear_pred, y, strict=True)) / len(y),
        "linear_loss": linear_losses[-1],
        "mlp_accuracy": sum(p == t for p, t in zip(mlp_pred, y, strict=True)) / len(y),
        "mlp_loss": mlp_losses[-1],
    }
    seconds = timer.seconds()
    files = _common.save_results(out, metrics, mlp)
    files.append(_common.save_checkpoint(out, args, settings, run.stop, history, model=models, optimizer=opts))
    if not args.no_plot:
        ext = args.format
        curves = {"linear softmax": linear_losses, f"2-{args.hidden}-3 ReLU": mlp_losses}
        files.append(
            _common.plot_losses(
                curves,
                out / f"loss.{ext}",
                "spiral: training loss",
                ylabel="cross-entropy + 1e-3 L2 (training)",
                dpi=args.dpi,
            )
        )
        for model, name, what in [
            (linear, "boundary_linear", "linear classifier"),
            (mlp, "boundary_mlp", f"2-{args.hidden}-3 ReLU network"),
        ]:
            key = "linear" if model is linear else "mlp"
            files.append(
                _common.plot_decision_boundary(
                    lambda pts, model=model: class_scores(model, pts),
                    X,
                    y,
                    out / f"{name}.{ext}",
                    f"spiral: {what} ({metrics[f'{key}_accuracy']:.0%} training accuracy)",
                    class_names=[f"arm {c}" for c in range(3)],
                    dpi=args.dpi,
                )
            )
    _common.report("spiral", metrics, seconds, out, files)
    return metrics


if __name__ == "__main__":
    main()
