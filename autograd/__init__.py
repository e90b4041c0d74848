"""chainrule's autodiff engine: scalar `Value`s, reverse-mode backward, and calculus on top."""

from __future__ import annotations

from .calculus import GradcheckError, grad, gradcheck, value_and_grad
from .compile import CompileBranchError, Compiled, CompileError, compile, trace_invariant
from .draw import GraphvizNotFoundError, draw, save_svg, to_svg
from .engine import (
    OPS,
    Value,
    detect_anomaly,
    gradients,
    is_grad_enabled,
    leaves,
    local_derivatives,
    no_grad,
    topological_order,
    zero_grad,
)
from .explain import BackpropFrame, BackwardStep, backprop_frames, explain, explain_steps, save_backprop_html

__all__ = [
    "OPS",
    "BackpropFrame",
    "BackwardStep",
    "CompileBranchError",
    "CompileError",
    "Compiled",
    "GradcheckError",
    "GraphvizNotFoundError",
    "Value",
    "backprop_frames",
    "compile",
    "detect_anomaly",
    "draw",
    "explain",
    "explain_steps",
    "grad",
    "gradcheck",
    "gradients",
    "is_grad_enabled",
    "leaves",
    "local_derivatives",
    "no_grad",
    "save_backprop_html",
    "save_svg",
    "to_svg",
    "topological_order",
    "trace_invariant",
    "value_and_grad",
    "zero_grad",
]
