"""Forms: each node's forward expression and local derivatives as templates over placeholder operands.

An op's rules are read with symbols once per op and parameters (a 100,000-op chain has three such
pairs), not once per node; each node then fills in its operands' names. A template also says which
operands it mentions, and how often: what fusion and the backward's bookkeeping ask of every node.
"""

from __future__ import annotations

from typing import Any

from ..ops import _OPS, Op
from .plan import Plan, params_key
from .symbolic import forward_source, local_sources

__all__ = ["HOLES", "OUT", "Forms", "fill"]

HOLES = ("\x000\x00", "\x001\x00")  # an op's operands in a template
OUT = "\x00o\x00"  # its output, in a local derivative
_BUILTIN = frozenset(_OPS.values())  # registered before any user code runs; their forwards return floats


def fill(template: str, operands: list[str]) -> str:
    """A template with each operand in its place."""
    text = template.replace(HOLES[0], operands[0])
    return text.replace(HOLES[1], operands[1]) if len(operands) > 1 else text


class Forms:
    """Every node's forward template (with how often it mentions each operand) and every linked node's
    local derivatives (with whether they read each operand and the output). Forward functions that
    are called rather than inlined are bound in `env` as `_F0`, `_F1`, ... in the order first met."""

    def __init__(self, plan: Plan, env: dict[str, Any]) -> None:
        self.env = env
        self.fnames: dict[Any, str] = {}
        self.forward: dict[int, tuple[str, int, int]] = {}  # node -> template, mentions of operand 0, of 1
        self.local: dict[int, tuple[list[str], bool, bool, bool]] = {}  # node -> locals, reads operand 0, 1, out
        forward_cache: dict[Any, tuple[str, int, int]] = {}
        for k, (op, _, b, params, _) in plan.ops.items():
            key = (op, b is None, params_key(params))
            form = forward_cache.get(key)
            if form is None:
                template = self.read_forward(op, b is None, params)
                form = forward_cache[key] = (template, template.count(HOLES[0]), template.count(HOLES[1]))
            self.forward[k] = form
        local_cache: dict[Any, tuple[list[str], bool, bool, bool]] = {}
        for k in plan.backward_order:  # the nodes eager's backward visits: only their rules are read
            op, _, b, params, _ = plan.ops[k]
            key = (op, b is None, params_key(params))
            local = local_cache.get(key)
            if local is None:
                assert isinstance(op, Op)
                locals_ = local_sources(op, list(HOLES[: op.arity]), OUT, params)
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
