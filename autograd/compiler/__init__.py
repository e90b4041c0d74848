"""Compiled replay (`autograd.compile`): trace a function once through the observer hook, then rerun
its forward pass and chain rule as generated Python written from the op table's own rules.

- `trace`: the observer that records nodes, reads of `.data`, and guards on data-dependent decisions.
- `symbolic`: the rules read with symbols (`SourceMath`), giving source text.
- `plan`: the trace as plain data; `codegen`: the generated function (`fusion` decides which values
  are written into their user's expression, `rolling` which runs become loops); `runtime`: calling it.
"""

from __future__ import annotations

from .errors import CompileBranchError, CompileError, trace_invariant
from .runtime import Compiled, compile

__all__ = ["CompileBranchError", "CompileError", "Compiled", "compile", "trace_invariant"]
