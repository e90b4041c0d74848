"""The student versions: each reference solution with its solution blocks replaced by a blank.

A solution block is the lines between `# BEGIN SOLUTION` and `# END SOLUTION` (markers included);
it becomes, at the marker's indentation, a comment and `raise NotImplementedError(...)`, which the
checker reports as "not written yet". Everything else (statement, signatures, docstrings) stays.
"""

from __future__ import annotations

from pathlib import Path

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"


class ReleaseError(ValueError):
    """A solution file whose markers do not pair up."""


def strip_solutions(text: str, name: str = "<solution>") -> str:
    """`text` with every solution block replaced by a blank to fill in."""
    out: list[str] = []
    inside = False
    for number, line in enumerate(text.splitlines(), start=1):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ReleaseError(f"{name}:{number}: {BEGIN} inside another solution block")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# YOUR CODE HERE: replace the line below with your answer")
            out.append(f'{indent}raise NotImplementedError("not written yet")')
        elif marker == END:
            if not inside:
                raise ReleaseError(f"{name}:{number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ReleaseError(f"{name}: {BEGIN} is never closed")
    return "\n".join(out) + "\n"


def release(directory: str | Path) -> list[Path]:
    """Write the student version of every exercise into `directory`; return the files written."""
    from .catalog import EXERCISES  # the catalog imports the checkers; release needs only the files

    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for ex in EXERCISES:
        path = target / ex.filename
        path.write_text(strip_solutions(ex.solution.read_text(encoding="utf-8"), ex.filename), encoding="utf-8")
        written.append(path)
    return written
