"""Calculus beyond `.backward()`: JAX-style `grad` / `value_and_grad` transforms and `gradcheck`."""

from __future__ import annotations

import contextvars
import functools
import random
from collections.abc import Callable, Sequence
from typing import Any

from ._defcheck import sample_points
from .backward import gradients
from .modes import enable_grad, no_grad
from .ops import OPS, FloatMath, Op, ValueMath
from .value import Value, _is_real, _to_float

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
            with enable_grad():  # a transform records f's graph even inside no_grad(), as jvp does
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
    with enable_grad():  # the graph is needed even when gradcheck runs inside no_grad()
        out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__} {out!r}")
    analytic = gradients(out, leaves)

    def at(i: int, delta: float) -> float:
        shifted = [Value(p + delta) if j == i else Value(p) for j, p in enumerate(point)]
        with no_grad():
            out = f(*shifted)
            return out._data if isinstance(out, Value) else _to_float(out, "gradcheck: f's result")

    mismatches = []
    for i, a in enumerate(analytic):
        numeric = (at(i, eps) - at(i, -eps)) / (2.0 * eps)
        if not abs(a - numeric) <= atol + rtol * abs(numeric):
            name = f" ({leaves[i].label})" if leaves[i].label else ""
            mismatches.append(f"  input {i}{name} at {point[i]!r}: backward {a!r}, central difference {numeric!r}")
    if mismatches:
        raise GradcheckError("gradcheck: gradients differ from central differences\n" + "\n".join(mismatches))
    return True


def check_op(op: Op | str, points: Sequence[Sequence[float]] | None = None, *, samples: int = 8, seed: int = 0) -> str:
    """Blame check for one op's rules: its derivative against central differences of its forward,
    and its second derivative (the derivative rule differentiated through `m`) against central
    differences of the derivative, at `points` (tuples of operands) or at `samples` points drawn
    from the op's domain.

    Passes when |rule - differences| <= r + 1e-9 + 1e-5 |differences| for the first derivative and
    r + 1e-7 + 1e-4 |differences| for the second, r being the differences' own rounding error (their
    step grows where the op's values are large, so r stays below 1e-4 of the slope): a rule 1% off
    fails at any point where the derivative is not near 0. Raises `GradcheckError` naming the op,
    the point, the expected and the got; returns a one-line report when every point passes.
    """
    rule = _op_named(op)
    where = f"check_op {rule.name!r}"
    # A bad count or an empty list of points would otherwise end as "the op failed at every point".
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"{where}: samples must be a positive int, got {samples!r}")
    if points is None:
        rng = random.Random(seed)
        candidates = list(sample_points(rule, samples * 4, rng))
    elif isinstance(points, (str, bytes)) or not isinstance(points, Sequence) or not points:
        raise TypeError(f"{where}: points must be a non-empty list of points (tuples of operands), got {points!r}")
    else:
        candidates = [(_point(rule, p, where), dict(rule.bind({}) or {})) for p in points]
    checked, worst = 0, 0.0
    for point, params in candidates:
        if checked == (samples if points is None else len(candidates)):
            break
        try:
            out = rule.forward(*point, **params)
            firsts = rule.local(point, out, params, FloatMath)
        except (ArithmeticError, ValueError) as error:
            if points is not None:  # a point the caller chose: say which, and of which op
                raise ValueError(f"{where}: the op is not defined at {_at(rule, point, params)}: {error}") from error
            continue  # outside the domain the op is defined on: draw another point
        worst = max(worst, _check_first(rule, point, params, firsts, where))
        worst = max(worst, _check_second(rule, point, params, where))
        checked += 1
    if not checked:
        raise ValueError(f"{where}: the op failed at every sampled point; give points=[...] where it is defined")
    return (
        f"{where}: first and second derivatives match central differences at {checked} points (max error {worst:.1e})"
    )


def _op_named(op: Op | str) -> Op:
    if isinstance(op, Op):
        return op
    if isinstance(op, str) and op in OPS:
        return OPS[op]
    raise TypeError(f"check_op: op must be an Op or the name of a registered op, got {type(op).__name__} {op!r}")


def _point(rule: Op, p: Any, where: str) -> tuple[float, ...]:
    values = (p,) if _is_real(p) else tuple(p)
    if len(values) != rule.arity:
        raise ValueError(f"{where}: a point needs {rule.arity} operand(s), got {p!r}")
    return tuple(_to_float(x, where) for x in values)


def _shifted(point: tuple[float, ...], j: int, h: float) -> tuple[float, ...]:
    return tuple(x + h if i == j else x for i, x in enumerate(point))


def _compare(where: str, what: str, got: float, expected: float, atol: float, rtol: float) -> float:
    error = abs(got - expected)
    if not error <= atol + rtol * abs(expected):
        raise GradcheckError(f"{where}: {what}: the rule gives {got!r}, central differences give {expected!r}")
    return error / max(1.0, abs(expected))


_EPS = 2.0**-52  # float spacing at 1.0


def _difference(fn: Callable[[float], float], h0: float) -> tuple[float, float]:
    """Central difference (fn(h) - fn(-h)) / 2h and its rounding error bound.

    Rounding in fn's values costs about eps |fn| / h: with large values (an op offset by 1e6) a
    tiny step cannot resolve the slope, so the step grows (up to 1000 h0) until that error is
    below 1e-4 of the slope, which keeps a rule 1% off detectable.
    """
    h = h0
    for _ in range(4):
        up, down = fn(h), fn(-h)
        numeric = (up - down) / (2.0 * h)
        rounding = 16.0 * _EPS * max(abs(up), abs(down)) / h
        if rounding <= 1e-4 * abs(numeric):
            break
        h *= 10.0
    return numeric, rounding


def _check_first(
    rule: Op, point: tuple[float, ...], params: dict[str, float], firsts: tuple[Any, ...], where: str
) -> float:
    worst = 0.0
    for j, name in enumerate(rule.operands):

        def f(h: float, j: int = j) -> float:
            return float(rule.forward(*_shifted(point, j, h), **params))

        numeric, rounding = _difference(f, 1e-6 * max(1.0, abs(point[j])))
        what = f"d out/d {name} at {_at(rule, point, params)}"
        worst = max(worst, _compare(where, what, _number(firsts[j]), numeric, 1e-9 + rounding, 1e-5))
    return worst


def _check_second(rule: Op, point: tuple[float, ...], params: dict[str, float], where: str) -> float:
    """d/d x_k of each local derivative: the rule run on Values (through m) against differences."""
    xs = [Value(x) for x in point]
    with enable_grad():  # the rule's graph is needed even when check_op runs inside no_grad()
        out = rule(*xs, **params)
        try:
            firsts = rule.local(tuple(xs), out, params, ValueMath)
        except TypeError as error:  # e.g. math.exp(x) in the rule: it refuses Values
            raise GradcheckError(
                f"{where}: the second derivative at {_at(rule, point, params)}: the derivative rule does not run "
                f"on Values, so create_graph, grad(grad(f)) and compile cannot use it; write it with m: {error}"
            ) from error

    worst = 0.0
    for j, dj in enumerate(firsts):
        seconds = gradients(dj, xs) if isinstance(dj, Value) else [0.0] * rule.arity
        for k, name in enumerate(rule.operands):

            def d(h: float, k: int = k, j: int = j) -> float:
                q = _shifted(point, k, h)
                return float(rule.local(q, rule.forward(*q, **params), params, FloatMath)[j])

            numeric, rounding = _difference(d, 1e-5 * max(1.0, abs(point[k])))
            what = f"d2 out/d {rule.operands[j]} d {name} at {_at(rule, point, params)}"
            worst = max(worst, _compare(where, what, seconds[k], numeric, 1e-7 + rounding, 1e-4))
    return worst


def _number(x: Any) -> float:
    return x._data if isinstance(x, Value) else float(x)


def _at(rule: Op, point: tuple[float, ...], params: dict[str, float]) -> str:
    parts = [f"{n} = {x!r}" for n, x in zip(rule.operands, point, strict=True)]
    return ", ".join(parts + [f"{p} = {v!r}" for p, v in params.items()])
