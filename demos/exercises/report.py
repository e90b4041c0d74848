"""What a check returns: right or not, and the text to show the student."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .core import GraphReference, first_wrong_step


@dataclass(frozen=True)
class Report:
    """The outcome of checking one exercise: `ok`, and the text (diagnosis or confirmation)."""

    ok: bool
    text: str

    def __str__(self) -> str:
        return self.text


def right(what: str, narration: str, heading: str = "The engine's backward pass, for comparison") -> Report:
    """A right answer: say so, then show the engine's narration to compare with."""
    indented = "\n".join(f"  {line}" for line in narration.splitlines())
    return Report(True, f"Right: {what}\n{heading}:\n{indented}")


def wrong(where: str, diagnosis: str) -> Report:
    """A wrong answer: where (which function, which inputs), then the diagnosis."""
    return Report(False, f"Not yet: {where}\n{diagnosis}")


def graph_report(ref: GraphReference, got: Mapping[str, float], where: str) -> Report | None:
    """None when every gradient in `got` is right, else the first wrong chain-rule step."""
    diagnosis = first_wrong_step(ref, got)
    return None if diagnosis is None else wrong(where, diagnosis)
