"""Exercise 3's checker: the student's local-derivative rules, registered with `defop` and blamed by
`check_op` at a concrete point.

Only the derivative is the student's: each rule is paired with the checker's own forward (the same
formula as the engine's built-in op), so a rule is judged against the function it claims to
differentiate. Each check registers a fresh op under a new name, so checking twice never collides.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autograd import GradcheckError, Value, check_op, defop, explain

from .core import ExerciseError, load_student, sealed, student_function
from .report import Report, right, wrong

_registered = itertools.count(1)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0.0 else math.exp(x) / (1.0 + math.exp(x))


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _gelu(x: float) -> float:
    return 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0)))


def _activations() -> tuple[tuple[str, Callable[[float], float], tuple[float, float]], ...]:
    """(name, forward, domain): built here, at each check, from literals and the math module."""
    return (
        ("sigmoid", _sigmoid, (-6.0, 6.0)),
        ("tanh", math.tanh, (-3.0, 3.0)),
        ("softplus", _softplus, (-6.0, 6.0)),
        ("gelu", _gelu, (-3.0, 3.0)),
    )


def _register(name: str, forward: Callable[[float], float], rule: Any, domain: tuple[float, float]) -> Any:
    """The student's rule as an op row; a rule defop refuses becomes a clear message."""
    label = f"{name} (your rule #{next(_registered)})"
    try:
        return defop(label, forward, rule, domain={"x": domain}, doc=f"exercise 3: {name} with the student's rule")
    except Exception as error:
        raise ExerciseError(f"{name}_rule cannot be registered with defop: {type(error).__name__}: {error}") from None


def check_activations(path: Path) -> Report:
    """Exercise 3: run `check_op` on each rule; the first wrong one is blamed at a point."""
    table = _activations()
    module = load_student(path)
    rules = [(name, fwd, student_function(module, f"{name}_rule"), dom) for name, fwd, dom in table]
    passed = []
    for name, forward, rule, domain in rules:
        op = _register(name, forward, rule, domain)
        try:
            with sealed():  # check_op runs the student's rule
                passed.append(check_op(op, samples=6))
        except GradcheckError as error:
            return wrong(f"{name}_rule", f"  {error}\n  (the rule must give ∂out/∂x = d {name}(x)/dx at every x)")
        except NotImplementedError:
            raise ExerciseError(f"{name}_rule is not written yet: replace `raise NotImplementedError`") from None
        except Exception as error:
            raise ExerciseError(f"{name}_rule raised {type(error).__name__}: {error}") from None
    return right(
        "every rule matches central differences (first and second derivatives).",
        _narrations(passed),
        "check_op's reports, then the engine's narration of each built-in at x = 0.5, for comparison",
    )


def _narrations(passed: list[str]) -> str:
    """check_op's reports, then the engine's narration of each built-in activation at x = 0.5."""
    lines = list(passed)
    for name in ("sigmoid", "tanh", "softplus", "gelu"):
        x = Value(0.5, label="x")
        out = getattr(x, name)()
        out.label = "out"
        lines.append(f"{name}: {explain(out).splitlines()[-1]}")
    return "\n".join(lines)
