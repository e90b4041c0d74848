"""Handwritten digits: a 64-32-10 ReLU MLP on scikit-learn's 8x8 digits, mini-batches and Adam.

    python -m demos.digits [--epochs 1] [--batch-size 16] [--seed 0] [--out out/digits] [--no-plot] [--compiled]
                           [--resume PATH]

1797 images of 8x8 pixels (scaled to [0, 1]) are split 80/20, stratified by digit. The model is
trained on mini-batches from `nn.datasets.batches` (a fresh shuffle each epoch) with Adam on the
mean softmax cross-entropy, then scored on the held-out test images. Every sample is a few thousand
scalar Values, so an epoch takes a while in pure Python; one epoch already passes 90% test accuracy.
With `--compiled` each sample's loss and backward pass are compiled once (`autograd.compile`) and
replayed on plain floats: the same training, many times faster.
Needs scikit-learn (`pip install 'chainrule[demos]'`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence

import nn
from autograd import Value, no_grad
from nn import datasets
from nn.optim import Adam

from . import _common

LR = 0.01


def batch_stream(
    X: Sequence[Sequence[float]], y: Sequence[int], batch_size: int, seed: int, start: int, stop: int
) -> Iterator[tuple[list[list[float]], list[int]]]:
    """Mini-batches start+1..stop of the run. Epoch e visits the data in the order that
    `datasets.batches` draws from seed + e, so a run resumed at any step sees the same batches."""
    per_epoch = -(-len(X) // batch_size)
    step = start
    while step < stop:
        epoch, skip = divmod(step, per_epoch)
        order = datasets.batches(X, y, batch_size, shuffle=True, seed=seed + epoch)
        for batch in itertools.islice(order, skip, skip + stop - step):
            yield batch
            step += 1


def train(
    model: nn.MLP,
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    epochs: int,
    batch_size: int,
    seed: int,
    progress: _common.Progress | None = None,
    *,
    opt: Adam | None = None,
    start: int = 0,
    stop: int | None = None,
) -> list[float]:
    """Mini-batch Adam on the mean cross-entropy; returns the loss per batch.

    Runs batches start+1..stop (default: all `epochs`); `opt` (default: a fresh Adam) and `start`
    let a resumed run go on where it stopped.
    """
    opt = Adam(model.parameters(), lr=LR) if opt is None else opt
    stop = epochs * -(-len(X) // batch_size) if stop is None else stop
    losses: list[float] = []
    for Xb, yb in batch_stream(X, y, batch_size, seed, start, stop):
        loss = nn.cross_entropy_batch([model(x) for x in Xb], yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.data)
        if progress is not None:
            progress.update(loss.data)
    return losses


def train_compiled(
    model: nn.MLP,
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    epochs: int,
    batch_size: int,
    seed: int,
    progress: _common.Progress | None = None,
    *,
    opt: Adam | None = None,
    start: int = 0,
    stop: int | None = None,
) -> list[float]:
    """The same training with each sample's loss and backward pass compiled by `autograd.compile`.

    A compiled replay takes the 64 pixels as arguments; the label picks which logit the loss
    reads, which is graph structure rather than data, so there is one compiled loss per digit.
    A batch's replays add up per-sample gradients; dividing by the batch size gives the gradient
    of the mean, as in `train`.
    """
    import autograd  # compile is only needed here

    def sample_loss(label: int) -> Callable[..., Value]:
        def loss(*pixels: float) -> Value:
            return nn.cross_entropy(model(pixels), label)

        return loss

    replays = [autograd.compile(sample_loss(k), *X[0]) for k in range(10)]
    params = model.parameters()
    opt = Adam(params, lr=LR) if opt is None else opt
    stop = epochs * -(-len(X) // batch_size) if stop is None else stop
    losses: list[float] = []
    for Xb, yb in batch_stream(X, y, batch_size, seed, start, stop):
        opt.zero_grad()
        total = 0.0
        for x, t in zip(Xb, yb, strict=True):
            total += replays[t](*x)
        scale = 1.0 / len(Xb)
        for p in params:
            p.grad *= scale
        opt.step()
        losses.append(total * scale)
        if progress is not None:
            progress.update(losses[-1])
    return losses


def evaluate(model: nn.MLP, X: Sequence[Sequence[float]], y: Sequence[int]) -> float:
    with no_grad():
        return sum(_common.predict_class(model(x)) == t for x, t in zip(X, y, strict=True)) / len(y)


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = _common.make_parser(
        "digits", "A 64-32-10 ReLU MLP on scikit-learn's 8x8 digits with mini-batches and Adam.", epochs=1
    )
    parser.add_argument("--batch-size", type=_common.positive_int, default=16, metavar="B", help="mini-batch size")
    parser.add_argument(
        "--limit",
        type=_common.positive_int,
        default=None,
        metavar="N",
        help="train and test on at most N images each (a quick try; the default uses all)",
    )
    parser.add_argument(
        "--compiled", action="store_true", help="train through autograd.compile (same model, much faster)"
    )
    args = parser.parse_args(argv)
    _common.check_plotting(args)
    try:
        X_train, y_train, X_test, y_test = datasets.digits(test_fraction=0.2, seed=args.seed)
    except ImportError as exc:
        parser.exit(2, f"error: {exc}\n")
    out = _common.prepare_out(args.out)
    timer = _common.Timer()
    if args.limit is not None:
        X_train, y_train = X_train[: args.limit], y_train[: args.limit]
        X_test, y_test = X_test[: args.limit], y_test[: args.limit]

    model = nn.MLP(64, [32, 10], activation="relu", init="he", seed=args.seed)
    print(model)
    print(f"{len(X_train)} training images, {len(X_test)} test images, batch size {args.batch_size}")
    total = args.epochs * -(-len(X_train) // args.batch_size)
    opt = Adam(model.parameters(), lr=LR)
    settings = {"seed": args.seed, "batch_size": args.batch_size, "limit": args.limit}
    run = _common.resume(args, total, settings, model=model, optimizer=opt)
    fit = train_compiled if args.compiled else train
    desc = "digits compiled" if args.compiled else "digits"
    with _common.Progress(total, desc, args.quiet, start=run.start) as bar:
        new = fit(
            model,
            X_train,
            y_train,
            args.epochs,
            args.batch_size,
            args.seed,
            bar,
            opt=opt,
            start=run.start,
            stop=run.stop,
        )
        losses = run.extend("loss", new)

    metrics: dict[str, float] = {
        "test_accuracy": evaluate(model, X_test, y_test),
        "train_accuracy": evaluate(model, X_train, y_train),
        "last_batch_loss": losses[-1],
    }
    seconds = timer.seconds()
    files = _common.save_results(out, metrics, model)
    files.append(_common.save_checkpoint(out, args, settings, run.stop, {"loss": losses}, model=model, optimizer=opt))
    if not args.no_plot:
        ext = args.format
        files.append(
            _common.plot_losses(
                {"cross-entropy": losses}, out / f"loss.{ext}", "digits: loss per mini-batch", xlabel="mini-batch"
            )
        )
    _common.report("digits", metrics, seconds, out, files)
    return metrics


if __name__ == "__main__":
    main()
