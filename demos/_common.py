"""What every training demo shares: its command line, a progress display, the output folder,
checkpoints to stop and resume a run, plots.

tqdm and matplotlib are optional (`pip install 'chainrule[demos]'`): without tqdm the demos print a
plain progress line now and then; without matplotlib they run with `--no-plot`. matplotlib is only
imported when a plot is drawn, and only through its Agg canvas, so no window ever opens.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

import nn
from autograd.files import atomic_write, atomic_write_text

INSTALL_HINT = "pip install 'chainrule[demos]'"


# ---- command line ---------------------------------------------------------------------------------
def make_parser(
    name: str, description: str, *, steps: int | None = None, epochs: int | None = None, seed: int = 0
) -> argparse.ArgumentParser:
    """The options every demo has: --steps N (or --epochs N), --seed, --out, --no-plot, --format, --quiet,
    --resume PATH, --stop-after K."""
    if (steps is None) == (epochs is None):
        raise ValueError("make_parser: give exactly one of steps or epochs")
    parser = argparse.ArgumentParser(
        prog=f"python -m demos.{name}",
        description=description,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    if steps is not None:
        parser.add_argument("--steps", type=positive_int, default=steps, metavar="N", help="training steps")
    else:
        parser.add_argument("--epochs", type=positive_int, default=epochs, metavar="N", help="passes over the data")
    parser.add_argument("--seed", type=int, default=seed, help="seed for the data and the initial weights")
    parser.add_argument("--out", type=Path, default=Path("out") / name, metavar="DIR", help="output folder")
    parser.add_argument("--no-plot", action="store_true", help="skip the plots (matplotlib is then not needed)")
    parser.add_argument("--format", choices=("png", "svg"), default="png", help="image format of the plots")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    parser.add_argument(
        "--resume",
        type=Path,
        default=None,
        metavar="PATH",
        help="continue the run saved in this checkpoint (e.g. out/NAME/checkpoint.json) with the same options",
    )
    parser.add_argument(
        "--stop-after",
        type=positive_int,
        default=None,
        metavar="K",
        help="stop after step K of the run (schedules still plan for all of it) and save the checkpoint",
    )
    parser.set_defaults(demo=name)  # the name a checkpoint records
    return parser


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def check_plotting(args: argparse.Namespace) -> None:
    """Fail before training, not after it, when plots are wanted but matplotlib is missing."""
    if args.no_plot:
        return
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        sys.exit(f"error: plotting needs matplotlib ({INSTALL_HINT}); or run with --no-plot")


# ---- progress -------------------------------------------------------------------------------------
class Progress:
    """A progress display with the live loss: a tqdm bar on a terminal, else a plain line now and then.

    `--quiet` shows nothing. Without tqdm, or when stderr is not a terminal (a log file, a pipe,
    a test), about ten plain lines are printed to stdout instead of a bar. A resumed run passes
    `start`, the step its checkpoint was saved at, and the count goes on from there.
    """

    def __init__(
        self, total: int, desc: str, quiet: bool = False, stream: TextIO | None = None, start: int = 0
    ) -> None:
        self.total = total
        self.desc = desc
        self.count = start  # a resumed run counts on from its checkpoint's step
        self._every = max(1, total // 10)
        self._bar: Any = None
        self._plain = not quiet
        self._first = start + 1
        err = sys.stderr if stream is None else stream
        if not quiet and err.isatty():
            try:
                from tqdm import tqdm  # type: ignore[import-untyped]
            except ImportError:
                pass
            else:
                self._bar = tqdm(total=total, desc=desc, file=err, leave=True, dynamic_ncols=True, initial=start)
                self._plain = False

    def update(self, loss: float, **metrics: float) -> None:
        """One step done; show its loss (and any other metrics, e.g. acc=0.93)."""
        self.count += 1
        if self._bar is not None:
            self._bar.set_postfix({"loss": f"{loss:.4f}", **{k: f"{v:.4g}" for k, v in metrics.items()}}, refresh=False)
            self._bar.update(1)
        elif self._plain and (self.count == self._first or self.count % self._every == 0 or self.count == self.total):
            extra = "".join(f"  {k} {v:.4g}" for k, v in metrics.items())
            print(f"{self.desc}: {self.count:>{len(str(self.total))}}/{self.total}  loss {loss:.4f}{extra}", flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Timer:
    """Wall-clock seconds since creation (for the "wall time" line)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start


# ---- output folder --------------------------------------------------------------------------------
def prepare_out(path: Path) -> Path:
    """Create the output folder (and its parents) if needed."""
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_metrics(out: Path, metrics: Mapping[str, Any]) -> Path:
    """Save the final metrics as `metrics.json` in the output folder."""
    path = out / "metrics.json"
    text = json.dumps(dict(metrics), indent=2, allow_nan=False) + "\n"

    atomic_write_text(path, text)
    return path


def save_results(out: Path, metrics: Mapping[str, Any], model: Any) -> list[Path]:
    """Write `metrics.json` and the trained model (`model.json`); return the files written."""
    model.save(out / "model.json")
    return [write_metrics(out, metrics), out / "model.json"]


# ---- checkpoints: stop a run and resume it -----------------------------------------------------------
CHECKPOINT = "checkpoint.json"
Models = nn.Module | Mapping[str, nn.Module]


class Resumed:
    """Where a run starts and stops, and the per-step history (loss curves ...) before its start."""

    def __init__(self, start: int, stop: int, history: dict[str, list[float]]) -> None:
        self.start, self.stop, self.history = start, stop, history

    def extend(self, key: str, values: Sequence[float]) -> list[float]:
        """The history of `key` before the start, followed by `values` (this run's steps)."""
        return [*self.history.get(key, []), *values]


def resume(
    args: argparse.Namespace,
    total: int,
    settings: Mapping[str, Any],
    *,
    model: Models,
    optimizer: nn.optim.Optimizer | Mapping[str, nn.optim.Optimizer],
    schedule: Any = None,
) -> Resumed:
    """Load `--resume PATH` (if given) into the freshly built objects; decide the steps to run.

    The checkpoint must come from the same demo with the same `settings` (seed, data sizes: what
    decides the data), else the run exits with an error. Without `--resume` the run starts at 0.
    It stops at `--stop-after` if given (and before `total`), else at `total`.
    """
    stop = total if args.stop_after is None else min(args.stop_after, total)
    if args.resume is None:
        return Resumed(0, stop, {})
    try:
        step, extra = nn.load_checkpoint(args.resume, model=model, optimizer=optimizer, schedule=schedule)
    except (OSError, ValueError) as e:
        sys.exit(f"error: --resume: {e}")
    name = args.demo
    if extra.get("demo") != name or extra.get("settings") != dict(settings):
        sys.exit(
            f"error: --resume: {args.resume} was saved by demo {extra.get('demo')!r} with {extra.get('settings')!r};"
            f" this run is {name!r} with {dict(settings)!r} (use the same options)"
        )
    if step > stop:
        sys.exit(f"error: --resume: {args.resume} is at step {step}, past the {stop} steps asked for")
    return Resumed(step, stop, _history(extra.get("history"), step, args.resume))


def _history(history: object, step: int, path: Path) -> dict[str, list[float]]:
    """The saved per-step lists, each as long as the step count."""
    if not isinstance(history, dict) or any(
        not isinstance(v, list) or len(v) != step or not all(isinstance(x, (int, float)) for x in v)
        for v in history.values()
    ):
        sys.exit(f"error: --resume: {path} has no valid history of {step} steps")
    return {k: [float(x) for x in v] for k, v in history.items()}


def save_checkpoint(
    out: Path,
    args: argparse.Namespace,
    settings: Mapping[str, Any],
    step: int,
    history: Mapping[str, Sequence[float]],
    *,
    model: Models,
    optimizer: nn.optim.Optimizer | Mapping[str, nn.optim.Optimizer],
    schedule: Any = None,
) -> Path:
    """Write `checkpoint.json` in the output folder: the models, optimizers and schedule, the step,
    and (as extra data) the demo's name, its `settings` and the per-step `history` so far."""
    path = out / CHECKPOINT
    extra = {"demo": args.demo, "settings": dict(settings), "history": {k: list(v) for k, v in history.items()}}
    nn.save_checkpoint(path, model=model, optimizer=optimizer, schedule=schedule, step=step, extra=extra)
    return path


def predict_class(logits: Sequence[Any]) -> int:
    """The index of the largest logit (the first one on ties)."""
    best = 0
    for k in range(1, len(logits)):
        if logits[k].data > logits[best].data:
            best = k
    return best


def report(title: str, metrics: Mapping[str, Any], seconds: float, out: Path, files: Sequence[Path]) -> None:
    """Print the final metrics, the wall time and where the files went."""
    print(f"{title}:")
    width = max(len(k) for k in metrics)
    for k, v in metrics.items():
        shown = f"{v:.2%}" if "accuracy" in k else (f"{v:.6g}" if isinstance(v, float) else str(v))
        print(f"  {k:<{width}}  {shown}")
    print(f"trained and evaluated in {seconds:.2f} s (wall time)")
    print(f"output folder: {out}")
    for f in files:
        print(f"  {f.name}")


# ---- plots ----------------------------------------------------------------------------------------
def _figure(width: float = 6.0, height: float = 4.0) -> Any:
    # A bare Figure with the Agg canvas: no pyplot, so no global state and never a window.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="tight")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    fmt = path.suffix.lstrip(".")
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt))
    return path


def plot_losses(
    curves: Mapping[str, Sequence[float]], path: Path, title: str, log_scale: bool = False, xlabel: str = "step"
) -> Path:
    """Loss per step, one line per named curve."""
    fig = _figure()
    ax = fig.add_subplot()
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss")
    if log_scale:
        ax.set_yscale("log")
    ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_decision_boundary(
    scores: Callable[[list[list[float]]], list[list[float]]],
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    path: Path,
    title: str,
    resolution: int = 60,
) -> Path:
    """Colour the plane by the class a model picks at each point; scatter the data on top.

    `scores` maps a list of 2-D points to each point's class scores (logits): k numbers for k
    classes, or a single logit for two classes (class 1 where it is > 0). Regions are drawn from
    each class's margin (its score minus the best other score) interpolated over a `resolution` x
    `resolution` grid, so boundaries come out smooth from a coarse grid; every grid point is a
    forward pass, so keep it modest in pure Python.
    """
    xs = [p[0] for p in X]
    ys = [p[1] for p in X]
    pad_x = 0.1 * (max(xs) - min(xs)) + 0.1
    pad_y = 0.1 * (max(ys) - min(ys)) + 0.1
    x0, x1 = min(xs) - pad_x, max(xs) + pad_x
    y0, y1 = min(ys) - pad_y, max(ys) + pad_y
    gx = [x0 + (x1 - x0) * i / (resolution - 1) for i in range(resolution)]
    gy = [y0 + (y1 - y0) * j / (resolution - 1) for j in range(resolution)]
    rows = scores([[a, b] for b in gy for a in gx])
    if len(rows[0]) == 1:  # one logit s: the scores of classes 0 and 1 are 0 and s
        rows = [[0.0, r[0]] for r in rows]
    k = max(len(rows[0]), max(y) + 1)
    colors = [_COLORS[i % len(_COLORS)] for i in range(k)]
    # size the figure to the data's aspect ratio, so an equal-aspect plot leaves no wide margins
    height = min(max(6.0 * (y1 - y0) / (x1 - x0), 2.5), 6.0) + 0.6
    fig = _figure(6.0, height)
    ax = fig.add_subplot()
    for c in range(len(rows[0])):
        margin = [r[c] - max(v for j, v in enumerate(r) if j != c) for r in rows]
        top = max(margin)
        if top <= 0.0:
            continue  # class c wins nowhere on the grid
        grid = [margin[j * resolution : (j + 1) * resolution] for j in range(resolution)]
        ax.contourf(gx, gy, grid, levels=[0.0, top + 1.0], colors=[colors[c]], alpha=0.3)
        if min(margin) < 0.0:
            ax.contour(gx, gy, grid, levels=[0.0], colors="k", linewidths=0.6, alpha=0.5)
    size = 60 if len(xs) <= 20 else 18  # a handful of points (XOR) would be hard to see
    ax.scatter(xs, ys, c=[colors[t] for t in y], s=size, edgecolors="k", linewidths=0.4, zorder=3)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_title(title)
    return _save(fig, path)


_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def plot_fit(
    x_data: Sequence[float],
    y_data: Sequence[float],
    x_line: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    path: Path,
    title: str,
) -> Path:
    """Training points and one or more curves (e.g. the target function and the model's fit)."""
    fig = _figure()
    ax = fig.add_subplot()
    ax.scatter(x_data, y_data, s=14, color="k", label="training data", zorder=3)
    for i, (label, values) in enumerate(curves.items()):
        # The first curve is the reference (dashed, wider) so a close fit drawn on it stays visible.
        style = {"linestyle": "--", "linewidth": 3.0, "alpha": 0.6} if i == 0 else {"linewidth": 1.5}
        ax.plot(x_line, values, label=label, **style)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)
