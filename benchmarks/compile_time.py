"""Compile time of a long non-repeating chain, this tree against a baseline commit, in subprocesses.

Each measurement is a fresh Python process that imports `autograd` from one tree, builds the
constants, and times `autograd.compile(f, 0.3)` for `f(x)`: steps of `x = tanh(x * c[3i] + c[3i+1])`
with distinct seeded random constants, three ops a step, so no two ops of the trace repeat. The
baseline tree is `git archive <commit> autograd` unpacked into a temporary directory; this tree is
the repository's own `autograd/`. Both are run the same way, in turns.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BASELINE = "0862019"  # the commit "today's" compile time is measured at (issue 14)
ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, random, sys, time
import autograd
n = int(sys.argv[1])
rng = random.Random(0)
c = [rng.uniform(0.1, 0.9) for _ in range(n)]
def f(x):
    for i in range(n // 3):
        x = (x * c[3 * i] + c[3 * i + 1]).tanh()
    return x
t0 = time.perf_counter()
compiled = autograd.compile(f, 0.3)
seconds = time.perf_counter() - t0
out = compiled(0.3)
print(json.dumps({"seconds": seconds, "file": autograd.__file__, "out": out}))
"""


class Unavailable(Exception):
    """The baseline cannot be measured here; the message says why."""


@contextmanager
def baseline_tree(commit: str | None = None, root: Path = ROOT) -> Iterator[Path]:
    """A temporary directory holding `autograd/` as of `commit` (default `BASELINE`); Unavailable if git
    or the commit is missing."""
    commit = commit or BASELINE
    git = shutil.which("git")
    if git is None:
        raise Unavailable("git not found")
    if not (root / ".git").exists():
        raise Unavailable(f"{root} is not a git checkout")
    ok = subprocess.run(
        [git, "-C", str(root), "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if ok.returncode != 0:
        raise Unavailable(f"commit {commit} not in this repository")
    archive = subprocess.run([git, "-C", str(root), "archive", commit, "autograd"], capture_output=True, check=False)
    if archive.returncode != 0:
        raise Unavailable(f"git archive {commit} autograd failed: {archive.stderr.decode(errors='replace').strip()}")
    with tempfile.TemporaryDirectory(prefix="chainrule-baseline-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:  # pragma: no cover -- Pythons before the extraction filters
                tar.extractall(tmp)  # noqa: S202 -- our own repository's archive
        yield Path(tmp)


def measure(tree: Path, n_ops: int, timeout: float = 600.0) -> dict[str, Any]:
    """Run the probe with `autograd` imported from `tree`: {"seconds", "file", "out"}."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    with tempfile.TemporaryDirectory(prefix="chainrule-probe-") as cwd:  # nothing importable in the cwd
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(n_ops)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"compile probe failed in {tree}: {tail[0]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(result["file"]).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"compile probe imported autograd from {result['file']}, not from {tree}")
    return result


__all__ = ["BASELINE", "PROBE", "ROOT", "Unavailable", "baseline_tree", "measure"]
