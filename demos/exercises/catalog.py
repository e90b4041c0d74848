"""The exercises: number, lecture, title, reference solution file, hints and checker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import checks_graph, checks_rules, checks_steps
from .core import ExerciseError, sealed
from .report import Report

SOLUTIONS = Path(__file__).resolve().parent / "solutions"
"""The reference solutions (with the solution blocks that `release` removes)."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: `filename` is its reference solution in `SOLUTIONS` and the student's file name."""

    number: int
    lecture: str
    title: str
    filename: str
    hints: tuple[str, ...]
    checker: Callable[[Path], Report]

    @property
    def solution(self) -> Path:
        return SOLUTIONS / self.filename


EXERCISES: tuple[Exercise, ...] = (
    Exercise(
        1,
        "000",
        "the gradients of L = c(a + 2b), by hand",
        "ex01_textbook_graph.py",
        (
            "Start at the root: dL/dL = 1. Then dL/de = dL/dL * ∂L/∂e, and ∂(c e)/∂e = c.",
            "An addition passes its upstream gradient on unchanged (local derivative 1);"
            " a product by a constant k multiplies it by k.",
        ),
        checks_graph.check_textbook,
    ),
    Exercise(
        2,
        "000",
        "a node used twice, by hand",
        "ex02_used_twice.py",
        (
            "Compute the forward values first: x = 2, u = 6, v = 8, L = -8.",
            "x has two outgoing edges (into u and into v): dL/dx = dL/du * ∂u/∂x + dL/dv * ∂v/∂x.",
            "dL/dp needs the complete dL/dx: finish both contributions before passing the gradient on.",
        ),
        checks_graph.check_used_twice,
    ),
    Exercise(
        3,
        "001",
        "sigmoid, tanh, softplus and gelu as defop rules",
        "ex03_activations.py",
        (
            "A rule returns ∂out/∂x only; the engine multiplies by the upstream gradient itself.",
            "sigmoid and tanh have derivatives best written with `out`: s(1 - s) and 1 - t^2.",
            "d softplus/dx is a function you already know;"
            " d (x Phi(x))/dx = Phi(x) + x phi(x), with phi(x) = e^(-x^2/2) / sqrt(2 pi).",
            "Write functions of x with m.exp, m.erf, m.sigmoid, not math.*:"
            " check_op also differentiates the rule itself.",
        ),
        checks_rules.check_activations,
    ),
    Exercise(
        4,
        "001",
        "the delta recursion for one layer of a tanh network",
        "ex04_delta.py",
        (
            "delta_b(l) = (upstream d loss/d o_b(l)) * (local ∂o_b(l)/∂s_b(l)).",
            "The upstream sums over the neurons c of layer l+1 that use o_b(l):"
            " sum_c delta_c(l+1) w_cb(l+1), a column of W(l+1).",
            "For tanh the local derivative is 1 - o_b(l)^2.",
        ),
        checks_graph.check_delta,
    ),
    Exercise(
        5,
        "002",
        "the gradient of BCE with logits and of softmax cross-entropy",
        "ex05_losses.py",
        (
            "In L = softplus(z) - y z, z appears twice: add both contributions.",
            "d softplus(z)/dz = sigmoid(z).",
            "In L = log sum_k e^(z_k) - z_t, z_t appears twice; the others once, through the sum.",
        ),
        checks_graph.check_losses,
    ),
    Exercise(
        6,
        "003",
        "one full backward pass of the two-layer network, by hand",
        "ex06_two_layer.py",
        (
            "dL/dy_hat = y_hat - y = 1.162 (the 1/2 cancels the 2 of the square).",
            "y_hat = w2_1 h1 + w2_2 h2 + b2: dL/dw2_j = dL/dy_hat * h_j and dL/dh_j = dL/dy_hat * w2_j.",
            "h_j = x1 w1_1j + x2 w1_2j + b1_j: dL/dw1_ij = dL/dh_j * x_i.",
        ),
        checks_graph.check_two_layer,
    ),
    Exercise(
        7,
        "003",
        "why one neuron cannot learn XOR, with numbers",
        "ex07_xor.py",
        (
            "Write out s at the four corners: s(0,0) = b, s(0,1) = w2 + b, ...",
            "Each of w1, w2, b is used by all four samples: dL/dw1 = sum_k dL/dy_hat_k * x1_k.",
            "At the minimum every gradient is 0; the b equation says the mean prediction equals the mean target.",
        ),
        checks_graph.check_xor,
    ),
    Exercise(
        8,
        "004",
        "one SGD step with weight decay",
        "ex08_sgd.py",
        (
            "The gradient of (alpha/2) W^2 is alpha W: add it to p.grad.",
            "Step against the gradient: p.data = p.data - lr * (p.grad + weight_decay * p.data).",
        ),
        checks_steps.check_sgd,
    ),
    Exercise(
        9,
        "004",
        "one Adam step",
        "ex09_adam.py",
        (
            "Increase t once per step, before the bias correction.",
            "m and v are running averages: beta times the old value plus (1 - beta) times the new one.",
            "Bias correction: m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t).",
        ),
        checks_steps.check_adam,
    ),
)


def exercise(number: int) -> Exercise:
    """The exercise numbered `number` (1-based); an unknown number lists the known ones."""
    for ex in EXERCISES:
        if ex.number == number:
            return ex
    raise ExerciseError(f"no exercise {number}; there are 1 to {len(EXERCISES)} (python -m demos.exercises list)")


def check(number: int, path: str | Path | None = None) -> Report:
    """Check the student's file for exercise `number` (default: its reference solution).

    A file that cannot be checked (does not import, lacks a name, returns non-numbers) gives a
    Report that says why, not a traceback.
    """
    ex = exercise(number)
    target = ex.solution if path is None else Path(path)
    try:
        with sealed():  # and once more around the whole check
            return ex.checker(target)
    except ExerciseError as error:
        return Report(False, f"Cannot check exercise {number} ({target}): {error}")


def listing() -> str:
    """One line per exercise: number, lecture, title, file."""
    return "\n".join(f"{ex.number:>2}  lecture {ex.lecture}  {ex.title:<62} {ex.filename}" for ex in EXERCISES)


def hint(number: int) -> str:
    """The hints of exercise `number`, numbered."""
    ex = exercise(number)
    lines = [f"Exercise {ex.number} (lecture {ex.lecture}): {ex.title}"]
    lines += [f"  {i}. {h}" for i, h in enumerate(ex.hints, start=1)]
    return "\n".join(lines)
