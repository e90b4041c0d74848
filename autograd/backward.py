"""The backward pass: topological order, the chain rule's sweep, and the functions built on it.

The chain rule (upstream x local = downstream) is written exactly twice here: once in
`backward_reference`, a plain sweep to read first, and once in `_sweep`, the fast one every
`backward()` and `gradients()` runs. They visit nodes in the same order and give the same bits
(a test holds them to it).

Order: Kahn's algorithm. Count each node's uses inside the graph, then start at the root and
release a node once every node that uses it is done — at that moment its gradient is complete.
Counts and partial gradients live in the nodes' scratch slots (`_n`, `_g`); a lock keeps two
threads from sweeping overlapping graphs at once.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .modes import _detect_anomaly, enable_grad
from .modes import escape as _escape
from .ops import ADD, MUL, FloatMath, Op, ValueMath
from .value import Value, _is_real, _lift, _to_float

__all__ = [
    "DerivativeError",
    "backward_reference",
    "gradients",
    "leaves",
    "local_derivatives",
    "topological_order",
    "zero_grad",
]

_INF = math.inf
_NINF = -math.inf
_sweep_lock = threading.RLock()


def local_derivatives(node: Value) -> tuple[float, ...]:
    """d node / d input for each of `node.inputs`, as numbers (what an edge of the graph carries)."""
    if not isinstance(node, Value):
        raise TypeError(f"local_derivatives: node must be a Value, got {type(node).__name__} {node!r}")
    _escape("calls local_derivatives(node), which returns plain floats", False)
    op = node._op
    if op is None or node._a is None:
        return ()
    return tuple(float(d) for d in op.local(tuple(x._data for x in node.inputs), node._data, node._arg, FloatMath))


def backward_reference(root: Value, gradient: float = 1.0) -> None:
    """The chain rule in its plainest form, to read before `_sweep`: same order, same numbers."""
    if not isinstance(root, Value):
        raise TypeError(f"backward_reference: root must be a Value, got {type(root).__name__} {root!r}")
    _escape("calls backward_reference(), which writes .grad", True)
    grads = _reference_sweep(root, _to_float(gradient, "backward_reference"), FloatMath)
    for node, g in grads.items():
        node._grad += g


def _reference_sweep(root: Value, seed: Any, m: Any) -> dict[Value, Any]:
    """d root / d node for every node of root's graph, by the chain rule in backward's order.

    For each node, from the root down: every input gains upstream gradient x local derivative.
    With `m = ValueMath` the rules get the nodes themselves and gradients are Values built by
    differentiable ops (create_graph); with `FloatMath` they get the numbers.
    """
    order = topological_order(root)
    grads: dict[Value, Any] = dict.fromkeys(order, 0.0)
    grads[root] = seed
    anomaly = _detect_anomaly.get()
    try:
        for node in reversed(order):  # every user of `node` is done, so grads[node] is complete
            g = grads[node]
            if not _NINF < _number(g) < _INF:
                raise _nonfinite_gradient(node, g)
            op = node._op
            if op is None or node._a is None:
                continue
            inputs = node.inputs
            if m is ValueMath:
                locals_ = _differentiable_locals(node, op)
            else:
                locals_ = op.local(tuple(x._data for x in inputs), node._data, node._arg, m)
            for x, local in zip(inputs, locals_, strict=True):
                grads[x] += g * local
                if anomaly and not _NINF < _number(grads[x]) < _INF:
                    raise _anomaly(node, g, inputs.index(x), grads[x])
    except FloatingPointError:  # detect_anomaly's report already names the op
        raise
    except Exception as error:
        blame = _blame_local_derivative(root)
        if blame is None:
            raise
        raise blame from error
    return grads


def _count_uses(root: Value) -> tuple[list[Value], list[Value]]:
    """Set each node's `_n` to the number of edges into it from inside root's graph.

    Returns the nodes that have inputs (root first) and the leaves, each in order of discovery.
    The walk goes depth first, down each node's first input before the second: a graph of many
    chains is then read chain by chain, as it lies in memory, not a step of every chain at a time
    (measured: backward of 1,000 chains of 100 ops 387 -> 223 ns/node; one long chain about 5%
    slower).
    """
    inner: list[Value] = []
    leaves: list[Value] = []
    if root._a is None:
        leaves.append(root)
        return inner, leaves
    inner_add, leaf_add = inner.append, leaves.append
    inner_add(root)
    todo = [root]
    pop, push = todo.pop, todo.append
    # Both loops are `while True` with a break: CPython 3.11 specialises a function's bytecode once
    # it has been entered or has jumped back 8 times, and a loop ending in a conditional jump (`while
    # todo:`) does not count, so a graph's first backward ran this walk unspecialised (measured:
    # 1.5x the instructions per node).
    while True:
        node: Value | None = pop()
        while True:  # follow first inputs down; a second input found new waits in `todo`
            a: Value = node._a  # type: ignore[union-attr,assignment]
            b = node._b  # type: ignore[union-attr]
            node = None
            if a._n:
                a._n += 1
            else:
                a._n = 1
                if a._a is None:
                    leaf_add(a)
                else:
                    inner_add(a)
                    node = a
            if b is not None:
                if b._n:
                    b._n += 1
                else:
                    b._n = 1
                    if b._a is None:
                        leaf_add(b)
                    else:
                        inner_add(b)
                        if node is None:
                            node = b
                        else:
                            push(b)
            if node is None:
                break
        if not todo:
            return inner, leaves


def _number(g: Any) -> float:
    """A gradient as a number, whether a float or (with create_graph) a Value; read without a hook."""
    return g._data if type(g) is Value else g


def _sweep(root: Value, seed: float, want: dict[Value, Any] | None) -> None:
    """Run the chain rule once over root's graph, on floats: upstream x local = downstream.

    Adds each node's gradient to `.grad` once the whole sweep has succeeded (a sweep that raises
    leaves every `.grad` as it was), or with `want` stores the gradients of the nodes in `want` there
    instead and leaves `.grad` alone. The same steps as `_reference_sweep`, with the bookkeeping in
    the nodes' scratch slots instead of a dict.

    A gradient that is not finite stays so all the way down (inf and nan survive + and *), so one
    test per leaf at the end finds it; only then is the sweep run again, checking every node, to
    name the first node it reached (measured: 5% off a 100,000-node backward).
    """
    with _sweep_lock:
        if not _sweep_once(root, seed, want, _detect_anomaly.get()):
            _sweep_once(root, seed, want, True)  # raises at the first node whose gradient is not finite


def _sweep_once(root: Value, seed: float, want: dict[Value, Any] | None, checks: bool) -> bool:
    """One sweep (see `_sweep`); False, with nothing written, when a leaf's gradient is not finite
    and `checks` was off. With `checks` (detect_anomaly, or the second run) every node is checked."""
    try:
        inner, leaves = _count_uses(root)
        root._g = seed
        m, anomaly = FloatMath, _detect_anomaly.get()
        ninf, inf, add, mul = _NINF, _INF, ADD, MUL  # locals: read once per node
        # Only nodes with inputs take a step; a leaf's gradient is complete when the sweep ends.
        ready: list[Value] = []  # released nodes waiting for their step, the last released on top
        pop, push = ready.pop, ready.append
        node: Value | None = inner[0] if inner else None  # the root, unless it is a leaf
        while True:  # not `while node is not None`: see `_count_uses`
            if node is None:
                break
            g = node._g  # complete now: every node that uses this one is done
            if checks and not ninf < g < inf:  # a product overflowed upstream, or a local derivative was not finite
                raise _nonfinite_gradient(node, g)
            a: Value = node._a  # type: ignore[assignment]  # only nodes with inputs take a step
            b = node._b
            op: Op = node._op  # type: ignore[assignment]  # a node with inputs has an op
            # `rule = op.derivative` then `rule(...)`: a method-call form `op.derivative(...)`
            # of an instance attribute defeats CPython 3.11's attribute cache (measured: +12%
            # instructions per backward node).
            if b is None:
                arg, rule = node._arg, op.derivative
                d = rule(a._data, node._data, m) if arg is None else rule(a._data, node._data, m, **arg)
                a._g += g * d
            elif op is add:  # the commonest rows, applied inline: d(x + y)/dx = d(x + y)/dy = 1
                a._g += g
                b._g += g
            elif op is mul:  # d(x y)/dx = y, d(x y)/dy = x
                a._g += g * b._data
                b._g += g * a._data
            else:
                arg, rule = node._arg, op.derivative
                x, y, out = a._data, b._data, node._data
                dx, dy = rule(x, y, out, m) if arg is None else rule(x, y, out, m, **arg)
                a._g += g * dx
                b._g += g * dy
            if anomaly:
                _check_step(node, g)
            # Release the inputs; the last one released runs next (the same order as pushing
            # it and popping it straight back, without the list round trip).
            following = None
            if a._a is not None:
                n = a._n - 1
                a._n = n
                if not n:
                    following = a
            if b is not None and b._a is not None:
                n = b._n - 1
                b._n = n
                if not n:
                    if following is not None:
                        push(following)
                    following = b
            node = following if following is not None else (pop() if ready else None)
        for node in leaves:
            if not ninf < node._g < inf:
                raise _nonfinite_gradient(node, node._g)
    except FloatingPointError:  # detect_anomaly's report already names the op
        _reset_scratch(root)
        raise
    except Exception as error:
        _reset_scratch(root)
        if not checks:  # the checked run raises this error, or an earlier node's
            return False
        blame = _blame_local_derivative(root)
        if blame is None:
            raise
        raise blame from error
    except BaseException:
        _reset_scratch(root)
        raise
    _hand_out(inner, leaves, want)
    return True


def _differentiable_locals(node: Value, op: Op) -> tuple[Any, ...]:
    """The local derivatives as Values (the rule run on the nodes with ValueMath), or a TypeError
    naming the op when its rule can only take numbers (math.exp instead of m.exp)."""
    try:
        return op.local(node.inputs, node, node._arg, ValueMath)
    except TypeError as error:
        raise TypeError(
            f"{op.name}: its derivative rule cannot be differentiated again (create_graph, grad of grad): "
            f"it works on numbers only. Write it with m (m.exp, m.where, ...) and arithmetic. ({error})"
        ) from error


def _hand_out(inner: list[Value], leaves: list[Value], want: dict[Value, Any] | None) -> None:
    """Add the sweep's gradients to `.grad` (or store the wanted ones) and clear the scratch slots."""
    if want is None:
        for node in inner:
            node._grad += node._g
            node._g = 0.0
        for node in leaves:  # a leaf's count is never run down to 0
            node._grad += node._g
            node._g, node._n = 0.0, 0
    else:
        for node in want:
            want[node] = node._g
        for node in inner:
            node._g = 0.0
        for node in leaves:
            node._g, node._n = 0.0, 0


def _name(node: Value) -> str:
    return repr(node.label) if node.label else (f"made by {node.op!r}" if node._op is not None else "(a leaf)")


def _nonfinite_gradient(node: Value, g: Any) -> ArithmeticError:
    return OverflowError(
        f"backward: the gradient reaching the node {_name(node)} (data {node._data!r}) is {_number(g)!r}: "
        "a product of gradients overflowed; run backward inside autograd.detect_anomaly() to see the op"
    )


class DerivativeError(ValueError, OverflowError):
    """A local derivative that is not a finite number where backward needs it (a pole, an
    overflow, or a point where it is undefined). Both a ValueError and an OverflowError."""


def _blame_local_derivative(root: Value) -> Exception | None:
    """After a failed sweep: the first op, in sweep order, whose local derivative is not a finite
    number at its inputs (the real cause of an inf or nan gradient), as an error naming the op and
    the numbers; None when every local derivative is finite (then a product overflowed)."""
    for node in reversed(topological_order(root)):
        op = node._op
        if op is None or node._a is None:
            continue
        inputs = tuple(x._data for x in node.inputs)
        where = ", ".join(f"{name} = {x!r}" for name, x in zip(op.operands, inputs, strict=True))
        try:
            locals_ = op.local(inputs, node._data, node._arg, FloatMath)
        except (ZeroDivisionError, OverflowError):  # float arithmetic's way of saying "infinite"
            return DerivativeError(
                f"{op.name}: the derivative is infinite at {where} (its rule divides by zero or overflows; "
                "m.where computes both branches, so a division in the branch not taken counts too)"
            )
        except Exception as error:  # a rule that raises: its own message, with the op and the point
            return type(error)(f"{op.name}: the local derivative rule raised at {where}: {error}")
        for name, d in zip(op.operands, locals_, strict=True):
            if not _is_real(d):
                return TypeError(
                    f"{op.name}: the derivative rule returned {type(d).__name__} {d!r} for d out/d {name} "
                    f"at {where}; it must return numbers"
                )
            d = float(d)
            if d != d:
                return DerivativeError(f"{op.name}: the derivative d out/d {name} is undefined (nan) at {where}")
            if not _NINF < d < _INF:
                return DerivativeError(
                    f"{op.name}: the derivative d out/d {name} is {d!r} at {where}: infinite, or too large for a float"
                )
    return None


def _check_step(node: Value, g: Any) -> None:
    """detect_anomaly(): fail at the op whose backward step first produced nan or inf."""
    for i, child in enumerate(node.inputs):
        if not _NINF < _number(child._g) < _INF:
            raise _anomaly(node, g, i, child._g)


def _anomaly(node: Value, g: Any, i: int, bad: Any) -> FloatingPointError:
    inputs = ", ".join(f"{v.label or 'input ' + str(j)}={v._data!r}" for j, v in enumerate(node.inputs))
    return FloatingPointError(
        f"detect_anomaly: the backward step of op {node.op!r} (node {_name(node)}, data {node._data!r}) "
        f"made the gradient of its input {i} {_number(bad)!r} from upstream gradient {_number(g)!r}; "
        f"inputs: {inputs}"
    )


def _reset_scratch(root: Value) -> None:
    """After a sweep failed midway: clear the scratch slots it left behind."""
    stack, seen = [root], {root}
    while stack:
        node = stack.pop()
        node._g, node._n = 0.0, 0
        for child in node.inputs:
            if child not in seen:
                seen.add(child)
                stack.append(child)


def topological_order(root: Value) -> list[Value]:
    """Every node of root's graph, each after all of its inputs, root last.

    Its reverse is exactly the order in which backward runs the chain rule through the nodes (a leaf,
    which has no step of its own, sits where its gradient becomes complete). Iterative.
    """
    if not isinstance(root, Value):
        raise TypeError(f"topological_order: root must be a Value, got {type(root).__name__} {root!r}")
    order: list[Value] = []
    with _sweep_lock:
        try:
            _count_uses(root)
            ready = [root]  # the same releases as _sweep, but leaves pass through `ready` too
            while ready:
                node = ready.pop()
                order.append(node)
                for x in (node._a, node._b):
                    if x is not None:
                        x._n -= 1
                        if not x._n:
                            ready.append(x)
        except BaseException:
            _reset_scratch(root)
            raise
    order.reverse()
    return order


def _backward(root: Value, seed: float) -> None:
    _escape("calls backward(), which writes .grad", True)
    _sweep(root, seed, None)


def _zero_grad(root: Value) -> None:
    _escape("calls zero_grad(), which writes .grad", True)
    for node in topological_order(root):
        node._grad = 0.0


def zero_grad(*roots: Value) -> None:
    """Set `.grad` to 0 on every node of the graphs of `roots`."""
    for root in roots:
        if not isinstance(root, Value):
            raise TypeError(f"zero_grad: roots must be Values, got {type(root).__name__} {root!r}")
        _zero_grad(root)


def leaves(root: Value) -> list[Value]:
    """The leaf Values of root's graph, in topological order."""
    if not isinstance(root, Value):
        raise TypeError(f"leaves: root must be a Value, got {type(root).__name__} {root!r}")
    return [node for node in topological_order(root) if node._a is None]


def _as_values(xs: Iterable[Any], where: str) -> Iterator[Value]:
    for x in xs:
        if not isinstance(x, Value):
            raise TypeError(f"{where}: expected Value, got {type(x).__name__} {x!r}")
        yield x


def gradients(output: Value, inputs: Sequence[Value], create_graph: bool = False) -> list[Any]:
    """d output / d each of `inputs`, without touching any `.grad`.

    Returns a list of floats, or with `create_graph=True` a list of Values that can be
    differentiated again. An input that `output` does not depend on gets 0.
    """
    if not isinstance(output, Value):
        raise TypeError(f"gradients: output must be a Value, got {type(output).__name__} {output!r}")
    if isinstance(inputs, Value) or not isinstance(inputs, Sequence):
        raise TypeError(
            f"gradients: inputs must be a list or tuple of Values, got {type(inputs).__name__}"
            " (wrap a single Value in a list)"
        )
    wanted = list(_as_values(inputs, "gradients"))
    if create_graph:
        with enable_grad():
            grads = _reference_sweep(output, Value(1.0), ValueMath)
        return [_lift(grads.get(x, 0.0), "gradients") for x in wanted]
    _escape("calls gradients(..., create_graph=False) (or grad, value_and_grad), which returns plain floats", False)
    found: dict[Value, Any] = dict.fromkeys(wanted, 0.0)
    _sweep(output, 1.0, found)
    return [float(found[x]) for x in wanted]
