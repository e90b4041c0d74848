"""Fusion: a value that one forward expression uses once, and nothing else reads, is written into that
expression instead of into a variable of its own.

    t_4 = (b_3 + t_2)          becomes        t_8 = ((b_3 + (w_0 * 0.5)) + (w_5 * 1.5))
    t_7 = (w_5 * 1.5)
    t_8 = (t_4 + t_7)

Python evaluates the fused expression operation by operation, left to right: the same operations on the
same numbers in the same order as the separate lines, so the same bits. What goes is a store and a load
per fused value (in a moons training step, two in three forward values are fused).

A value stays in its own variable when anything else reads it: the backward lines (an operand of a
product, the output of tanh), a guard, the finiteness check (only values a transparent consumer covers
may fuse), a rolled loop, or the result. A user that mentions the operand twice (relu inlined as
`(x if x > 0.0 else 0.0)`) would compute a fused operand twice: it keeps the variable too.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..ops import Op
from .plan import Plan

__all__ = ["MAX_CHARS", "MAX_DEPTH", "fusable"]

MAX_DEPTH = 24  # nesting of fused expressions: CPython's parser and compiler recurse over it
MAX_CHARS = 1500  # a fused expression's length: long lines read badly in `source` and gain nothing
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def fusable(plan: Plan, rhs: Callable[[int], str], pinned: set[int], rolled: set[int]) -> set[int]:
    """The nodes to write into their one user's expression. `rhs(k)` is node k's forward expression
    with operands by name; `pinned` holds the nodes read elsewhere (see the module's docstring);
    `rolled` the nodes written inside loops, which keep their lines."""
    users: dict[int, list[int]] = {}
    for k, (_, a, b, _, _) in plan.ops.items():
        users.setdefault(a, []).append(k)
        if b is not None:
            users.setdefault(b, []).append(k)
    depth: dict[int, int] = {}  # fused node -> nesting of its expression
    size: dict[int, int] = {}  # fused node -> length of its expression, its own fused operands in it
    out: set[int] = set()
    for k in sorted(plan.ops):
        mine = users.get(k, [])
        if k in pinned or k in rolled or len(mine) != 1:
            continue
        op, a, b, _, _ = plan.ops[k]
        user = mine[0]
        if not isinstance(op, Op) or not isinstance(plan.ops[user][0], Op) or user in rolled:
            continue  # a detached copy is a plain assignment: nothing to gain
        inner = [x for x in ((a,) if b is None else (a, b)) if x in out]
        d = 1 + max((depth[x] for x in inner), default=0)
        n = len(rhs(k)) + sum(size[x] - len(plan.names[x]) for x in inner)
        if d <= MAX_DEPTH and n <= MAX_CHARS and _WORD.findall(rhs(user)).count(plan.names[k]) == 1:
            out.add(k)
            depth[k], size[k] = d, n
    return out
