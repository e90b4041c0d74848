"""The catalog of ops that drives the op tests: adding an op to the engine means adding a row here.

Each row says how to call the op on Values, what it computes on plain floats (an independent
reference written with `math`), the domain to draw inputs from, and the PyTorch equivalent.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from autograd import Value

# ---- domains: strategies that respect where an op is defined and smooth ----------------------------
ANY = st.floats(-4.0, 4.0)
POSITIVE = st.floats(0.05, 8.0)
NONZERO = st.one_of(st.floats(-4.0, -0.05), st.floats(0.05, 4.0))  # away from 0: the kink, or a pole
AWAY_FROM_KINK = NONZERO
WIDE = st.floats(-30.0, 30.0)  # for saturating ops: exercises their stable branches


@dataclass(frozen=True)
class OpCase:
    name: str  # the Value method (or operator dunder) this row covers
    primitive: str | None  # the engine table row it exercises ("exp", "*"), None if derived
    fn: Callable[..., Value]  # how a user calls it on Values
    ref: Callable[..., float]  # the same function on floats, written independently of the engine
    domain: tuple[st.SearchStrategy[float], ...]
    torch: Callable[..., Any] | None = None  # the same function on torch tensors, if torch has it

    @property
    def arity(self) -> int:
        return len(self.domain)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x)) if x < 30 else x + math.log1p(math.exp(-x))


def _tf() -> Any:
    import torch

    return torch


CATALOG: list[OpCase] = [
    # primitives
    OpCase("__add__", "+", lambda x, y: x + y, lambda x, y: x + y, (ANY, ANY), lambda x, y: x + y),
    OpCase("__mul__", "*", lambda x, y: x * y, lambda x, y: x * y, (ANY, ANY), lambda x, y: x * y),
    OpCase("__pow__", "pow", lambda x, y: x**y, lambda x, y: x**y, (POSITIVE, ANY), lambda x, y: x**y),
    OpCase("__pow__(number)", "**", lambda x: x**2.5, lambda x: x**2.5, (POSITIVE,), lambda x: x**2.5),
    OpCase("__pow__(int)", "**", lambda x: x**3, lambda x: x**3, (ANY,), lambda x: x**3),
    OpCase("__pow__(-1)", "**", lambda x: x**-1, lambda x: 1.0 / x, (NONZERO,), lambda x: x**-1),
    OpCase("abs", "abs", lambda x: x.abs(), abs, (AWAY_FROM_KINK,), lambda x: x.abs()),
    OpCase("exp", "exp", lambda x: x.exp(), math.exp, (ANY,), lambda x: x.exp()),
    OpCase("log", "log", lambda x: x.log(), math.log, (POSITIVE,), lambda x: x.log()),
    OpCase("sqrt", "sqrt", lambda x: x.sqrt(), math.sqrt, (POSITIVE,), lambda x: x.sqrt()),
    OpCase("sin", "sin", lambda x: x.sin(), math.sin, (ANY,), lambda x: x.sin()),
    OpCase("cos", "cos", lambda x: x.cos(), math.cos, (ANY,), lambda x: x.cos()),
    OpCase("tanh", "tanh", lambda x: x.tanh(), math.tanh, (WIDE,), lambda x: x.tanh()),
    OpCase("sigmoid", "sigmoid", lambda x: x.sigmoid(), _sigmoid, (WIDE,), lambda x: x.sigmoid()),
    OpCase("relu", "relu", lambda x: x.relu(), lambda x: max(x, 0.0), (AWAY_FROM_KINK,), lambda x: x.relu()),
    OpCase(
        "leaky_relu",
        "leaky_relu",
        lambda x: x.leaky_relu(0.1),
        lambda x: x if x > 0 else 0.1 * x,
        (AWAY_FROM_KINK,),
        lambda x: _tf().nn.functional.leaky_relu(x, 0.1),
    ),
    OpCase(
        "elu",
        "elu",
        lambda x: x.elu(1.5),
        lambda x: x if x > 0 else 1.5 * (math.exp(x) - 1.0),
        (AWAY_FROM_KINK,),
        lambda x: _tf().nn.functional.elu(x, 1.5),
    ),
    OpCase(
        "gelu",
        "gelu",
        lambda x: x.gelu(),
        lambda x: x * 0.5 * (1.0 + math.erf(x / math.sqrt(2.0))),
        (ANY,),
        lambda x: _tf().nn.functional.gelu(x),
    ),
    OpCase("softplus", "softplus", lambda x: x.softplus(), _softplus, (WIDE,), lambda x: _tf().log1p(x.exp())),
    OpCase("erf", "erf", lambda x: x.erf(), math.erf, (ANY,), lambda x: _tf().erf(x)),
    # derived ops: one line each in the engine, tested the same way
    OpCase("__neg__", None, lambda x: -x, lambda x: -x, (ANY,), lambda x: -x),
    OpCase("__sub__", None, lambda x, y: x - y, lambda x, y: x - y, (ANY, ANY), lambda x, y: x - y),
    OpCase("__truediv__", None, lambda x, y: x / y, lambda x, y: x / y, (ANY, NONZERO), lambda x, y: x / y),
    OpCase("__radd__", None, lambda x: 2.5 + x, lambda x: 2.5 + x, (ANY,), lambda x: 2.5 + x),
    OpCase("__rsub__", None, lambda x: 2.5 - x, lambda x: 2.5 - x, (ANY,), lambda x: 2.5 - x),
    OpCase("__rmul__", None, lambda x: 2.5 * x, lambda x: 2.5 * x, (ANY,), lambda x: 2.5 * x),
    OpCase("__rtruediv__", None, lambda x: 2.5 / x, lambda x: 2.5 / x, (NONZERO,), lambda x: 2.5 / x),
    OpCase("__rpow__", None, lambda x: 2.5**x, lambda x: 2.5**x, (ANY,), lambda x: 2.5**x),
    OpCase("__abs__", None, lambda x: abs(x), abs, (AWAY_FROM_KINK,), lambda x: abs(x)),
]

BY_NAME = {case.name.split("(")[0]: case for case in CATALOG}

# Value methods that are not ops (so the meta-test knows they need no row).
NOT_OPS = {"backward", "zero_grad", "detach", "is_leaf", "inputs", "arg", "params", "op", "data", "item", "grad"}
