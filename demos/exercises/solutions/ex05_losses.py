"""Exercise 5 (lecture 002): the gradient of two classification losses with respect to the logits.

Binary cross-entropy with a logit z and a target y in [0, 1]:
    L = -[y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))] = softplus(z) - y z
Softmax cross-entropy with logits z_1..z_K and a target class t (0-based):
    L = -log softmax(z)_t = log sum_k e^(z_k) - z_t

Write dL/dz (a number) and dL/dz_k (a list, one per logit). Mind every path from z to L.

Check:  python -m demos.exercises check 5 path/to/this/file.py
"""

import math


def bce_grad(z: float, y: float) -> float:
    """dL/dz for binary cross-entropy with logit z and target y."""
    # BEGIN SOLUTION
    return 1.0 / (1.0 + math.exp(-z)) - y
    # END SOLUTION


def softmax_ce_grad(z: list[float], target: int) -> list[float]:
    """[dL/dz_k for each k] for softmax cross-entropy with logits z and target class `target`."""
    # BEGIN SOLUTION
    exps = [math.exp(v) for v in z]
    total = sum(exps)
    return [e / total - (1.0 if k == target else 0.0) for k, e in enumerate(exps)]
    # END SOLUTION
