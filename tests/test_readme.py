"""The README's REPL sessions run exactly as printed, and its Quickstart commands are the ones CI runs."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_repl_sessions_run_as_printed() -> None:
    blocks = re.findall(r"```pycon\n(.*?)```", README, flags=re.S)
    assert blocks, "README has no pycon examples"
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    globs: dict[str, object] = {}
    for i, block in enumerate(blocks):
        test = parser.get_doctest(block, globs, f"README block {i}", "README.md", 0)
        runner.run(test, clear_globs=False)
        globs = test.globs  # later blocks continue the same session
    assert runner.failures == 0, f"{runner.failures} README example(s) failed (see output above)"
    assert runner.tries > 10


def test_ci_runs_the_readme_test_command() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)\n```", quickstart, flags=re.S)
    assert len(commands) == 2, "the Quickstart has exactly two commands: the demo, the tests"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci
