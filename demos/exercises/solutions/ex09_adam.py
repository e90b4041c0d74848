"""Exercise 9 (lecture 004): one Adam step, as plain code.

`state` holds the step count and, per parameter, the moving averages: {"t": t, "m": [...], "v": [...]}.
One step, for each parameter p with gradient g = p.grad:
    t <- t + 1                              (once per step, not per parameter)
    m <- beta1 m + (1 - beta1) g            first moment
    v <- beta2 v + (1 - beta2) g^2          second moment
    m_hat = m / (1 - beta1^t),  v_hat = v / (1 - beta2^t)    bias correction
    p.data <- p.data - lr m_hat / (sqrt(v_hat) + eps)
Update `state` and every `.data` in place.

Check:  python -m demos.exercises check 9 path/to/this/file.py
"""

import math
from typing import Any

from autograd import Value


def adam_step(params: list[Value], state: dict[str, Any], lr: float, betas: tuple[float, float], eps: float) -> None:
    """One Adam step (no weight decay) on `params`, updating `state` in place; returns None."""
    # BEGIN SOLUTION
    beta1, beta2 = betas
    state["t"] += 1
    t = state["t"]
    for i, p in enumerate(params):
        g = p.grad
        state["m"][i] = beta1 * state["m"][i] + (1.0 - beta1) * g
        state["v"][i] = beta2 * state["v"][i] + (1.0 - beta2) * g * g
        m_hat = state["m"][i] / (1.0 - beta1**t)
        v_hat = state["v"][i] / (1.0 - beta2**t)
        p.data = p.data - lr * m_hat / (math.sqrt(v_hat) + eps)
    # END SOLUTION
