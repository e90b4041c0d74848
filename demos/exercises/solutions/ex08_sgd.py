"""Exercise 8 (lecture 004): one SGD step with weight decay, as plain code.

Weight decay adds the gradient of the penalty (alpha/2) ||W||^2 to each gradient, so with learning
rate eta one step is  W <- W - eta (dL/dW + alpha W) = (1 - eta alpha) W - eta dL/dW.

Write it over each parameter's `.data` and `.grad` (Values, as `model.parameters()` gives them):
update `.data` in place, leave `.grad` alone.

Check:  python -m demos.exercises check 8 path/to/this/file.py
"""

from autograd import Value


def sgd_step(params: list[Value], lr: float, weight_decay: float) -> None:
    """One SGD step with weight decay on every parameter of `params` (in place; returns None)."""
    # BEGIN SOLUTION
    for p in params:
        g = p.grad + weight_decay * p.data
        p.data = p.data - lr * g
    # END SOLUTION
