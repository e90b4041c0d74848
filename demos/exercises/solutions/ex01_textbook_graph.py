"""Exercise 1 (lecture 000): the gradients of L = c(a + 2b), by hand.

With a = 3, b = 1, c = -2 the graph is d = 2b, e = a + d, L = c e (figures 7.12 and 7.13).
Work backward from dL/dL = 1, one edge at a time: upstream x local = downstream, e.g.
dL/de = dL/dL * ∂L/∂e. Write each accumulated gradient dL/dx as a number (no code needed).

Check:  python -m demos.exercises check 1 path/to/this/file.py
"""


def gradients() -> dict[str, float]:
    """dL/dx for x = a, b, c, d, e (numbers)."""
    # BEGIN SOLUTION
    # dL/de = c = -2; dL/dc = e = 5; dL/da = dL/de * 1; dL/dd = dL/de * 1; dL/db = dL/dd * 2
    return {"a": -2.0, "b": -4.0, "c": 5.0, "d": -2.0, "e": -2.0}
    # END SOLUTION
