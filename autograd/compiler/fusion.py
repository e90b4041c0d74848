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

from collections.abc import Callable

from ..ops import Op
from .plan import Plan

__all__ = ["MAX_CHARS", "MAX_DEPTH", "fusable"]

MAX_DEPTH = 24  # nesting of fused expressions: CPython's parser and compiler recurse over it
MAX_CHARS = 1500  # a fused expression's length: long lines read badly in `source` and gain nothing


def fusable(
    plan: Plan, size: Callable[[int], int], once: Callable[[int, int], bool], pinned: set[int], rolled: set[int]
) -> set[int]:
    """The nodes to write into their one user's expression. `size(k)` is the length of node k's forward
    expression with operands by name; `once(user, k)` whether user's expression mentions k once;
    `pinned` holds the nodes read elsewhere (see the module's docstring); `rolled` the nodes written
    inside loops, which keep their lines."""
    ops = plan.ops
    users: dict[int, int] = {}  # value -> its user, or -1 for two or more
    for k, (_, a, b, _, _) in ops.items():
        users[a] = k if a not in users else -1
        if b is not None:
            users[b] = k if b not in users else -1
    depth: dict[int, int] = {}  # fused node -> nesting of its expression
    chars: dict[int, int] = {}  # fused node -> length of its expression, its own fused operands in it
    for k in sorted(ops):
        user = users.get(k, -1)
        if user < 0 or k in pinned or k in rolled or user in rolled:
            continue
        op, a, b, _, _ = ops[k]
        if not isinstance(op, Op) or not isinstance(ops[user][0], Op):
            continue  # a detached copy is a plain assignment: nothing to gain
        inner = [x for x in ((a,) if b is None else (a, b)) if x in depth]
        d = 1 + max((depth[x] for x in inner), default=0)
        n = size(k) + sum(chars[x] - len(plan.names[x]) for x in inner)
        if d <= MAX_DEPTH and n <= MAX_CHARS and once(user, k):
            depth[k], chars[k] = d, n
    return set(depth)
