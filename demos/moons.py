"""Two moons: micrograd's demo, step for step.

    python -m demos.moons [--steps 100] [--seed 0] [--out out/moons] [--no-plot] [--compiled] [--resume PATH]

An MLP(2, [16, 16, 1]) with ReLU hidden layers and a linear output scores 100 noisy points
(noise 0.1); the loss is the mean hinge loss on labels in {-1, +1} plus 1e-4 times the sum of
squared parameters; full-batch SGD with a learning rate falling linearly from 1.0 to 0.1
(lr = 1.0 - 0.9 k / steps at step k, micrograd's 1.0 - 0.9 k / 100). It reaches 100% training
accuracy. With `--compiled` one point's loss and its backward pass are compiled once
(`autograd.compile`) and run over the 100 points by `.batch` (vectorised with numpy when installed):
the same updates, up to rounding, many times faster.
"""

from __future__ import annotations

from collections.abc import Sequence

import nn
from autograd import Value, no_grad
from nn import datasets
from nn.optim import SGD, LinearLR, Optimizer

from . import _common

ALPHA = 1e-4  # L2 coefficient, as in micrograd's notebook
CLASSES = ("upper moon, label -1", "lower moon, label +1")  # the boundary plot's legend


def accuracy(scores: Sequence[Value], signs: Sequence[int]) -> float:
    """Share of points whose score has the sign of their label (-1 or +1)."""
    return sum((s.data > 0.0) == (t > 0) for s, t in zip(scores, signs, strict=True)) / len(signs)


def optimizer(model: nn.MLP, steps: int) -> tuple[SGD, LinearLR]:
    """micrograd's SGD: lr 1.0 falling linearly to 0.1 over the `steps` of the whole run."""
    opt = SGD(model.parameters(), lr=1.0)
    return opt, LinearLR(opt, total_steps=steps, end_factor=0.1)


def train(
    model: nn.MLP,
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    steps: int,
    progress: _common.Progress | None = None,
    until: float | None = None,
    *,
    opt: tuple[Optimizer, LinearLR] | None = None,
    start: int = 0,
    stop: int | None = None,
) -> tuple[list[float], list[float]]:
    """micrograd's loop; returns (loss, accuracy) per step. Stops early once accuracy >= `until`.

    Each step's accuracy is measured on the forward pass its update is computed from. A resumed run
    passes its restored (optimizer, schedule) as `opt` and runs steps start+1..stop of `steps`.
    """
    signs = [2 * t - 1 for t in y]  # labels 0/1 -> -1/+1 for the hinge loss
    params = model.parameters()
    sgd, schedule = optimizer(model, steps) if opt is None else opt
    losses: list[float] = []
    accs: list[float] = []
    for _ in range(start, steps if stop is None else stop):
        scores = [model(x)[0] for x in X]
        loss = nn.hinge_loss(scores, signs) + ALPHA * nn.l2_penalty(params)
        sgd.zero_grad()
        loss.backward()
        sgd.step()
        schedule.step()
        losses.append(loss.data)
        accs.append(accuracy(scores, signs))
        if progress is not None:
            progress.update(loss.data, acc=accs[-1])
        if until is not None and accs[-1] >= until:
            break
    return losses, accs


def train_compiled(
    model: nn.MLP,
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    steps: int,
    progress: _common.Progress | None = None,
    *,
    opt: tuple[Optimizer, LinearLR] | None = None,
    start: int = 0,
    stop: int | None = None,
) -> list[float]:
    """The same updates as `train`, compiled by `autograd.compile`: one point's hinge loss, run over
    all the points each step by `.batch` (one vectorised replay when numpy is installed), and the L2
    term on its own. The mean's 1/N scales the batch's gradients, as `nn.hinge_loss` scales its sum.
    Returns the loss per step (a replay yields only the loss, so no per-step accuracy)."""
    import autograd  # compile is only needed here

    rows = [(float(x0), float(x1), float(2 * t - 1)) for (x0, x1), t in zip(X, y, strict=True)]
    params = model.parameters()

    def point_loss(x0: Value, x1: Value, sign: Value) -> Value:
        return (model([x0, x1])[0] * -sign + 1.0).relu()  # nn.hinge_loss's term for one point

    hinge = autograd.compile(point_loss, *rows[0])  # .batch adds the sum's d/dp into every p.grad
    penalty = autograd.compile(lambda: ALPHA * nn.l2_penalty(params))
    scale = 1.0 / len(rows)
    sgd, schedule = optimizer(model, steps) if opt is None else opt
    losses: list[float] = []
    for _ in range(start, steps if stop is None else stop):
        sgd.zero_grad()
        total = hinge.batch(rows)
        for p in params:
            p.grad *= scale
        loss = total * scale + penalty()
        sgd.step()
        schedule.step()
        losses.append(loss)
        if progress is not None:
            progress.update(loss)
    return losses


def spike_notes(losses: Sequence[float], steps: int) -> list[tuple[int, str]]:
    """A note for the loss plot at the step where the loss jumps most, if it jumps by half or more.

    The jump comes from the learning rate, not the data: with seed 0 every point scores > 0 at
    step 1 (the 50 points of the upper moon, label -1, are on the wrong side); the update at lr 1.0 pushes
    every score down, so at step 2 only 24 of 100 score > 0; the update back at lr 0.99 overshoots
    again: 85 score > 0 at step 3, the upper moon's points up to +10.5, and the loss
    peaks at 2.3 before the steps settle. The smaller bumps later (steps 13, 23) are the same swing.
    """
    if len(losses) < 2:
        return []
    rise, step = max((losses[k] - losses[k - 1], k + 1) for k in range(1, len(losses)))
    if rise < 0.5 * losses[step - 2]:
        return []
    lr = 1.0 - 0.9 * (step - 2) / steps  # the rate of the update made at step - 1
    text = (
        f"step {step}: the update before it (lr {lr:.2f}; the\n"
        "schedule starts at 1.0) overshot: a full-batch step\n"
        "this large swings many points' scores past the\n"
        "boundary and back; once they balance, the\n"
        "gradient shrinks and the loss settles"
    )
    return [(step, text)]


def evaluate(model: nn.MLP, X: Sequence[Sequence[float]], y: Sequence[int]) -> float:
    with no_grad():
        return accuracy([model(x)[0] for x in X], [2 * t - 1 for t in y])


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = _common.make_parser(
        "moons", "micrograd's demo: a 2-16-16-1 ReLU MLP with hinge loss on two moons.", steps=100
    )
    parser.add_argument(
        "--compiled", action="store_true", help="train through autograd.compile (same updates, much faster)"
    )
    args = parser.parse_args(argv)
    _common.check_plotting(args)
    out = _common.prepare_out(args.out)
    timer = _common.Timer()

    X, y = datasets.moons(n=100, noise=0.1, seed=args.seed)
    model = nn.MLP(2, [16, 16, 1], activation="relu", seed=args.seed)
    sgd, schedule = optimizer(model, args.steps)
    settings = {"seed": args.seed}
    run = _common.resume(args, args.steps, settings, model=model, optimizer=sgd, schedule=schedule)
    print(model)
    bar = _common.Progress(args.steps, "moons compiled" if args.compiled else "moons", args.quiet, start=run.start)
    with bar:
        fit = (sgd, schedule)
        if args.compiled:  # a replay gives no accuracy, so the accuracy history ends here
            losses = train_compiled(model, X, y, args.steps, bar, opt=fit, start=run.start, stop=run.stop)
            history = {"loss": run.extend("loss", losses)}
        else:
            losses, accs = train(model, X, y, args.steps, bar, opt=fit, start=run.start, stop=run.stop)
            history = {"loss": run.extend("loss", losses)}
            if len(run.history.get("accuracy", [])) == run.start:  # every step so far has one
                history["accuracy"] = run.extend("accuracy", accs)

    losses = history["loss"]
    metrics: dict[str, float] = {"train_accuracy": evaluate(model, X, y), "loss": losses[-1]}
    if len(history.get("accuracy", [])) == len(losses):  # -1: never reached
        metrics["steps_to_100pct"] = next((i + 1 for i, a in enumerate(history["accuracy"]) if a == 1.0), -1)
    seconds = timer.seconds()
    files = _common.save_results(out, metrics, model)
    checkpoint = _common.save_checkpoint(
        out, args, settings, run.stop, history, model=model, optimizer=sgd, schedule=schedule
    )
    files.append(checkpoint)
    if not args.no_plot:
        ext = args.format

        def scores(points: list[list[float]]) -> list[list[float]]:
            with no_grad():
                return [[model(p)[0].data] for p in points]

        files.append(
            _common.plot_losses(
                {"MLP 2-16-16-1 (ReLU)": losses},
                out / f"loss.{ext}",
                "moons: training loss",
                ylabel="hinge loss + 1e-4 L2 (training)",
                notes=spike_notes(losses, args.steps),
                dpi=args.dpi,
            )
        )
        files.append(
            _common.plot_decision_boundary(
                scores, X, y, out / f"boundary.{ext}", "moons: MLP 2-16-16-1 (ReLU)", class_names=CLASSES, dpi=args.dpi
            )
        )
    _common.report("moons", metrics, seconds, out, files)
    return metrics


if __name__ == "__main__":
    main()
