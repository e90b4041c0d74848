"""The checker's machinery: load a student's file, read its numbers, and blame the first wrong step.

Notation as in the lectures: a local derivative ∂e/∂x sits on an edge, an accumulated gradient
dL/dx on a node, and backprop is "upstream x local = downstream", summed over every use of a node.

`GraphReference` holds the engine's backward pass of a small labelled graph, computed before any
student code runs and stored as immutable numbers (frozen `BackwardStep`s, tuples, a read-only
mapping). `first_wrong_step` walks the nodes in the order backward() completes them and, at the
first node whose gradient the student got wrong, says which chain-rule step it is, what upstream
gradient and local derivative the engine used, and what the student's number implies.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import numbers
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

from autograd import BackwardStep, Value, explain_steps, topological_order
from autograd.draw import node_names
from autograd.explain import num

REL_TOL = 1e-3  # answers worked by hand may be rounded to about 4 significant digits
ABS_TOL = 1e-6


class ExerciseError(Exception):
    """The student's file cannot be checked: it does not import, lacks a name, or returns non-numbers."""


def close(got: float, expected: float) -> bool:
    """Equal up to hand rounding: 0.1% relative, or 1e-6 absolute near 0."""
    return math.isclose(got, expected, rel_tol=REL_TOL, abs_tol=ABS_TOL)


# ---- loading the student's file ------------------------------------------------------------------
_counter = itertools.count(1)
_PACKAGE = __name__.rpartition(".")[0]


@contextmanager
def sealed() -> Iterator[None]:
    """Run student code inside: afterwards every name of the checker's own modules is as it was.

    A student's file may import the checker and rebind its functions, tolerances or graph builders;
    they are put back the moment the student's code returns, before the checker compares anything.
    """
    modules = [m for name, m in list(sys.modules.items()) if name == _PACKAGE or name.startswith(_PACKAGE + ".")]
    saved = [(m, dict(vars(m))) for m in modules]
    try:
        yield
    finally:
        for module, names in saved:
            namespace = vars(module)
            for added in set(namespace) - set(names):
                del namespace[added]
            namespace.update(names)


def load_student(path: str | Path) -> ModuleType:
    """Run the file at `path` as a fresh module object (never a cached import) and return it."""
    p = Path(path)
    if not p.is_file():
        raise ExerciseError(f"no file at {p}: give the path of your copy (python -m demos.exercises release DIR)")
    name = f"_exercise_student_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise ExerciseError(f"{p} cannot be loaded as a Python module (is it a .py file?)")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # only while it runs: dataclasses and pickling look modules up here
    try:
        with sealed():
            spec.loader.exec_module(module)
    except SyntaxError as error:
        raise ExerciseError(f"{p} does not import: syntax error at line {error.lineno}: {error.msg}") from None
    except Exception as error:
        raise ExerciseError(f"{p} does not import: {_where(error, p)}") from None
    finally:
        sys.modules.pop(name, None)
    return module


def _where(error: BaseException, path: Path) -> str:
    """`ErrorType: message (line N)`, the line being the last one of the student's file in the traceback."""
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if Path(frame.filename).resolve() == path.resolve():
            line = frame.lineno
    at = f" (line {line})" if line is not None else ""
    return f"{type(error).__name__}: {error}{at}"


def student_function(module: ModuleType, name: str) -> Callable[..., Any]:
    """The function `name` of the student's module; a clear error if it is missing or not callable."""
    found = getattr(module, name, None)
    if found is None:
        have = sorted(n for n in vars(module) if not n.startswith("_") and callable(vars(module)[n]))
        raise ExerciseError(
            f"your file has no function {name}(); it defines {', '.join(have) or 'no functions'}. "
            f"Keep the names of the starter file."
        )
    if not callable(found):
        raise ExerciseError(f"{name} must be a function, got {type(found).__name__} {found!r}")
    return found  # type: ignore[no-any-return]


def call_student(fn: Callable[..., Any], *args: Any) -> Any:
    """Call a student's function; a blank left as it was, or any error, becomes a clear message."""
    name = getattr(fn, "__name__", "your function")
    try:
        with sealed():
            return fn(*args)
    except NotImplementedError:
        raise ExerciseError(
            f"{name}() is not written yet: replace `raise NotImplementedError` with your answer"
        ) from None
    except Exception as error:
        code = getattr(fn, "__code__", None)
        raised = _where(error, Path(code.co_filename)) if code else f"{type(error).__name__}: {error}"
        raise ExerciseError(f"{name}() raised {raised}") from None


def number(x: object, what: str) -> float:
    """A finite real number from the student's answer, as a float; anything else is a clear error."""
    if isinstance(x, Value):
        raise ExerciseError(f"{what} is a Value ({x!r}); give the number: its .data (or .grad)")
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise ExerciseError(f"{what} must be a number, got {type(x).__name__} {x!r}")
    f = float(x)
    if not math.isfinite(f):
        raise ExerciseError(f"{what} must be a finite number, got {f!r}")
    return f


def numbers_dict(x: object, keys: Sequence[str], what: str) -> dict[str, float]:
    """The student's dict of numbers with exactly `keys` (missing or unknown keys are named)."""
    if not isinstance(x, Mapping):
        raise ExerciseError(f"{what} must return a dict of numbers keyed {list(keys)}, got {type(x).__name__}")
    missing = [k for k in keys if k not in x]
    extra = [repr(k) for k in x if k not in keys]
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown {', '.join(extra)}"] if extra else []
        )
        raise ExerciseError(f"{what}: the keys must be {list(keys)} ({'; '.join(parts)})")
    return {k: number(x[k], f"{what}[{k!r}]") for k in keys}


def numbers_list(x: object, n: int, what: str) -> list[float]:
    """A list (or tuple) of exactly `n` numbers."""
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        raise ExerciseError(f"{what} must be a list of {n} numbers, got {type(x).__name__} {x!r}")
    if len(x) != n:
        raise ExerciseError(f"{what} must have {n} numbers, got {len(x)}")
    return [number(v, f"{what}[{i}]") for i, v in enumerate(x)]


# ---- the engine's reference for a graph -----------------------------------------------------------
@dataclass(frozen=True)
class GraphReference:
    """The engine's backward pass of one labelled graph, as numbers nothing can change afterwards.

    names: node names in topological order (root last); steps: `explain_steps` of the root;
    grads: dL/d node by name; narration: `explain(root)`; value: the root's value.
    """

    names: tuple[str, ...]
    steps: tuple[BackwardStep, ...]
    grads: Mapping[str, float]
    narration: str
    value: float

    @property
    def out(self) -> str:
        return self.names[-1]


def graph_reference(root: Value) -> GraphReference:
    """Run explain's machinery on `root` (no `.grad` is touched) and freeze the result."""
    order = topological_order(root)
    names = tuple(node_names(order))
    steps = tuple(explain_steps(root))  # type: ignore[arg-type]
    total = [0.0] * len(order)
    for step in steps:
        total[step.node] = step.value if step.kind != "edge" else total[step.node] + step.value
    grads = MappingProxyType(dict(zip(names, total, strict=True)))
    return GraphReference(names, steps, grads, "\n".join(s.text for s in steps), root.data)  # explain(root)


def first_wrong_step(ref: GraphReference, got: Mapping[str, float]) -> str | None:
    """None when every gradient in `got` matches; else the diagnosis of the first wrong one.

    "First" is in the order backward() completes gradients (from the root down), so every node
    upstream of the blamed one is right: the mistake is made at this step, not inherited.
    """
    for i in range(len(ref.names) - 1, -1, -1):
        name = ref.names[i]
        if name in got and not close(got[name], ref.grads[name]):
            return diagnose(ref, i, got[name])
    return None


def _edges(ref: GraphReference, i: int) -> list[BackwardStep]:
    return [s for s in ref.steps if s.kind == "edge" and s.node == i]


def _chain(ref: GraphReference, s: BackwardStep) -> str:
    out, x, e = ref.out, ref.names[s.node], ref.names[s.source]  # type: ignore[index]
    return f"d{out}/d{x} += d{out}/d{e} * ∂{e}/∂{x} = ({num(s.upstream)})({num(s.local)}) = {num(s.value)}"  # type: ignore[arg-type]


def diagnose(ref: GraphReference, i: int, got: float) -> str:
    """Explain the chain-rule step at node `i`, where the student's gradient `got` is wrong."""
    out, x = ref.out, ref.names[i]
    expected = ref.grads[x]
    edges = _edges(ref, i)
    lines = [f"First wrong step: node {x}, the gradient d{out}/d{x}."]
    if not edges:
        lines.append(f"  d{out}/d{out} = 1 by definition (the seed of the backward pass); yours is {num(got)}.")
        return "\n".join(lines)
    lines.append("  The chain rule there (upstream x local = downstream):")
    lines += [f"    {_chain(ref, s)}" for s in edges]
    if len(edges) > 1:
        terms = " + ".join(f"({num(s.value)})" for s in edges)
        lines.append(f"    {x} is used {len(edges)} times, so the contributions add up: d{out}/d{x} = {terms}")
    lines.append(f"  Expected d{out}/d{x} = {num(expected)}; yours is {num(got)}.")
    lines.append("  " + _verdict(ref, edges, expected, got))
    return "\n".join(lines)


def _subsets(items: Sequence[BackwardStep]) -> Iterable[tuple[BackwardStep, ...]]:
    """The proper, non-empty subsets of a node's contributions (few: a node has a handful of uses)."""
    n = len(items)
    for size in range(1, n):
        yield from itertools.combinations(items, size)


def _via(ref: GraphReference, steps: Iterable[BackwardStep]) -> str:
    return ", ".join(ref.names[s.source] for s in steps)  # type: ignore[index]


def _verdict(ref: GraphReference, edges: list[BackwardStep], expected: float, got: float) -> str:
    """What the student's number implies, most telling explanation first."""
    out, x = ref.out, ref.names[edges[0].node]
    if expected != 0.0 and close(got, -expected):
        return f"Diagnosis: sign error: yours is minus d{out}/d{x}; check the sign of each upstream and local factor."
    if len(edges) > 1:
        if close(got, edges[-1].value):
            return (
                "Diagnosis: `=` instead of `+=`: yours is only the last contribution "
                f"(through {_via(ref, edges[-1:])}), as if it overwrote the earlier one(s) "
                f"(through {_via(ref, edges[:-1])}), or that use was left out; each use of {x} must ADD its share."
            )
        for part in _subsets(edges):
            if close(got, math.fsum(s.value for s in part)):
                rest = [s for s in edges if s not in part and s.value != 0.0]
                overwritten = " (or an `=` overwrote it: use `+=`)" if len(part) == 1 else ""
                return (
                    f"Diagnosis: missing accumulation: yours has only the contribution through {_via(ref, part)}; "
                    f"the use through {_via(ref, rest)} is missing{overwritten}; d{out}/d{x} sums over every use."
                )
    for s in edges:
        verdict = _edge_verdict(ref, s, got)
        if verdict:
            return verdict
    return _implied(ref, edges, expected, got)


def _edge_verdict(ref: GraphReference, s: BackwardStep, got: float) -> str | None:
    """A mistake on one edge: the local factor forgotten, the upstream forgotten, or used too early."""
    out, x, e = ref.out, ref.names[s.node], ref.names[s.source]  # type: ignore[index]
    up, local = s.upstream, s.local
    assert up is not None and local is not None
    if not close(local, 1.0) and close(got, up):
        return (
            f"Diagnosis: the local derivative is missing: yours equals the upstream d{out}/d{e} = {num(up)}, "
            f"not yet multiplied by ∂{e}/∂{x} = {num(local)}."
        )
    if not close(up, 1.0) and close(got, local):
        return (
            f"Diagnosis: the upstream gradient is missing: yours equals the local derivative ∂{e}/∂{x} = {num(local)} "
            f"alone; multiply it by d{out}/d{e} = {num(up)}."
        )
    upstream_terms = _edges(ref, s.source)  # type: ignore[arg-type]
    for part in _subsets(upstream_terms):
        partial = math.fsum(t.value for t in part)
        if close(got, partial * local):
            return (
                f"Diagnosis: the chain rule in the wrong order: yours is ({num(partial)})({num(local)}), which uses "
                f"d{out}/d{e} before all of it had arrived (only the part through {_via(ref, part)}; it is "
                f"{num(up)} in full). Pass a node's gradient back only once every node that uses it is done."
            )
    return None


def _implied(ref: GraphReference, edges: list[BackwardStep], expected: float, got: float) -> str:
    """No pattern fits: say what local derivative (or upstream) the student's number amounts to."""
    out, x = ref.out, ref.names[edges[0].node]
    if len(edges) == 1:
        s = edges[0]
        e = ref.names[s.source]  # type: ignore[index]
        assert s.upstream is not None and s.local is not None
        parts = []
        if s.upstream != 0.0:
            parts.append(f"a local derivative ∂{e}/∂{x} of {num(got / s.upstream)} (it is {num(s.local)})")
        if s.local != 0.0:
            parts.append(f"an upstream d{out}/d{e} of {num(got / s.local)} (it is {num(s.upstream)})")
        return "Your number implies " + " or ".join(parts) + "; recompute that factor."
    return (
        f"Your number is off by {num(got - expected)} from the sum of the {len(edges)} contributions; "
        "recompute each one as upstream x local and add them."
    )
