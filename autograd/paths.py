"""The sum over paths: a derivative as a sum, over every path through the graph, of products.

The chain rule on a graph says

    d output / d input = sum over paths p from input to output of  prod over the edges u -> v of p  of  d v / d u

one term per path, each the product of the local derivatives on its edges. An operand used twice
(`x * x`) is two edges, so two paths. The number of paths grows exponentially with shared
structure: a chain of k diamonds has 2^k of them. Reverse mode gets the same number with one
multiplication (upstream x local) per edge, because it shares every path's common tail: that is
backprop as dynamic programming (lecture 001's take-away).

Counting never lists anything. In topological order, each node once (no recursion):

    N(input) = 1,   N(v) = sum over the edges u -> v into v of N(u)        (paths from input to v)
    T(input) = 0,   T(v) = sum over the edges u -> v into v of T(u) + N(u)  (their edges, all told)

so N(output) paths, with T(output) edges in all: the products take T(output) multiplications
(upstream x local along each path, from the seed 1), while reverse mode takes one per edge u -> v
with N(u) > 0 (every node of output's graph reaches output,
so exactly those edges lie on a path). Python ints keep every count exact, however large.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from .backward import gradients, local_derivatives, topological_order
from .draw import node_names
from .explain import num
from .value import Value

__all__ = ["DEFAULT_LIMIT", "GraphPath", "PathCount", "PathSum", "count_paths", "explain_paths", "paths"]

DEFAULT_LIMIT = 1000
"""How many paths `paths` lists before it refuses (their number grows exponentially)."""


@dataclass(frozen=True, eq=False)
class GraphPath:
    """One path from the input to the output.

    `nodes` runs from the input (first) to the output (last); edge k goes from `nodes[k]` into operand
    slot `slots[k]` of `nodes[k + 1]` and carries `locals[k]` = d nodes[k+1] / d nodes[k].
    `product` is the product of `locals`, multiplied from the output back to the input as the chain
    rule reads it, starting from the seed 1.0 (so 1.0 for the empty path, when input is output).
    """

    nodes: tuple[Value, ...]
    slots: tuple[int, ...]
    locals: tuple[float, ...]
    product: float

    def text(self, names: dict[Value, str]) -> str:
        """The path as `x -> a -> L: dL/da * da/dx = (2.0)(3.0) = 6.0`, nodes named by `names`."""
        route = " -> ".join(names[v] for v in self.nodes)
        if not self.locals:
            return f"{route}: no edges, the empty product = {num(self.product)}"
        edges = list(zip(self.nodes[:-1], self.nodes[1:], strict=True))
        chain = " * ".join(f"d{names[v]}/d{names[u]}" for u, v in reversed(edges))
        factors = "".join(f"({num(d)})" for d in reversed(self.locals))
        return f"{route}: {chain} = {factors} = {num(self.product)}"


@dataclass(frozen=True, eq=False)
class PathCount:
    """How many paths lead from `input` to `output`, and what each way of summing them costs.

    Both costs count as the chain rule does, one multiplication upstream x local per edge, starting
    from the seed d output / d output = 1. count: the number of paths (exact). multiplications:
    what reverse mode spends on d output / d input, one per edge between input and output.
    path_multiplications: what the explicit sum over paths spends, one per edge of each path, so
    the total length of all paths (the sum then adds their count - 1 products).
    """

    output: Value
    input: Value
    count: int
    multiplications: int
    path_multiplications: int

    def summary(self) -> str:
        """One line: the count and both costs."""
        names = _names(self.output)
        x, out = names.get(self.input) or self.input.label or "the input", names[self.output]
        return (
            f"{describe_count(self.count)} path(s) from {x} to {out}; the sum over them takes "
            f"{describe_count(self.path_multiplications)} multiplication(s), reverse mode "
            f"{self.multiplications} (one upstream x local per edge between them)"
        )


@dataclass(frozen=True, eq=False)
class PathSum(PathCount):
    """`PathCount` with every path listed: `paths` (each with its product), `total`, the sum of the
    products (math.fsum: rounded once), and `gradient`, d output / d input by reverse mode
    (`gradients`); `total` equals `gradient` up to rounding (the same terms, summed in another order)."""

    paths: tuple[GraphPath, ...] = ()
    total: float = 0.0
    gradient: float = 0.0

    def __str__(self) -> str:
        return _text(self)


def describe_count(n: int) -> str:
    """An exact count as text: all its digits up to 20, else `1.071e+301 (302 digits)`.

    Needs no str() of the whole int (which Python refuses past 4300 digits).
    """
    if n < 10**20:
        return str(n)
    e = int((n.bit_length() - 1) * math.log10(2.0)) - 1  # at most floor(log10 n), even after rounding
    while 10 ** (e + 1) <= n:
        e += 1
    m = n * 1000 // 10**e  # 4 significant digits, truncated
    return f"{m // 1000}.{m % 1000:03d}e+{e} ({e + 1} digits)"


def _check(output: object, input: object, where: str) -> tuple[Value, Value]:
    if not isinstance(output, Value):
        raise TypeError(f"{where}: output must be a Value, got {type(output).__name__} {output!r}")
    if not isinstance(input, Value):
        raise TypeError(f"{where}: input must be a Value, got {type(input).__name__} {input!r}")
    return output, input


def _counts(order: Sequence[Value], input: Value) -> tuple[dict[Value, int], int, int]:
    """N(v) for every node reached from `input` (see the module docstring), T(output) and the edges
    u -> v with N(u) > 0. One pass in topological order."""
    count: dict[Value, int] = {}
    edges_in: dict[Value, int] = {}  # T(v)
    used = 0
    for v in order:
        if v is input:
            count[v], edges_in[v] = 1, 0
            continue
        n = t = 0
        for u in v.inputs:  # `x * x` lists x twice: two edges
            nu = count.get(u, 0)
            if nu:
                n += nu
                t += edges_in[u] + nu
                used += 1
        if n:
            count[v], edges_in[v] = n, t
    return count, edges_in.get(order[-1], 0), used


def _count(output: Value, input: Value) -> tuple[PathCount, dict[Value, int]]:
    order = topological_order(output)
    count, total_edges, used = _counts(order, input)
    result = PathCount(output, input, count.get(output, 0), used, total_edges)
    return result, count


def count_paths(output: Value, input: Value) -> PathCount:
    """Count the paths from `input` to `output` and the multiplications of both ways of summing them,
    without listing any: linear in the size of the graph, exact for any number of paths."""
    output, input = _check(output, input, "count_paths")
    return _count(output, input)[0]


class _Link:
    """A path being walked back from the output, as a linked list: the edge into operand `slot` of
    `consumer`, then the rest of the way to the output. Sharing the rest makes a step O(1)."""

    __slots__ = ("consumer", "rest", "slot")

    def __init__(self, consumer: Value, slot: int, rest: _Link | None) -> None:
        self.consumer, self.slot, self.rest = consumer, slot, rest


def _walk(output: Value, input: Value, count: dict[Value, int]) -> Iterator[GraphPath]:
    """Every path from input to output, depth first from the output back along edges whose source
    reaches input (so every branch ends at input). Iterative, with an explicit stack."""
    cache: dict[Value, tuple[float, ...]] = {}
    stack: list[tuple[Value, _Link | None]] = [(output, None)]
    while stack:
        node, link = stack.pop()
        if node is input:
            yield _make_path(input, link, cache)
            continue
        operands = node.inputs
        for slot in range(len(operands) - 1, -1, -1):  # pushed last first: operand 0 is explored first
            u = operands[slot]
            if count.get(u, 0):
                stack.append((u, _Link(node, slot, link)))


def _make_path(input: Value, link: _Link | None, cache: dict[Value, tuple[float, ...]]) -> GraphPath:
    """The path a walk reached `input` by, with its local derivatives (each node's computed once)."""
    nodes: list[Value] = [input]
    slots: list[int] = []
    locals_: list[float] = []
    product = 1.0
    chain: list[tuple[Value, int]] = []
    while link is not None:
        chain.append((link.consumer, link.slot))
        link = link.rest
    for consumer, slot in chain:  # from the input up to the output
        if consumer not in cache:
            cache[consumer] = local_derivatives(consumer)
        nodes.append(consumer)
        slots.append(slot)
        locals_.append(cache[consumer][slot])
    for d in reversed(locals_):  # output first, as the chain rule reads: dL/da * da/dx
        product *= d
    return GraphPath(tuple(nodes), tuple(slots), tuple(locals_), product)


def paths(output: Value, input: Value, limit: int = DEFAULT_LIMIT) -> PathSum:
    """Every path from `input` to `output`, each with its local derivatives and their product.

    d output / d input = sum over the paths of their products (`.total`; `.gradient` is the same
    number from reverse mode). Also `.count`, `.multiplications` (reverse mode's, one per edge) and
    `.path_multiplications` (the explicit sum's). Refuses, with ValueError and before listing any,
    when there are more than `limit` paths; `count_paths` counts without listing, for any graph.
    """
    output, input = _check(output, input, "paths")
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"paths: limit must be an int, got {type(limit).__name__} {limit!r}")
    if limit < 0:
        raise ValueError(f"paths: limit must be >= 0, got {limit!r}")
    counted, count = _count(output, input)
    if counted.count > limit:
        raise ValueError(
            f"paths: there are {describe_count(counted.count)} paths from the input to the output, more than"
            f" limit={limit}, so they are not listed: the number of paths grows exponentially with shared"
            f" structure, while reverse mode needs only {counted.multiplications} multiplications here."
            f" count_paths(output, input) counts them without listing; pass a larger limit=... to list them."
        )
    listed = tuple(_walk(output, input, count)) if counted.count else ()
    return PathSum(
        output=counted.output,
        input=counted.input,
        count=counted.count,
        multiplications=counted.multiplications,
        path_multiplications=counted.path_multiplications,
        paths=listed,
        total=math.fsum(p.product for p in listed),
        gradient=gradients(output, [input])[0],
    )


def _names(output: Value) -> dict[Value, str]:
    order = topological_order(output)
    return dict(zip(order, node_names(order), strict=True))


def _term(x: float) -> str:
    s = num(x)
    return f"({s})" if s.startswith("-") else s


def _text(result: PathSum) -> str:
    """The sum over paths as text, one line per path, then the sum and the costs."""
    names = _names(result.output)
    out = names[result.output]
    x = names.get(result.input) or result.input.label or "x"
    lines = [f"d{out}/d{x} as a sum over paths: {result.count} path(s) from {x} to {out}"]
    lines.extend(f"path {k}: {p.text(names)}" for k, p in enumerate(result.paths, 1))
    if result.paths:
        lines.append(f"d{out}/d{x} = {' + '.join(_term(p.product) for p in result.paths)} = {num(result.total)}")
    else:
        lines.append(f"d{out}/d{x} = 0.0 (no path: {out} does not depend on {x})")
    lines.append(f"reverse mode (gradients): d{out}/d{x} = {num(result.gradient)}")
    lines.append(
        f"multiplications: {result.path_multiplications} for the products of the paths, "
        f"{result.multiplications} in reverse mode (one upstream x local per edge between {x} and {out})"
    )
    return "\n".join(lines)


def explain_paths(root: Value, wrt: object, limit: int = DEFAULT_LIMIT) -> str:
    """`explain(root, mode="paths", wrt=x)`: every path from `wrt` to `root` with its product, their
    sum, reverse mode's number, and what each way costs in multiplications."""
    if not isinstance(root, Value):
        raise TypeError(f"explain: root must be a Value, got {type(root).__name__} {root!r}")
    if not isinstance(wrt, Value):
        raise TypeError(
            f'explain: mode="paths" needs wrt=<the Value to differentiate by>, got {type(wrt).__name__} {wrt!r}'
        )
    return _text(paths(root, wrt, limit))
