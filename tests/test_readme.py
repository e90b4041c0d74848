"""The README's code runs exactly as printed, and its Quickstart commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

from pycon import run_page

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_repl_sessions_run_as_printed() -> None:
    session = run_page(ROOT / "README.md")  # every ```pycon and ```python block, in order, as one session
    assert session.tries > 10


def test_ci_runs_the_readme_test_command() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", quickstart, flags=re.S)
    assert len(commands) == 2, "the Quickstart has exactly two commands: the demo, the tests"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci
