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
such as relu's is inlined as `(x if x > 0.0 else 0.0)` (`symbolic`); and in a large replay the gradient
of a + operand borrows its user's variable instead of copying it (`add`).
"""

from __future__ import annotations

import re
from typing import Any

from ..ops import _OPS, ADD, MUL, Op
from ..value import _is_real
from .fusion import fusable
from .plan import Plan
from .rolling import Run, _keys, find_runs
from .symbolic import MATH_GLOBALS, forward_source, local_sources
from .trace import CONST, DETACH, NODE

__all__ = ["generate"]

_CHUNK = 32  # terms per line of a finiteness sum (the bytecode compiler recurses over long chains)
# Above this many ops a replay is for running, not reading: a node whose gradient is a copy of its user's
# (an operand of +) borrows that variable instead of a line `t_1_g = t_8_g` of its own (a moons step
# has some 30,000 such copies). Below it, every node keeps its own gradient line, as the lectures draw it.
BORROW_ABOVE = 1000
# Ops whose result is inf or nan (or that raise) whenever an operand is: a value read by one of them
# needs no check of its own, its consumer's check covers it.
_TRANSPARENT = (ADD, MUL, _OPS["abs"], _OPS["log"], _OPS["sqrt"], DETACH)
_BUILTIN = frozenset(_OPS.values())  # registered before any user code runs; their forwards return floats


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


def _check_lines(names: list[str], what: str) -> list[str]:
    return [*_sum_lines("_s", names, None), f"if not -_inf < _s < _inf:  # {what}", "    raise _NonFinite"]


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
        self.fnames: dict[Any, str] = {}
        self.runs = find_runs(plan)
        self.rolled = {k for r in self.runs for k in range(r.start, r.end)}
        self.grad: dict[int, str] = {}
        self.borrowed: set[int] = set()  # nodes whose gradient is, so far, another node's finished variable
        self.borrow = plan.node_count() > BORROW_ABOVE
        self.checked_only = self.gradients_only_checked()
        self.check_terms: dict[int, list[str]] = {}  # such a constant -> its terms, in eager's order
        self.covered: set[int] = set()  # values a transparent consumer's check covers
        for op, a, b, _, _ in plan.ops.values():
            if any(op is t for t in _TRANSPARENT):
                self.covered.update((a,) if b is None else (a, b))
        self.templates: dict[Any, str] = {}  # (op, params, arity) -> forward expression over placeholders
        self.locals: dict[int, list[str]] = {}  # node -> its local derivatives, operands by name
        self.fused: dict[int, tuple[str, list[str]]] = {}  # a fused node's expression (and what is in it)
        self.fuse = fusable(plan, lambda k: self.rhs(k, self.named(k)), self.pinned(), self.rolled)

    def named(self, k: int) -> list[str]:
        _, a, b, _, _ = self.plan.ops[k]
        return [self.plan.expr(a)] + ([] if b is None else [self.plan.expr(b)])

    def pinned(self) -> set[int]:
        """Nodes read by name outside their user's forward expression: the result, guards, the
        finiteness check, and every backward line (local derivatives name operands and outputs)."""
        plan = self.plan
        out = {plan.root} | {k for k in plan.ops if k not in self.covered}
        for _, left, _, right, _ in plan.guards:
            out |= _keys(left) | _keys(right)
        index = {name: k for k, name in enumerate(plan.names)}
        for k in plan.backward_order:
            if k not in self.rolled:
                out.update(index[w] for w in _WORD.findall(" ".join(self.local_terms(k))) if w in index)
        return out

    # ---- one node, with operands named by the caller ------------------------------------------------
    def rhs(self, k: int, operands: list[str]) -> str:
        """Node k's forward expression. The rule is read once per op and parameters, with placeholder
        operands; each node fills in its own."""
        op, _, _, params, _ = self.plan.ops[k]
        key = (op, tuple(sorted(params.items())) if params else None, len(operands))
        template = self.templates.get(key)
        if template is None:
            fname = self.fnames.get(op)
            if fname is None and isinstance(op, Op):
                fname = self.fnames[op] = f"_F{len(self.fnames)}"
                self.env[fname] = op.forward
            holes = [f"\x00{i}\x00" for i in range(len(operands))]
            template = forward_source(op, fname or "", holes, params)
            if op not in _BUILTIN and (template.startswith(f"{fname}(") or "**" in template):
                # As eager does with what a user's forward returns: float() of an int, a numpy float; of a
                # complex (a negative number ** 0.5) it raises, where eager raises (abs() would hide it).
                template = f"_float({template})"
            self.templates[key] = template
        for i, x in enumerate(operands):
            template = template.replace(f"\x00{i}\x00", x)
        return template

    def forward_line(self, k: int, operands: list[str], inside: list[str] | None = None) -> str | None:
        """Node k's line, or None when it is fused: its expression then waits for its one user.
        `inside` names the fused nodes its operands hold (for the line's comment)."""
        op, inside = self.plan.ops[k][0], inside or []
        rhs = self.rhs(k, operands)
        what = op.name if isinstance(op, Op) else op
        if k in self.fuse:
            self.fused[k] = (rhs, [*inside, f"{what} {self.plan.names[k]}"])
            return None
        more = f", ... {len(inside)} ops" if len(inside) > 4 else ""
        note = f" (inline: {', '.join(inside[:4])}{more})" if inside else ""
        return f"{self.plan.names[k]} = {rhs}  # {what}{note}"

    def local_terms(self, k: int) -> list[str]:
        """Node k's local derivatives with its operands by name (the unrolled code's), read once."""
        got = self.locals.get(k)
        if got is None:
            op, _, _, params, _ = self.plan.ops[k]
            assert isinstance(op, Op)
            got = self.locals[k] = local_sources(op, self.named(k), self.plan.names[k], params)
        return got

    def terms(self, k: int, operands: list[str] | None, g: str) -> list[str]:
        """upstream x local, for each operand of node k, by the op's derivative rule (operands None:
        by name, as outside loops)."""
        if operands is None:
            locals_ = self.local_terms(k)
        else:
            op, _, _, params, _ = self.plan.ops[k]
            assert isinstance(op, Op)
            locals_ = local_sources(op, operands, self.plan.names[k], params)
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
        guards = sorted(range(len(plan.guards)), key=lambda i: plan.guards[i][0])
        starts = {r.start: r for r in self.runs}
        g = 0
        for k in range(len(plan.kinds) + 1):
            while g < len(guards) and plan.guards[guards[g]][0] <= k:
                lines.extend(self.guard_lines(guards[g]))
                g += 1
            if k in starts:
                lines.extend(self.forward_loop(starts[k]))
            if k == len(plan.kinds) or plan.kinds[k] != NODE or k in self.rolled:
                continue
            _, a, b, _, _ = plan.ops[k]
            operands, inside = [], []
            for x in (a,) if b is None else (a, b):
                rhs, notes = self.fused.pop(x, (plan.expr(x), []))
                operands.append(rhs)
                inside.extend(notes)
            line = self.forward_line(k, operands, inside)
            if line is not None:
                lines.append(line)
        nodes = [
            plan.names[k]
            for k, kind in enumerate(plan.kinds)
            if kind == NODE and k not in self.rolled and (k not in self.covered or k == plan.root)
        ]
        lines.extend(_check_lines(nodes + (["_sf"] if self.runs else []), "every value eager mode computes is finite"))
        lines.append(f"_out = {plan.expr(plan.root)}")
        return lines

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
                out.append(self.plan.expr(run.last + v))
            elif rel == "prev":
                out.append(f"_P{run.start}_{v}")
            else:
                out.append(self.plan.expr(v))
        return out

    def forward_loop(self, run: Run) -> list[str]:
        plan, r = self.plan, run.start
        lines = [f"_P{r}_{q} = {plan.expr(run.seeds[q])}" for q in run.carried]
        lines.append(f"_K{r} = []  # each repeat's values, for the backward loop")
        lines.append(f"_keep{r} = _K{r}.append")
        lines.append(f"# ---- forward: {run.count} repeats of the same {len(run.refs)} ops ----")
        body = [self.forward_line(run.last + p, self.operand_names(run, p)) or "" for p in sorted(run.refs)]
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
        body.extend(f"_P{r}_{q} = {plan.expr(run.last + q)}" for q in run.carried)
        return lines + ["    " + line for line in body]

    # ---- backward ---------------------------------------------------------------------------------------
    def gradients_only_checked(self) -> set[int]:
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
        return {k for k, n in uses.items() if 0 < n <= _CHUNK}

    def check_sum(self, k: int) -> str:
        """Node k's gradient as the finiteness check reads it: its variable, or its terms' sum."""
        terms = self.check_terms.get(k)
        return self.grad[k] if terms is None else f"({' + '.join(terms)})"

    def add(self, x: int, term: str, note: str, g: str) -> str | None:
        """The line adding `term` into x's gradient. A first term that is the upstream gradient `g` itself
        (d/dx = 1, as for +) needs no line: x borrows g's variable, which is final (its node is done).
        A second term then gives x a variable of its own: `x_g = g + term`, eager's sum in eager's order."""
        if x in self.checked_only:
            self.check_terms.setdefault(x, []).append(term)
            return None
        target = self.grad.get(x)
        if target is None:
            if term == g and self.borrow:
                self.grad[x] = g
                self.borrowed.add(x)
                return None
            target = self.grad[x] = self.plan.names[x] + "_g"
            return f"{target} = {term}  # {note}"
        if x in self.borrowed:
            self.borrowed.discard(x)
            self.grad[x] = self.plan.names[x] + "_g"
            return f"{self.grad[x]} = {target} + {term}  # {note}"
        return f"{target} += {term}  # {note}"

    def own(self, keys: list[int]) -> list[str]:
        """Give borrowed gradients among `keys` their own variables (a loop adds into them by name)."""
        lines = []
        for x in keys:
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
        for k in plan.backward_order:
            if k in loops:
                run = loops[k]
                lines.extend(self.own([*range(run.start, run.end), *run.fixed, *run.seeds.values()]))
                lines.extend(self.backward_loop(run))
            if k in self.rolled:
                continue
            op, a, b, _, _ = plan.ops[k]
            g = self.grad[k]
            for x, term in zip([a] if b is None else [a, b], self.terms(k, None, g), strict=True):
                line = self.add(x, term, f"{op.name}: {plan.names[k]} -> {plan.names[x]}", g)  # type: ignore[union-attr]
                if line is not None:
                    lines.append(line)
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
        lines.extend("    " + line for line in body)
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


def generate(plan: Plan) -> tuple[str, dict[str, Any]]:
    """The replay's source and the globals it needs."""
    w = _Writer(plan)
    body = ["# ---- forward ----", *w.forward()]
    body.append("# ---- backward: upstream gradient x local derivative, added into each input ----")
    body.extend(w.backward())
    # A gradient that is inf or nan makes every gradient below it inf or nan (x inf = inf, x 0 = nan), down
    # to the leaves of eager's graph: checking the leaves' gradients checks them all.
    leaves = [k for k in plan.in_graph if plan.kinds[k] != NODE or not plan.ops[k][4]]
    checked = [w.check_sum(k) for k in leaves if (k in w.grad or k in w.check_terms) and k not in w.rolled]
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
    source = "\n".join([f"def replay({', '.join(args)}):", "    " + doc, *("    " + line for line in body)]) + "\n"
    return source, w.env
