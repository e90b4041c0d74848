"""Exercise 3 (lecture 001): the local derivatives of four activations, as `defop` rules.

Each rule is the derivative half of an op row, `defop(name, forward, rule)`: it receives the input
x, the forward's output `out` and a math namespace `m`, and returns the local derivative ∂out/∂x
(not a gradient: no upstream, no `+=`). Use `m.exp`, `m.tanh`, `m.sigmoid`, `m.erf`, ... rather
than `math.*`: x and out are Values when the engine differentiates the rule itself (second
derivatives, compile), which is why they are typed `Any`.

    sigmoid(x)  = 1 / (1 + e^-x)
    tanh(x)
    softplus(x) = log(1 + e^x)
    gelu(x)     = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2 the normal CDF

The checker registers each rule with the engine's forward and runs `check_op` on it: a wrong rule is
blamed at a concrete point, with the rule's number and the central differences'.

Check:  python -m demos.exercises check 3 path/to/this/file.py
"""

import math
from typing import Any

INV_SQRT_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def sigmoid_rule(x: Any, out: Any, m: Any) -> Any:
    """∂out/∂x for out = sigmoid(x)."""
    # BEGIN SOLUTION
    return out * (1.0 - out)
    # END SOLUTION


def tanh_rule(x: Any, out: Any, m: Any) -> Any:
    """∂out/∂x for out = tanh(x)."""
    # BEGIN SOLUTION
    return 1.0 - out * out
    # END SOLUTION


def softplus_rule(x: Any, out: Any, m: Any) -> Any:
    """∂out/∂x for out = log(1 + e^x)."""
    # BEGIN SOLUTION
    return m.sigmoid(x)
    # END SOLUTION


def gelu_rule(x: Any, out: Any, m: Any) -> Any:
    """∂out/∂x for out = x Phi(x)."""
    # BEGIN SOLUTION
    return 0.5 * (1.0 + m.erf(x * INV_SQRT_2)) + x * INV_SQRT_2PI * m.exp(-0.5 * x * x)
    # END SOLUTION
