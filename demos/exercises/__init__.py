"""Exercises that check themselves and point at the first wrong chain-rule step.

One exercise (or more) per lecture: a statement (the docstring of its file), a starter file the
student edits (blanks to fill in), and a checker that runs the file as a fresh module, compares
with the engine, and on a wrong answer names the first wrong step in the lectures' notation:
which node, the upstream gradient dL/de and local derivative ∂e/∂x the engine used, and what the
student's number implies (a sign error, a missing `+=`, a forgotten local derivative, ...).

    python -m demos.exercises list
    python -m demos.exercises release DIR        # the student versions (instructor)
    python -m demos.exercises check N [path]     # default path: exercises/<file name>
    python -m demos.exercises hint N

The reference solutions live in `demos/exercises/solutions/`; `release` strips their solution blocks.
"""

from __future__ import annotations

from .catalog import EXERCISES, Exercise, check, exercise, hint, listing
from .core import ExerciseError
from .release import release, strip_solutions
from .report import Report

__all__ = [
    "EXERCISES",
    "Exercise",
    "ExerciseError",
    "Report",
    "check",
    "exercise",
    "hint",
    "listing",
    "release",
    "strip_solutions",
]
