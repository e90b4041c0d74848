"""Shared test settings: hypothesis runs deterministically (derandomized) so tests are repeatable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from autograd import ops

settings.register_profile(
    "chainrule",
    derandomize=True,
    deadline=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("chainrule")


def pytest_configure(config: object) -> None:
    """In CI the optional references must be present, so their tests run instead of skipping."""
    import os
    import shutil

    if os.environ.get("CHAINRULE_REQUIRE_TORCH"):
        try:
            import torch  # noqa: F401
        except ImportError:
            pytest.exit("CHAINRULE_REQUIRE_TORCH is set but torch is not importable", returncode=3)
    if os.environ.get("CHAINRULE_REQUIRE_DOT") and shutil.which("dot") is None:
        pytest.exit("CHAINRULE_REQUIRE_DOT is set but Graphviz's `dot` is not on PATH", returncode=3)


@pytest.fixture(autouse=True)
def _restore_the_op_table() -> Iterator[None]:
    """Every test sees the op table it started with: the ops a test defines are removed after it,
    so tests that list `OPS` see only theirs. There is no public way to unregister an op (a name is
    defined once per process), so the table itself is restored."""
    before = dict(ops._OPS)
    yield
    ops._OPS.clear()
    ops._OPS.update(before)
