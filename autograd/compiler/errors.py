"""The compiler's errors, and the switch that vouches for data-dependent code (`trace_invariant`)."""

from __future__ import annotations

import contextvars
from typing import Any

from ..modes import _Switch

__all__ = ["CompileBranchError", "CompileError", "trace_invariant"]


class CompileError(RuntimeError):
    """`f` does something a compiled replay could not reproduce, or an op's rule cannot be translated."""


class CompileBranchError(CompileError):
    """A replay's inputs take a different branch of `f` than the traced inputs did."""


_invariant: contextvars.ContextVar[bool] = contextvars.ContextVar("trace_invariant", default=False)


class trace_invariant(_Switch):
    """Context manager for code whose data-dependent choices cannot change f's result: while tracing,
    comparisons inside it record no guards, and numbers computed from `.data` inside it are baked into
    the compiled code as constants. Outside of tracing it does nothing. The caller vouches for it.
    """

    _var = _invariant

    def _value(self) -> Any:
        return True
