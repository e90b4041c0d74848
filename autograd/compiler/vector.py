"""The vectorised `.batch`: the plan written out once more, over numpy arrays with one element per row.

    def batch_replay(_bad, _ext, arg_0, arg_1):
        w_2, = _ext  # the Values read by reference     # one number each (a 0-d array)
        t_3 = arg_0 * w_2  # *                          # + - * and comparisons: numpy's, the same bits
        t_4 = _where(t_3 > 0.0, t_3, 0.0)  # relu       # `(A if C else B)` becomes a choice per row
        t_5 = _each(_bad, _F0, t_4)  # tanh             # a call (math.tanh): the same function, per row
        _guard(_bad, arg_0 > 0.0, True)  # guard 0      # rows taking the other branch are marked
        _finite(_bad, t_3 + t_5)                        # so are rows with a value that is not finite
        t_5_g = 1.0  # d out / d out
        t_4_g = t_5_g * (1.0 - t_5 * t_5)               # upstream x (local derivative), as grouped there
        del t_5_g                                       # an array no line reads again
        ...
        return t_5, (w_2_g,)

Every expression is the float replay's own text (`symbolic.forward_source`, `symbolic.local_sources`,
`Plan.describe_guard`), translated node by node (`_Numpy`), and the nodes come in the same order, so
each row's arithmetic is the float replay's, operation for operation. Where numpy computes the same
bits as floats (`+ - * /`, comparisons, `sqrt`, `abs`, a choice: IEEE 754 arithmetic, correctly
rounded) it works on whole arrays; where it does not (numpy's exp, tanh, log and `**` differ from
`math`'s in the last bit on a few percent of inputs, measured), the float function itself is called
row by row (`_each`), as are op forwards that are calls. So every row's output and gradients are the
float replay's, bit for bit; `Sums` adds them over the rows in row order, as the row path does.

A row is *marked* (`_bad`) where the float replay might not return normally: a guard's outcome
differs, a value or gradient eager checks is not finite, an operation that raises on floats (`/`, `//`,
`%`, `**`, a call) gave inf or nan or raised, or its arguments are not all plain floats and ints.
`Compiled.batch` runs marked rows through the row path, which raises (or falls back to eager) as
it always has. numpy is optional (`pip install 'chainrule[fast]'`); nothing here imports it until a
batch is vectorised.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import itertools
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..ops import Op
from ..value import Value
from .plan import Plan, params_key
from .symbolic import MATH_GLOBALS, forward_source, local_sources

__all__ = ["HAVE_NUMPY", "THRESHOLD", "Sums", "Unvectorisable", "Vectorised", "columns", "marked", "translate"]

HAVE_NUMPY: bool = importlib.util.find_spec("numpy") is not None
"""Whether numpy can be imported (the `fast` extra); without it `.batch` runs row by row."""

THRESHOLD = 16
"""Rows from which `batch(method="auto")` vectorises. Measured (medians of 9, rows and numpy in turns)
on one moons point's hinge loss (2-16-16-1 MLP, 644 ops, relu or tanh), a 2-op function and one
digits sample's cross-entropy (64-32-10, 4,837 ops): the vectorised batch costs as much as the row
path at 10 to 15 rows, 0.6-0.8x at 20, 0.05-0.08x at 1,000 moons rows. Below, numpy's cost per array
operation (about a microsecond) outweighs the rows."""

_NDArray = Any  # numpy's ndarray; numpy itself is imported only when a batch is vectorised
_HOLE = re.compile(r"\b_(a[01]|o)\b")  # the placeholders of a template: operands _a0, _a1; output _o
_PER_ROW_BINOPS = {ast.Pow: "_pow", ast.Mod: "_mod", ast.FloorDiv: "_floordiv"}
_EXACT = {"_m_where": "_where", "_m_sqrt": "_sqrt", "_m_abs": "abs", "abs": "abs"}  # same bits in numpy


class Unvectorisable(Exception):
    """A rule's text holds something the translation does not know (never the case for texts the
    float replay is written from today): the compiled function's batches then run row by row."""


def _exact_float(n: int) -> bool:
    """Whether a float equals the int `n` exactly (then numpy's comparisons with it are Python's)."""
    try:
        return float(n) == n
    except OverflowError:
        return False


class _Numpy(ast.NodeTransformer):
    """A float-replay expression rewritten for arrays: what raises on floats is checked per row."""

    _KEEP = (ast.Expression, ast.Name, ast.Load, ast.Constant, ast.Add, ast.Sub, ast.Mult, ast.USub, ast.UAdd)
    _COMPARE = (ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if not isinstance(node, self._KEEP):
            raise Unvectorisable(f"{type(node).__name__} in a rule's text")
        return super().generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if type(node.value) not in (int, float):
            raise Unvectorisable(f"the constant {node.value!r}")
        # Python compares a float with an int exactly; numpy first rounds the int to a float64
        # (2**53 + 1 becomes 2**53), or fails (10**400). Only an int some float equals is safe.
        if type(node.value) is int and not _exact_float(node.value):
            raise Unvectorisable(f"the integer {node.value!r}, which no float equals")
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise Unvectorisable(f"the unary {type(node.op).__name__}")
        node.operand = self.visit(node.operand)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult)):
            return ast.BinOp(left, node.op, right)
        if isinstance(node.op, ast.Div):  # exact in numpy; inf or nan where floats raise: marked
            return _call("_div", [_name("_bad"), left, right])
        name = _PER_ROW_BINOPS.get(type(node.op))
        if name is None:
            raise Unvectorisable(f"the operator {type(node.op).__name__}")
        return _call("_each", [_name("_bad"), _name(name), left, right])  # numpy's power differs from floats'

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        if len(node.ops) != 1 or not isinstance(node.ops[0], self._COMPARE):
            raise Unvectorisable("a chained or unknown comparison")
        return ast.Compare(self.visit(node.left), node.ops, [self.visit(node.comparators[0])])

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:  # both sides computed, each row takes its own
        return _call("_where", [self.visit(node.test), self.visit(node.body), self.visit(node.orelse)])

    def visit_Call(self, node: ast.Call) -> ast.AST:
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        args = [self.visit(a) for a in node.args]
        if node.keywords and not name.startswith("_F"):  # a forward's parameters are bound in its partial
            raise Unvectorisable(f"keywords in a call of {name or 'an expression'}")
        if name in _EXACT:
            return _call(_EXACT[name], args)
        if name.startswith(("_m_", "_F")):  # FloatMath's function or an op's forward, row by row
            return _call("_each", [_name("_bad"), _name(name), *args])
        raise Unvectorisable(f"a call of {name or 'an expression'}")


def _name(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def _call(name: str, args: list[ast.expr]) -> ast.Call:
    return ast.Call(_name(name), args, [])


def translate(text: str) -> str:
    """A float-replay expression as numpy source (see `_Numpy`); `Unvectorisable` if it cannot be."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise Unvectorisable(f"cannot parse {text!r}") from None
    return ast.unparse(_Numpy().visit(tree))


def _fill(template: str, operands: list[str], out: str = "") -> str:
    return _HOLE.sub(lambda m: out if m.group(1) == "o" else operands[int(m.group(1)[1])], template)


def _sum(names: list[str], chunk: int = 32) -> str:
    """`a + b + ...` as nested groups of at most `chunk` terms (the parser recurses over long chains)."""
    while len(names) > chunk:
        names = [f"({' + '.join(names[i : i + chunk])})" for i in range(0, len(names), chunk)]
    return " + ".join(names)


# ---- the generated function ---------------------------------------------------------------------------
class _Writer:
    """Writes the lines of one vectorised replay: forward, guards, checks, backward, in the float
    replay's order. A rule is read once per op and parameters, with placeholder operands."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.env: dict[str, Any] = dict(MATH_GLOBALS)
        self.fnames: dict[tuple[Any, ...], str] = {}
        self.templates: dict[tuple[Any, ...], Any] = {}
        self.grad: dict[int, str] = {}

    def key(self, k: int) -> tuple[Any, ...]:
        op, _, b, params, _ = self.plan.ops[k]
        return (op, params_key(params), 1 if b is None else 2)

    def operands(self, k: int) -> list[str]:
        _, a, b, _, _ = self.plan.ops[k]
        return [self.plan.expr(a)] + ([] if b is None else [self.plan.expr(b)])

    def forward(self, k: int) -> str:
        """Node k's forward expression: the float replay's text, translated."""
        op, _, _, params, _ = self.plan.ops[k]
        key = ("forward", *self.key(k))
        template = self.templates.get(key)
        if template is None:
            fname = self.fnames.get(key)
            if fname is None and isinstance(op, Op):  # the forward as the float replay calls it, parameters bound
                fname = self.fnames[key] = f"_F{len(self.fnames)}"
                self.env[fname] = functools.partial(op.forward, **params) if params else op.forward
            holes = [f"_a{i}" for i in range(key[-1])]
            template = self.templates[key] = translate(forward_source(op, fname or "", holes, params))
        return _fill(template, self.operands(k))

    def locals_(self, k: int) -> list[str]:
        """Node k's local derivatives, by the op's derivative rule: the float replay's texts, translated
        ("1.0" kept as it is: upstream x 1.0 is no operation)."""
        op, _, _, params, _ = self.plan.ops[k]
        key = ("local", *self.key(k))
        templates = self.templates.get(key)
        if templates is None:
            assert isinstance(op, Op)
            texts = local_sources(op, [f"_a{i}" for i in range(op.arity)], "_o", params)
            templates = self.templates[key] = [t if t == "1.0" else translate(t) for t in texts]
        return [_fill(t, self.operands(k), self.plan.names[k]) for t in templates]

    def lines(self) -> list[str]:
        plan = self.plan
        ext = [plan.names[k] for k in plan.ext_keys]
        out = [f"{', '.join(ext)}, = _ext  # the Values read by reference"] if ext else []
        for k, (op, _, _, _, _) in plan.ops.items():
            what = op.name if isinstance(op, Op) else op
            out.append(f"{plan.names[k]} = {self.forward(k)}  # {what}")
        for i, guard in enumerate(plan.guards):
            out.append(f"_guard(_bad, {translate(plan.describe_guard(i))}, {guard[4]})  # guard {i}")
        checked = [plan.names[k] for k in plan.ops if k not in plan.covered or k == plan.root]
        if checked:
            out.append(f"_finite(_bad, {_sum(checked)})  # every value eager mode computes is finite")
        return out + self.backward()

    def backward(self) -> list[str]:
        plan = self.plan
        self.grad = {plan.root: f"{plan.names[plan.root]}_g"}
        out = [f"{self.grad[plan.root]} = 1.0  # d out / d out"]
        for k in plan.backward_order:
            _, a, b, _, _ = plan.ops[k]
            g = self.grad[k]
            for x, local in zip([a] if b is None else [a, b], self.locals_(k), strict=True):
                term = g if local == "1.0" else f"{g} * ({local})"  # the float replay's grouping
                if x in self.grad:  # eager's sum, in eager's order (a new array: never added in place)
                    out.append(f"{self.grad[x]} = {self.grad[x]} + {term}")
                else:
                    self.grad[x] = f"{plan.names[x]}_g"
                    out.append(f"{self.grad[x]} = {term}")
        ext = set(plan.ext_keys)  # their gradients are checked as they are summed (`Vectorised.run`)
        leaves = [self.grad[k] for k in plan.graph_leaves if k in self.grad and k not in ext]
        if leaves:
            out.append(f"_finite(_bad, {_sum(leaves)})  # every gradient eager mode checks is finite")
        grads = "".join(f"{self.grad.get(k, '0.0')}, " for k in plan.ext_keys)
        return [*out, f"return {plan.expr(plan.root)}, ({grads})"]


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _free(lines: list[str]) -> list[str]:
    """`del` each variable after the line that reads it last: the arrays no longer needed go back to
    the allocator while the replay runs, so it reuses memory still in cache (measured: a fifth faster
    on the moons batch, and half the peak memory)."""
    *body, ret = lines
    words = [set(_WORD.findall(line.split("#", 1)[0])) for line in body]
    last = {w: i for i, found in enumerate(words) for w in found}
    keep = set(_WORD.findall(ret))
    dead: dict[int, list[str]] = {}
    for line in body:
        target = line.split(" = ", 1)[0]
        if " = " in line and _WORD.fullmatch(target) and target not in keep:
            dead.setdefault(last[target], []).append(target)
    out = []
    for i, line in enumerate(body):
        out.append(line)
        if i in dead:
            out.append(f"del {', '.join(sorted(set(dead[i])))}")
    return [*out, ret]


def _runtime(np: Any) -> dict[str, Any]:
    """The functions the generated code calls, over numpy arrays and plain floats alike."""

    def plain(x: Any) -> Any:  # a numpy scalar as the Python number the float replay would hold
        return x.item() if isinstance(x, (np.ndarray, np.generic)) else x

    def mark(bad: _NDArray, rows: Any) -> None:
        np.logical_or(bad, rows, out=bad)

    def div(bad: _NDArray, a: Any, b: Any) -> Any:
        q = np.true_divide(a, b)
        mark(bad, ~np.isfinite(q))  # where floats may raise (a zero divisor): the row path decides
        return q

    def each(bad: _NDArray, fn: Callable[..., Any], *xs: Any) -> Any:
        """fn row by row, on plain floats, as the float replay calls it; a row where it raises or
        returns anything but a float is marked."""
        if all(np.ndim(x) == 0 for x in xs):  # the same arguments in every row: one call
            try:
                r = fn(*map(plain, xs))
            except Exception:  # noqa: BLE001 - the row path decides, for every row
                r = None
            if type(r) is not float:
                mark(bad, True)
                return np.nan
            return r
        n = len(bad)
        lists = [x.tolist() if np.ndim(x) else [plain(x)] * n for x in xs]
        try:
            got = list(map(fn, *lists))
            if not got or set(map(type, got)) == {float}:
                return np.array(got, dtype=np.float64)
        except Exception:  # noqa: BLE001 - found again row by row below
            pass
        out = np.empty(n)
        for i, args in enumerate(zip(*lists, strict=True)):
            try:
                r = fn(*args)
            except Exception:  # noqa: BLE001 - the row path decides
                r = None
            out[i], bad[i] = (r, bad[i]) if type(r) is float else (np.nan, True)
        return out

    def guard(bad: _NDArray, holds: Any, traced: bool) -> None:
        mark(bad, np.not_equal(holds, traced))

    def finite(bad: _NDArray, total: Any) -> None:
        mark(bad, ~np.isfinite(total))  # one sum: an inf or nan term makes it inf or nan

    env = {"_div": div, "_each": each, "_guard": guard, "_finite": finite, "_where": np.where, "_sqrt": np.sqrt}
    env.update(_pow=operator.pow, _mod=operator.mod, _floordiv=operator.floordiv, _inf=np.inf, _nan=np.nan)
    return env


class Vectorised:
    """A plan's vectorised replay: `run` takes one array per argument (one element per row). When a
    rule's text cannot be translated (`why` says what), `ok` is False and batches run row by row:
    decided once, when the code is written, never row by row."""

    def __init__(self, plan: Plan) -> None:
        import numpy as np

        self._np = np
        self.externals = plan.externals
        self.source, self.why = "", ""
        self._replay: Callable[..., Any] | None = None
        writer = _Writer(plan)
        try:
            body = _free(writer.lines())
        except Unvectorisable as error:
            self.why = str(error)
            return
        args = "".join(f", {plan.names[k]}" for k in range(plan.nargs))
        doc = f"# {plan.name!r} vectorised: {plan.node_count()} ops, {len(plan.guards)} guards"  # repr: never code
        self.source = "\n".join([f"def batch_replay(_bad, _ext{args}):", f"    {doc}", *(f"    {x}" for x in body)])
        env = {**writer.env, **_runtime(np)}
        # Our own generated text only (names, op names, repr(float)); it defines `batch_replay`, nothing else.
        exec(compile(self.source + "\n", f"<batch {plan.name}>", "exec"), env)  # noqa: S102
        self._replay = env.pop("batch_replay")

    @property
    def ok(self) -> bool:
        return self._replay is not None

    def run(self, cols: list[_NDArray], bad: _NDArray) -> tuple[_NDArray, _NDArray]:
        """Each row's output, and each row's gradients to add (`0.0 + g`, as the row path adds a
        leaf's) with one column per Value read by reference; rows the row path must run are marked in `bad`."""
        np = self._np
        n = len(bad)
        with np.errstate(all="ignore"):
            ext = tuple(np.array(v._data) for v in self.externals)  # 0-d arrays: numpy's fastest scalars
            assert self._replay is not None
            out, grads = self._replay(bad, ext, *cols)
            table = np.empty((n, len(grads)))
            for j, g in enumerate(grads):
                table[:, j] = g
            np.add(0.0, table, out=table)
            np.logical_or(bad, ~np.isfinite(table).all(axis=1), out=bad)
            return np.broadcast_to(out, (n,)), table


def columns(rows: Sequence[Sequence[Any]], nargs: int) -> tuple[list[_NDArray], _NDArray]:
    """The rows' arguments as one float array per argument, and the rows to mark (`bad`): those with
    anything but floats and ints (a Value, a numpy number, what `_to_float` refuses) or a number
    that is not finite. The row path converts (or refuses) these itself."""
    import numpy as np

    n = len(rows)
    flat = list(itertools.chain.from_iterable(rows))
    if set(map(type, flat)) <= {float}:  # the common case, converted in one step
        table = np.array(flat, dtype=np.float64).reshape(n, nargs)
        bad = ~np.isfinite(table).all(axis=1)
    else:
        table, bad = np.zeros((n, nargs)), np.ones(n, dtype=bool)
        for i, row in enumerate(rows):
            if all(type(x) is float or type(x) is int for x in row):
                try:
                    table[i] = [float(x) for x in row]
                except OverflowError:  # an int beyond float range
                    continue
                bad[i] = not all(-np.inf < x < np.inf for x in table[i].tolist())
    return list(np.ascontiguousarray(table.T)), bad


def marked(bad: _NDArray) -> Iterator[int]:
    """The marked rows, in row order."""
    return iter(bad.nonzero()[0].tolist())


class Sums:
    """A batch's totals, added in row order exactly as the row path adds them: the output's from 0.0,
    each gradient from the Value's .grad, one addition per row (rows of the vectorised replay and
    rows run by the row path interleaved as they come)."""

    def __init__(self, externals: list[Value]) -> None:
        import numpy as np

        self._np = np
        self.total = 0.0
        self.externals = externals
        self._index = {id(v): j for j, v in enumerate(externals)}
        self._grads = np.array([v._grad for v in externals], dtype=np.float64)
        self.others: dict[Value, float] = {}  # Values of rows run by the row path, and what eager reached

    def add_rows(self, out: _NDArray, grads: _NDArray, start: int, stop: int) -> None:
        """Rows start..stop-1 of the vectorised replay."""
        if start >= stop:
            return
        np = self._np
        with np.errstate(all="ignore"):  # an overflow is found (and reported) when the sums are written
            seq = np.empty(stop - start + 1)
            seq[0], seq[1:] = self.total, out[start:stop]
            self.total = float(np.add.accumulate(seq)[-1])  # documented as one addition after the other
            if len(self.externals):
                s = self._grads
                for row in grads[start:stop]:  # numpy's own sums of a column may pair terms up: not these
                    s = s + row
                self._grads = s

    def add_row(self, out: float, updates: list[tuple[Value, float]]) -> None:
        """One row run by the row path: its output and the (Value, gradient) pairs it adds."""
        self.total += out
        for v, g in updates:
            j = self._index.get(id(v))
            if j is None:
                self.others[v] = self.others.get(v, v._grad) + g
            else:
                self._grads[j] = float(self._grads[j]) + g

    def items(self) -> list[tuple[Value, float]]:
        """Each Value's .grad as calling row by row would leave it."""
        return [*zip(self.externals, self._grads.tolist(), strict=True), *self.others.items()]
