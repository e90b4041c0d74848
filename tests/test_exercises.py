"""demos/exercises: every reference solution passes, typical mistakes get the right diagnosis (the
node named, expected vs got), broken files get clear messages, and nothing a student's file does
changes the checker's references."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

import nn
from autograd import Value
from demos import exercises
from demos.exercises import EXERCISES, check, graphs, release, strip_solutions
from demos.exercises.__main__ import main
from demos.exercises.core import graph_reference

ROOT = Path(__file__).resolve().parent.parent


def _variant(tmp_path: Path, number: int, old: str, new: str, name: str = "mine.py") -> Path:
    """The reference solution of exercise `number` with `old` replaced by `new` (which must occur)."""
    text = exercises.exercise(number).solution.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in exercise {number}'s solution"
    path = tmp_path / name
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.py"
    path.write_text(text, encoding="utf-8")
    return path


# ---- the reference solutions ----------------------------------------------------------------------
def test_there_is_an_exercise_for_every_lecture() -> None:
    assert [ex.number for ex in EXERCISES] == list(range(1, len(EXERCISES) + 1))
    assert {ex.lecture for ex in EXERCISES} == {"000", "001", "002", "003", "004"}
    assert all(ex.solution.is_file() and ex.hints for ex in EXERCISES)


@pytest.mark.parametrize("number", [ex.number for ex in EXERCISES])
def test_every_reference_solution_passes(number: int) -> None:
    report = check(number)
    assert report.ok, report.text
    assert report.text.startswith("Right:")


def test_a_right_answer_comes_with_the_engines_narration() -> None:
    text = check(1).text
    assert "dL/da += dL/de * de/da = (-2.0)(1.0) = -2.0" in text  # explain's own line
    assert "dL/db += dL/dd * dd/db = (-2.0)(2.0) = -4.0" in text


# ---- typical mistakes, and the diagnosis each gets -------------------------------------------------
MISTAKES = [
    pytest.param(
        1,
        '{"a": -2.0',
        '{"a": 2.0',
        ["node a", "Expected dL/da = -2.0; yours is 2.0", "sign error", "dL/da += dL/de * ∂e/∂a = (-2.0)(1.0)"],
        id="sign-error",
    ),
    pytest.param(
        1,
        '"b": -4.0',
        '"b": -2.0',
        ["node b", "Expected dL/db = -4.0; yours is -2.0", "the local derivative is missing", "∂d/∂b = 2.0"],
        id="forgot-the-local-derivative",
    ),
    pytest.param(
        2,
        '"x": -4.0',
        '"x": -1.0',
        [
            "node x",
            "Expected dL/dx = -4.0; yours is -1.0",
            "missing accumulation",
            "only the contribution through v",
            "the use through u is missing",
            "x is used 2 times",
        ],
        id="missing-accumulation",
    ),
    pytest.param(
        2,
        '"x": -4.0',
        '"x": -3.0',
        [
            "node x",
            "Expected dL/dx = -4.0; yours is -3.0",
            "`=` instead of `+=`",
            "only the last contribution (through u)",
        ],
        id="assign-instead-of-accumulate",
    ),
    pytest.param(
        2,
        '{"p": -4.0',
        '{"p": -3.0',
        [
            "node p",
            "Expected dL/dp = -4.0; yours is -3.0",
            "the chain rule in the wrong order",
            "yours is (-3.0)(1.0)",
            "uses dL/dx before all of it had arrived",
            "it is -4.0 in full",
        ],
        id="wrong-order",
    ),
    pytest.param(
        4,
        "out.append(upstream * (1.0 - o_b * o_b))",
        "out.append(upstream)",
        [
            "node s3(l)",
            "Expected dL/ds3(l) = -0.214105; yours is -0.285671",
            "the local derivative is missing",
            "∂o3(l)/∂s3(l) = 0.74948",
        ],
        id="delta-without-theta-prime",
    ),
    pytest.param(
        5,
        "return 1.0 / (1.0 + math.exp(-z)) - y",
        "return y - 1.0 / (1.0 + math.exp(-z))",
        ["bce_grad(z=0.8, y=1.0)", "node z", "Expected dL/dz = -0.310026; yours is 0.310026", "sign error"],
        id="bce-sign-error",
    ),
    pytest.param(
        5,
        " - (1.0 if k == target else 0.0)",
        "",
        ["softmax_ce_grad(z=[2.0, 1.0, 0.1], 0)", "node z1", "Expected dL/dz1 = -0.340999; yours is 0.659001", "-z1"],
        id="softmax-without-the-target-term",
    ),
    pytest.param(
        6,
        '"w1_11": r * 1.8 * 2',
        '"w1_11": r * 2',
        [
            "node w1_11",
            "Expected dL/dw1_11 = 4.1832; yours is 2.324",
            "an upstream dL/dx1w1_11 of 1.162 (it is 2.0916)",
        ],
        id="two-layer-forgot-w2",
    ),
    pytest.param(
        7,
        'g["w1"] += upstream * x1',
        'g["w1"] = upstream * x1',
        [
            "node w1",
            "Expected dL/dw1 = -0.025; yours is 0.175",
            "missing accumulation",
            "`=` overwrote",
            "used 4 times",
        ],
        id="xor-assign-in-a-loop",
    ),
]


@pytest.mark.parametrize(("number", "old", "new", "expected"), MISTAKES)
def test_a_typical_mistake_gets_its_diagnosis(
    tmp_path: Path, number: int, old: str, new: str, expected: list[str]
) -> None:
    report = check(number, _variant(tmp_path, number, old, new))
    assert not report.ok
    assert report.text.startswith("Not yet:")
    assert "First wrong step: node" in report.text
    for words in expected:
        assert words in report.text, f"{words!r} not in\n{report.text}"


def test_only_the_first_wrong_step_is_blamed(tmp_path: Path) -> None:
    # e and a both wrong: e is completed first by backward(), so e is blamed, a is not mentioned
    path = _variant(tmp_path, 1, '"e": -2.0', '"e": 2.0')
    path.write_text(path.read_text(encoding="utf-8").replace('"a": -2.0', '"a": 7.0'), encoding="utf-8")
    text = check(1, path).text
    assert "node e" in text and "node a" not in text


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("return out * (1.0 - out)", "return out * (1.0 + out)", ["sigmoid_rule", "check_op 'sigmoid", "at x = "]),
        ("return 1.0 - out * out", "return 1.0 - out", ["tanh_rule", "check_op 'tanh", "the rule gives"]),
        ("return m.sigmoid(x)", "return 1.0 / (1.0 + math.exp(-x))", ["softplus_rule", "write it with m"]),
    ],
    ids=["sigmoid-sign", "tanh-forgot-square", "softplus-with-math-exp"],
)
def test_a_wrong_rule_is_blamed_by_check_op_at_a_point(tmp_path: Path, old: str, new: str, expected: list[str]) -> None:
    report = check(3, _variant(tmp_path, 3, old, new))
    assert not report.ok
    for words in expected:
        assert words in report.text, report.text


def test_a_wrong_rule_names_the_numbers(tmp_path: Path) -> None:
    text = check(3, _variant(tmp_path, 3, "return out * (1.0 - out)", "return out * (1.0 + out)")).text
    # "d out/d x at x = 4.13...: the rule gives 1.95..., central differences give 0.0155..."
    assert (
        "d out/d x at x = 4.133" in text and "the rule gives 1.95" in text and "central differences give 0.0155" in text
    )


@pytest.mark.parametrize(
    ("number", "old", "new", "expected"),
    [
        (8, " + weight_decay * p.data", "", ["p[0]", "0.46", "Yours is 0.47", "the weight decay is missing"]),
        (8, "p.data - lr * g", "p.data + lr * g", ["p[0]", "sign error"]),
        (8, "p.grad + weight_decay * p.data", "p.grad - weight_decay * p.data", ["wrong sign"]),
        (9, "/ (1.0 - beta1**t)", "", ["p[0]", "0.29967", "yours is", "bias correction is missing"]),
        (9, 'state["t"] += 1', "pass", ["state['t'] should be 3"]),
        (9, "(1.0 - beta2) * g * g", "(1.0 - beta1) * g * g", ["v = beta2 v + (1 - beta2) g^2", "p[0]"]),
    ],
    ids=["sgd-no-decay", "sgd-sign", "sgd-decay-sign", "adam-no-bias-correction", "adam-no-t", "adam-v-without-square"],
)
def test_optimizer_mistakes(tmp_path: Path, number: int, old: str, new: str, expected: list[str]) -> None:
    path = _variant(tmp_path, number, old, new)
    if number == 9 and "beta1**t" in old:  # remove both corrections
        text = path.read_text(encoding="utf-8").replace("/ (1.0 - beta2**t)", "")
        path.write_text(text, encoding="utf-8")
    report = check(number, path)
    assert not report.ok
    for words in expected:
        assert words in report.text, report.text


def test_xor_gap_and_best_neuron_mistakes(tmp_path: Path) -> None:
    gap = check(7, _variant(tmp_path, 7, "- s(0, 0) - s(1, 1)", "- s(0, 0) + s(1, 1)", "gap.py")).text
    assert "xor_gap(1.0, 1.0, -0.5)" in gap and "the gap is 0.0" in gap
    best = check(
        7, _variant(tmp_path, 7, '{"w1": 0.0, "w2": 0.0, "b": 0.5}', '{"w1": 0.0, "w2": 0.0, "b": 0.0}', "b.py")
    )
    assert not best.ok and "dL/db = -1.0" in best.text
    assert "predicts 0.5, 0.5, 0.5, 0.5" in check(7).text


# ---- files that cannot be checked ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("def gradients(:\n", "syntax error at line 1"),
        ("import nowhere_to_be_found\n", "does not import: ModuleNotFoundError"),
        ("x = 1 / 0\n", "ZeroDivisionError: division by zero (line 1)"),
        ("def grads():\n    return {}\n", "no function gradients(); it defines grads"),
        ("gradients = 3\n", "gradients must be a function"),
        ("def gradients():\n    return [1, 2]\n", "must return a dict of numbers"),
        ("def gradients():\n    return {'a': 1.0}\n", "missing b, c, d, e"),
        (
            "def gradients():\n    return dict(a='-2', b=-4, c=5, d=-2, e=-2)\n",
            "gradients()['a'] must be a number, got str",
        ),
        (
            "from autograd import Value\ndef gradients():\n    return dict(a=Value(-2.0), b=-4, c=5, d=-2, e=-2)\n",
            "is a Value",
        ),
        ("def gradients():\n    return dict(a=float('nan'), b=-4, c=5, d=-2, e=-2)\n", "must be a finite number"),
        ("def gradients():\n    raise KeyError('e')\n", "gradients() raised KeyError: 'e' (line 2)"),
    ],
    ids=[
        "syntax",
        "import",
        "raises",
        "wrong-name",
        "not-callable",
        "not-a-dict",
        "keys",
        "str",
        "value",
        "nan",
        "raises",
    ],
)
def test_a_file_that_cannot_be_checked_gets_a_clear_message(tmp_path: Path, text: str, expected: str) -> None:
    report = check(1, _file(tmp_path, text))
    assert not report.ok
    assert report.text.startswith("Cannot check exercise 1")
    assert expected in report.text, report.text


def test_missing_file_and_unknown_exercise(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "no file at" in check(1, tmp_path / "nope.py").text
    assert main(["check", "42", str(tmp_path / "x.py")]) == 1
    assert "no exercise 42" in capsys.readouterr().err


def test_a_released_starter_says_what_is_left_to_do(tmp_path: Path) -> None:
    written = release(tmp_path)
    assert [p.name for p in written] == [ex.filename for ex in EXERCISES]
    for ex, path in zip(EXERCISES, written):
        text = path.read_text(encoding="utf-8")
        assert "SOLUTION" not in text and "NotImplementedError" in text
        assert text.startswith('"""Exercise')  # the statement stays
        report = check(ex.number, path)
        assert not report.ok and "not written yet" in report.text, report.text


def test_release_keeps_everything_but_the_solution_blocks() -> None:
    text = 'def f():\n    """doc"""\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n\nX = 2\n'
    out = strip_solutions(text)
    assert "return 1" not in out and '"""doc"""' in out and "X = 2" in out
    assert '    raise NotImplementedError("not written yet")' in out
    with pytest.raises(ValueError, match="never closed"):
        strip_solutions("# BEGIN SOLUTION\n")


# ---- the references cannot be changed --------------------------------------------------------------
PATCHER = """
from autograd import Value
import demos.exercises.graphs as g
import demos.exercises.core as c

def fake():
    a = Value(0.0, label="a")
    L = a * 1.0
    L.label = "L"
    return L

g.textbook = fake          # the checker's graph builder, rebound
c.REL_TOL = 10.0           # and its tolerance

def gradients():
    return {"a": 1.0, "b": 0.0, "c": 0.0, "d": 0.0, "e": 0.0}
"""


def test_a_student_file_cannot_change_the_references(tmp_path: Path) -> None:
    report = check(1, _file(tmp_path, PATCHER))
    assert not report.ok and "Expected dL/de = -2.0" in report.text
    # and nothing it rebound survives the check
    assert graphs.textbook.__module__ == "demos.exercises.graphs" and graphs.textbook().data == -10.0
    assert check(1).ok


def test_a_student_function_cannot_change_the_inputs_of_the_reference(tmp_path: Path) -> None:
    # delta() scribbles over its arguments, then answers right for what it was given
    solution = exercises.exercise(4).solution.read_text(encoding="utf-8")
    scribble = solution.replace("    out = []\n", "    out = []\n    o_copy = list(o)\n    o[:] = [9.0] * len(o)\n")
    scribble = scribble.replace("(1.0 - o_b * o_b)", "(1.0 - o_copy[b] ** 2)")
    assert check(4, _file(tmp_path, scribble)).ok


# ---- the references agree with the engine and the lectures -----------------------------------------
def test_the_delta_graph_gives_nn_layer_deltas() -> None:
    case = graphs.delta_case()
    ref = graph_reference(graphs.delta_layer(case.layers[0].s, case.layers[1].W, case.layers[1].delta))
    for b, d in enumerate(case.layers[0].delta):
        assert math.isclose(ref.grads[f"s{b + 1}(l)"], d, rel_tol=1e-12)


def test_the_loss_graphs_give_the_engines_gradients() -> None:
    z = Value(0.3)
    nn.binary_cross_entropy_with_logits([z], [0.25]).backward()
    assert math.isclose(graph_reference(graphs.bce(0.3, 0.25)).grads["z"], z.grad, rel_tol=1e-12)
    zs = [Value(v) for v in (0.5, -1.0, 1.5)]
    nn.cross_entropy(zs, 1).backward()
    ref = graph_reference(graphs.softmax_ce((0.5, -1.0, 1.5), 1))
    for k, v in enumerate(zs):
        assert math.isclose(ref.grads[f"z{k + 1}"], v.grad, rel_tol=1e-12, abs_tol=1e-15)


def test_the_two_layer_graph_is_lecture_003() -> None:
    ref = graph_reference(graphs.two_layer())
    assert ref.grads["w2_1"] == pytest.approx(1.15038, abs=1e-5)
    assert ref.grads["w1_21"] == pytest.approx(6.2748, abs=1e-4)
    assert ref.grads["b2"] == pytest.approx(1.162)


# ---- the command line --------------------------------------------------------------------------------
def test_cli_list_hint_check_release(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("\n") == len(EXERCISES) and "lecture 004" in listing
    assert main(["hint", "2"]) == 0
    assert "dL/dx = dL/du * ∂u/∂x + dL/dv * ∂v/∂x" in capsys.readouterr().out
    assert main(["release", str(tmp_path / "out")]) == 0
    assert len(list((tmp_path / "out").glob("ex*.py"))) == len(EXERCISES)
    capsys.readouterr()
    assert main(["check", "1", str(tmp_path / "out" / "ex01_textbook_graph.py")]) == 1
    assert "not written yet" in capsys.readouterr().out
    assert main(["check", "1", str(exercises.exercise(1).solution)]) == 0


def test_python_dash_m_runs(tmp_path: Path) -> None:
    wrong = _variant(tmp_path, 2, '"x": -4.0', '"x": -1.0')
    done = subprocess.run(
        [sys.executable, "-m", "demos.exercises", "check", "2", str(wrong)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "missing accumulation" in done.stdout
