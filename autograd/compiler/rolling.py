"""Loop rolling: a long run of repeats of the same ops (a deep chain `x = tanh(x*w + b)`) is written once,
as a forward loop and a backward loop, when the loops do exactly the arithmetic of the unrolled lines in
the same order. Long straight-line code compiles slowly and runs slower per line in CPython.

A run qualifies when every repeat (block) has the same ops, each operand from the same block, from the
block before (*carried*), or *fixed* (computed before the run, the same in every block); the blocks'
values are used only inside the run except the last block's; no guard sits inside it; and eager
backward visits the run block by block, last first, in the same order within each block.
"""

from __future__ import annotations

import operator
import re
from collections import Counter
from typing import Any

from .plan import Plan, params_key
from .trace import CONST, DETACH, EXT, NODE, Expr

__all__ = ["Run", "find_runs"]

MIN_REPEATS = 8  # fewer repeats: the unrolled code is short anyway and reads better
MIN_OPS = 128  # ops in the whole run
Ref = tuple[str, int]  # ("same", offset) | ("prev", offset) | ("fixed", key)


class Run:
    """`count` blocks of `period` keys from key `start`; the last block (from `last`) is the template."""

    def __init__(self, start: int, period: int, count: int) -> None:
        self.start, self.period, self.count = start, period, count
        self.last = start + (count - 1) * period
        self.end = start + count * period
        self.refs: dict[int, list[Ref]] = {}  # template offset -> operand references
        self.carried: list[int] = []  # offsets the next block reads
        self.fixed: list[int] = []  # keys before the run that every block reads
        self.seeds: dict[int, int] = {}  # carried offset -> the key the first block reads in its place
        self.leaf: int | None = None  # the offset of a Value read by reference, a different one per block
        self.order: list[int] = []  # node offsets in eager backward's order within a block


def _token(plan: Plan, k: int) -> tuple[Any, ...]:
    kind = plan.kinds[k]
    if kind == CONST:
        return ("c", float(plan.data[k]).hex())
    if kind == EXT:
        return ("ext",)  # a Value read by reference: one per block may roll (see Run.leaf)
    if kind != NODE:
        return ("u", k)  # an argument: never part of a repeat
    op, _, b, params, linked = plan.ops[k]
    return (op, params_key(params), linked, b is None)


def find_runs(plan: Plan) -> list[Run]:
    """The runs worth rolling, non-overlapping, in key order."""
    n = len(plan.kinds)
    if n < MIN_OPS:
        return []
    tokens = _tokens(plan)
    last: dict[int, int] = {}
    steps = []  # from each key back to the last key with its token
    for k, token in enumerate(tokens):
        j = last.get(token)
        if j is not None:
            steps.append(k - j)
        last[token] = k
    gaps = Counter(steps)
    context: _Context | None = None  # built for the first stretch found: most large graphs have none
    runs: list[Run] = []
    for period, seen in gaps.most_common(8):
        if seen < MIN_REPEATS - 1:
            break
        for s, e in _stretches(tokens, period):
            if any(s < r.end and r.start < e for r in runs):
                continue
            context = context or _Context(plan)
            for shift in [*range(min(period, 4)), period]:  # another start can avoid a block with an outside use
                run = _validate(plan, context, s + shift, period, (e - s - shift) // period)
                if run is not None:
                    runs.append(run)
                    break
    return sorted(runs, key=lambda r: r.start)


def _tokens(plan: Plan) -> list[int]:
    """Each key's `_token` as a small int (equal tokens, equal ints), which compare fast. A node
    without parameters and a constant get a cheaper key of their own (a 100,000-op chain has 166,000
    keys, 66,000 of them constants)."""
    ids: dict[Any, int] = {}
    out = []
    ops, data = plan.ops, plan.data
    for k, kind in enumerate(plan.kinds):
        if kind == NODE and not ops[k][3]:
            op, _, b, _, linked = ops[k]
            key: Any = (op, linked, b is None)  # three items: never a `_token`, which has four
        elif kind == CONST:
            key = float(data[k]).hex()  # a string: never a tuple
        else:
            key = _token(plan, k)
        i = ids.get(key)
        if i is None:
            i = ids[key] = len(ids)
        out.append(i)
    return out


def _stretches(tokens: list[int], period: int) -> list[tuple[int, int]]:
    """Maximal key ranges [s, e) whose tokens repeat with this period, longest first. Key k matches
    when its token is key k + period's; a stretch is a row of at least MIN_REPEATS - 1 periods of
    matches, found by a regular expression over one byte per key (a loop in Python over 166,000 keys
    and eight periods took about 0.2 s of a 100,000-op compile)."""
    matches = bytes(map(operator.eq, tokens, tokens[period:]))
    rows = re.finditer(b"\x01{%d,}" % ((MIN_REPEATS - 1) * period), matches)
    return sorted(((m.start(), m.end() + period) for m in rows), key=lambda r: r[0] - r[1])


class _Context:
    """Facts about the whole plan that validation asks for: users, backward positions, guard keys."""

    def __init__(self, plan: Plan) -> None:
        self.users: dict[int, list[int]] = {}
        for k, (_, a, b, _, _) in plan.ops.items():
            self.users.setdefault(a, []).append(k)
            if b is not None:
                self.users.setdefault(b, []).append(k)
        self.at = {k: i for i, k in enumerate(plan.backward_order)}
        self.in_graph = set(plan.in_graph)
        self.guard_keys: set[int] = set()
        for _, left, _, right, _ in plan.guards:
            self.guard_keys |= _keys(left) | _keys(right)


def _keys(expr: Expr) -> set[int]:
    if expr[0] == "k":
        return {expr[1]}
    if expr[0] == "c":
        return set()
    return set().union(*(_keys(e) for e in expr[2:]))


def _validate(plan: Plan, ctx: _Context, start: int, period: int, count: int) -> Run | None:
    if count < MIN_REPEATS:
        return None
    run = Run(start, period, count)
    nodes = [p for p in range(period) if plan.kinds[run.last + p] == NODE]
    if count * len(nodes) < MIN_OPS or not _template(plan, ctx, run) or not _blocks_match(plan, run):
        return None
    if not _contained(plan, ctx, run) or not _seeds_ok(plan, ctx, run):
        return None
    run.order = sorted(nodes, key=lambda p: ctx.at[run.last + p])
    base = ctx.at[run.last + run.order[0]]
    for j in range(count - 1, -1, -1):  # eager's backward visits block by block, last first
        for i, p in enumerate(run.order):
            if ctx.at.get(run.start + j * period + p) != base + (count - 1 - j) * len(nodes) + i:
                return None
    return run


def _template(plan: Plan, ctx: _Context, run: Run) -> bool:
    """Classify the last block's operands; every node a linked op eager backward visits."""
    carried, fixed = set(), set()
    for p in range(run.period):
        k = run.last + p
        if plan.kinds[k] == CONST:
            continue
        if plan.kinds[k] == EXT and run.leaf is None and k in ctx.in_graph:
            run.leaf = p
            continue
        if plan.kinds[k] != NODE or k not in ctx.at or plan.ops[k][0] == DETACH:
            return False
        _, a, b, _, _ = plan.ops[k]
        refs: list[Ref] = []
        for x in (a,) if b is None else (a, b):
            if x >= run.last:
                refs.append(("same", x - run.last))
            elif x >= run.last - run.period:
                refs.append(("prev", x - run.last + run.period))
                carried.add(x - run.last + run.period)
            elif x < run.start:
                refs.append(("fixed", x))
                fixed.add(x)
            else:
                return False
        run.refs[p] = refs
    run.carried, run.fixed = sorted(carried), sorted(fixed)
    return True


def _blocks_match(plan: Plan, run: Run) -> bool:
    """Every block has the template's ops and operands, shifted to its place."""
    want = [_token(plan, run.last + p) for p in range(run.period)]
    for j in range(run.count - 1):
        base = run.start + j * run.period
        for p in range(run.period):
            if _token(plan, base + p) != want[p]:
                return False
            refs = run.refs.get(p)
            if refs is None:
                continue
            _, a, b, _, _ = plan.ops[base + p]
            for x, (rel, v) in zip((a,) if b is None else (a, b), refs, strict=True):
                if j == 0 and rel == "prev":  # the first block reads its seeds, wherever they are
                    expect = run.seeds.setdefault(v, x)
                else:
                    expect = base + v if rel == "same" else base - run.period + v if rel == "prev" else v
                if x != expect:
                    return False
    return len(set(run.seeds.values())) == len(run.seeds)  # one seed per carried offset: eager's sums


def _contained(plan: Plan, ctx: _Context, run: Run) -> bool:
    """Values of the blocks before the last are used inside the run only; no guard inside it."""
    for position, *_ in plan.guards:
        if run.start < position < run.end:
            return False
    for k in range(run.start, run.last):
        if k == plan.root or k in ctx.guard_keys or any(u >= run.end for u in ctx.users.get(k, ())):
            return False
    return True


def _seeds_ok(plan: Plan, ctx: _Context, run: Run) -> bool:
    """The values the first block reads from before the run get their gradient from the loop first."""
    first = min(ctx.at[run.last + p] for p in run.refs)
    for seed in run.seeds.values():
        if seed == plan.root or seed in run.fixed:
            return False
        for u in ctx.users.get(seed, ()):
            if not run.start <= u < run.end and u in ctx.at and ctx.at[u] < first:
                return False
    return True
