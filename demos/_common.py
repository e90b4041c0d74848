"""What every training demo shares: its command line, a progress display, the output folder,
checkpoints to stop and resume a run, plots.

Plots are drawn for slides (see `slide_style`): axis labels, a legend, the loss and the data named,
fonts of 10 pt or more, constrained layout, colour-blind-safe colours, PNGs at `--dpi` (default 150).
`capture_figures()` hands a test (or a notebook) the matplotlib Figure of every plot a demo saves.

tqdm and matplotlib are optional (`pip install 'chainrule[demos]'`): without tqdm the demos print a
plain progress line now and then; without matplotlib they run with `--no-plot`. matplotlib is only
imported when a plot is drawn, and only through its Agg canvas, so no window ever opens.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
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
    """The options every demo has: --steps N (or --epochs N), --seed, --out, --no-plot, --format, --dpi,
    --quiet, --resume PATH, --stop-after K."""
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
    parser.add_argument(
        "--dpi", type=positive_int, default=150, metavar="N", help="resolution of PNG plots (SVG is unaffected)"
    )
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
# Every plot is drawn for a slide: fonts of at least 10 pt at the saved size, constrained layout (no
# clipped labels), axis labels, a legend naming each class or curve, the loss and the data (training
# or test) named, colour-blind-safe colours, saved at `--dpi` (PNG; an SVG has no pixels to count).
MIN_FONT_PT = 10.0
SLIDE_STYLE = {
    "font.size": 11.0,
    "axes.titlesize": 13.0,
    "axes.labelsize": 12.0,
    "xtick.labelsize": 11.0,
    "ytick.labelsize": 11.0,
    "legend.fontsize": 10.5,
    "legend.title_fontsize": 11.0,
    "figure.titlesize": 14.0,
    "lines.linewidth": 2.0,
}
# Okabe & Ito's palette, told apart with any colour vision: blue, orange, bluish green, vermillion,
# reddish purple, sky blue, yellow, black. Classes also differ in marker shape.
COLORS = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]

_captures: list[dict[Path, Any]] = []


@contextlib.contextmanager
def capture_figures() -> Iterator[dict[Path, Any]]:
    """Collect the matplotlib Figure of every plot a demo saves while the block runs, by file path.

    For tests and notebooks: inspect a plot's axes, labels and legend without parsing an image.

        with _common.capture_figures() as figures:
            demos.xor.main(["--out", "out/xor"])
        figures[Path("out/xor/loss.png")].axes[0].get_ylabel()
    """
    figures: dict[Path, Any] = {}
    _captures.append(figures)
    try:
        yield figures
    finally:  # by identity: two blocks' dicts can be equal
        del _captures[next(i for i, c in enumerate(_captures) if c is figures)]


@contextlib.contextmanager
def slide_style() -> Iterator[None]:
    """Draw with the slide fonts and colours (matplotlib's rc settings, for this block only)."""
    import matplotlib
    from cycler import cycler

    with matplotlib.rc_context({**SLIDE_STYLE, "axes.prop_cycle": cycler(color=COLORS)}):
        yield


def _figure(width: float = 6.0, height: float = 4.0) -> Any:
    # A bare Figure with the Agg canvas: no pyplot, so no global state and never a window.
    # Constrained layout makes room for every label, legend and colour bar (nothing is clipped).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    if hasattr(fig, "get_layout_engine"):  # matplotlib >= 3.6: a little margin around the edges
        fig.get_layout_engine().set(w_pad=0.1, h_pad=0.1)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path, dpi: int = 150) -> Path:
    """Save `fig` (format from the suffix; PNG at `dpi` dots per inch, recorded in the file)."""
    fmt = path.suffix.lstrip(".")
    options = {} if fmt == "svg" else {"dpi": dpi}  # an SVG stays vector, at its own 72 units per inch
    for _ in range(3):  # layout passes: with an equal-aspect axes, constrained layout settles over a few
        fig.draw_without_rendering()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, **options))
    for figures in _captures:
        figures[path] = fig
    return path


def plot_losses(
    curves: Mapping[str, Sequence[float]],
    path: Path,
    title: str,
    log_scale: bool = False,
    xlabel: str = "step",
    *,
    ylabel: str = "loss",
    notes: Sequence[tuple[int, str]] = (),
    marks: Sequence[tuple[int, str]] = (),
    styles: Mapping[str, Mapping[str, Any]] | None = None,
    dpi: int = 150,
) -> Path:
    """Loss per step, one line per named curve (the legend names each one).

    `ylabel` names the loss and the data it is measured on (e.g. "hinge loss + 1e-4 L2 (training)").
    `notes` explain features of the first curve: each (step, text) points an arrow at that step.
    `marks` draw a dashed vertical line with a label at a step (e.g. where a new epoch starts).
    `styles` gives a curve's line options by its name (e.g. {"mean": {"linewidth": 3}}).
    """
    from matplotlib.ticker import MaxNLocator

    with slide_style():
        fig = _figure(7.0, 4.5)
        ax = fig.add_subplot()
        for label, values in curves.items():
            ax.plot(range(1, len(values) + 1), values, label=label, **(styles or {}).get(label, {}))
        first = next(iter(curves.values()))
        for step, text in marks:
            ax.axvline(step, color="0.4", linestyle="--", linewidth=1.0)
            ax.annotate(
                text, (step, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -3), textcoords="offset points",
                ha="left", va="top", color="0.3",
            )  # fmt: skip
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if log_scale:
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))  # steps are whole numbers
        ax.autoscale_view()
        to_axes = ax.transData + ax.transAxes.inverted()
        # a note's box keeps clear of the marks' labels (and of other notes)
        taken = [(x - 0.02, 0.85, x + 0.15, 1.0) for x, _ in (to_axes.transform((step, first[0])) for step, _ in marks)]
        for step, text in notes:
            box = _free_spot(ax, curves.values(), text, taken)
            taken.append(box)
            ax.annotate(
                text,
                xy=(step, first[step - 1]),
                xytext=(box[0], box[3]),
                textcoords="axes fraction",
                ha="left",
                va="top",
                arrowprops={"arrowstyle": "->", "color": "0.2", "linewidth": 1.2},
                bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "0.6", "alpha": 0.9},
            )
        ax.set_title(title)
        ax.legend(loc="best")
        ax.grid(alpha=0.3)
        return _save(fig, path, dpi)


def _free_spot(
    ax: Any, curves: Iterable[Sequence[float]], text: str, taken: Sequence[tuple[float, float, float, float]]
) -> tuple[float, float, float, float]:
    """Where a note's box (x0, y0, x1, y1 in axes fractions) covers the fewest points of the curves.

    The box's size is estimated from the text (a 7 x 4.5 in plot, 11 pt); each curve is sampled
    between its steps too, so a steep segment between two steps counts as well.
    """
    lines = text.split("\n")
    width = min(0.012 * max(len(line) for line in lines) + 0.03, 0.95)
    height = min(0.075 * len(lines) + 0.04, 0.9)
    ax.autoscale_view()
    to_axes = ax.transData + ax.transAxes.inverted()
    points = []
    for values in curves:
        xy = to_axes.transform([(k + 1, v) for k, v in enumerate(values) if v > 0.0 or ax.get_yscale() != "log"])
        for (xa, ya), (xb, yb) in zip(xy, xy[1:], strict=False):
            points += [(xa + (xb - xa) * t / 8, ya + (yb - ya) * t / 8) for t in range(8)]
        points += [tuple(p) for p in xy[-1:]]

    def cost(box: tuple[float, float, float, float]) -> float:
        x0, y0, x1, y1 = box
        hits = sum(x0 <= x <= x1 and y0 <= y <= y1 for x, y in points)
        overlap = sum(not (x1 < a0 or a1 < x0 or y1 < b0 or b1 < y0) for a0, b0, a1, b1 in taken)
        return hits + 1000 * overlap

    spots = []
    for top in (0.95, 0.84, 0.75, 0.55):
        for left in (0.3, 0.97 - width, 0.05):
            spots.append((left, top - height, left + width, top))
    return min(spots, key=cost)  # the first of the best: high and right of the start, where it reads first


def plot_decision_boundary(
    scores: Callable[[list[list[float]]], list[list[float]]],
    X: Sequence[Sequence[float]],
    y: Sequence[int],
    path: Path,
    title: str,
    resolution: int = 60,
    *,
    class_names: Sequence[str] | None = None,
    dpi: int = 150,
) -> Path:
    """Colour the plane by the class a model picks at each point; scatter the training data on top.

    `scores` maps a list of 2-D points to each point's class scores (logits): k numbers for k
    classes, or a single logit for two classes (class 1 where it is > 0). Regions are drawn from
    each class's margin (its score minus the best other score) interpolated over a `resolution` x
    `resolution` grid, so boundaries come out smooth from a coarse grid; every grid point is a
    forward pass, so keep it modest in pure Python. The legend names each class (`class_names`,
    default "class 0", "class 1", ...) with its colour and marker, and the boundary line.
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
    names = list(class_names) if class_names is not None else [f"class {c}" for c in range(k)]
    colors = [COLORS[i % len(COLORS)] for i in range(k)]
    with slide_style():
        from matplotlib.lines import Line2D
        from matplotlib.transforms import ScaledTranslation

        # size the plot to the data's aspect ratio, so an equal-aspect plot leaves no wide margins;
        # the legend goes below it, where it hides no data
        height = min(max(5.0 * (y1 - y0) / (x1 - x0), 2.5), 5.5) + 1.6
        fig = _figure(6.0, height)
        ax = fig.add_subplot()
        drew_boundary = False
        for c in range(len(rows[0])):
            margin = [r[c] - max(v for j, v in enumerate(r) if j != c) for r in rows]
            top = max(margin)
            if top <= 0.0:
                continue  # class c wins nowhere on the grid
            grid = [margin[j * resolution : (j + 1) * resolution] for j in range(resolution)]
            ax.contourf(gx, gy, grid, levels=[0.0, top + 1.0], colors=[colors[c]], alpha=0.25)
            if min(margin) < 0.0:
                ax.contour(gx, gy, grid, levels=[0.0], colors="k", linewidths=1.0, alpha=0.7)
                drew_boundary = True
        size = 80 if len(xs) <= 20 else 24  # a handful of points (XOR) would be hard to see
        for c in range(k):
            pts = [(a, b) for a, b, t in zip(xs, ys, y, strict=True) if t == c]
            ax.scatter(
                [p[0] for p in pts], [p[1] for p in pts], s=size, color=colors[c], marker=MARKERS[c % len(MARKERS)],
                edgecolors="k", linewidths=0.5, zorder=3, label=f"{names[c]} ({len(pts)} points)",
            )  # fmt: skip
        handles, labels = ax.get_legend_handles_labels()
        if drew_boundary:
            handles.append(Line2D([], [], color="k", linewidth=1.0))
            labels.append("decision boundary")
        ax.legend(
            handles, labels, title="training points; shading: the class the model picks",
            loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(len(labels), 2), frameon=False,
            bbox_transform=ax.transAxes + ScaledTranslation(0.0, -0.5, fig.dpi_scale_trans),  # under the x label
        )  # fmt: skip
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_aspect("equal")
        ax.set_xlabel("x1 (first input)")
        ax.set_ylabel("x2 (second input)")
        ax.set_title(title)
        return _save(fig, path, dpi)


def plot_fit(
    x_data: Sequence[float],
    y_data: Sequence[float],
    x_line: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    path: Path,
    title: str,
    *,
    dpi: int = 150,
) -> Path:
    """Training points and one or more curves (e.g. the target function and the model's fit)."""
    with slide_style():
        fig = _figure(7.0, 4.5)
        ax = fig.add_subplot()
        ax.scatter(x_data, y_data, s=24, color="k", label=f"training points ({len(x_data)})", zorder=3)
        for i, (label, values) in enumerate(curves.items()):
            # The first curve is the reference (dashed, wider) so a close fit drawn on it stays visible.
            style = {"linestyle": "--", "linewidth": 4.0, "alpha": 0.6} if i == 0 else {"linewidth": 2.0}
            ax.plot(x_line, values, label=label, **style)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title(title)
        ax.legend()
        ax.grid(alpha=0.3)
        return _save(fig, path, dpi)
