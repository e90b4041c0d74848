"""chainrule's autodiff engine: scalar `Value`s, reverse-mode backward, and calculus on top."""

from __future__ import annotations

from .calculus import GradcheckError, grad, gradcheck, value_and_grad
from .engine import (
    OPS,
    Value,
    gradients,
    is_grad_enabled,
    leaves,
    local_derivatives,
    no_grad,
    topological_order,
    zero_grad,
)

__all__ = [
    "OPS",
    "GradcheckError",
    "Value",
    "grad",
    "gradcheck",
    "gradients",
    "is_grad_enabled",
    "leaves",
    "local_derivatives",
    "no_grad",
    "topological_order",
    "value_and_grad",
    "zero_grad",
]
