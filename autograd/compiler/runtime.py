"""The compiled function: argument checks, the replay, the eager fallback, writing the gradients.

A replay either completes every check (guards, finite values, finite gradients) or stops before any
gradient is written. When it stops, `f` runs eagerly on the same inputs: eager's error is raised if it
has one; a changed branch raises `CompileBranchError`; otherwise (a false alarm, such as a sum of huge
but finite gradients overflowing) the eager results are the ones used.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..backward import gradients
from ..modes import _mode
from ..value import Value, _to_float
from .codegen import _GuardFailed, generate
from .errors import CompileBranchError, CompileError
from .plan import Plan
from .trace import trace

__all__ = ["Compiled", "compile"]

_Result = tuple[float, list[tuple[Value, float]]]  # the output, and (Value, gradient) pairs to add


def _write(pairs: Iterable[tuple[Value, float]]) -> None:
    for v, g in pairs:
        if v._a is None:
            v.grad += g
        else:
            v.backward(g)  # a node built before the call: on through its own graph, as eager does


class Compiled:
    """`f` traced once and compiled to Python; call it like `f`, get the output's value as a float."""

    __slots__ = ("_core", "_f", "_name", "_plan", "_source")

    def __init__(self, f: Callable[..., Any], example_args: tuple[Any, ...]) -> None:
        self._f = f
        self._name = getattr(f, "__name__", "f")
        t, root = trace(f, example_args)
        self._plan = Plan(t, root, len(example_args), self._name)
        del t
        self._source, env = generate(self._plan)
        # Our own generated text only (structure, op names, repr(float)); it defines `replay`, nothing else.
        exec(builtins.compile(self._source, f"<compiled {self._name}>", "exec"), env)  # noqa: S102
        self._core: Callable[..., Any] = env.pop("replay")

    # ---- calling ------------------------------------------------------------------------------------
    def _floats(self, args: Sequence[Any], where: str) -> list[float]:
        if len(args) != self._plan.nargs:
            raise TypeError(f"{where} takes {self._plan.nargs} positional argument(s) but {len(args)} were given")
        if isinstance(_mode.get(), _Observer):
            raise CompileError(f"{where}: a compiled function cannot run while f is traced; call f itself")
        xs = []
        for i, x in enumerate(args):
            if type(x) is float and -math.inf < x < math.inf:
                xs.append(x)
            elif isinstance(x, Value):
                xs.append(x._data)
            else:
                xs.append(_to_float(x, f"{where}: argument {i}"))
        return xs

    def _run(self, args: Sequence[Any], xs: list[float]) -> _Result:
        """One replay (or its eager fallback): the output and the gradients to add; nothing written."""
        try:
            out, arg_grads, ext_grads = self._core(*xs)
        except Exception as error:  # noqa: BLE001 - whatever stopped the replay, eager decides
            return self._recover(error, args)
        pairs = [(v, g) for v, g in zip(args, arg_grads, strict=True) if isinstance(v, Value)]
        pairs.extend(zip(self._plan.externals, ext_grads, strict=True))
        return out, pairs

    def _recover(self, error: Exception, args: Sequence[Any]) -> _Result:
        """The replay stopped: run f eagerly. Its error wins; then a changed branch; else its results."""
        values = [x if isinstance(x, Value) else Value(x) for x in args]
        out = self._f(*values)
        wanted = list(dict.fromkeys([*(x for x in args if isinstance(x, Value)), *self._plan.externals]))
        grads = gradients(out, wanted)
        if isinstance(error, _GuardFailed):
            plan = self._plan
            outcome = plan.guards[error.index][4]
            raise CompileBranchError(
                f"compiled {self._name}: these inputs take a different branch than the traced ones: "
                f"`{plan.describe_guard(error.index)}` was {outcome} when traced and is {not outcome} now. "
                f"Call {self._name} eagerly for such inputs, or compile it again"
            ) from None
        return out._data, list(zip(wanted, grads, strict=True))

    def __call__(self, *args: Any) -> float:
        out, pairs = self._run(args, self._floats(args, f"compiled {self._name}"))
        _write(pairs)
        return out

    def batch(self, rows: Iterable[Sequence[Any]]) -> float:
        """Sum of f over rows of arguments, with gradients, as `sum(compiled(*row) for row in rows)` gives.
        If any row fails, no gradient of the batch is written."""
        rows = [tuple(row) for row in rows]
        where = f"compiled {self._name}.batch"
        for i, row in enumerate(rows):
            if len(row) != self._plan.nargs:
                raise TypeError(f"{where}: row {i} has {len(row)} arguments, f takes {self._plan.nargs}")
        total = 0.0
        sums: dict[Value, float] = {}
        for row in rows:
            out, pairs = self._run(row, self._floats(row, where))
            total += out
            for v, g in pairs:
                sums[v] = sums.get(v, 0.0) + g
        if not all(-math.inf < g < math.inf for g in sums.values()):
            raise OverflowError(
                f"{where}: the gradients summed over the rows are not finite; no gradient was written. "
                "Call the compiled function row by row to find the row"
            )
        _write(sums.items())
        return total

    # ---- looking inside -----------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """The generated forward and backward code."""
        return self._source

    @property
    def guards(self) -> list[str]:
        """The value-dependent branches recorded while tracing, as the conditions that held then."""
        plan = self._plan
        return [f"{plan.describe_guard(i)} is {plan.guards[i][4]}" for i in range(len(plan.guards))]

    @property
    def parameters(self) -> list[Value]:
        """The pre-existing Values f read (by reference): they receive gradients on every call."""
        return list(self._plan.externals)

    def __repr__(self) -> str:
        return f"<compiled {self._name}: {self._plan.node_count()} ops, {len(self._plan.guards)} guards>"


from ..modes import Observer as _Observer  # noqa: E402


def compile(f: Callable[..., Any], *example_args: Any) -> Compiled:
    """Trace `f(*example_args)` once and return it compiled: calling the result returns the output's
    value and adds gradients into `.grad` of every Value f read, like `out = f(*args); out.backward()`.
    """
    if not callable(f):
        raise TypeError(f"compile: f must be callable, got {type(f).__name__} {f!r}")
    return Compiled(f, example_args)
