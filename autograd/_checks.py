"""Argument checks shared by `autograd` and `nn`: one wording for each kind of mistake.

Each check names where the mistake was made (`where`), what was wrong (`what`: the argument) and
the value, and raises TypeError for the wrong kind of thing, ValueError for the wrong value.
"""

from __future__ import annotations

import math
import numbers


def real(x: object, where: str, what: str | None = None) -> float:
    """A real, finite number (int or float, not a bool) as a float."""
    subject = f"{what} must be a real number" if what else "expected a real number"
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{where}: {subject}, got {type(x).__name__} {x!r}")
    try:
        f = float(x)
    except OverflowError:  # an int beyond float range
        f = math.inf
    if not math.isfinite(f):
        finite = f"{what} must be finite" if what else "expected a finite number"
        raise ValueError(f"{where}: {finite}, got {x!r}")
    return f


def real_at_least(x: object, where: str, what: str, minimum: float) -> float:
    """A real, finite number >= minimum."""
    f = real(x, where, what)
    if f < minimum:
        raise ValueError(f"{where}: {what} must be >= {minimum}, got {x!r}")
    return f


def int_at_least(x: object, where: str, what: str, minimum: int) -> int:
    """An int (not a bool) >= minimum: TypeError for another kind of thing, ValueError if too small."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{where}: {what} must be an int, got {type(x).__name__} {x!r}")
    n = int(x)
    if n < minimum:
        raise ValueError(f"{where}: {what} must be >= {minimum}, got {n!r}")
    return n
