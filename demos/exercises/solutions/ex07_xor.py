"""Exercise 7 (lecture 003): why one neuron cannot learn XOR, checked with numbers.

XOR: (x1, x2) -> y is (0, 0) -> 0, (0, 1) -> 1, (1, 0) -> 1, (1, 1) -> 0.
One neuron computes s = w1 x1 + w2 x2 + b and says 1 when s > 0.

1. xor_gap(w1, w2, b): s(0,1) + s(1,0) - s(0,0) - s(1,1). Compute it for a few weights: what do you
   see? XOR needs s(0,1) > 0 and s(1,0) > 0 but s(0,0) <= 0 and s(1,1) <= 0.
2. gradients(w1, w2, b): for a linear neuron y_hat = s trained on the four samples with
   L = 1/4 sum_k (y_hat_k - y_k)^2, the gradients dL/dw1, dL/dw2, dL/db (each parameter is used by
   all four samples: add up their contributions).
3. best_neuron(): the (w1, w2, b) where all three gradients are 0 (L is convex: that is its
   minimum). What does the best neuron predict for each of the four inputs?

Check:  python -m demos.exercises check 7 path/to/this/file.py
"""

XOR = [(0.0, 0.0, 0.0), (0.0, 1.0, 1.0), (1.0, 0.0, 1.0), (1.0, 1.0, 0.0)]


def xor_gap(w1: float, w2: float, b: float) -> float:
    """s(0,1) + s(1,0) - s(0,0) - s(1,1) for s = w1 x1 + w2 x2 + b."""

    # BEGIN SOLUTION
    def s(x1: float, x2: float) -> float:
        return w1 * x1 + w2 * x2 + b

    return s(0, 1) + s(1, 0) - s(0, 0) - s(1, 1)
    # END SOLUTION


def gradients(w1: float, w2: float, b: float) -> dict[str, float]:
    """{"w1": dL/dw1, "w2": dL/dw2, "b": dL/db} for L = 1/4 sum_k (w1 x1 + w2 x2 + b - y)^2."""
    # BEGIN SOLUTION
    g = {"w1": 0.0, "w2": 0.0, "b": 0.0}
    for x1, x2, y in XOR:
        r = w1 * x1 + w2 * x2 + b - y
        upstream = 0.25 * 2.0 * r  # dL/dy_hat for this sample
        g["w1"] += upstream * x1
        g["w2"] += upstream * x2
        g["b"] += upstream
    return g
    # END SOLUTION


def best_neuron() -> dict[str, float]:
    """{"w1": ..., "w2": ..., "b": ...} where every gradient is 0."""
    # BEGIN SOLUTION
    return {"w1": 0.0, "w2": 0.0, "b": 0.5}
    # END SOLUTION
