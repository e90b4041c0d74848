"""Markdown pages whose code runs as printed: every ```pycon and ```python block of a page, in order,
as one session (later blocks see the names earlier ones defined). A ```pycon block runs as a doctest
(with ELLIPSIS); a ```python block runs as a script in the same namespace and must not raise. A
```python block meant only for reading (another library's code, say) has the line `<!-- not run -->`
just before its fence; nothing else is skipped. Other fences (```sh, ```text, ...) are not run.

A page runs in a fresh temporary working directory, so files its examples write (`save_svg(L,
"L.svg")`) land there and are removed afterwards.

A section that needs something not every machine has starts with a marker line such as
`<!-- requires: compile -->`. It covers the blocks from the marker to the next heading of the same or
a higher level (to the end of the page when no heading comes before it). Those blocks run only when
the requirement is met; otherwise `run_page` skips the test after running the rest of the page,
saying which blocks did not run and why. A requirement this module does not know fails the test.
"""

from __future__ import annotations

import doctest
import io
import os
import re
import shutil
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


def _has_compile() -> bool:
    import autograd

    return callable(getattr(autograd, "compile", None))


# requirement name -> (is it met?, why a section needing it did not run)
REQUIREMENTS: dict[str, tuple[Callable[[], bool], str]] = {
    "compile": (_has_compile, "autograd.compile is not importable yet (the compiler package has not landed)"),
    "dot": (lambda: shutil.which("dot") is not None, "Graphviz's `dot` is not installed"),
}

_HEADING = re.compile(r"(#{1,6})\s")
_MARKER = re.compile(r"<!--\s*requires:\s*(.*?)\s*-->")
_NOT_RUN = re.compile(r"<!--\s*not run\s*-->")
RUN = ("pycon", "python")  # the fences that run


@dataclass(frozen=True)
class Block:
    """One block that runs: its text, the page line of its opening fence, what it requires, and its
    kind, "pycon" (a doctest) or "python" (a script)."""

    text: str
    line: int
    requires: tuple[str, ...] = ()
    kind: str = "pycon"


def code_blocks(markdown: str) -> list[Block]:
    """The page's ```pycon and ```python blocks in order, each with the requirements of the section it
    sits in; a ```python block right after a `<!-- not run -->` line is left out."""
    blocks: list[Block] = []
    fence: str | None = None  # the info string of the open code fence
    start, body = 0, []
    section = 0  # level of the latest heading (0 before the first one)
    requires: tuple[str, ...] = ()
    scope = 0  # a marker covers its section: it ends at the next heading of level <= scope
    previous = ""  # the last non-blank line outside code blocks
    skip = False  # the open block is marked not run
    for number, line in enumerate(markdown.splitlines(keepends=True), start=1):
        if fence is not None:  # inside a code block: only its closing fence matters
            if line.startswith("```"):
                if fence in RUN and not skip:
                    blocks.append(Block("".join(body), start, requires, fence))
                fence = None
            else:
                body.append(line)
            continue
        if line.startswith("```"):
            fence, start, body = line[3:].strip(), number, []
            skip = bool(_NOT_RUN.fullmatch(previous))
            assert not skip or fence == "python", f"line {number}: only a ```python block can be marked not run"
        elif heading := _HEADING.match(line):
            section = len(heading.group(1))
            if requires and section <= scope:
                requires = ()
        elif marker := _MARKER.fullmatch(line.strip()):
            requires = tuple(name.strip() for name in marker.group(1).split(",") if name.strip())
            scope = section
        if line.strip():
            previous = line.strip()
    assert fence is None, f"a code block opened at line {start} is never closed"
    return blocks


@dataclass
class Session:
    tries: int = 0
    failures: int = 0
    report: str = ""
    not_run: tuple[str, ...] = ()  # why blocks did not run, one line per requirement not met


def run_page(path: Path) -> Session:
    """Run every block of the page at `path` as one session and return the doctest counts.

    Fails the test (with doctest's report, or the script's traceback) when an example fails, a
    ```python block raises, or the page has nothing to run; skips it, once every other block has run
    and passed, when a section's requirement is not met.
    """
    from autograd import ops

    # The op table is global and has no public way to remove a row: restore it afterwards, so the
    # ops a page defines do not reach the next page or another test file (tests/test_defop.py does
    # the same). Pages still use names of their own, as a reader running them all in one
    # interpreter would need.
    before = dict(ops._OPS)
    here = os.getcwd()
    try:
        with tempfile.TemporaryDirectory(prefix="chainrule-docs-") as scratch:
            os.chdir(scratch)
            try:
                return _run_page(path.resolve())
            finally:
                os.chdir(here)
    finally:
        ops._OPS.clear()
        ops._OPS.update(before)


def _run_page(path: Path) -> Session:
    name = path.name
    blocks = code_blocks(path.read_text(encoding="utf-8"))
    assert blocks, f"{name} has no ```pycon or ```python blocks to run"
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    out = io.StringIO()
    globs: dict[str, object] = {"__name__": f"pycon:{name}"}
    skipped: dict[str, list[int]] = {}
    ran_pycon = False
    for block in blocks:
        unknown = [r for r in block.requires if r not in REQUIREMENTS]
        assert not unknown, f"{name} line {block.line}: unknown requirement(s) {unknown}; known: {sorted(REQUIREMENTS)}"
        unmet = [r for r in block.requires if not REQUIREMENTS[r][0]()]
        if unmet:
            for r in unmet:
                skipped.setdefault(r, []).append(block.line)
            continue
        where = f"{name} block at line {block.line}"
        ran_pycon = ran_pycon or block.kind == "pycon"
        if block.kind == "python":
            try:
                exec(compile(block.text, f"{path} ({where})", "exec"), globs)
            except Exception:
                raise AssertionError(f"the ```python {where} raised:\n{traceback.format_exc()}") from None
            continue
        test = parser.get_doctest(block.text, globs, where, str(path), block.line)
        runner.run(test, out=out.write, clear_globs=False)
        globs = test.globs  # the next block continues the same session
    session = Session(runner.tries, runner.failures, out.getvalue())
    session.not_run = tuple(
        f"{len(lines)} block(s) at line(s) {', '.join(map(str, lines))} need {r!r}: {REQUIREMENTS[r][1]}"
        for r, lines in skipped.items()
    )
    assert session.failures == 0, f"{session.failures} example(s) of {name} failed:\n{session.report}"
    assert session.tries > 0 or not ran_pycon, f"{name} has ```pycon blocks but no examples in them"
    if session.not_run:
        pytest.skip(f"{name}: {session.tries} examples passed; not run: " + "; ".join(session.not_run))
    return session
