"""Calculus beyond `.backward()`: JAX-style `grad` / `value_and_grad` transforms and `gradcheck`."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Sequence
from typing import Any

from .engine import Value, _to_float, gradients, no_grad

Argnums = int | Sequence[int]

# How many grad transforms are running around this call. Inside an outer transform, an inner one
# must return Values connected to the outer graph (not floats), or the outer derivative is lost.
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("transform_depth", default=0)


def _argnums(argnums: Argnums, nargs: int, where: str) -> tuple[tuple[int, ...], bool]:
    """Normalise argnums to a tuple of indices; also say whether the caller gave a single int."""
    if isinstance(argnums, bool) or not isinstance(argnums, (int, tuple, list)):
        raise TypeError(f"{where}: argnums must be an int or a tuple of ints, got {argnums!r}")
    single = isinstance(argnums, int)
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if isinstance(i, bool) or not isinstance(i, int) or not -nargs <= i < nargs:
            raise ValueError(f"{where}: argnums {argnums!r} out of range for {nargs} positional argument(s)")
    return tuple(i % nargs for i in nums), single


def value_and_grad(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., tuple[Any, Any]]:
    """Transform `f` into a function returning `(f(*args), df/d args[argnums])`.

    Arguments may be floats or Values. With an int `argnums` the gradient is one number; with a
    tuple it is a tuple of them. At top level the results are floats; inside another transform
    they are Values, so transforms nest: `grad(grad(f))` is the second derivative.
    """

    @functools.wraps(f)
    def wrapper(*args: Any) -> tuple[Any, Any]:
        nums, single = _argnums(argnums, len(args), "value_and_grad")
        nested = _depth.get() > 0
        args_list = list(args)
        wrt: list[Value] = []
        for i in nums:
            a = args_list[i]
            # A fresh node per transform keeps nested derivatives apart: in
            # grad(lambda x: grad(lambda y: x * y)(x)) the inner y must not be the outer x.
            v = a + 0.0 if isinstance(a, Value) else Value(_to_float(a, f"grad argument {i}"))
            args_list[i] = v
            wrt.append(v)
        token = _depth.set(_depth.get() + 1)
        try:
            out = f(*args_list)
        finally:
            _depth.reset(token)
        if not isinstance(out, Value):
            out = Value(_to_float(out, "value_and_grad: f's result"))
        grads = gradients(out, wrt, create_graph=nested)
        value: Any = out if nested else out.data
        return value, (grads[0] if single else tuple(grads))

    return wrapper


def grad(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """Transform `f` into the function computing its gradient with respect to `args[argnums]`."""
    vg = value_and_grad(f, argnums)

    @functools.wraps(f)
    def wrapper(*args: Any) -> Any:
        return vg(*args)[1]

    return wrapper


class GradcheckError(AssertionError):
    """Backward disagrees with central differences; the message lists every mismatched input."""


def gradcheck(
    f: Callable[..., Any], *inputs: float | Value, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3
) -> bool:
    """Compare backward's gradient of `f` at `inputs` with central differences.

    Returns True when |analytic - numeric| <= atol + rtol * |numeric| for every input; otherwise
    raises GradcheckError naming each mismatched input with both numbers.
    """
    if not inputs:
        raise ValueError("gradcheck: give at least one input")
    point = [x.data if isinstance(x, Value) else _to_float(x, "gradcheck") for x in inputs]
    leaves = [Value(p, x.label if isinstance(x, Value) else "") for p, x in zip(point, inputs, strict=True)]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__} {out!r}")
    analytic = gradients(out, leaves)

    def at(i: int, delta: float) -> float:
        shifted = [Value(p + delta) if j == i else Value(p) for j, p in enumerate(point)]
        with no_grad():
            return float(f(*shifted))

    mismatches = []
    for i, a in enumerate(analytic):
        numeric = (at(i, eps) - at(i, -eps)) / (2.0 * eps)
        if not abs(a - numeric) <= atol + rtol * abs(numeric):
            name = f" ({leaves[i].label})" if leaves[i].label else ""
            mismatches.append(f"  input {i}{name} at {point[i]!r}: backward {a!r}, central difference {numeric!r}")
    if mismatches:
        raise GradcheckError("gradcheck: gradients differ from central differences\n" + "\n".join(mismatches))
    return True
