"""Markdown pages whose ```pycon blocks run as doctests: every block of a page, in order, as one
session (later blocks see the names earlier ones defined), with ELLIPSIS.

A section that needs something not every machine has starts with a marker line such as
`<!-- requires: compile -->`. It covers the blocks from the marker to the next heading of the same or
a higher level (to the end of the page when no heading comes before it). Those blocks run only when
the requirement is met; otherwise `run_page` skips the test after running the rest of the page,
saying which blocks did not run and why. A requirement this module does not know fails the test.
"""

from __future__ import annotations

import doctest
import io
import re
import shutil
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


@dataclass(frozen=True)
class Block:
    """One ```pycon block: its text, the page line of its opening fence, what it requires."""

    text: str
    line: int
    requires: tuple[str, ...] = ()


def pycon_blocks(markdown: str) -> list[Block]:
    """The page's ```pycon blocks in order, each with the requirements of the section it sits in."""
    blocks: list[Block] = []
    fence: str | None = None  # the info string of the open code fence
    start, body = 0, []
    section = 0  # level of the latest heading (0 before the first one)
    requires: tuple[str, ...] = ()
    scope = 0  # a marker covers its section: it ends at the next heading of level <= scope
    for number, line in enumerate(markdown.splitlines(keepends=True), start=1):
        if fence is not None:  # inside a code block: only its closing fence matters
            if line.startswith("```"):
                if fence == "pycon":
                    blocks.append(Block("".join(body), start, requires))
                fence = None
            else:
                body.append(line)
        elif line.startswith("```"):
            fence, start, body = line[3:].strip(), number, []
        elif heading := _HEADING.match(line):
            section = len(heading.group(1))
            if requires and section <= scope:
                requires = ()
        elif marker := _MARKER.fullmatch(line.strip()):
            requires = tuple(name.strip() for name in marker.group(1).split(",") if name.strip())
            scope = section
    assert fence is None, f"a code block opened at line {start} is never closed"
    return blocks


@dataclass
class Session:
    tries: int = 0
    failures: int = 0
    report: str = ""
    not_run: tuple[str, ...] = ()  # why blocks did not run, one line per requirement not met


def run_page(path: Path) -> Session:
    """Run every ```pycon block of the page at `path` as one doctest session and return the counts.

    Fails the test (with doctest's report) when an example fails or the page has none; skips it,
    once every other block has run and passed, when a section's requirement is not met.
    """
    from autograd import ops

    # The op table is global and has no public way to remove a row: restore it afterwards, so the
    # ops a page defines do not reach the next page or another test file (tests/test_defop.py does
    # the same). Pages still use names of their own, as a reader running them all in one
    # interpreter would need.
    before = dict(ops._OPS)
    try:
        return _run_page(path)
    finally:
        ops._OPS.clear()
        ops._OPS.update(before)


def _run_page(path: Path) -> Session:
    name = path.name
    blocks = pycon_blocks(path.read_text(encoding="utf-8"))
    assert blocks, f"{name} has no ```pycon examples"
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    out = io.StringIO()
    globs: dict[str, object] = {"__name__": f"pycon:{name}"}
    skipped: dict[str, list[int]] = {}
    for block in blocks:
        unknown = [r for r in block.requires if r not in REQUIREMENTS]
        assert not unknown, f"{name} line {block.line}: unknown requirement(s) {unknown}; known: {sorted(REQUIREMENTS)}"
        unmet = [r for r in block.requires if not REQUIREMENTS[r][0]()]
        if unmet:
            for r in unmet:
                skipped.setdefault(r, []).append(block.line)
            continue
        test = parser.get_doctest(block.text, globs, f"{name} block at line {block.line}", str(path), block.line)
        runner.run(test, out=out.write, clear_globs=False)
        globs = test.globs  # the next block continues the same session
    session = Session(runner.tries, runner.failures, out.getvalue())
    session.not_run = tuple(
        f"{len(lines)} block(s) at line(s) {', '.join(map(str, lines))} need {r!r}: {REQUIREMENTS[r][1]}"
        for r, lines in skipped.items()
    )
    assert session.failures == 0, f"{session.failures} example(s) of {name} failed:\n{session.report}"
    assert session.tries > 0, f"{name} has ```pycon blocks but no examples in them"
    if session.not_run:
        pytest.skip(f"{name}: {session.tries} examples passed; not run: " + "; ".join(session.not_run))
    return session
