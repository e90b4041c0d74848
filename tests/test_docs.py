"""Every page under docs/ runs as printed: its ```pycon blocks are one doctest session per page.

A section marked `<!-- requires: compile -->` (or `dot`) runs once that requirement is met and is
skipped, with the reason, until then (see tests/pycon.py). The README's sessions run in
tests/test_readme.py with the same helper.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pycon import run_page

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").glob("*.md"))


def test_docs_has_pages() -> None:
    assert PAGES, "docs/ has no .md pages"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_runs_as_printed(page: Path) -> None:
    run_page(page)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_is_linked_from_the_readme(page: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"\]\(docs/{re.escape(page.name)}(#[^)]*)?\)", readme), (
        f"README.md does not link docs/{page.name}"
    )
