"""The training demos: they learn what they claim, run end to end, and plot when asked."""

from __future__ import annotations

import io
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

import nn
from demos import _common, digits, moons, regression, spiral, xor
from nn import datasets

ROOT = Path(__file__).resolve().parent.parent
SKLEARN = "scikit-learn is not installed (pip install 'chainrule[demos]')"


def _run(module, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[dict, str]:  # type: ignore[type-arg]
    metrics = module.main(argv)
    return metrics, capsys.readouterr().out


def _check_outputs(out: Path, metrics: dict, printed: str) -> None:  # type: ignore[type-arg]
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8")) == metrics
    assert isinstance(nn.load_model(out / "model.json"), nn.Module)
    assert f"output folder: {out}" in printed


# ---- they learn what they claim ---------------------------------------------------------------------
def test_xor_mlp_reaches_100_percent_and_a_single_neuron_cannot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics, printed = _run(xor, ["--no-plot", "--quiet", "--out", str(tmp_path)], capsys)
    assert metrics["mlp_accuracy"] == 1.0
    assert 1 <= metrics["mlp_steps_to_100pct"] <= 50
    # one line through the plane classifies at most 3 of the 4 XOR points
    assert metrics["neuron_best_accuracy"] <= 0.75
    assert metrics["neuron_accuracy"] <= 0.75
    _check_outputs(tmp_path, metrics, printed)


def test_moons_reaches_100_percent_within_50_steps() -> None:
    X, y = datasets.moons(n=100, noise=0.1, seed=0)
    model = nn.MLP(2, [16, 16, 1], activation="relu", seed=0)
    losses, accs = moons.train(model, X, y, steps=100, until=1.0)
    assert accs[-1] == 1.0
    assert len(accs) <= 50
    assert losses[-1] < losses[0]


def test_moons_compiled_makes_the_same_updates_as_eager() -> None:
    pytest.importorskip("autograd.compiler", reason="autograd.compile is not available")
    X, y = datasets.moons(n=12, noise=0.1, seed=2)
    eager = nn.MLP(2, [4, 4, 1], activation="relu", seed=2)
    compiled = nn.MLP(2, [4, 4, 1], activation="relu", seed=2)
    eager_losses, _ = moons.train(eager, X, y, steps=5)
    compiled_losses = moons.train_compiled(compiled, X, y, steps=5)
    assert compiled_losses == pytest.approx(eager_losses, rel=1e-12, abs=1e-15)
    for a, b in zip(eager.parameters(), compiled.parameters(), strict=True):
        assert b.data == pytest.approx(a.data, rel=1e-12, abs=1e-15)


def test_digits_compiled_makes_the_same_updates_as_eager() -> None:
    pytest.importorskip("sklearn", reason=SKLEARN)
    pytest.importorskip("autograd.compiler", reason="autograd.compile is not available")
    X, y, _, _ = datasets.digits(seed=0)
    X, y = X[:20], y[:20]
    eager = nn.MLP(64, [3, 10], activation="relu", init="he", seed=1)
    compiled = nn.MLP(64, [3, 10], activation="relu", init="he", seed=1)
    eager_losses = digits.train(eager, X, y, epochs=1, batch_size=8, seed=0)
    compiled_losses = digits.train_compiled(compiled, X, y, epochs=1, batch_size=8, seed=0)
    assert len(eager_losses) == 3
    # the same sums in another order: equal up to rounding
    assert compiled_losses == pytest.approx(eager_losses, rel=1e-9)
    for a, b in zip(eager.parameters(), compiled.parameters(), strict=True):
        assert b.data == pytest.approx(a.data, rel=1e-9, abs=1e-12)


# ---- every demo runs end to end ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("module", "argv"),
    [
        (xor, ["--steps", "3"]),
        (moons, ["--steps", "2"]),
        (spiral, ["--steps", "2", "--hidden", "4"]),
        (regression, ["--steps", "3", "--points", "5"]),
        (digits, ["--epochs", "1", "--limit", "16", "--batch-size", "8"]),
    ],
    ids=lambda v: v.__name__.rsplit(".", 1)[-1] if hasattr(v, "__name__") else None,
)
def test_demo_runs_end_to_end_without_plots(
    module,
    argv: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    if module is digits:
        pytest.importorskip("sklearn", reason=SKLEARN)
    metrics, printed = _run(module, [*argv, "--no-plot", "--out", str(tmp_path)], capsys)
    assert metrics and all(isinstance(v, (int, float)) for v in metrics.values())
    for key, value in metrics.items():
        if "accuracy" in key:
            assert 0.0 <= value <= 1.0
    _check_outputs(tmp_path, metrics, printed)
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob("*.svg"))
    assert "loss" in printed  # the plain progress lines (stdout is not a terminal here)


def test_moons_compiled_reaches_100_percent_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("autograd.compiler", reason="autograd.compile is not available")
    metrics, printed = _run(moons, ["--compiled", "--no-plot", "--quiet", "--out", str(tmp_path)], capsys)
    assert metrics["train_accuracy"] == 1.0
    _check_outputs(tmp_path, metrics, printed)


def test_same_seed_same_run(tmp_path: Path) -> None:
    argv = ["--steps", "5", "--no-plot", "--quiet", "--seed", "3"]
    assert regression.main([*argv, "--out", str(tmp_path / "a")]) == regression.main(
        [*argv, "--out", str(tmp_path / "b")]
    )


@pytest.mark.parametrize("module", [xor, moons, spiral, regression, digits])
def test_help_lists_the_common_options(module, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        module.main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for option in ["--seed", "--out", "--no-plot", "--quiet", "--format", "--resume", "--stop-after"]:
        assert option in text
    assert ("--epochs" if module is digits else "--steps") in text


def test_bad_step_count_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        xor.main(["--steps", "0"])
    assert exc.value.code == 2
    assert "positive integer" in capsys.readouterr().err


def test_runs_as_a_module_from_the_repo_root(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "demos.xor", "--steps", "2", "--no-plot", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"output folder: {tmp_path}" in result.stdout
    assert (tmp_path / "metrics.json").is_file()


# ---- optional packages ------------------------------------------------------------------------------
def test_no_plot_works_without_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    metrics = xor.main(["--steps", "2", "--no-plot", "--quiet", "--out", str(tmp_path / "ok")])
    assert "mlp_accuracy" in metrics
    with pytest.raises(SystemExit) as exc:  # plots wanted: a clear error before any training
        xor.main(["--steps", "2", "--out", str(tmp_path / "no")])
    assert "--no-plot" in str(exc.value.code) and "chainrule[demos]" in str(exc.value.code)
    assert not (tmp_path / "no").exists()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_falls_back_to_plain_lines_without_tqdm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "tqdm", None)
    terminal = _Terminal()
    with _common.Progress(40, "demo", stream=terminal) as bar:
        for i in range(40):
            bar.update(1.0 / (i + 1), acc=0.5)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "demo:  1/40  loss 1.0000  acc 0.5"
    assert lines[-1] == "demo: 40/40  loss 0.0250  acc 0.5"
    assert len(lines) == 11  # the first step, then every 4th
    assert terminal.getvalue() == ""


def test_progress_uses_tqdm_on_a_terminal_and_nothing_when_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm", reason="tqdm is not installed (pip install 'chainrule[demos]')")
    terminal = _Terminal()
    with _common.Progress(5, "demo", stream=terminal) as bar:
        for _ in range(5):
            bar.update(0.125)
    assert "5/5" in terminal.getvalue() and "loss=0.1250" in terminal.getvalue()
    quiet = _Terminal()
    with _common.Progress(5, "demo", quiet=True, stream=quiet) as bar:
        bar.update(0.5)
    assert quiet.getvalue() == "" and capsys.readouterr().out == ""


# ---- plots --------------------------------------------------------------------------------------------
MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml"}


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_plots_are_written(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'chainrule[demos]')")
    xor.main(["--steps", "20", "--quiet", "--format", fmt, "--out", str(tmp_path / "xor")])
    regression.main(["--steps", "3", "--points", "5", "--quiet", "--format", fmt, "--out", str(tmp_path / "reg")])
    printed = capsys.readouterr().out
    expected = [
        tmp_path / "xor" / f"loss.{fmt}",
        tmp_path / "xor" / f"boundary.{fmt}",
        tmp_path / "xor" / f"boundary_neuron.{fmt}",
        tmp_path / "reg" / f"loss.{fmt}",
        tmp_path / "reg" / f"fit.{fmt}",
    ]
    for path in expected:
        assert path.is_file() and path.stat().st_size > 1000, path
        assert path.read_bytes().startswith(MAGIC[fmt]), path
        assert path.name in printed
    assert not list(tmp_path.rglob(".*.tmp*"))  # no temp files left behind


def test_digits_without_scikit_learn_exits_with_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # `from sklearn.datasets import ...` now fails
    with pytest.raises(SystemExit) as exc:
        digits.main(["--no-plot", "--out", str(tmp_path / "d")])
    assert exc.value.code == 2
    assert "pip install 'chainrule[demos]'" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


# ---- the delta recursion and vanishing gradients --------------------------------------------------------
def test_delta_demo_prints_each_delta_and_g_next_to_the_engines_gradients(capsys: pytest.CaptureFixture[str]) -> None:
    from demos import delta

    assert delta.main([]) == 0
    printed = capsys.readouterr().out
    assert "y_hat = 2.162   slide: 2.162   ok" in printed
    assert "G(1) = delta(1) o(0)^T = [[4.1832, 6.2748], [0.9296, 1.3944]]" in printed  # lecture 003
    assert "theta'(s(2)) = tanh'(s(2)) = 1 - o(2)^2" in printed  # lecture 001's tanh network
    mine = re.findall(r"^   G\((\d)\)\s+= (.*)$", printed, flags=re.M)
    engine = re.findall(r"^   W\((\d)\)\.grad\s+= (.*?)   equal bit for bit$", printed, flags=re.M)
    assert len(mine) == 5 and mine == engine  # 3 layers of lecture 001's network, 2 of lecture 003's
    biases = re.findall(r"^   db\((\d)\)\s+= (.*)$", printed, flags=re.M)
    assert biases == re.findall(r"^   b\((\d)\)\.grad\s+= (.*)$", printed, flags=re.M)
    assert "MISMATCH" not in printed and printed.rstrip().endswith("all agree")


def test_vanishing_demo_measures_each_layers_gradient_as_the_engine_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from demos import vanishing

    argv = ["--depth", "4", "--width", "3", "--steps", "2", "--batch", "5", "--no-plot", "--out", str(tmp_path)]
    results = vanishing.main(argv)
    printed = capsys.readouterr().out
    assert list(results) == ["sigmoid", "tanh", "relu"]
    assert json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8")) == results
    assert not list(tmp_path.glob("*.png"))
    X, Y = vanishing.data(5, 0)
    for name, r in results.items():
        model = nn.MLP(2, [3, 3, 3, 1], activation=name, init="xavier", seed=0)
        nn.mse_loss([model(x)[0] for x in X], Y).backward()
        want = [math.sqrt(sum(w.grad**2 for n in layer.neurons for w in n.w)) for layer in model.layers]
        assert r["init"] == pytest.approx(want, rel=1e-12)
        assert len(r["trained"]) == 4 and r["trained"] != r["init"]
        assert f"{name}: layer 1 / layer 4 at init = " in printed
    rows = re.findall(r"^\s+(\d)((?:\s+\S+e[-+]\d\d){6})$", printed, flags=re.M)
    assert [int(k) for k, _ in rows] == [1, 2, 3, 4]
    for k, cells in rows:  # the table prints the measured numbers
        numbers = [float(c) for c in cells.split()]
        expected = [results[a][key][int(k) - 1] for a in results for key in ("init", "trained")]
        assert numbers == pytest.approx(expected, rel=1e-3)


def test_vanishing_demo_shows_sigmoids_gradient_shrinking_layer_by_layer(capsys: pytest.CaptureFixture[str]) -> None:
    from demos import vanishing

    X, Y = vanishing.data(8, 0)
    norms = {
        a: vanishing.gradient_norms(nn.MLP(2, [8] * 9 + [1], activation=a, init="xavier", seed=0), X, Y)
        for a in vanishing.ACTIVATIONS
    }
    assert norms["sigmoid"][0] < 1e-3 * norms["sigmoid"][-1]  # vanishes by orders of magnitude
    assert norms["tanh"][0] > 0.1 * norms["tanh"][-1]
    assert norms["relu"][0] > 0.01 * norms["relu"][-1]


def test_vanishing_demo_plots_one_line_per_activation_at_the_asked_dpi(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'chainrule[demos]')")
    from PIL import Image

    from demos import vanishing

    argv = ["--depth", "3", "--width", "2", "--steps", "1", "--batch", "3", "--dpi", "160", "--out", str(tmp_path)]
    vanishing.main(argv)
    png = tmp_path / "gradients.png"
    assert png.read_bytes().startswith(MAGIC["png"]) and "gradients.png" in capsys.readouterr().out
    with Image.open(png) as image:
        assert round(image.info["dpi"][0]) == 160
    vanishing.main([*argv[:-2], "--format", "svg", "--out", str(tmp_path)])
    svg = (tmp_path / "gradients.svg").read_text(encoding="utf-8")
    for text in ["sigmoid, at init", "tanh, after 1 steps", "relu, at init", "layer l", "d loss / d W(l)"]:
        assert text in svg


def test_vanishing_demo_runs_without_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from demos import vanishing

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    argv = ["--depth", "2", "--width", "2", "--steps", "1", "--batch", "2"]
    assert set(vanishing.main([*argv, "--no-plot", "--out", str(tmp_path / "ok")])) == {"sigmoid", "tanh", "relu"}
    with pytest.raises(SystemExit) as exc:
        vanishing.main([*argv, "--out", str(tmp_path / "no")])
    assert "--no-plot" in str(exc.value.code)


def test_delta_and_vanishing_run_as_modules(tmp_path: Path) -> None:
    for argv in (["-m", "demos.delta"], ["-m", "demos.vanishing", "--depth", "3", "--steps", "1", "--no-plot"]):
        out = ["--out", str(tmp_path)] if "demos.vanishing" in argv else []
        result = subprocess.run(
            [sys.executable, *argv, *out], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr


# ---- stop and resume ------------------------------------------------------------------------------------
RESUMABLE = [
    (xor, ["--steps", "6"], 3),
    (moons, ["--steps", "4"], 2),
    (spiral, ["--steps", "4", "--hidden", "3"], 2),
    (regression, ["--steps", "6", "--points", "5"], 3),
    (digits, ["--epochs", "2", "--limit", "24", "--batch-size", "8"], 4),  # resumes inside the 2nd epoch
]


@pytest.mark.parametrize(
    ("module", "argv", "half"),
    RESUMABLE,
    ids=["xor", "moons", "spiral", "regression", "digits"],
)
def test_a_run_stopped_halfway_and_resumed_equals_the_run_in_one_go(
    module,  # type: ignore[no-untyped-def]
    argv: list[str],
    half: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if module is digits:
        pytest.importorskip("sklearn", reason=SKLEARN)
    common = [*argv, "--no-plot"]
    whole, _ = _run(module, [*common, "--quiet", "--out", str(tmp_path / "whole")], capsys)
    _run(module, [*common, "--quiet", "--stop-after", str(half), "--out", str(tmp_path / "first")], capsys)
    first = json.loads((tmp_path / "first" / "checkpoint.json").read_text(encoding="utf-8"))
    assert first["step"] == half
    resume = ["--resume", str(tmp_path / "first" / "checkpoint.json")]
    resumed, printed = _run(module, [*common, *resume, "--out", str(tmp_path / "second")], capsys)
    assert resumed == whole
    for name in ["metrics.json", "model.json", "checkpoint.json"]:  # every weight, loss and buffer, bit for bit
        assert (tmp_path / "second" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    progress = re.findall(r"^[^:\n]+: +(\d+)/\d+  loss", printed, flags=re.M)
    assert progress and int(progress[0]) == half + 1  # the step count goes on from the checkpoint


def test_without_a_schedule_more_steps_can_be_asked_for_on_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole, _ = _run(xor, ["--steps", "8", "--no-plot", "--quiet", "--out", str(tmp_path / "a")], capsys)
    _run(xor, ["--steps", "4", "--no-plot", "--quiet", "--out", str(tmp_path / "b")], capsys)
    argv = ["--steps", "8", "--no-plot", "--quiet", "--resume", str(tmp_path / "b" / "checkpoint.json")]
    assert _run(xor, [*argv, "--out", str(tmp_path / "b")], capsys)[0] == whole  # same folder: replaced
    assert (tmp_path / "b" / "model.json").read_bytes() == (tmp_path / "a" / "model.json").read_bytes()


def _resume_error(module, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exc:
        module.main([*argv, "--no-plot", "--quiet"])
    capsys.readouterr()
    return str(exc.value.code)


def test_resuming_with_other_options_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    moons.main(["--steps", "2", "--no-plot", "--quiet", "--out", str(tmp_path / "m")])
    xor.main(["--steps", "4", "--no-plot", "--quiet", "--out", str(tmp_path / "x")])
    capsys.readouterr()
    m, x = str(tmp_path / "m" / "checkpoint.json"), str(tmp_path / "x" / "checkpoint.json")
    out = ["--out", str(tmp_path / "new")]
    # the schedule planned 2 steps; a 4-step run plans another one
    assert "total_steps=2, but this one has total_steps=4" in _resume_error(
        moons, ["--steps", "4", "--resume", m, *out], capsys
    )
    assert "saved by demo 'xor' with {'seed': 0}; this run is 'xor' with {'seed': 1}" in _resume_error(
        xor, ["--seed", "1", "--resume", x, *out], capsys
    )
    assert "holds models ['mlp', 'neuron'], but load_checkpoint was given ['model']" in _resume_error(
        regression, ["--resume", x, *out], capsys
    )
    assert "is at step 4, past the 2 steps asked for" in _resume_error(
        xor, ["--steps", "2", "--resume", x, *out], capsys
    )
    assert "No such file" in _resume_error(xor, ["--resume", str(tmp_path / "none.json"), *out], capsys)
    doc = json.loads(Path(x).read_text(encoding="utf-8"))
    doc["extra"]["history"]["mlp_loss"].pop()
    Path(x).write_text(json.dumps(doc), encoding="utf-8")
    assert "has no valid history of 4 steps" in _resume_error(xor, ["--steps", "8", "--resume", x, *out], capsys)
    assert not (tmp_path / "new" / "checkpoint.json").exists()


def test_xor_last_progress_line_and_summary_print_the_same_accuracy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics, printed = _run(xor, ["--no-plot", "--out", str(tmp_path)], capsys)
    for desc, key in [("xor MLP 2-4-1", "mlp"), ("xor single neuron", "neuron")]:
        last = re.findall(rf"^{desc}: 100/100  loss (\S+)  acc (\S+)$", printed, flags=re.M)
        assert len(last) == 1
        loss, acc = map(float, last[0])
        assert acc == metrics[f"{key}_accuracy"] and loss == round(metrics[f"{key}_loss"], 4)
        assert f"{key}_accuracy" in printed and f"{metrics[f'{key}_accuracy']:.2%}" in printed
    assert metrics["neuron_accuracy"] == 0.75  # with seed 0: the best one line can do


# ---- slide-ready figures ----------------------------------------------------------------------------------
def _vanishing():  # type: ignore[no-untyped-def]
    from demos import vanishing

    return vanishing


# each demo with plots, small enough to stay fast; the loss each loss plot must name
SLIDES = [
    ("xor", ["--steps", "3"], "binary cross-entropy"),
    ("moons", ["--steps", "5"], "hinge loss + 1e-4 L2"),
    ("spiral", ["--steps", "2", "--hidden", "4"], "cross-entropy + 1e-3 L2"),
    ("regression", ["--steps", "12", "--points", "5"], "mean squared error"),
    ("digits", ["--epochs", "2", "--limit", "24", "--batch-size", "8"], "cross-entropy"),
    ("vanishing", ["--depth", "3", "--width", "2", "--steps", "1", "--batch", "3"], "mean squared error"),
]


def _texts(fig):  # type: ignore[no-untyped-def]
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


@pytest.mark.parametrize(("name", "argv", "loss"), SLIDES, ids=[s[0] for s in SLIDES])
def test_every_plot_is_slide_ready(
    name: str, argv: list[str], loss: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'chainrule[demos]')")
    if name == "digits":
        pytest.importorskip("sklearn", reason=SKLEARN)
    from matplotlib.collections import PathCollection
    from PIL import Image

    module = (
        _vanishing()
        if name == "vanishing"
        else {m.__name__: m for m in (xor, moons, spiral, regression, digits)}[f"demos.{name}"]
    )
    with _common.capture_figures() as figures:
        module.main([*argv, "--quiet", "--dpi", "120", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    pngs = sorted(tmp_path.glob("*.png"))
    assert pngs and sorted(figures) == pngs  # the hook sees every plot the demo saves
    for path, fig in figures.items():
        assert path.name in printed
        with Image.open(path) as image:  # --dpi: recorded in the PNG, and the pixels to match
            assert tuple(round(d) for d in image.info["dpi"]) == (120, 120), path.name
            want = (fig.get_figwidth() * 120, fig.get_figheight() * 120)
            assert all(abs(got - w) <= 1 for got, w in zip(image.size, want)), path.name
            grey = image.convert("L")
            w, h = grey.size
            edge = [(x, y) for x in range(w) for y in (*range(4), *range(h - 4, h))]
            edge += [(x, y) for y in range(h) for x in (*range(4), *range(w - 4, w))]
            assert min(grey.getpixel(p) for p in edge) > 240, path.name  # nothing drawn up to the edge: not clipped
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        assert fig.bbox_inches.contains(*fig.get_tightbbox(renderer).p0), path.name  # nothing clipped
        assert fig.bbox_inches.contains(*fig.get_tightbbox(renderer).p1), path.name
        if hasattr(fig, "get_layout_engine"):
            assert type(fig.get_layout_engine()).__name__ == "ConstrainedLayoutEngine", path.name
        small = [(t.get_text(), t.get_fontsize()) for t in _texts(fig) if t.get_fontsize() < _common.MIN_FONT_PT]
        assert not small, (path.name, small)
        titles = [ax.get_title() for ax in fig.axes] + [fig._suptitle.get_text() if fig._suptitle else ""]
        assert any(titles), path.name
        for ax in fig.axes:  # every axis that has ticks says what they count
            assert not len(ax.get_xticks()) or ax.get_xlabel(), (path.name, "x label")
            assert not len(ax.get_yticks()) or ax.get_ylabel(), (path.name, "y label")
            curves = ax.get_lines() or [c for c in ax.collections if isinstance(c, PathCollection)]
            if curves:  # lines or points: a legend names them
                legend = ax.get_legend()
                assert legend is not None and all(t.get_text() for t in legend.get_texts()), path.name
    if name != "vanishing":
        ax = figures[tmp_path / "loss.png"].axes[0]
        assert loss in ax.get_ylabel() and "training" in ax.get_ylabel()
        assert "training" in ax.get_title()
        if name == "moons":  # the spike's note is on the plot, its arrow at the step (see moons.spike_notes)
            [note] = [t for t in ax.texts if "overshot" in t.get_text()]
            assert note.xy[0] == 3
        if name == "digits":  # where the second epoch starts
            assert [t.get_text() for t in ax.texts if t.get_text().startswith("epoch")] == ["epoch 2"]
    else:
        assert loss in figures[tmp_path / "gradients.png"].axes[0].get_title()
    for path, fig in figures.items():
        if path.name.startswith("boundary"):  # a class per legend entry, in the palette's colours
            entries = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
            assert (
                any("points)" in e for e in entries)
                and "training points" in fig.axes[0].get_legend().get_title().get_text()
            )
            colours = {tuple(c.get_facecolor()[0]) for c in fig.axes[0].collections if isinstance(c, PathCollection)}
            from matplotlib.colors import to_rgba

            assert colours <= {to_rgba(c) for c in _common.COLORS}


def test_dpi_is_a_common_option_and_svg_ignores_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'chainrule[demos]')")
    from PIL import Image

    assert _common.make_parser("x", "d", steps=1).parse_args([]).dpi == 150
    xor.main(["--steps", "2", "--quiet", "--out", str(tmp_path / "png")])
    with Image.open(tmp_path / "png" / "loss.png") as image:
        assert round(image.info["dpi"][0]) == 150  # the default: sharp on a projected slide
    heads = []
    for dpi in ["72", "300"]:
        out = tmp_path / f"svg{dpi}"
        xor.main(["--steps", "2", "--quiet", "--format", "svg", "--dpi", dpi, "--out", str(out)])
        svg = (out / "loss.svg").read_text(encoding="utf-8")
        heads.append(re.search(r'<svg [^>]*width="([^"]+)" height="([^"]+)"', svg).groups())  # type: ignore[union-attr]
    assert heads[0] == heads[1]  # an SVG is the same size at any --dpi
    with pytest.raises(SystemExit):
        xor.main(["--dpi", "0"])
    assert "positive integer" in capsys.readouterr().err


def test_digits_writes_a_labelled_grid_and_a_confusion_matrix_that_matches_the_accuracy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("sklearn", reason=SKLEARN)
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'chainrule[demos]')")
    with _common.capture_figures() as figures:
        metrics, printed = _run(
            digits, ["--limit", "40", "--batch-size", "8", "--quiet", "--out", str(tmp_path)], capsys
        )
    assert "40 test images" in printed
    counts = digits.read_confusion(tmp_path / "confusion.csv")
    assert len(counts) == 10 and all(len(row) == 10 for row in counts)
    assert sum(map(sum, counts)) == 40  # every test image, once
    assert sum(counts[k][k] for k in range(10)) / 40 == metrics["test_accuracy"]
    assert f"{metrics['test_accuracy']:.2%}" in printed
    for name in ["confusion.csv", "confusion.png", "test_digits.png"]:
        assert name in printed and (tmp_path / name).is_file()

    matrix = figures[tmp_path / "confusion.png"]
    ax = matrix.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted digit", "true digit")
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(k) for k in range(10)]
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(k) for k in range(10)]
    shown = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text()) for t in ax.texts}
    assert shown == {(t, p): c for t, row in enumerate(counts) for p, c in enumerate(row) if c}  # counts in the cells
    assert any(a.get_ylabel() == "test images" for a in matrix.axes[1:])  # the colour bar
    assert f"{metrics['test_accuracy']:.1%}" in ax.get_title()

    grid = figures[tmp_path / "test_digits.png"]
    cells = [a for a in grid.axes if a.images]
    assert len(cells) == 32  # 4 x 8
    labels = [re.fullmatch(r"pred (\d)\ntrue (\d)", a.get_title()).groups() for a in cells]  # type: ignore[union-attr]
    wrong = [p != t for p, t in labels]
    assert wrong == sorted(wrong, reverse=True)  # the wrong ones first
    total_wrong = 40 - sum(counts[k][k] for k in range(10))
    assert sum(wrong) == min(total_wrong, max(16, 32 - (40 - total_wrong)))  # half the grid, or what right ones leave
    for a, bad in zip(cells, wrong):  # the wrong ones framed and bold
        assert (a.spines["top"].get_linewidth() > 2) == bad
        assert (a.title.get_fontweight() == "bold") == bad
    assert f"{total_wrong} of 40 wrong" in grid._suptitle.get_text()


def test_confusion_csv_is_written_without_plots_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sklearn", reason=SKLEARN)
    metrics, _ = _run(
        digits, ["--limit", "16", "--batch-size", "8", "--no-plot", "--quiet", "--out", str(tmp_path)], capsys
    )
    counts = digits.read_confusion(tmp_path / "confusion.csv")
    assert (tmp_path / "confusion.csv").read_text(encoding="utf-8").startswith("true\\predicted,0,1,")
    assert sum(map(sum, counts)) == 16 and sum(counts[k][k] for k in range(10)) / 16 == metrics["test_accuracy"]


def test_loss_spikes_carry_a_note_that_explains_them() -> None:
    # moons: the update at lr ~1 overshoots, and the loss jumps at step 3 (seed 0), with any run length
    X, y = datasets.moons(n=100, noise=0.1, seed=0)
    losses, _ = moons.train(nn.MLP(2, [16, 16, 1], activation="relu", seed=0), X, y, steps=100, stop=6)
    assert losses[2] > 2 * losses[1]
    [(step, text)] = moons.spike_notes(losses, 100)
    assert step == 3 and "lr 0.99" in text and "overshot" in text
    assert moons.spike_notes([1.0, 0.9, 0.8], 3) == []  # a smooth curve gets no note
    # regression: Adam's momentum makes the early loss ring
    assert regression.ripple_notes([2.0, 0.5, 0.2, 0.4, 0.6, 0.3])[0][0] == 5
    assert regression.ripple_notes([2.0, 1.0, 0.5]) == []
    # digits: the running mean drawn over the mini-batches' losses
    assert digits.running_mean([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]


def test_capture_figures_collects_only_inside_its_block(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'chainrule[demos]')")
    with _common.capture_figures() as outer:
        with _common.capture_figures() as inner:
            regression.main(["--steps", "2", "--points", "3", "--quiet", "--out", str(tmp_path / "a")])
        regression.main(["--steps", "2", "--points", "3", "--quiet", "--format", "svg", "--out", str(tmp_path / "b")])
    regression.main(["--steps", "2", "--points", "3", "--quiet", "--out", str(tmp_path / "c")])
    capsys.readouterr()
    assert sorted(p.name for p in inner) == ["fit.png", "loss.png"]
    assert sorted(str(p.relative_to(tmp_path)) for p in outer) == ["a/fit.png", "a/loss.png", "b/fit.svg", "b/loss.svg"]
    assert not _common._captures
