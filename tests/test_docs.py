"""Every page under docs/ runs as printed: its ```pycon blocks (doctests) and ```python blocks
(scripts) are one session per page, in order, in a scratch working directory. A ```python block for
reading only is marked `<!-- not run -->`; ```sh and other fences are not run.

A section marked `<!-- requires: compile -->` (or `dot`) runs once that requirement is met and is
skipped, with the reason, until then (see tests/pycon.py). The README's blocks run in
tests/test_readme.py with the same helper. Every page is linked from the README.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pycon import code_blocks, run_page

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


@pytest.mark.parametrize("page", [ROOT / "README.md", *PAGES], ids=["README.md", *(p.name for p in PAGES)])
def test_relative_links_point_at_files_that_exist(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)  # links, not code
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    missing = [t for t in targets if "://" not in t and not (page.parent / t).exists()]
    assert not missing, f"{page.name} links to files that do not exist: {missing}"


# ---- the runner itself -------------------------------------------------------------------------
def test_python_blocks_run_in_the_pages_session(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```python\nanswer = 6 * 7\nopen('out.txt', 'w').close()\n```\n\n"
        "<!-- not run -->\n```python\nraise SystemExit('a block for reading')\n```\n\n"
        "```sh\nfalse\n```\n\n```pycon\n>>> answer\n42\n\n```\n",
        encoding="utf-8",
    )
    assert [(b.kind, b.line) for b in code_blocks(page.read_text(encoding="utf-8"))] == [("python", 1), ("pycon", 15)]
    assert run_page(page).tries == 1
    assert not (tmp_path / "out.txt").exists()  # files are written in a scratch folder, not beside the page


def test_a_python_block_that_raises_fails_the_page(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```pycon\n>>> 1 + 1\n2\n\n```\n\n```python\n1 / 0\n```\n", encoding="utf-8")
    with pytest.raises(AssertionError, match=r"page.md block at line 7 raised(.|\n)*ZeroDivisionError"):
        run_page(page)
