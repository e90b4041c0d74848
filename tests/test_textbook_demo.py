"""The main demo reproduces the lectures' worked examples and writes its drawings."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requires
from requires import needs_dot

from autograd import Value
from demos import textbook

ROOT = Path(__file__).resolve().parent.parent


# Lecture 000, figures 7.12 / 7.13: (value, dL/d node) of every node of L = c(a + 2b).
LECTURE_000 = {
    "a": (3.0, -2.0),
    "b": (1.0, -4.0),
    "c": (-2.0, 5.0),
    "d": (2.0, -2.0),
    "e": (5.0, -2.0),
    "L": (-10.0, 1.0),
}


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = textbook.main(args)
    return code, capsys.readouterr().out


def test_demo_prints_every_value_and_gradient_of_the_textbook_graph(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_main(["--out", str(tmp_path), "--no-open"], capsys)
    assert code == 0
    for name, (data, grad) in LECTURE_000.items():
        m = re.search(rf"^\s+{re.escape(name)}\s+(\S+)\s+(\S+)\s+ok$", out, flags=re.MULTILINE)
        assert m is not None, f"no row for {name}"
        assert (float(m.group(1)), float(m.group(2))) == (data, grad)
    assert "dL/da += dL/de * de/da = (-2.0)(1.0) = -2.0" in out  # the example step
    assert "MISMATCH" not in out
    assert str(tmp_path.resolve()) in out  # it says where the files are
    assert (tmp_path / "textbook_backward.txt").read_text(encoding="utf-8").startswith("dL/dL = 1.0\n")


@needs_dot
def test_demo_writes_the_svg_and_the_html_stepper(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run_main(["--out", str(tmp_path)], capsys)
    assert code == 0
    svg = (tmp_path / "textbook.svg").read_text(encoding="utf-8")
    texts = [t.text for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]
    assert "dL/dc = 5.0000" in texts and "dd/db = 2.0000" in texts  # edge derivatives
    assert "grad -4.0000" in texts  # dL/db
    page = (tmp_path / "textbook_backprop.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 1 and page.count("<li>") == 7  # one drawing, restyled for each of 7 steps
    two_layer = (tmp_path / "two_layer.svg").read_text(encoding="utf-8")
    ET.fromstring(two_layer)
    width, height = (float(x) for x in re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', two_layer).groups())  # type: ignore[union-attr]
    assert width <= 960 and height <= 540  # fits a 16:9 slide of 13.33 x 7.5 in
    ET.fromstring((tmp_path / "two_layer_network.svg").read_text(encoding="utf-8"))
    assert "skipped" not in out


def test_demo_without_dot_still_prints_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    out_dir = tmp_path / "out"
    code, out = run_main(["--out", str(out_dir)], capsys)
    assert code == 0
    assert "All results agree with the lectures." in out
    assert "SVG skipped" in out and "apt-get install graphviz" in out
    assert (out_dir / "textbook.dot").exists() and not (out_dir / "textbook.svg").exists()
    assert (out_dir / "two_layer.dot").exists()
    assert not (out_dir / "textbook_backprop.html").exists()


# ---- the worked examples, checked independently of the demo's own formulas --------------------
def central_difference(f: object, x: float, h: float = 1e-6) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)  # type: ignore[operator]


@pytest.mark.parametrize("x", [0.5, 1.5, -0.8])
def test_chain_rule_example(x: float) -> None:
    got, formula = textbook.chain_rule(x)
    assert math.isclose(got, formula, rel_tol=1e-12, abs_tol=1e-12)
    numeric = central_difference(lambda t: math.sin(2 * t**3 - 4 * t), x)
    assert math.isclose(got, numeric, rel_tol=1e-6, abs_tol=1e-8)


def test_tanh_neuron_derivative_is_one_minus_o_squared_times_x() -> None:
    w, x = (0.1, 0.4, -0.3), (0.5, -1.5)
    o, got, formula = textbook.tanh_neuron(w, x)
    assert o == math.tanh(0.1 + 0.4 * 0.5 - 0.3 * -1.5)
    assert math.isclose(got, formula, rel_tol=1e-12)
    numeric = central_difference(lambda w1: math.tanh(0.1 + w1 * 0.5 - 0.3 * -1.5), 0.4)
    assert math.isclose(got, numeric, rel_tol=1e-7)


# Lecture 003 by hand: h = x W1 = [2(-0.78) + 3(0.85), 2(0.13) + 3(0.23)] = [0.99, 0.95],
# y_hat = 1.8(0.99) + 0.4(0.95) = 2.162, y_hat - y = 1.162, and the slide table's gradients.
LECTURE_003 = {
    "w2_1": 1.162 * 0.99,
    "w2_2": 1.162 * 0.95,
    "b2": 1.162,
    "w1_11": 1.162 * 1.8 * 2,
    "w1_12": 1.162 * 0.40 * 2,
    "w1_21": 1.162 * 1.8 * 3,
    "w1_22": 1.162 * 0.40 * 3,
    "b1_1": 1.162 * 1.8,
    "b1_2": 1.162 * 0.40,
}


def test_two_layer_example_matches_the_slides() -> None:
    v = textbook.two_layer()
    assert math.isclose(v["y_hat"].data, 2.162, rel_tol=1e-12)
    assert math.isclose(v["L"].data, 0.5 * 1.162**2, rel_tol=1e-12)  # the 1/2 MSE
    v["L"].backward()
    for name, want in LECTURE_003.items():
        assert math.isclose(v[name].grad, want, rel_tol=1e-12), name
    rows = {name: value for name, _, value in textbook.slide_table(v["y_hat"].data)}
    assert rows.keys() == LECTURE_003.keys()
    for name, want in LECTURE_003.items():
        assert math.isclose(rows[name], want, rel_tol=1e-12), name


def test_two_layer_example_matches_torch() -> None:
    torch = requires.torch()
    x = torch.tensor([[2.0, 3.0]], dtype=torch.float64)
    w1 = torch.tensor([[-0.78, 0.13], [0.85, 0.23]], dtype=torch.float64, requires_grad=True)
    b1 = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    w2 = torch.tensor([[1.8], [0.40]], dtype=torch.float64, requires_grad=True)
    b2 = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    loss = 0.5 * (((x @ w1 + b1) @ w2 + b2) - 1.0).pow(2).sum()
    loss.backward()
    v = textbook.two_layer()
    v["L"].backward()
    assert math.isclose(v["L"].data, loss.item(), rel_tol=1e-12)
    for i in range(2):
        for j in range(2):
            assert math.isclose(v[f"w1_{i + 1}{j + 1}"].grad, w1.grad[i, j].item(), rel_tol=1e-12)
        assert math.isclose(v[f"w2_{i + 1}"].grad, w2.grad[i, 0].item(), rel_tol=1e-12)
        assert math.isclose(v[f"b1_{i + 1}"].grad, b1.grad[i].item(), rel_tol=1e-12)
    assert math.isclose(v["b2"].grad, b2.grad[0].item(), rel_tol=1e-12)


def test_textbook_graph_labels_every_node() -> None:
    nodes = textbook.textbook_graph()
    from autograd import topological_order

    assert all(isinstance(v, Value) and v.label for v in topological_order(nodes["L"]))


# ---- the committed image of docs/see_backprop.md ---------------------------------------------
def test_committed_svg_is_the_textbook_figure() -> None:
    svg = (ROOT / "docs" / "images" / "textbook.svg").read_text(encoding="utf-8")
    texts = [t.text for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]
    for name, (data, grad) in LECTURE_000.items():
        assert name in texts
        assert f"data {data:.4f}" in texts and f"grad {grad:.4f}" in texts
    assert "dL/dc = 5.0000" in texts and "de/da = 1.0000" in texts


# ---- running it as a program ---------------------------------------------------------------------
def run_demo(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    environ.update(env)
    return subprocess.run(
        [sys.executable, *args, "--out", str(tmp_path / "out")],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("command", [["demos/textbook.py"], ["-m", "demos.textbook"]])
def test_demo_runs_as_a_script_and_as_a_module(command: list[str], tmp_path: Path) -> None:
    result = run_demo([*command, "--no-open"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "All results agree with the lectures." in result.stdout
    assert "y_hat = 2.162000" in result.stdout


def test_open_without_a_display_opens_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "browser-was-started"
    # If the demo tried to open a browser, webbrowser would run this command.
    browser = f"{sys.executable} -c \"open(r'{marker}', 'w').close()\" %s"
    result = run_demo(["-m", "demos.textbook", "--open"], tmp_path, BROWSER=browser)
    assert result.returncode == 0, result.stderr
    assert not marker.exists()
    if shutil.which("dot") is not None:
        assert "No display found" in result.stdout
