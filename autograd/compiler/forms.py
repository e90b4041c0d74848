"""Forms: each node's forward expression and local derivatives as templates over placeholder operands.

An op's rules are read with symbols once per op and parameters (a 100,000-op chain has three such
pairs), not once per node; each node then fills in its operands' names. A template also says which
operands it mentions, and how often: what fusion and the backward's bookkeeping ask of every node.
"""

from __future__ import annotations

import ast
from typing import Any

from ..ops import _OPS, Op
from .plan import Plan, params_key
from .symbolic import forward_source, local_sources

__all__ = ["ATOM", "HOLES", "OUT", "Forms", "fill", "minimal"]

HOLES = ("\x000\x00", "\x001\x00")  # an op's operands in a template
OUT = "\x00o\x00"  # its output, in a local derivative
_BUILTIN = frozenset(_OPS.values())  # registered before any user code runs; their forwards return floats


# ---- parentheses: only those Python's grammar needs ------------------------------------------------
# A rule's text parenthesises every operation, `((t_2 * 0.5) + 0.7)`. CPython's parser pays for each
# pair: compiling 64,000 lines `t = ((t * c) + d)` took 0.47 s, `t = t * c + d` 0.31 s (3.11); the
# parse trees are the same, so the bytecode and every result are too. A template is written with the
# parentheses `ast.unparse` keeps, and kept as it was if that does not parse back to the same tree.
ATOM, SUM, PRODUCT, OTHER, KEEP = "atom", "sum", "product", "other", "keep"  # an expression's class
_PROBE = {SUM: "_p0_ + _p1_", PRODUCT: "_p0_ * _p1_", OTHER: "_p0_ if _p1_ else _p2_"}  # one of each
_IDS = ((HOLES[0], "_h0_"), (HOLES[1], "_h1_"), (OUT, "_ho_"))
_ATOMS = (ast.Name, ast.Constant, ast.Call, ast.Attribute, ast.Subscript)
_SUMS = (ast.Add, ast.Sub)
_PRODUCTS = (ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.MatMult)
# Below a conditional expression in Python's grammar: a place that takes `a if c else b` bare takes these.
_ABOVE_CONDITIONAL = (ast.IfExp, ast.BoolOp, ast.UnaryOp, ast.Compare, ast.BinOp, ast.Await)


def _kind(node: ast.expr) -> str:
    if isinstance(node, _ATOMS):
        return ATOM
    if isinstance(node, ast.BinOp) and isinstance(node.op, _SUMS):
        return SUM
    if isinstance(node, ast.BinOp) and isinstance(node.op, _PRODUCTS):
        return PRODUCT
    return OTHER if isinstance(node, _ABOVE_CONDITIONAL) else KEEP


def _tree(text: str) -> str | None:
    try:
        return ast.dump(ast.parse(text, mode="eval"))
    except SyntaxError:
        return None


def minimal(template: str) -> tuple[str, str, tuple[frozenset[str], ...]]:
    """The template with only the parentheses it needs, its class, and for each operand the classes
    of expression that may fill its hole without parentheses (the same tree as with them)."""
    text = template
    for hole, name in _IDS:
        if name in template:
            return template, KEEP, (frozenset(), frozenset())
        text = text.replace(hole, name)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return template, KEEP, (frozenset(), frozenset())
    short = ast.unparse(tree)
    if _tree(short) != ast.dump(tree):
        return template, KEEP, (frozenset(), frozenset())
    bare = tuple(
        frozenset(
            kind
            for kind, probe in _PROBE.items()
            if name in short and _tree(short.replace(name, probe)) == _tree(short.replace(name, f"({probe})"))
        )
        for _, name in _IDS[:2]
    )
    for hole, name in _IDS:
        short = short.replace(name, hole)
    return short, _kind(tree.body), bare


def _as_written(template: str) -> tuple[str, str, tuple[frozenset[str], ...]]:
    """The template as the rule wrote it: every operation in parentheses, an atom wherever it goes."""
    return template, ATOM, (frozenset(), frozenset())


def wrap(text: str, kind: str, bare: frozenset[str]) -> str:
    """An expression of this class as it fills a hole that takes `bare` classes without parentheses."""
    return text if kind == ATOM or kind in bare else f"({text})"


def fill(template: str, operands: list[str]) -> str:
    """A template with each operand in its place."""
    text = template.replace(HOLES[0], operands[0])
    return text.replace(HOLES[1], operands[1]) if len(operands) > 1 else text


class Forms:
    """Every node's forward template (with how often it mentions each operand) and every linked node's
    local derivatives (with whether they read each operand and the output). Forward functions that
    are called rather than inlined are bound in `env` as `_F0`, `_F1`, ... in the order first met."""

    def __init__(self, plan: Plan, env: dict[str, Any], short: bool) -> None:
        """`short`: templates with only the parentheses Python needs (`minimal`), for a replay that is
        run rather than read; else as the rules write them."""
        self.env = env
        shorten = minimal if short else _as_written
        self.fnames: dict[Any, str] = {}
        self.forward: dict[int, tuple[str, int, int]] = {}  # node -> template, mentions of operand 0, of 1
        # node -> its template's class, and the classes each hole takes bare (see `minimal`)
        self.shape: dict[int, tuple[str, tuple[frozenset[str], ...]]] = {}
        self.local: dict[int, tuple[list[str], bool, bool, bool]] = {}  # node -> locals, reads operand 0, 1, out
        forward_cache: dict[Any, tuple[tuple[str, int, int], tuple[str, tuple[frozenset[str], ...]]]] = {}
        for k, (op, _, b, params, _) in plan.ops.items():
            key = (op, b is None, params_key(params))
            cached = forward_cache.get(key)
            if cached is None:
                template, kind, bare = shorten(self.read_forward(op, b is None, params))
                form = (template, template.count(HOLES[0]), template.count(HOLES[1]))
                cached = forward_cache[key] = (form, (kind, bare))
            self.forward[k], self.shape[k] = cached
        local_cache: dict[Any, tuple[list[str], bool, bool, bool]] = {}
        for k in plan.backward_order:  # the nodes eager's backward visits: only their rules are read
            op, _, b, params, _ = plan.ops[k]
            key = (op, b is None, params_key(params))
            local = local_cache.get(key)
            if local is None:
                assert isinstance(op, Op)
                # each as the right operand of `upstream * local`: bare when it is a name, a number, a call
                locals_ = [
                    wrap(text, kind, frozenset())
                    for text, kind, _ in map(shorten, local_sources(op, list(HOLES[: op.arity]), OUT, params))
                ]
                text = " ".join(locals_)
                local = local_cache[key] = (locals_, HOLES[0] in text, HOLES[1] in text, OUT in text)
            self.local[k] = local

    def read_forward(self, op: Op | str, unary: bool, params: dict[str, float] | None) -> str:
        """The forward template of one op and parameters: its rule inlined, or a call of its forward."""
        fname = self.fnames.get(op)
        if fname is None and isinstance(op, Op):
            fname = self.fnames[op] = f"_F{len(self.fnames)}"
            self.env[fname] = op.forward
        template = forward_source(op, fname or "", list(HOLES[: 1 if unary else 2]), params)
        if op not in _BUILTIN and (template.startswith(f"{fname}(") or "**" in template):
            # As eager does with what a user's forward returns: float() of an int, a numpy float; of a
            # complex (a negative number ** 0.5) it raises, where eager raises (abs() would hide it).
            template = f"_float({template})"
        return template

    def fill_forward(self, k: int, operands: list[tuple[str, str]]) -> tuple[str, str]:
        """Node k's forward expression with these operands (each a text and its class), and its class."""
        template = self.forward[k][0]
        kind, bare = self.shape[k]
        if template == HOLES[0]:
            return operands[0]
        return fill(template, [wrap(text, cls, bare[i]) for i, (text, cls) in enumerate(operands)]), kind

    def locals_of(self, k: int, operands: list[str], out: str) -> list[str]:
        """Node k's local derivatives with these operands and this output name."""
        locals_, reads_a, reads_b, reads_out = self.local[k]
        if not (reads_a or reads_b or reads_out):
            return locals_
        got = []
        for local in locals_:  # most often an operand itself (d(x y)/dx = y) or a template
            if local == HOLES[0]:
                got.append(operands[0])
            elif local == HOLES[1]:
                got.append(operands[1])
            else:
                got.append(fill(local, operands).replace(OUT, out))
        return got
