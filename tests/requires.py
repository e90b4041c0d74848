"""Optional tools the tests use, each with the reason shown when a test skips without it."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's `dot` is not installed (apt-get install graphviz / brew install graphviz); CI installs it",
)


def torch() -> Any:
    """The torch module, or skip: it is only a reference for the tests (pinned torch==2.13.0)."""
    return pytest.importorskip("torch", reason="torch not installed: `pip install '.[torch]'` (torch==2.13.0)")
