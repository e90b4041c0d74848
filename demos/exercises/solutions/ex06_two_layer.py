"""Exercise 6 (lecture 003): one full backward pass of the two-layer linear network, by hand.

x = [2, 3], y = 1, W1 = [[-0.78, 0.13], [0.85, 0.23]] (W1[i][j]: input i -> hidden unit j),
W2 = [1.8, 0.40], every bias 0:
    h_j = x1 w1_1j + x2 w1_2j + b1_j,   y_hat = w2_1 h1 + w2_2 h2 + b2 = 2.162,
    r = y_hat - y,   L = 1/2 r^2
Give every accumulated gradient dL/dnode below as a number (4 significant digits are enough).

Check:  python -m demos.exercises check 6 path/to/this/file.py
"""


def gradients() -> dict[str, float]:
    """dL/dnode for y_hat, h1, h2, w2_1, w2_2, b2, w1_11, w1_12, w1_21, w1_22, b1_1, b1_2."""
    # BEGIN SOLUTION
    r = 2.162 - 1.0  # dL/dr = r, dL/dy_hat = r * 1
    h1, h2 = 2 * -0.78 + 3 * 0.85, 2 * 0.13 + 3 * 0.23
    return {
        "y_hat": r,
        "h1": r * 1.8,
        "h2": r * 0.40,
        "w2_1": r * h1,
        "w2_2": r * h2,
        "b2": r,
        "w1_11": r * 1.8 * 2,
        "w1_12": r * 0.40 * 2,
        "w1_21": r * 1.8 * 3,
        "w1_22": r * 0.40 * 3,
        "b1_1": r * 1.8,
        "b1_2": r * 0.40,
    }
    # END SOLUTION
