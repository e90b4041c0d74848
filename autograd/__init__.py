"""chainrule's autodiff engine: scalar `Value`s, reverse-mode backward, and calculus on top."""

from __future__ import annotations

from .value import Value  # first: the op table and the sweep import it, and it imports them last

# isort: split
from .backward import (
    DerivativeError,
    backward_reference,
    gradients,
    leaves,
    local_derivatives,
    topological_order,
    zero_grad,
)
from .calculus import GradcheckError, check_op, grad, gradcheck, value_and_grad
from .compiler import CompileBranchError, Compiled, CompileError, compile, trace_invariant
from .draw import GraphvizNotFoundError, draw, save_svg, to_svg
from .explain import BackpropFrame, BackwardStep, backprop_frames, explain, explain_steps, save_backprop_html
from .forward import ForwardStep, hessian, hvp, jvp
from .modes import detect_anomaly, enable_grad, is_grad_enabled, no_grad
from .ops import OPS, FloatMath, Op, ValueMath, defop
from .paths import GraphPath, PathCount, PathSum, count_paths, paths

__all__ = [
    "OPS",
    "DerivativeError",
    "FloatMath",
    "Op",
    "ValueMath",
    "backward_reference",
    "check_op",
    "defop",
    "enable_grad",
    "BackpropFrame",
    "BackwardStep",
    "CompileBranchError",
    "CompileError",
    "Compiled",
    "ForwardStep",
    "GradcheckError",
    "GraphPath",
    "GraphvizNotFoundError",
    "PathCount",
    "PathSum",
    "Value",
    "backprop_frames",
    "compile",
    "count_paths",
    "detect_anomaly",
    "draw",
    "explain",
    "explain_steps",
    "grad",
    "gradcheck",
    "gradients",
    "hessian",
    "hvp",
    "is_grad_enabled",
    "jvp",
    "leaves",
    "local_derivatives",
    "no_grad",
    "paths",
    "save_backprop_html",
    "save_svg",
    "to_svg",
    "topological_order",
    "trace_invariant",
    "value_and_grad",
    "zero_grad",
]
