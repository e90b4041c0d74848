"""Handwritten digits: a 64-32-10 ReLU MLP on scikit-learn's 8x8 digits, mini-batches and Adam.

    python -m demos.digits [--epochs 1] [--batch-size 16] [--seed 0] [--out out/digits] [--no-plot] [--compiled]
                           [--resume PATH]

1797 images of 8x8 pixels (scaled to [0, 1]) are split 80/20, stratified by digit. The model is
trained on mini-batches from `nn.datasets.batches` (a fresh shuffle each epoch) with Adam on the
mean softmax cross-entropy, then scored on the held-out test images. Every sample is a few thousand
scalar Values, so an epoch takes a while in pure Python; one epoch already passes 90% test accuracy.
With `--compiled` each sample's loss and backward pass are compiled once (`autograd.compile`) and
run over each mini-batch by `.batch`: the same training, up to rounding, many times faster.
Besides the loss curve it writes `confusion.csv` (test images counted by true and predicted digit)
and, with plots, `confusion.png` (that matrix) and `test_digits.png` (32 test images with their
predicted and true labels: the wrong ones first, framed, then right ones).
Needs scikit-learn (`pip install 'chainrule[demos]'`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import nn
from autograd import Value, no_grad
from autograd.files import atomic_write_text
from nn import datasets
from nn.optim import Adam

from . import _common

LR = 0.01
GRID = (4, 8)  # rows x columns of test images in test_digits.png
SMOOTH = 10  # the loss plot's running mean: over this many mini-batches


def batches_per_epoch(n: int, batch_size: int) -> int:
    """Mini-batches in one pass over n samples (the last may be short)."""
    return -(-n // batch_size)


def batch_stream(
    X: Sequence[Sequence[float]], y: Sequence[int], batch_size: int, seed: int, start: int, stop: int
) -> Iterator[tuple[list[list[float]], list[int]]]:
    """Mini-batches start+1..stop of the run. Epoch e visits the data in the order that
    `datasets.batches` draws from seed + e, so a run resumed at any step sees the same batches."""
    per_epoch = batches_per_epoch(len(X), batch_size)
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
    stop = epochs * batches_per_epoch(len(X), batch_size) if stop is None else stop
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
    reads, which is graph structure rather than data, so there is one compiled loss per digit,
    and each mini-batch runs `.batch` once per digit over its samples with that label. The
    per-sample gradients add up; dividing by the batch size gives the gradient of the mean, as in
    `train` (the same sums in another order: equal up to rounding).
    """
    import autograd  # compile is only needed here

    def sample_loss(label: int) -> Callable[..., Value]:
        def loss(*pixels: float) -> Value:
            return nn.cross_entropy(model(pixels), label)

        return loss

    replays = [autograd.compile(sample_loss(k), *X[0]) for k in range(10)]
    params = model.parameters()
    opt = Adam(params, lr=LR) if opt is None else opt
    stop = epochs * batches_per_epoch(len(X), batch_size) if stop is None else stop
    losses: list[float] = []
    for Xb, yb in batch_stream(X, y, batch_size, seed, start, stop):
        opt.zero_grad()
        total = 0.0
        for t in sorted(set(yb)):  # one .batch per digit: the samples of the batch with that label
            total += replays[t].batch([x for x, label in zip(Xb, yb, strict=True) if label == t])
        scale = 1.0 / len(Xb)
        for p in params:
            p.grad *= scale
        opt.step()
        losses.append(total * scale)
        if progress is not None:
            progress.update(losses[-1])
    return losses


def evaluate(model: nn.MLP, X: Sequence[Sequence[float]], y: Sequence[int]) -> float:
    return accuracy(predict(model, X), y)


def predict(model: nn.MLP, X: Sequence[Sequence[float]]) -> list[int]:
    """The digit the model picks for each image."""
    with no_grad():
        return [_common.predict_class(model(x)) for x in X]


def accuracy(pred: Sequence[int], y: Sequence[int]) -> float:
    return sum(p == t for p, t in zip(pred, y, strict=True)) / len(y)


def confusion(pred: Sequence[int], y: Sequence[int], classes: int = 10) -> list[list[int]]:
    """counts[t][p]: how many images of digit t the model took for digit p (the diagonal: right)."""
    counts = [[0] * classes for _ in range(classes)]
    for p, t in zip(pred, y, strict=True):
        counts[t][p] += 1
    return counts


def write_confusion(path: Path, counts: Sequence[Sequence[int]]) -> Path:
    """The confusion matrix as CSV: one row per true digit, one column per predicted digit."""
    lines = ["true\\predicted," + ",".join(str(p) for p in range(len(counts)))]
    lines += [f"{t}," + ",".join(str(c) for c in row) for t, row in enumerate(counts)]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def read_confusion(path: Path) -> list[list[int]]:
    """The counts of a `confusion.csv` (rows: true digit, columns: predicted digit)."""
    rows = path.read_text(encoding="utf-8").splitlines()[1:]
    return [[int(c) for c in row.split(",")[1:]] for row in rows]


def running_mean(values: Sequence[float], window: int) -> list[float]:
    """The mean of the last `window` values at each step (fewer at the start)."""
    out: list[float] = []
    total = 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def noise_notes(losses: Sequence[float], batch_size: int) -> list[tuple[int, str]]:
    """A note at the batch whose loss stands highest above the mean of the 10 before it.

    Such a batch is no event in training: it holds a few images the model still gets wrong. With
    the defaults (seed 0) the note points at batch 68, where 4 of 16 images are wrong (two 1s read
    as 8s, the worse costing 3.3, a 4 read as 1, a 9 read as 7); batch 58, nearly as high, holds
    three 8s read as 1s. An epoch boundary makes no step (the loss plot marks them with --epochs).
    """
    if len(losses) <= 2 * SMOOTH:
        return []
    excess, k = max((losses[k] - sum(losses[k - SMOOTH : k]) / SMOOTH, k + 1) for k in range(SMOOTH, len(losses)))
    if excess <= 0.0:
        return []
    text = (
        f"batch {k}: a mini-batch holds only {batch_size} images,\n"
        "so the few the model still gets wrong (often\n"
        "look-alike digits) move its mean loss a lot;\n"
        f"the thick line: the mean of the last {SMOOTH} batches"
    )
    return [(k, text)]


def grid_sample(y: Sequence[int], pred: Sequence[int], size: int) -> list[int]:
    """Which test images the grid shows: wrong ones first (half the grid, more if there are too few
    right ones to fill it), then right ones, each group in test-set order."""
    wrong = [i for i in range(len(y)) if pred[i] != y[i]]
    right = [i for i in range(len(y)) if pred[i] == y[i]]
    right = right[: size - min(len(wrong), size // 2)]
    return wrong[: size - len(right)] + right


def plot_test_digits(X: Sequence[Sequence[float]], y: Sequence[int], pred: Sequence[int], path: Path, dpi: int) -> Path:
    """4 x 8 test images, each titled with the predicted and the true digit: the wrong ones first
    (in a thick vermillion frame, bold title), then right ones."""
    rows, cols = GRID
    shown = grid_sample(y, pred, rows * cols)
    wrong = sum(p != t for p, t in zip(pred, y, strict=True))
    shown_wrong = sum(pred[i] != y[i] for i in shown)
    with _common.slide_style():
        fig = _common._figure(1.15 * cols, 1.45 * rows + 0.6)
        axes = fig.subplots(rows, cols, squeeze=False)
        for cell, ax in enumerate(a for row in axes for a in row):
            ax.set_xticks([])
            ax.set_yticks([])
            if cell >= len(shown):
                ax.set_axis_off()
                continue
            i = shown[cell]
            ax.imshow([X[i][r * 8 : r * 8 + 8] for r in range(8)], cmap="gray_r", vmin=0.0, vmax=1.0)
            ok = pred[i] == y[i]
            colour = "k" if ok else _common.COLORS[3]
            ax.set_title(f"pred {pred[i]}\ntrue {y[i]}", fontsize=11, color=colour, weight="normal" if ok else "bold")
            for spine in ax.spines.values():
                spine.set_color(colour)
                spine.set_linewidth(0.8 if ok else 3.5)
        fig.suptitle(
            f"digits, test set: {wrong} of {len(y)} wrong; {shown_wrong} wrong (framed) first, then right ones"
        )
        return _common._save(fig, path, dpi)


def plot_confusion(counts: Sequence[Sequence[int]], path: Path, test_accuracy: float, dpi: int) -> Path:
    """The confusion matrix: counts of test images by true digit (rows) and predicted digit
    (columns), each cell numbered, with a colour bar."""
    total = sum(map(sum, counts))
    k = len(counts)
    top = max(max(row) for row in counts)
    with _common.slide_style():
        fig = _common._figure(7.0, 6.2)
        ax = fig.add_subplot()
        image = ax.imshow(counts, cmap="Blues", vmin=0, vmax=max(top, 1))
        for t in range(k):
            for p in range(k):
                c = counts[t][p]
                if c:
                    ax.text(p, t, str(c), ha="center", va="center", fontsize=10.5,
                            color="white" if c > 0.6 * top else "black")  # fmt: skip
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
        ax.set_xlabel("predicted digit")
        ax.set_ylabel("true digit")
        ax.set_title(f"digits: confusion matrix, {total} test images\n(accuracy {test_accuracy:.1%}: the diagonal)")
        bar = fig.colorbar(image, ax=ax, shrink=0.85)
        bar.set_label("test images")
        return _common._save(fig, path, dpi)


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
    per_epoch = batches_per_epoch(len(X_train), args.batch_size)
    total = args.epochs * per_epoch
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

    test_pred = predict(model, X_test)
    metrics: dict[str, float] = {
        "test_accuracy": accuracy(test_pred, y_test),
        "train_accuracy": evaluate(model, X_train, y_train),
        "last_batch_loss": losses[-1],
    }
    counts = confusion(test_pred, y_test)
    seconds = timer.seconds()
    files = _common.save_results(out, metrics, model)
    files.append(write_confusion(out / "confusion.csv", counts))
    files.append(_common.save_checkpoint(out, args, settings, run.stop, {"loss": losses}, model=model, optimizer=opt))
    if not args.no_plot:
        ext = args.format
        epochs = [(e * per_epoch + 1, f"epoch {e + 1}") for e in range(1, args.epochs) if e * per_epoch < len(losses)]
        curves = {
            f"one mini-batch ({args.batch_size} images)": losses,
            f"mean of the last {SMOOTH} mini-batches": running_mean(losses, SMOOTH),
        }
        files.append(
            _common.plot_losses(
                curves,
                out / f"loss.{ext}",
                "digits: training loss per mini-batch",
                xlabel="mini-batch",
                ylabel="cross-entropy (training mini-batch)",
                notes=noise_notes(losses, args.batch_size),
                styles={
                    f"one mini-batch ({args.batch_size} images)": {"linewidth": 1.2},
                    f"mean of the last {SMOOTH} mini-batches": {"linewidth": 3.5},
                },
                marks=epochs,
                dpi=args.dpi,
            )
        )
        files.append(plot_test_digits(X_test, y_test, test_pred, out / f"test_digits.{ext}", args.dpi))
        files.append(plot_confusion(counts, out / f"confusion.{ext}", metrics["test_accuracy"], args.dpi))
    _common.report("digits", metrics, seconds, out, files)
    return metrics


if __name__ == "__main__":
    main()
