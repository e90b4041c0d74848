"""Trying an op's rules at sample points: for `defop` (is the definition usable?) and `check_op`
(are the derivatives right?)."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .value import _is_real

if TYPE_CHECKING:
    from .ops import Op

_DEFAULT_INTERVAL = (-2.0, 2.0)  # where an op without a declared domain is sampled
_PROBE_FRACTIONS = (0.37, 0.71, 0.13, 0.89, 0.52, 0.06, 0.94, 0.28)


def interval(op: Op, name: str) -> tuple[float, float]:
    return op.domain[name] if op.domain and name in op.domain else _DEFAULT_INTERVAL


def sample_points(
    op: Op, count: int, rng: random.Random | None = None
) -> Iterator[tuple[tuple[float, ...], dict[str, float]]]:
    """Points in the op's domain: fixed fractions of each interval, or random ones with `rng`.

    A parameter without an interval takes its default, or else 1.0, 1.5, 2.0 in turn.
    """
    names = op.operands + op.params
    for i in range(count):
        values = {}
        for k, name in enumerate(names):
            if name in op.operands or (op.domain and name in op.domain):
                lo, hi = interval(op, name)
                f = rng.random() if rng else _PROBE_FRACTIONS[(i + 3 * k) % len(_PROBE_FRACTIONS)]
                values[name] = lo + (hi - lo) * f
            else:
                values[name] = op.defaults.get(name, 1.0 + 0.5 * (i % 3))
        yield tuple(values[n] for n in op.operands), {p: values[p] for p in op.params}


def _describe(op: Op, point: tuple[float, ...], params: dict[str, float]) -> str:
    parts = [f"{n} = {x!r}" for n, x in zip(op.operands, point, strict=True)]
    parts += [f"{p} = {v!r}" for p, v in params.items()]
    return ", ".join(parts)


def check_derivative_shape(op: Op, d: Any, where: str) -> tuple[float, ...]:
    """The rule's result as one float per operand, or TypeError saying what came back instead."""
    items = (d,) if op.arity == 1 else d
    if op.arity == 2 and (not isinstance(d, (tuple, list)) or len(d) != 2):
        got = f"{len(d)} values" if isinstance(d, (tuple, list)) else f"{type(d).__name__} {d!r}"
        raise TypeError(
            f"defop {op.name!r}: the derivative must return 2 values (d out/dx, d out/dy), got {got} at {where}"
        )
    if op.arity == 1 and isinstance(d, (tuple, list)):
        raise TypeError(
            f"defop {op.name!r}: the derivative of a one-operand op must return one number, "
            f"got a {type(d).__name__} of {len(d)} at {where}"
        )
    for x in items:
        if not _is_real(x):
            raise TypeError(
                f"defop {op.name!r}: the derivative must return numbers, got {type(x).__name__} {x!r} at {where}"
            )
    return tuple(float(x) for x in items)


def check_definition(op: Op) -> None:
    """Run forward and derivative at a few points of the domain; raise naming the op if unusable."""
    from .ops import FloatMath

    first_error: BaseException | None = None
    usable = 0
    for point, params in sample_points(op, len(_PROBE_FRACTIONS)):
        where = _describe(op, point, params)
        try:
            out = op.forward(*point, **params)
        except (ArithmeticError, ValueError) as error:  # outside the op's domain: try another point
            first_error = first_error or error
            continue
        except Exception as error:
            raise TypeError(f"defop {op.name!r}: forward raised {type(error).__name__} at {where}: {error}") from error
        if not _is_real(out):
            raise TypeError(
                f"defop {op.name!r}: forward must return a real number, got {type(out).__name__} {out!r} at {where}"
            )
        if not math.isfinite(out):
            raise ValueError(f"defop {op.name!r}: forward returned {out!r} at {where}; it must be finite")
        try:
            d = op.derivative(*point, float(out), FloatMath, **params)
        except (ArithmeticError, ValueError) as error:  # kept: it is the report if no point works
            first_error = first_error or error
            continue
        except Exception as error:
            raise TypeError(
                f"defop {op.name!r}: derivative raised {type(error).__name__} at {where}: {error}"
            ) from error
        check_derivative_shape(op, d, where)
        usable += 1
    if not usable:
        raise ValueError(
            f"defop {op.name!r}: forward (or derivative) failed at every sample point of its domain; "
            f"first: {type(first_error).__name__}: {first_error}. Give domain={{...}} where the op is defined"
        )
