"""Exercise 2 (lecture 000): a node used twice, by hand.

With p = 1, y = 3, z = -1:  x = p + 1,  u = x y,  v = u + x,  L = v z.
x feeds both u and v, so dL/dx is the SUM of two contributions (one per use), and dL/dp can only
be computed once dL/dx is complete. Write each accumulated gradient dL/dnode as a number.

Check:  python -m demos.exercises check 2 path/to/this/file.py
"""


def gradients() -> dict[str, float]:
    """dL/dnode for node = p, x, y, z, u, v (numbers)."""
    # BEGIN SOLUTION
    # dL/dv = z = -1, dL/dz = v = 8, dL/du = dL/dv * 1 = -1, dL/dy = dL/du * x = -2,
    # dL/dx = dL/du * y + dL/dv * 1 = -3 + -1 = -4, dL/dp = dL/dx * 1 = -4
    return {"p": -4.0, "x": -4.0, "y": -2.0, "z": 8.0, "u": -1.0, "v": -1.0}
    # END SOLUTION
