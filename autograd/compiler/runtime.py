"""The compiled function: argument checks, the replay, the eager fallback, writing the gradients.

A replay either completes every check (guards, finite values, finite gradients) or stops before any
gradient is written. When it stops, `f` runs eagerly on the same inputs: eager's error is raised if it
has one; a changed branch raises `CompileBranchError`; otherwise (a false alarm, such as a sum of huge
but finite gradients overflowing) the eager results are the ones used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..backward import _sweep, topological_order
from ..modes import Observer, _mode
from ..value import Value, _to_float
from . import vector
from .chunks import load
from .codegen import _GuardFailed, generate
from .errors import CompileBranchError, CompileError
from .plan import Plan
from .trace import trace

__all__ = ["Compiled", "compile"]

_Result = tuple[float, list[tuple[Value, float]]]  # the output, and (Value, gradient) pairs to add


def _eager_grads(root: Value, seed: float) -> list[tuple[Value, float]]:
    """Every node's gradient that `root.backward(seed)` would add, computed without writing any."""
    found: dict[Value, Any] = dict.fromkeys(topological_order(root), 0.0)
    _sweep(root, seed, found)
    return list(found.items())


def _updates(pairs: Iterable[tuple[Value, float]]) -> list[tuple[Value, float]]:
    """Each gradient to add, in order, computed before anything is written: a leaf's own (eager's sum
    starts at 0.0: a -0.0 gradient reaches .grad as 0.0); for a node built before the call, every
    gradient its own backward would add through its graph. Raises (writing nothing) where that does."""
    out: list[tuple[Value, float]] = []
    for v, g in pairs:
        if v._a is None:
            out.append((v, 0.0 + g))
        else:
            out.extend(_eager_grads(v, _to_float(0.0 + g, "backward")))  # v.backward(g), writing nothing
    return out


def _independent(externals: list[Value]) -> bool:
    """Whether the gradients of the Values f reads, each written on its own, are eager's: all leaves, or
    one node (passing its gradient on through its own graph) whose graph holds none of the others."""
    nodes = [v for v in externals if v._a is not None]
    if not nodes:
        return True
    others = {id(v) for v in externals if v is not nodes[0]}
    return len(nodes) == 1 and not any(id(v) in others for v in topological_order(nodes[0]))


def _write(grads: Iterable[tuple[Value, float]], where: str) -> None:
    """Write a batch's gradients, or none when one it would write is not finite (and .grad was)."""
    grads = list(grads)
    if not all(-math.inf < g < math.inf for v, g in grads if -math.inf < v._grad < math.inf):
        raise OverflowError(
            f"{where}: the gradients summed over the rows are not finite; no gradient was written. "
            "Call the compiled function row by row to find the row"
        )
    for v, g in grads:
        v._grad = g


class Compiled:
    """`f` traced once and compiled to Python; call it like `f`, get the output's value as a float."""

    __slots__ = ("_core", "_ext_ids", "_f", "_leaves", "_name", "_plan", "_source", "_split", "_vector")

    def __init__(self, f: Callable[..., Any], example_args: tuple[Any, ...]) -> None:
        self._f = f
        self._name = getattr(f, "__name__", "f")
        t, root = trace(f, example_args)
        self._plan = Plan(t, root, len(example_args), self._name)
        del t
        self._source, env = generate(self._plan)
        # Our own generated text only (structure, op names, repr(float)); it defines `replay` (and the
        # chunk functions a long replay calls), compiled one function at a time.
        load(self._source, env, f"<compiled {self._name}>")
        self._core: Callable[..., Any] = env.pop("replay")
        externals = self._plan.externals
        self._leaves = all(v._a is None for v in externals)  # the common case: add into .grad directly
        self._split = _independent(externals)
        self._ext_ids = {id(v) for v in externals}
        self._vector: vector.Vectorised | None = None  # written at the first vectorised batch

    # ---- calling ------------------------------------------------------------------------------------
    def _floats(self, args: Sequence[Any], where: str) -> list[float]:
        if len(args) != self._plan.nargs:
            raise TypeError(f"{where} takes {self._plan.nargs} positional argument(s) but {len(args)} were given")
        if isinstance(_mode.get(), Observer):
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

    def _direct(self, args: Sequence[Any]) -> bool:
        """Whether the replay's gradients, each added on its own, are eager's bits. Eager sums all of a
        Value's terms before adding them to .grad: a Value passed twice, or passed and also read by
        reference, gets that sum only from eager; so does a node passed in (its graph may hold others)."""
        if not args or not self._split:  # a training step's loss takes no arguments
            return self._split
        seen: set[int] = set()
        for x in args:
            if isinstance(x, Value):
                if x._a is not None or not self._leaves or id(x) in self._ext_ids or id(x) in seen:
                    return False
                seen.add(id(x))
        return True

    def _run(self, args: Sequence[Any], xs: list[float]) -> _Result:
        """One replay (or its eager fallback): the output and the gradients to add; nothing written."""
        try:
            replay = self._core(*xs)
        except Exception as error:  # noqa: BLE001 - whatever stopped the replay, eager decides
            return self._recover(error, args)
        return self._finish(args, replay)

    def _finish(self, args: Sequence[Any], replay: tuple[float, Any, Any]) -> _Result:
        """The updates of a replay that passed its checks (or, where eager sums a Value's terms its own
        way, of eager's backward: see `_direct`)."""
        out, arg_grads, ext_grads = replay
        if not self._direct(args):
            return self._recover(None, args)
        pairs = [(v, g) for v, g in zip(args, arg_grads, strict=True) if isinstance(v, Value)]
        pairs.extend(zip(self._plan.externals, ext_grads, strict=True))
        return out, _updates(pairs)

    def _recover(self, error: Exception | None, args: Sequence[Any]) -> _Result:
        """The replay stopped (or was not used: `error` None): run f and its backward eagerly, writing
        nothing. Eager's error wins; then a changed branch; else eager's output and the gradients its
        backward adds, node by node."""
        out = self._f(*[x if isinstance(x, Value) else Value(x) for x in args])
        grads = _eager_grads(out, 1.0)  # out.backward()'s sweep, storing instead of adding
        if isinstance(error, _GuardFailed):
            plan = self._plan
            outcome = plan.guards[error.index][4]
            raise CompileBranchError(
                f"compiled {self._name}: these inputs take a different branch than the traced ones: "
                f"`{plan.describe_guard(error.index)}` was {outcome} when traced and is {not outcome} now. "
                f"Call {self._name} eagerly for such inputs, or compile it again"
            ) from None
        return out._data, grads

    def __call__(self, *args: Any) -> float:
        xs = self._floats(args, f"compiled {self._name}")
        if _mode.get() is False:  # inside no_grad(): f's output is a leaf, whose backward writes nothing
            return self._run(args, xs)[0]
        try:
            replay = self._core(*xs)
        except Exception as error:  # noqa: BLE001 - whatever stopped the replay, eager decides
            result, updates = self._recover(error, args)
        else:
            if self._leaves and self._direct(args):  # the training step's path: nothing else to do
                result, arg_grads, ext_grads = replay
                if args:
                    for v, g in zip(args, arg_grads, strict=True):
                        if isinstance(v, Value):
                            v._grad += 0.0 + g  # as _updates
                for v, g in zip(self._plan.externals, ext_grads, strict=True):
                    v._grad += 0.0 + g
                return result  # type: ignore[no-any-return]
            result, updates = self._finish(args, replay)
        for v, g in updates:  # computed in full before the first write
            v._grad += g
        return result

    def batch(self, rows: Iterable[Sequence[Any]], *, method: str = "auto") -> float:
        """Sum of f over rows of arguments, with gradients: the total `compiled(*row)` row by row
        returns (summed from 0.0, row by row), and each `.grad` what those calls leave, bit for bit
        (the additions are eager's, in the same order). Nothing is written unless every row succeeds
        and every gradient it would write is finite. Inside no_grad() it writes no gradient.

        `method`: "rows" replays row by row; "numpy" runs one vectorised replay over all rows (numpy
        arrays, the same arithmetic in the same order: the same bits), and runs the rows it cannot vouch
        for (a guard flips, a value is not finite, an argument is not a float or int) row by row, so
        errors and eager fallbacks are the row path's; "auto" (the default) takes "numpy" from
        `vector.THRESHOLD` rows when numpy is installed. Both give the same results: a function that
        reads by reference a node built before compiling always runs row by row.
        """
        rows = [tuple(row) for row in rows]
        where = f"compiled {self._name}.batch"
        if method not in ("auto", "rows", "numpy"):
            raise ValueError(f"{where}: method must be 'auto', 'rows' or 'numpy', got {method!r}")
        if method == "numpy" and not vector.HAVE_NUMPY:
            raise ImportError(f"{where}: method='numpy' needs numpy; install it with pip install 'chainrule[fast]'")
        for i, row in enumerate(rows):
            if len(row) != self._plan.nargs:
                raise TypeError(f"{where}: row {i} has {len(row)} arguments, f takes {self._plan.nargs}")
        auto = method == "auto" and vector.HAVE_NUMPY and len(rows) >= vector.THRESHOLD
        if (method == "numpy" or auto) and rows and self._leaves:
            self._floats(rows[0], where)  # the first row's errors (or a trace under way) come first, as row by row
            if self._vector is None:
                self._vector = vector.Vectorised(self._plan)
            if self._vector.ok:
                return self._batch_numpy(rows, where)
        total = 0.0
        grads: dict[Value, float] = {}  # each Value's .grad as the calls so far would have left it
        for row in rows:
            out, updates = self._run(row, self._floats(row, where))
            total += out
            for v, g in updates:
                grads[v] = grads.get(v, v._grad) + g
        if _mode.get() is not False:
            _write(grads.items(), where)
        return total

    def _batch_numpy(self, rows: Sequence[Sequence[Any]], where: str) -> float:
        """`batch` through the vectorised replay; marked rows through `_run`, in row order."""
        assert self._vector is not None
        cols, bad = vector.columns(rows, self._plan.nargs)
        out, grads = self._vector.run(cols, bad)
        sums = vector.Sums(self._plan.externals)
        start = 0
        for i in vector.marked(bad):
            sums.add_rows(out, grads, start, i)
            sums.add_row(*self._run(rows[i], self._floats(rows[i], where)))
            start = i + 1
        sums.add_rows(out, grads, start, len(rows))
        if _mode.get() is not False:
            _write(sums.items(), where)
        return sums.total

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


def compile(f: Callable[..., Any], *example_args: Any) -> Compiled:
    """Trace `f(*example_args)` once and return it compiled: calling the result returns the output's
    value and adds gradients into `.grad` of every Value f read, like `out = f(*args); out.backward()`.
    """
    if not callable(f):
        raise TypeError(f"compile: f must be callable, got {type(f).__name__} {f!r}")
    return Compiled(f, example_args)
