"""Forward mode: a tangent rides next to every value. `jvp`, `hvp`, `hessian` and narrated forward mode.

Give each input x_i a tangent t_i (a direction). In evaluation order, every node v gets

    dv = sum over the inputs u of v of  (dv/du) * du          (local derivative x input tangent)

so when the sweep reaches the output y, its tangent is dy = sum_i (dy/dx_i) t_i = J t, the
Jacobian-vector product, found in one forward sweep for every direction t. Backward runs the same
chain rule the other way: one sweep from the output gives dy/dx_i for every input (a row of J); one
forward sweep gives dy for one direction (a column of J, all outputs at once).

The local derivatives dv/du are the op table's rules (`Op.local`), the same rows backward reads,
so an op defined with `defop` works here unchanged. A node none of whose inputs carries a tangent
carries none itself (a symbolic zero, as in JAX): nothing is computed for it.

How forward mode composes with reverse mode (the choice made here): the transform depth of
`autograd.calculus` decides. At top level the sweep runs on floats with `FloatMath` and returns
floats. Inside another transform (`grad`, `value_and_grad`, `jvp`, ...) it runs the rules on the
nodes themselves with `ValueMath`, so the tangents are Values connected to the outer graph and can
be differentiated again:
- forward-over-reverse: `jvp(grad(f), ...)` sweeps forward through the graph that `grad(f)` builds
  for its gradient (create_graph); that is `hvp` and `hessian`;
- reverse-over-forward: `grad(lambda x: jvp(f, (x,), (1.0,))[1])` differentiates a tangent;
- forward-over-forward: `jvp(lambda x: jvp(f, (x,), (1.0,))[1], ...)`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .backward import DerivativeError, topological_order
from .calculus import _depth, grad
from .modes import enable_grad
from .ops import FloatMath, ValueMath
from .value import Value, _is_real, _lift, _to_float

__all__ = ["ForwardStep", "forward_steps", "hessian", "hvp", "jvp"]

_INF = math.inf
# One tangent contribution of a sweep: (operand slot, input node, local derivative, input tangent).
_Term = tuple[int, Value, Any, Any]


# ---- the public transforms ------------------------------------------------------------------------
def jvp(f: Callable[..., Any], primals: Sequence[float | Value], tangents: Sequence[float | Value]) -> tuple[Any, Any]:
    """Forward mode: `(f(*primals), J t)` with J the Jacobian of f at `primals` and t = `tangents`.

    For a scalar f the tangent out is  df = sum_i (df/dx_i) t_i,  the directional derivative of f
    along t, computed in one sweep next to the values (see the module's help). `primals` and
    `tangents` are equally long lists or tuples of numbers; f takes that many arguments (Values)
    and returns a Value or a number, or a tuple of them (then both results are tuples).
    At top level the results are floats; inside another transform they are Values (so jvp nests
    with `grad` both ways). Example: jvp(lambda x, y: x * y, (3.0, 2.0), (1.0, 0.0)) == (6.0, 2.0).
    """
    where = "jvp"
    _check_callable(f, where)
    xs = _numbers(primals, "primals", where)
    ts = _numbers(tangents, "tangents", where)
    if len(ts) != len(xs):
        raise ValueError(f"{where}: {len(xs)} primal(s) but {len(ts)} tangent(s); give one tangent per primal")
    return _jvp(f, xs, ts, where)


def hvp(f: Callable[..., Any], primals: Sequence[float | Value], vector: Sequence[float | Value]) -> tuple[Any, ...]:
    """The Hessian-vector product H v of a scalar f at `primals`, by forward-over-reverse.

    H[i][j] = d^2 f / dx_i dx_j, and (H v)_i = sum_j H[i][j] v_j = the directional derivative of
    df/dx_i along v: one `jvp` of the gradient function `grad(f)` (whose graph, built with
    create_graph, is swept forward like any other). Costs about one forward and one backward pass,
    without forming H. Returns a tuple of floats (Values inside another transform).
    """
    where = "hvp"
    _check_callable(f, where)
    xs = _numbers(primals, "primals", where)
    vs = _numbers(vector, "vector", where)
    if not xs:
        raise ValueError(f"{where}: give at least one primal (f's Hessian needs an argument)")
    if len(vs) != len(xs):
        raise ValueError(f"{where}: {len(xs)} primal(s) but a vector of {len(vs)}; they must be equally long")
    gradient = grad(_scalar(f, where), argnums=tuple(range(len(xs))))
    return tuple(_jvp(gradient, xs, vs, where)[1])


def hessian(f: Callable[..., Any]) -> Callable[..., tuple[tuple[Any, ...], ...]]:
    """Transform a scalar f into the function computing its Hessian: `hessian(f)(*xs)[i][j]` is
    d^2 f / dx_i dx_j at xs.

    Forward-over-reverse: the graph of grad(f) is built once, then swept forward once per input
    with the tangent e_j (1 for x_j, none elsewhere), giving column j: d(df/dx_i)/dx_j for every i.
    For small functions (n sweeps for n inputs). A tuple of tuples of floats (Values inside
    another transform).
    """
    _check_callable(f, "hessian")

    @functools.wraps(f)
    def wrapper(*xs: float | Value) -> tuple[tuple[Any, ...], ...]:
        where = "hessian"
        ps = _numbers(xs, "arguments", where)
        if not ps:
            raise ValueError(f"{where}: f's Hessian needs at least one argument, got none")
        n = len(ps)
        gradient = grad(_scalar(f, where), argnums=tuple(range(n)))
        nested = _depth.get() > 0
        leaves, outs, _ = _trace(gradient, ps, nested, where)
        order = _order(outs)
        columns = [_tangents_of(outs, _push(order, {leaves[j]: 1.0}, nested, where), nested) for j in range(n)]
        return tuple(tuple(columns[j][i] for j in range(n)) for i in range(n))

    return wrapper


# ---- the sweep --------------------------------------------------------------------------------------
def _jvp(f: Callable[..., Any], xs: list[Any], ts: list[Any], where: str) -> tuple[Any, Any]:
    nested = _depth.get() > 0
    leaves, outs, single = _trace(f, xs, nested, where)
    seeds = {leaf: (t if nested or not isinstance(t, Value) else t._data) for leaf, t in zip(leaves, ts, strict=True)}
    tangents = _tangents_of(outs, _push(_order(outs), seeds, nested, where), nested)
    values = [v if nested else v._data for v in outs]
    return (values[0], tangents[0]) if single else (tuple(values), tuple(tangents))


def _trace(f: Callable[..., Any], xs: list[Any], nested: bool, where: str) -> tuple[list[Value], list[Value], bool]:
    """Run f on fresh input nodes: (the inputs, f's outputs as Values, whether f returned one).

    At top level an input is a new leaf holding the number. Inside another transform a Value input
    becomes `x + 0.0`, a new node on the outer graph, so the inner and outer variables stay apart.
    """
    token = _depth.set(_depth.get() + 1)  # so a grad inside f keeps its graph (create_graph)
    try:
        with enable_grad():  # forward mode needs f's graph, even when called inside no_grad()
            leaves = [(x + 0.0 if nested else Value(x._data)) if isinstance(x, Value) else Value(x) for x in xs]
            result = f(*leaves)
    finally:
        _depth.reset(token)
    single = not isinstance(result, (tuple, list))
    items = [result] if single else list(result)
    outs = []
    for item in items:
        if isinstance(item, Value):
            outs.append(item)
        elif _is_real(item):
            outs.append(Value(_to_float(item, f"{where}: f's result")))
        else:
            raise TypeError(
                f"{where}: f must return a Value or a number (or a tuple of them), got {type(item).__name__} {item!r}"
            )
    return leaves, outs, single


def _order(outs: Sequence[Value]) -> list[Value]:
    """Every node of the outputs' graphs, each after its inputs (an iterative depth-first walk)."""
    order: list[Value] = []
    seen: set[Value] = set()
    for root in outs:
        stack: list[tuple[Value, bool]] = [(root, False)]
        while stack:
            node, finished = stack.pop()
            if finished:
                order.append(node)
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                stack.extend((x, False) for x in node.inputs if x not in seen)
    return order


def _push(
    order: Sequence[Value],
    seeds: dict[Value, Any],
    nested: bool,
    where: str,
    record: list[tuple[Value, list[_Term], Any]] | None = None,
) -> dict[Value, Any]:
    """The tangent of every node that depends on a seeded node: dv = sum (dv/du) du, in `order`.

    Floats and FloatMath at top level, Values and ValueMath when nested. With `record`, each node's
    step (the node, its contributing terms, its tangent) is appended there, for the narration.
    """
    m = ValueMath if nested else FloatMath
    tangent: dict[Value, Any] = dict(seeds)
    with enable_grad():  # nested: the tangents are nodes of the outer graph
        for node in order:
            if node._a is None or node in seeds:
                continue
            inputs = node.inputs
            if not any(x in tangent for x in inputs):
                continue  # a symbolic zero: nothing flows into this node
            locals_ = _locals(node, m, nested, where)
            terms = [
                (i, x, d, tangent[x]) for i, (x, d) in enumerate(zip(inputs, locals_, strict=True)) if x in tangent
            ]
            total: Any = None
            for _, _, d, t in terms:  # in operand order: the same additions every time
                total = d * t if total is None else total + d * t
            if not nested and not -_INF < total < _INF:
                raise _nonfinite(node, terms, total, where)
            tangent[node] = total
            if record is not None:
                record.append((node, terms, total))
    return tangent


def _locals(node: Value, m: Any, nested: bool, where: str) -> tuple[Any, ...]:
    """d node / d input for each input, by the op's rule: on the nodes when nested, else on floats."""
    op = node._op
    assert op is not None  # only nodes with inputs come here
    try:
        if nested:
            return op.local(node.inputs, node, node._arg, m)
        return op.local(tuple(x._data for x in node.inputs), node._data, node._arg, m)
    except (ZeroDivisionError, OverflowError) as error:  # float arithmetic's way of saying "infinite"
        raise DerivativeError(
            f"{where}: {op.name}: the derivative is infinite at {_at(node)} (its rule divides by zero or overflows)"
        ) from error
    except Exception as error:
        raise type(error)(f"{where}: {op.name}: the local derivative rule raised at {_at(node)}: {error}") from error


def _nonfinite(node: Value, terms: list[_Term], total: float, where: str) -> ArithmeticError:
    """The error for a tangent that is not a finite number: the local derivative to blame, if any."""
    op = node._op
    assert op is not None
    for i, _, d, _ in terms:
        if not -_INF < d < _INF:
            return DerivativeError(
                f"{where}: {op.name}: the derivative d out/d {op.operands[i]} is {d!r} at {_at(node)}: "
                "infinite or undefined, so the tangent cannot pass through it"
            )
    return OverflowError(
        f"{where}: the tangent of the node made by {op.name!r} at {_at(node)} is {total!r}: "
        "a product of local derivative and tangent overflowed"
    )


def _at(node: Value) -> str:
    op = node._op
    assert op is not None
    return ", ".join(f"{name} = {x._data!r}" for name, x in zip(op.operands, node.inputs, strict=True))


def _tangents_of(outs: Sequence[Value], tangent: dict[Value, Any], nested: bool) -> list[Any]:
    """Each output's tangent: 0 where none flowed; a float at top level, a Value when nested."""
    found = [tangent.get(v, 0.0) for v in outs]
    return [_lift(t, "jvp") for t in found] if nested else [float(t) for t in found]


# ---- argument checks --------------------------------------------------------------------------------
def _check_callable(f: object, where: str) -> None:
    if not callable(f):
        raise TypeError(f"{where}: f must be a function, got {type(f).__name__} {f!r}")


def _numbers(xs: object, what: str, where: str) -> list[Any]:
    """A list or tuple of numbers (or Values): each checked, numbers as floats, Values as they are."""
    if isinstance(xs, (Value, str, bytes)) or _is_real(xs) or not isinstance(xs, Sequence):
        raise TypeError(
            f"{where}: {what} must be a list or tuple of numbers, got {type(xs).__name__} {xs!r}"
            " (wrap a single number in a tuple: (x,))"
        )
    return [x if isinstance(x, Value) else _to_float(x, f"{where}: {what}[{i}]") for i, x in enumerate(xs)]


def _scalar(f: Callable[..., Any], where: str) -> Callable[..., Any]:
    """f, checked to return one Value or number (a Hessian is of a scalar function)."""

    @functools.wraps(f)
    def checked(*args: Any) -> Any:
        out = f(*args)
        if not isinstance(out, Value) and not _is_real(out):
            raise TypeError(f"{where}: f must return one Value or number, got {type(out).__name__} {out!r}")
        return out

    return checked


# ---- narrated forward mode --------------------------------------------------------------------------
@dataclass(frozen=True)
class ForwardStep:
    """One line of narrated forward mode (what `explain(root, mode="forward", wrt=x)` prints).

    kind: "seed" (dx/dx = 1) or "node" (a node's tangent dv/dx = sum over its inputs u of
    dv/du * du/dx). `node` is the position (in `topological_order`) of the node the line is about
    and `value` its tangent dv/dx. For "node", `inputs` are the positions of the inputs a tangent
    flows in from, `locals` their local derivatives dv/du and `tangents` their tangents du/dx.
    """

    kind: str
    node: int
    value: float
    text: str
    inputs: tuple[int, ...] = ()
    locals: tuple[float, ...] = ()
    tangents: tuple[float, ...] = ()


def forward_steps(root: Value, wrt: object, where: str = "explain") -> list[ForwardStep]:
    """Forward mode through root's graph with respect to the leaf `wrt`, one step per node that
    depends on it, in evaluation order (`topological_order`), with the numbers `jvp` computes.

    e.g. `dd/db = dd/db * db/db = (2.0)(1.0) = 2.0`: the tangent of d is its local derivative
    dd/db times the tangent of b, summed over the inputs a tangent flows in from.
    """
    from .draw import node_names  # the same names as the drawings and backward's narration
    from .explain import num

    if wrt is None:
        raise TypeError(f"{where}: mode='forward' needs wrt=, the leaf Value to differentiate with respect to")
    if not isinstance(wrt, Value):
        raise TypeError(f"{where}: wrt must be a leaf Value of root's graph, got {type(wrt).__name__} {wrt!r}")
    order = topological_order(root)
    index = {v: i for i, v in enumerate(order)}
    if wrt not in index:
        raise ValueError(f"{where}: wrt {wrt!r} is not a node of root's graph")
    if not wrt.is_leaf():
        raise ValueError(f"{where}: wrt must be a leaf (an input) of root's graph, got {wrt!r} made by {wrt.op!r}")
    names = node_names(order)
    w = names[index[wrt]]
    record: list[tuple[Value, list[_Term], Any]] = []
    _push(order, {wrt: 1.0}, False, where, record)
    steps = [ForwardStep("seed", index[wrt], 1.0, f"d{w}/d{w} = 1.0")]
    for node, terms, total in record:
        n = names[index[node]]
        chain = " + ".join(f"d{n}/d{names[index[x]]} * d{names[index[x]]}/d{w}" for _, x, _, _ in terms)
        products = " + ".join(f"({num(d)})({num(t)})" for _, _, d, t in terms)
        text = f"d{n}/d{w} = {chain} = {products} = {num(total)}"
        inputs = tuple(index[x] for _, x, _, _ in terms)
        locals_ = tuple(float(d) for _, _, d, _ in terms)
        tangents = tuple(float(t) for _, _, _, t in terms)
        steps.append(ForwardStep("node", index[node], float(total), text, inputs, locals_, tangents))
    return steps
