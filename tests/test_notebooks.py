"""The lecture tour in demos/notebooks/: committed without outputs, and every notebook runs.

Each notebook is executed top to bottom in a fresh Jupyter kernel of this interpreter (nbclient +
ipykernel), in a temporary working directory; a cell that raises fails the test, and so does a
notebook that takes longer than its time budget. The notebooks assert the lectures' numbers
themselves, so running them checks those numbers too.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "demos" / "notebooks").glob("*.ipynb"))
BUDGET_SECONDS = 60.0  # per notebook; each takes a few seconds (the spiral about 6 s on 2 cores)

# What each notebook must print: the lectures' worked numbers, to the printed digit.
EXPECTED = {
    "000_textbook_graph.ipynb": [
        "L = c * e  = -10.0",
        "dL/da = -2.0",
        "dL/db = -4.0",
        "dL/dc = 5.0",
        "L = -10.0   dL/db = -4.0",
    ],
    "001_neuron_activations_deltas.ipynb": ["cos(a)(6x^2 - 4)", "delta(1) = d loss/d o(1) * theta'(s(1))"],
    "002_losses.ipynb": ["loss = 0.1054 (truncated: 0.105)", "loss = 2.3026 (truncated: 2.302)"],
    "003_xor_two_layer.ipynb": ["y_hat = 2.162", "dL/dW2[1]    = 1.15038", "dL/dW1[21] = 6.2748", "dL/db2 = 1.162"],
    "004_spiral.ipynb": ["(-log 1/3 = 1.0986)", "natural log: 0.105   base 10: 0.046"],
    "005_your_own_op.ipynb": ["check_op 'swish': first and second derivatives match", "CompileError:"],
    "006_exercise.ipynb": ["First wrong step: node x, the gradient dL/dx.", "missing accumulation", "wrong order"],
}


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_tour_has_every_notebook() -> None:
    assert [p.name for p in NOTEBOOKS] == sorted(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_have_no_outputs(path: Path) -> None:
    """Notebooks are stored stripped, so a diff shows only what a person wrote."""
    nb = _load(path)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], (
                f"{path.name}: cell {i} has outputs; clear them before committing (Jupyter: Edit > Clear Outputs"
                f" of All Cells, or: jupyter nbconvert --clear-output --inplace {path.name})"
            )
            assert cell["execution_count"] is None, f"{path.name}: cell {i} has an execution count"
        assert "attachments" not in cell, f"{path.name}: cell {i} has attachments"
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}, f"{path.name}: extra notebook metadata"


def _kernel_manager(tmp_path: Path) -> Any:
    """A kernel of this very interpreter, whatever kernels the machine has installed."""
    from ipykernel.kernelspec import write_kernel_spec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    kernels = tmp_path / "kernels"
    write_kernel_spec(path=str(kernels / "chainrule-test"))  # argv: sys.executable -m ipykernel_launcher
    specs = KernelSpecManager(kernel_dirs=[str(kernels)])
    return KernelManager(kernel_name="chainrule-test", kernel_spec_manager=specs)


@pytest.mark.skipif(shutil.which("dot") is None, reason="the notebooks draw graphs: Graphviz's `dot` is not installed")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat", reason="install the test extra: pip install -e '.[test]'")
    nbclient = pytest.importorskip("nbclient", reason="install the test extra: pip install -e '.[test]'")
    pytest.importorskip("ipykernel", reason="install the test extra: pip install -e '.[test]'")
    pytest.importorskip("matplotlib", reason="the notebooks plot: pip install -e '.[demos]'")

    nb = nbformat.read(path, as_version=4)
    deadline = time.monotonic() + BUDGET_SECONDS
    work = tmp_path / "work"
    work.mkdir()
    client = nbclient.NotebookClient(
        nb,
        km=_kernel_manager(tmp_path),
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),  # one budget for the notebook
        startup_timeout=60,
        resources={"metadata": {"path": str(work)}},  # the kernel's working directory: files go there
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),  # chainrule
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",  # plots inline, whatever the environment says
    }
    started = time.monotonic()
    client.execute(env=env)  # a cell that raises fails here, with the cell and its traceback
    elapsed = time.monotonic() - started
    assert elapsed < BUDGET_SECONDS, f"{path.name} took {elapsed:.1f} s"

    printed = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            # a display error (a failing _repr_html_, say) is shown, not raised: it must not happen either
            assert out["output_type"] != "error", f"{path.name}: cell {i}: {out.get('ename')}: {out.get('evalue')}"
            if out["output_type"] == "stream":
                assert out["name"] == "stdout", f"{path.name}: cell {i} wrote to stderr: {out['text'][:500]}"
                printed.append(out["text"])
    text = "".join(printed)
    for expected in EXPECTED[path.name]:
        assert expected in text, f"{path.name} did not print {expected!r}"
