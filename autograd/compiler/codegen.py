"""Code generation: the plan written out as one Python function, every line from an op's own rules.

    def replay(arg_0):
        w_1 = _E0._data                       # Values read by reference, read on every call
        t_2 = (arg_0 * w_1)  # *              # forward: the rule inlined, or a call of op.forward
        ...                                   # guards: `raise _GuardFailed(i)` where a branch would flip
        t_2_g = t_3_g * (1.0 - (t_3 * t_3))   # backward: upstream x the rule's local derivative
        ...                                   # checks: every value and gradient eager checks is finite
        return _out, (arg_0_g,), (w_1_g,)     # the output, argument and parameter gradients

The backward lines visit nodes in eager backward's order and add into each gradient in eager's order,
so the arithmetic is eager's, operation for operation. Long periodic runs become loops (`rolling`).

What makes it fast without changing an operation (measured on a moons training step, 65,000 ops):
a forward value used once by one expression is written into it (`fusion`); a branching forward rule
such as relu's is inlined as `(x if x > 0.0 else 0.0)` (`symbolic`). In a large replay (for running,
not reading): the gradient of a + operand borrows its user's variable instead of copying it; a
gradient's terms wait and are written as one sum where the gradient is first read, `w_g = t1 + t2 + t3`
instead of a `+=` line per term (`settle`: 58,000 of a moons step's 65,000 backward lines go); a unary
node's lone term goes straight into its own step (`upstream`); and a very long replay is split into
functions of about 2,000 lines, which CPython compiles in far less time than one (`chunks`), and its
text has only the parentheses Python's grammar needs, `t_4 = t_2 * 0.5 + 0.7` (the same parse tree as
`((t_2 * 0.5) + 0.7)`, in a fifth less of CPython's compile: `forms.minimal`). Each rule is read once per
op and parameters, not once per node (`forms`).
"""

from __future__ import annotations

import bisect
import re
from typing import Any

from ..ops import Op
from ..value import _is_real
from . import chunks
from .chunks import split
from .forms import ATOM, HOLES, Forms
from .fusion import fusable
from .plan import Plan
from .rolling import Run, _keys, find_runs
from .symbolic import MATH_GLOBALS
from .trace import CONST, NODE

__all__ = ["generate"]

_MAX_NESTING = 20  # gradients written into one another's terms (CPython's compiler recurses over it)
_MAX_INLINE = 1000  # characters of such a term
_CHUNK = 32  # terms per line of a finiteness sum (the bytecode compiler recurses over long chains)
# Above this many ops a replay is for running, not reading: a node whose gradient is a copy of its user's
# (an operand of +) borrows that variable instead of a line `t_1_g = t_8_g` of its own (a moons step
# has some 30,000 such copies). Below it, every node keeps its own gradient line, as the lectures draw it.
BORROW_ABOVE = 1000


class _GuardFailed(Exception):
    """Raised by generated code when a guard's outcome differs from the traced one."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


def _real(x: object) -> float:
    """What eager's `Op.check_result` accepts from a user's forward (a real number, not a bool), as a float."""
    if type(x) is float:
        return x
    if _is_real(x):
        return float(x)
    raise TypeError(f"forward returned {type(x).__name__} {x!r}, not a real number")  # eager then names the op


class _NonFinite(Exception):
    """Raised by generated code when a value or gradient it computed is inf or nan."""


def _sum_lines(target: str, names: list[str], start: str | None) -> list[str]:
    """`target = start + n0 + n1 + ...`, a few dozen terms per line."""
    lines, acc = [], start
    for i in range(0, len(names), _CHUNK):
        terms = " + ".join(names[i : i + _CHUNK])
        lines.append(f"{target} = {terms}" if acc is None else f"{target} = {acc} + ({terms})")
        acc = target
    if acc is None:
        lines.append(f"{target} = 0.0")
    return lines


def _grad_sum_lines(target: str, terms: list[str]) -> list[str]:
    """`target = t1 + t2 + ...`, added left to right as `+=` lines would; a few dozen terms per line."""
    lines = [f"{target} = {' + '.join(terms[:_CHUNK])}"]
    for i in range(_CHUNK, len(terms), _CHUNK - 1):
        lines.append(f"{target} = {target} + {' + '.join(terms[i : i + _CHUNK - 1])}")
    return lines


def _check_lines(names: list[str], what: str) -> list[str]:
    return [*_sum_lines("_s", names, None), f"if not -_inf < _s < _inf:  # {what}", "    raise _NonFinite"]


class _Check:
    """A finiteness check's terms, summed a line at a time into `var` as soon as a line's worth is final,
    and the last few at the check itself. A term then need not stay readable until the end (a chunked
    replay passes fewer variables on). A sum is inf or nan whenever a term is, in any order; a sum of
    finite terms that overflows is a false alarm, which the eager rerun clears."""

    def __init__(self, var: str) -> None:
        self.var, self.started = var, False
        self.terms: list[str] = []

    def add(self, term: str) -> list[str]:
        self.terms.append(term)
        return self.flush() if len(self.terms) >= _CHUNK else []

    def flush(self) -> list[str]:
        terms, self.terms = " + ".join(self.terms), []
        line = f"{self.var} = {self.var} + ({terms})" if self.started else f"{self.var} = {terms}"
        self.started = True
        return [line]

    def rest(self) -> list[str]:
        """What the check itself adds: the terms still waiting, and the sum so far."""
        return [*self.terms, *([self.var] if self.started else [])]


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _pack(names: list[str], target: bool = False) -> str:
    """One name as itself, several as a tuple (a loop keeps one float per repeat when it can)."""
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names)}," if target else f"({', '.join(names)},)"


class _Writer:
    """Writes the lines of one replay function."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.env: dict[str, Any] = {"_inf": float("inf"), "_nan": float("nan"), "_GuardFailed": _GuardFailed}
        self.env["_NonFinite"] = _NonFinite
        self.env["_float"] = _real
        self.env.update(MATH_GLOBALS)
        self.runs = find_runs(plan)
        self.rolled = {k for r in self.runs for k in range(r.start, r.end)}
        self.grad: dict[int, str] = {}
        self.borrowed: set[int] = set()  # nodes whose gradient is, so far, another node's finished variable
        self.borrow = plan.node_count() > BORROW_ABOVE
        self.pending: dict[int, list[str]] = {}  # a gradient's terms not written yet, in eager's order
        self.nesting: dict[int, int] = {}  # how deeply the deepest of them nests other gradients' terms
        self.checked_only = self.gradients_only_checked()  # such a constant -> how many terms it gets
        self.check_terms: dict[int, list[str]] = {}  # such a constant -> its terms so far, in eager's order
        self.value_check, self.grad_check = _Check("_sv"), _Check("_sc")
        self.covered = plan.covered  # values a transparent consumer's check covers
        self.exprs = [plan.expr(k) for k in range(len(plan.kinds))]  # each key's text, written once
        self.forms = Forms(plan, self.env, self.borrow)
        self.fused: dict[int, tuple[str, str, list[str]]] = {}  # a fused node's expression, its class, what is in it
        self.fuse = fusable(plan, self.size, self.reads_once, self.pinned(), self.rolled)

    def named(self, k: int) -> list[str]:
        _, a, b, _, _ = self.plan.ops[k]
        return [self.exprs[a]] if b is None else [self.exprs[a], self.exprs[b]]

    def pinned(self) -> set[int]:
        """Nodes read by name outside their user's forward expression: the result, guards, the
        finiteness check, and every backward line (local derivatives name operands and outputs)."""
        plan, local, rolled = self.plan, self.forms.local, self.rolled
        out = {plan.root} | {k for k in plan.ops if k not in self.covered}
        for _, left, _, right, _ in plan.guards:
            out |= _keys(left) | _keys(right)
        for k in plan.backward_order:
            if k not in rolled:
                _, a, b, _, _ = plan.ops[k]
                _, reads_a, reads_b, reads_out = local[k]  # from the op's template, not each node's text
                if reads_a:
                    out.add(a)
                if reads_b:
                    out.add(b)  # type: ignore[arg-type]  # a template reads operand 1 of binary ops only
                if reads_out:
                    out.add(k)
        return out

    def size(self, k: int) -> int:
        """The length of node k's forward expression with its operands by name."""
        template, mention_a, mention_b = self.forms.forward[k]
        _, a, b, _, _ = self.plan.ops[k]
        n = len(template) + mention_a * (len(self.exprs[a]) - len(HOLES[0]))
        return n if b is None else n + mention_b * (len(self.exprs[b]) - len(HOLES[1]))

    def reads_once(self, user: int, k: int) -> bool:
        """Whether node `user`'s forward expression mentions its operand k once (relu's inlined
        `(x if x > 0.0 else 0.0)` mentions it twice)."""
        _, mention_a, mention_b = self.forms.forward[user]
        _, a, b, _, _ = self.plan.ops[user]
        return (mention_a if a == k else 0) + (mention_b if b == k else 0) == 1

    # ---- one node, with operands named by the caller ------------------------------------------------
    def forward_line(self, k: int, operands: list[tuple[str, str]], inside: list[str] | None = None) -> str | None:
        """Node k's line, or None when it is fused: its expression then waits for its one user.
        `operands` are texts with their classes (`forms.minimal`); `inside` names the fused nodes they
        hold (for the line's comment)."""
        op, inside = self.plan.ops[k][0], inside or []
        rhs, kind = self.forms.fill_forward(k, operands)
        what = op.name if isinstance(op, Op) else op
        if k in self.fuse:
            self.fused[k] = (rhs, kind, [*inside, f"{what} {self.plan.names[k]}"])
            return None
        more = f", ... {len(inside)} ops" if len(inside) > 4 else ""
        note = f" (inline: {', '.join(inside[:4])}{more})" if inside else ""
        return f"{self.plan.names[k]} = {rhs}  # {what}{note}"

    def terms(self, k: int, operands: list[str] | None, g: str) -> list[str]:
        """upstream x local, for each operand of node k, by the op's derivative rule (operands None:
        by name, as outside loops)."""
        locals_ = self.forms.locals_of(k, self.named(k) if operands is None else operands, self.plan.names[k])
        return [g if local == "1.0" else f"{g} * {local}" for local in locals_]

    # ---- forward ----------------------------------------------------------------------------------------
    def forward(self) -> list[str]:
        plan = self.plan
        lines = [
            f"{plan.names[k]} = _E{i}._data  # read by reference"
            for i, k in enumerate(plan.ext_keys)
            if k not in self.rolled
        ]
        for i in range(len(plan.ext_keys)):
            self.env[f"_E{i}"] = plan.externals[i]
        if self.runs:
            lines.append("_sf = 0.0  # the values computed in loops, summed for the finiteness check")
        # Guards and loops in key order (a guard where the trace recorded it, before the node at its
        # position; a loop where its first block starts), between the lines of the nodes.
        events = sorted(
            [(g[0], 0, i) for i, g in enumerate(plan.guards)] + [(r.start, 1, j) for j, r in enumerate(self.runs)]
        )
        e, rolled, fused, exprs, check = 0, self.rolled, self.fused, self.exprs, self.value_check
        for k, (_, a, b, _, _) in plan.ops.items():
            while e < len(events) and events[e][0] <= k:
                lines.extend(self.event_lines(events[e]))
                e += 1
            if k in rolled:
                continue
            if a in fused or b in fused:
                operands, inside = [], []
                for x in (a,) if b is None else (a, b):
                    rhs, kind, notes = fused.pop(x, (exprs[x], ATOM, []))
                    operands.append((rhs, kind))
                    inside.extend(notes)
                line = self.forward_line(k, operands, inside)
            else:
                line = self.forward_line(k, [(exprs[a], ATOM)] if b is None else [(exprs[a], ATOM), (exprs[b], ATOM)])
            if line is not None:
                lines.append(line)
            if k not in self.covered or k == plan.root:
                lines.extend(check.add(plan.names[k]))
        for event in events[e:]:
            lines.extend(self.event_lines(event))
        checked = self.value_check.rest() + (["_sf"] if self.runs else [])
        lines.extend(_check_lines(checked, "every value eager mode computes is finite"))
        lines.append(f"_out = {self.exprs[plan.root]}")
        return lines

    def event_lines(self, event: tuple[int, int, int]) -> list[str]:
        _, kind, i = event
        return self.guard_lines(i) if kind == 0 else self.forward_loop(self.runs[i])

    def guard_lines(self, i: int) -> list[str]:
        outcome = self.plan.guards[i][4]
        cond = self.plan.describe_guard(i)
        return [
            f"if {'not ' if outcome else ''}({cond}):  # guard {i}: traced {outcome}",
            f"    raise _GuardFailed({i})",
        ]

    def repeat_values(self, run: Run) -> list[str]:
        leaf = [] if run.leaf is None else [run.leaf]
        return [self.plan.names[run.last + p] for p in sorted(run.refs) + leaf]

    def kept_names(self, run: Run, candidates: list[str]) -> list[str]:
        """The values of a repeat its backward steps read (the loop keeps just these)."""
        words: set[str] = set()
        for p in run.order:
            k = run.last + p
            words.update(_WORD.findall(" ".join(self.terms(k, self.operand_names(run, p), ""))))
        return [name for name in candidates if name in words]

    def checked_in_run(self, run: Run, p: int) -> bool:
        """Whether offset p needs its own check: in the first block (as in every block but the last) or
        in the last one (whose users may be outside the run), no transparent consumer covers it."""
        return run.start + p not in self.covered or run.last + p not in self.covered or run.last + p == self.plan.root

    def operand_names(self, run: Run, p: int) -> list[str]:
        out = []
        for rel, v in run.refs[p]:
            if rel == "same":
                out.append(self.exprs[run.last + v])
            elif rel == "prev":
                out.append(f"_P{run.start}_{v}")
            else:
                out.append(self.exprs[v])
        return out

    def forward_loop(self, run: Run) -> list[str]:
        plan, r = self.plan, run.start
        lines = [f"_P{r}_{q} = {self.exprs[run.seeds[q]]}" for q in run.carried]
        lines.append(f"_K{r} = []  # each repeat's values, for the backward loop")
        lines.append(f"_keep{r} = _K{r}.append")
        lines.append(f"# ---- forward: {run.count} repeats of the same {len(run.refs)} ops ----")
        body = [
            self.forward_line(run.last + p, [(x, ATOM) for x in self.operand_names(run, p)]) or ""
            for p in sorted(run.refs)
        ]
        if run.leaf is None:
            lines.append(f"for _ in range({run.count}):")
        else:  # a different Value read by reference in each repeat
            index = {k: i for i, k in enumerate(plan.ext_keys)}
            self.env[f"_R{r}"] = tuple(
                plan.externals[index[run.start + j * run.period + run.leaf]] for j in range(run.count)
            )
            lines.append(f"for _v in _R{r}:  # one Value per repeat, read by reference")
            body.insert(0, f"{plan.names[run.last + run.leaf]} = _v._data")
        checked = [plan.names[run.last + p] for p in sorted(run.refs) if self.checked_in_run(run, p)]
        body.extend(_sum_lines("_sf", checked, "_sf") if checked else [])
        kept = self.kept_names(run, self.repeat_values(run) + [f"_P{r}_{q}" for q in run.carried])
        if kept:
            body.append(f"_keep{r}({_pack(kept)})")
        body.extend(f"_P{r}_{q} = {self.exprs[run.last + q]}" for q in run.carried)
        return lines + ["    " + line for line in body]

    # ---- backward ---------------------------------------------------------------------------------------
    def gradients_only_checked(self) -> dict[int, int]:
        """Constants (data points, literals made Values) whose gradient nothing returns: eager only
        checks that it is finite. Their terms go straight into the finiteness check, as one
        parenthesised group each (eager's sum, so an inf or nan in it is one in the check), instead of
        a line per term. Not for constants a loop adds into, nor for more terms than a line holds."""
        plan = self.plan
        uses = dict.fromkeys([k for k, kind in enumerate(plan.kinds) if kind == CONST], 0)
        for r in self.runs:
            for k in (*range(r.start, r.end), *r.fixed, *r.seeds.values()):
                uses.pop(k, None)
        for k in plan.backward_order:
            if k not in self.rolled:
                _, a, b, _, _ = plan.ops[k]
                for x in (a,) if b is None else (a, b):
                    if x in uses:
                        uses[x] += 1
        return {k: n for k, n in uses.items() if 0 < n <= _CHUNK}

    def add(self, x: int, term: str, k: int, depth: int = 0) -> list[str]:
        """The lines adding `term` into x's gradient: `x_g = term`, then `x_g += term`, eager's sum in
        eager's order. In a large replay the terms wait in `pending` and `settle` writes them as one sum.
        A constant whose gradient only the check reads gets its terms summed there, as one group."""
        if x in self.checked_only:
            terms = self.check_terms.setdefault(x, [])
            terms.append(term)
            if len(terms) < self.checked_only[x]:
                return []
            one = len(terms) == 1 and self.borrow  # a product, as a term of a sum needs no parentheses
            return self.grad_check.add(terms[0] if one else f"({' + '.join(terms)})")
        if self.borrow:
            self.pending.setdefault(x, []).append(term)
            if depth:
                self.nesting[x] = max(depth, self.nesting.get(x, 0))
            return []
        names, target = self.plan.names, self.grad.get(x)
        note = f"{self.plan.ops[k][0].name}: {names[k]} -> {names[x]}"  # type: ignore[union-attr]
        if target is None:
            target = self.grad[x] = names[x] + "_g"
            return [f"{target} = {term}  # {note}"]
        return [f"{target} += {term}  # {note}"]

    def upstream(self, k: int, lines: list[str]) -> tuple[str, int]:
        """Node k's gradient as its step reads it, and how deeply that text nests. A unary node reads
        it once, in its one term: in a large replay a lone waiting term goes straight into that term,
        `t_3_g = (t_5_g * w_1) * (1.0 - (t_3 * t_3))`, the same two products in the same order as
        two lines, without a store and a load (a tanh chain's backward: half the lines)."""
        terms = self.pending.get(k)
        if self.borrow and self.plan.ops[k][2] is None and k not in self.grad and terms and len(terms) == 1:
            depth = self.nesting.get(k, 0)
            if terms[0].isidentifier():
                pass  # the upstream gradient's own variable: `settle` borrows it
            elif depth < _MAX_NESTING and len(terms[0]) <= _MAX_INLINE:
                del self.pending[k]
                self.nesting.pop(k, None)
                # bare: a term is a product `g * local` (local a name, a number, a call or in
                # parentheses), and `g * l1 * l2` is Python's `(g * l1) * l2` (`forms.minimal`)
                return terms[0], depth + 1
        lines.extend(self.settle(k))
        return self.grad[k], 0

    def settle(self, x: int) -> list[str]:
        """Write x's waiting terms as one sum, `x_g = t1 + t2 + t3`: the additions eager's sweep does,
        in its order, without a store and a load of x_g between them (a moons step adds 58,000 terms).
        A sum is written where x_g is first read (its node's step, a loop, the end), after every term
        it holds: a term reads only finished gradients and forward values, which no later line changes
        (a loop reuses its names, so every waiting sum is written before one: `settle_all`).
        A lone term that is the upstream gradient itself (d/dx = 1, as for +) needs no line: x borrows
        that variable, which is final (its node is done)."""
        terms = self.pending.pop(x, None)
        self.nesting.pop(x, None)
        if not terms:
            return []
        base = self.grad.get(x)
        if base is None and len(terms) == 1 and terms[0].isidentifier():
            self.grad[x] = terms[0]
            self.borrowed.add(x)
            return []
        self.borrowed.discard(x)
        target = self.grad[x] = self.plan.names[x] + "_g"
        return _grad_sum_lines(target, [base, *terms] if base is not None else terms)

    def own(self, keys: list[int]) -> list[str]:
        """Write the waiting sums of `keys`, and give borrowed gradients among them their own variables
        (a loop adds into them by name)."""
        lines = []
        for x in keys:
            lines.extend(self.settle(x))
            if x in self.borrowed:
                self.borrowed.discard(x)
                lines.append(f"{self.plan.names[x]}_g = {self.grad[x]}")
                self.grad[x] = f"{self.plan.names[x]}_g"
        return lines

    def backward(self) -> list[str]:
        plan = self.plan
        self.grad = {plan.root: plan.names[plan.root] + "_g"}
        lines = [f"{self.grad[plan.root]} = 1.0  # d out / d out"]
        if self.runs:
            lines.append("_sg = 0.0  # the gradients computed in loops, summed for the finiteness check")
        loops = {r.last + r.order[0]: r for r in self.runs}
        written = len(lines)  # lines when every waiting sum was last written
        for k in plan.backward_order:
            if k in loops:
                run = loops[k]
                lines.extend(self.settle_all())  # a waiting term may read a value the loop reassigns
                lines.extend(self.own([*range(run.start, run.end), *run.fixed, *run.seeds.values()]))
                lines.extend(self.backward_loop(run))
            if k in self.rolled:
                continue
            self.step(k, lines)
            if len(lines) - written >= chunks.CHUNK_LINES:  # the sums so far, so that a chunk of the
                lines.extend(self.settle_all())  # code passes on one partial sum, not every term's names
                written = len(lines)
        lines.extend(self.settle_all())  # leaves: their sums, read by the checks and returned
        return lines

    def step(self, k: int, lines: list[str]) -> None:
        """Node k's step: upstream x local into each operand's gradient (written, or waiting)."""
        _, a, b, _, _ = self.plan.ops[k]
        g, depth = self.upstream(k, lines)
        checked_only, pending = self.checked_only, self.pending
        for x, term in zip((a,) if b is None else (a, b), self.terms(k, None, g), strict=True):
            if self.borrow and x not in checked_only:  # as `add` does, without a call per term
                waiting = pending.get(x)
                if waiting is None:
                    pending[x] = [term]
                else:
                    waiting.append(term)
                if depth:
                    self.nesting[x] = max(depth, self.nesting.get(x, 0))
            else:
                lines.extend(self.add(x, term, k, depth))

    def settle_all(self) -> list[str]:
        """Every waiting sum, written now (before a loop, and every CHUNK_LINES lines)."""
        lines = []
        for x in list(self.pending):
            lines.extend(self.settle(x))
        return lines

    def backward_loop(self, run: Run) -> list[str]:
        """The last repeat's steps written out (it may take gradients from outside the run), then a loop
        over the others; each step adds into the same gradients, in the same order, as eager's sweep."""
        plan, r = self.plan, run.start
        kept = self.kept_names(run, self.repeat_values(run) + [f"_P{r}_{q}" for q in run.carried])
        lines = [f"# ---- backward: {run.count} repeats, last first ----"]
        if run.leaf is not None:
            lines.append(f"_G{r} = []  # the gradients of the Values read per repeat, last first")
        if kept:
            lines.append(f"{_pack(kept, True)} = _K{r}.pop()")
        for f in run.fixed:
            if f not in self.grad:
                lines.append(f"{plan.names[f]}_g = 0.0")
                self.grad[f] = plan.names[f] + "_g"
        lines.extend(
            self.repeat_steps(
                run, {run.last + p: g for p in range(run.period) if (g := self.grad.pop(run.last + p, None))}
            )
        )
        lines.append(f"for {_pack(kept, True)} in reversed(_K{r}):" if kept else f"for _ in range({run.count - 1}):")
        body = [f"{plan.names[run.last + q]}_g = _C{r}_{q}" for q in run.carried]
        body.extend(self.repeat_steps(run, {run.last + q: f"{plan.names[run.last + q]}_g" for q in run.carried}))
        own = {f"{plan.names[run.last + p]}_g" for p in range(run.period)}  # read in the loop only
        lines.extend("    " + line for line in _tighten(body, own))
        for q in run.carried:
            self.grad[run.seeds[q]] = f"_C{r}_{q}"
        return lines

    def repeat_steps(self, run: Run, grads: dict[int, str]) -> list[str]:
        """One repeat's backward steps; `grads` holds the gradients it starts with (the rest start at
        their first term); gradients for the repeat before go to _C variables."""
        plan, r, lines, carried = self.plan, run.start, [], set()
        for p in run.order:
            k = run.last + p
            g = grads.get(k) or f"{plan.names[k]}_g"
            for (rel, v), term in zip(run.refs[p], self.terms(k, self.operand_names(run, p), g), strict=True):
                if rel == "same":
                    target, first = f"{plan.names[run.last + v]}_g", run.last + v not in grads
                    grads[run.last + v] = target
                elif rel == "prev":
                    target, first = f"_C{r}_{v}", v not in carried
                    carried.add(v)
                else:
                    target, first = self.grad[v], False
                lines.append(f"{target} {'=' if first else '+='} {term}")
        leaves = [f"{plan.names[run.last + p]}_g" for p in range(run.period) if plan.kinds[run.last + p] != NODE]
        if run.leaf is not None:
            lines.append(f"_G{r}.append({plan.names[run.last + run.leaf]}_g)")
        return lines + (_sum_lines("_sg", leaves, "_sg") if leaves else [])


_ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*) (\+?=) (.*)$")


def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")


def _tighten(body: list[str], own: set[str]) -> list[str]:
    """A backward loop's body with its one-use gradient variables written into their use, and copies
    of a carried gradient read from the carry: `a_g = c * w` then `b_g = a_g * d` becomes
    `b_g = (c * w) * d`, the same operations on the same numbers (nothing an expression reads is
    assigned in between). Only variables in `own` (assigned once per repeat, read only in the loop)
    go. One pass, lines in order: an expression only moves down, past lines that do not assign what it
    reads. Measured: a 100,000-op chain's replay 3.87 -> 3.64 ms (the loop is 6 statements, then 4)."""
    lines: list[str | None] = list(body)
    occurs: dict[str, list[int]] = {}  # name -> the lines that mention it, in order
    assigned: dict[str, list[int]] = {}  # name -> the lines that assign or add to it, in order
    for i, line in enumerate(body):
        for name in dict.fromkeys(_WORD.findall(line)):
            occurs.setdefault(name, []).append(i)
        m = _ASSIGN.match(line)
        if m is not None:
            assigned.setdefault(m[1], []).append(i)
    for i in range(len(body)):
        m = _ASSIGN.match(lines[i] or "")  # as earlier moves left it
        if m is None or m[2] != "=" or m[1] not in own or len(assigned[m[1]]) != 1:
            continue  # not assigned exactly once per repeat
        name, expr = m[1], m[3]
        where = occurs[name]
        if where[0] < i or len(where) == 1:
            continue  # read before it is assigned (the repeat before's value), or not read at all
        uses = where[1:]
        simple = _WORD.fullmatch(expr) is not None
        word = _word(name)
        if not simple and (len(uses) > 1 or len(word.findall(lines[uses[0]] or "")) > 1):
            continue
        reads = set(_WORD.findall(expr))
        if name in reads:
            continue  # `a_g = a_g * w` reads the repeat before's value
        if any(
            bisect.bisect_right(assigned.get(r, []), i) < bisect.bisect_left(assigned.get(r, []), uses[-1])
            for r in reads
        ):
            continue  # something the expression reads changes before its use
        text = expr if simple else f"({expr})"
        for j in uses:
            lines[j] = word.sub(text, lines[j] or "")
            for r in reads:
                if j not in occurs[r]:
                    bisect.insort(occurs[r], j)
        lines[i] = None
        for r in reads:
            occurs[r].remove(i)
    return [line for line in lines if line is not None]


def generate(plan: Plan) -> tuple[str, dict[str, Any]]:
    """The replay's source and the globals it needs."""
    w = _Writer(plan)
    body = ["# ---- forward ----", *w.forward()]
    body.append("# ---- backward: upstream gradient x local derivative, added into each input ----")
    body.extend(w.backward())
    checked = [w.grad[k] for k in plan.graph_leaves if k in w.grad and k not in w.rolled] + w.grad_check.rest()
    body.extend(_check_lines(checked + (["_sg"] if w.runs else []), "every gradient eager mode checks is finite"))
    arg_grads = [w.grad.get(k, "0.0") for k in range(plan.nargs)]
    ext_grads = []
    for k in plan.ext_keys:
        run = next((r for r in w.runs if r.leaf is not None and r.start <= k < r.end), None)
        if run is None:
            ext_grads.append(w.grad.get(k, "0.0"))
        elif k == run.start + run.leaf:  # type: ignore[operator]
            ext_grads.append(f"*reversed(_G{run.start})")
    body.append(f"return _out, ({''.join(g + ', ' for g in arg_grads)}), ({''.join(g + ', ' for g in ext_grads)})")
    args = [plan.names[k] for k in range(plan.nargs)]
    doc = f"# {plan.name!r} compiled: {plan.node_count()} ops, {len(plan.guards)} guards"  # repr: never code
    return split(args, doc, body), w.env
