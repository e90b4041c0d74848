"""The plan: a finished trace reduced to plain data for code generation (no Values but the ones read
by reference), with eager backward's order of visits and the set of nodes whose gradients eager checks.
"""

from __future__ import annotations

import re

from ..backward import topological_order
from ..ops import _OPS, ADD, MUL, Op
from ..value import Value
from .trace import ARG, CONST, DETACH, EXT, NODE, Guard, Trace, literal, render, settle_outsiders

__all__ = ["Plan"]

_IDENT = re.compile(r"[^A-Za-z0-9_]")
_DEFAULT_NAME = {ARG: "arg", EXT: "p", CONST: "c", NODE: "t"}


def params_key(params: dict[str, float] | None) -> tuple[tuple[str, str], ...]:
    """An op's parameters as a key for the code written once per (op, parameters): each value by its
    exact hex text, so 0.0 and -0.0 (equal as floats, but a rule may give zeros of either sign with
    each) are told apart."""
    return tuple(sorted((name, float(v).hex()) for name, v in params.items())) if params else ()


def _sanitize(label: str) -> str:
    """A label as the start of an identifier: ASCII letters, digits, '_'; never starting with '_' or a digit."""
    name = _IDENT.sub("_", label)[:40].strip("_")
    if not name:
        return ""
    return name if name[0].isalpha() else "v" + name


# Ops whose result is inf or nan (or that raise) whenever an operand is: a value read by one of them
# needs no check of its own, its consumer's check covers it.
TRANSPARENT = (ADD, MUL, _OPS["abs"], _OPS["log"], _OPS["sqrt"], DETACH)


class Plan:
    """What the generated code needs: names, ops, constants, guards, the backward order."""

    def __init__(self, t: Trace, root: int, nargs: int, name: str) -> None:
        self.name = name
        self.nargs = nargs
        self.root = root
        labels = [v.label if v is not None else "" for v in t.values]
        # Eager backward visits root's graph in reverse topological order; every node of it has its
        # gradient checked (leaves too), so the replay computes and checks each of them.
        out = t.values[root]
        assert isinstance(out, Value)
        order = [k for k in (t.key.get(v) for v in topological_order(out)) if k is not None]
        del out
        settle_outsiders(t)
        self.kinds = list(t.kinds)
        self.data = list(t.data)
        self.ops: dict[int, tuple[Op | str, int, int | None, dict[str, float] | None, bool]] = dict(t.ops)
        self.guards: list[Guard] = list(t.guards)
        self.names = [
            f"{label and _sanitize(label) or _DEFAULT_NAME[kind]}_{k}"  # most nodes have no label
            for k, (label, kind) in enumerate(zip(labels, self.kinds, strict=True))
        ]
        self.in_graph = order  # keys of eager's graph, inputs first
        self.backward_order = [k for k in reversed(order) if self.kinds[k] == NODE and self.ops[k][4]]
        # What a replay checks is finite, as eager does: every value but those a transparent op reads
        # (its own check covers them), and the gradients of the leaves of eager's graph (a gradient that
        # is inf or nan makes every gradient below it so: x inf = inf, x 0 = nan).
        self.covered = {x for op, a, b, _, _ in self.ops.values() if op in TRANSPARENT for x in (a, b) if x is not None}
        self.graph_leaves = [k for k in order if self.kinds[k] != NODE or not self.ops[k][4]]
        self.ext_keys = [k for k, kind in enumerate(self.kinds) if kind == EXT]
        self.externals: list[Value] = [t.values[k] for k in self.ext_keys]  # type: ignore[misc]

    def expr(self, k: int) -> str:
        """Source text for the number of key k: a literal for a constant, else its name."""
        return literal(self.data[k]) if self.kinds[k] == CONST else self.names[k]

    def describe_guard(self, i: int) -> str:
        _, left, op, right, _ = self.guards[i]
        return f"{render(left, self.expr)} {op} {render(right, self.expr)}"

    def node_count(self) -> int:
        return sum(1 for kind in self.kinds if kind == NODE)
