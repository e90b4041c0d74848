"""chainrule's benchmark suite: chainrule (eager and compiled) against floors measured in the same run
(an object-per-node node, a given-order backward sweep, straight-line float code), with micrograd,
PyTorch scalars and PyTorch vectorised as references, side by side in one process. Run it with
`python -m benchmarks` (`--help` for options).
"""

from __future__ import annotations

from .report import markdown_table, save, text_table
from .suite import PRESETS, WORKLOADS, Cell, Config, Results, run

__all__ = ["PRESETS", "WORKLOADS", "Cell", "Config", "Results", "markdown_table", "run", "save", "text_table"]
