"""`check_op`: every built-in op's rules against central differences, rules 1% off caught with a
message naming the op, the point, the expected and the got, the report on success, explicit points,
bad arguments; and the kinks at exactly 0, which central differences cannot judge, pinned exactly.

Ops defined here get fresh names (the registry is global; a name is registered once) and are
unregistered after each test. Altered copies of built-in ops are unregistered `Op`s: check_op takes
an `Op` as well as a name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import pytest
import requires
from userops import fresh

from autograd import (
    OPS,
    FloatMath,
    GradcheckError,
    Op,
    Value,
    ValueMath,
    check_op,
    defop,
    explain_steps,
    grad,
    gradients,
    is_grad_enabled,
    local_derivatives,
    no_grad,
)
from autograd.ops import BUILTINS

REPORT = re.compile(
    r"check_op '(?P<name>[^']+)': first and second derivatives match central differences "
    r"at (?P<count>\d+) points \(max error (?P<error>\S+)\)"
)
FAILURE = re.compile(
    r"check_op '(?P<name>[^']+)': (?P<what>d2? out/d \w+(?: d \w+)?) at (?P<at>.+): "
    r"the rule gives (?P<got>\S+), central differences give (?P<expected>\S+)"
)


def failure(error: pytest.ExceptionInfo[GradcheckError]) -> dict[str, Any]:
    """The parts of check_op's message: op name, which derivative, the point, got and expected."""
    message = str(error.value)
    match = FAILURE.fullmatch(message)
    assert match is not None, message
    parts: dict[str, Any] = match.groupdict()
    parts["point"] = {k: float(v) for k, v in (item.split(" = ") for item in parts["at"].split(", "))}
    parts["got"], parts["expected"] = float(parts["got"]), float(parts["expected"])
    return parts


def altered(op: Op, change: Callable[[int, Any, Any], Any]) -> Op:
    """An unregistered copy of `op` whose rule passes each local derivative (operand j, value, m)
    through `change`: a rule with a planted mistake."""
    n = op.arity

    def derivative(*args: Any, **params: Any) -> Any:
        inputs, out, m = args[:n], args[n], args[n + 1]
        d = [change(j, dj, m) for j, dj in enumerate(op.local(inputs, out, params or None, m))]
        return d[0] if n == 1 else tuple(d)

    return Op(op.name, op.forward, derivative, op.operands, op.params, op.defaults, op.domain, None)


def one_percent_off(j: int) -> Callable[[int, Any, Any], Any]:
    return lambda k, d, m: d * 1.01 if k == j else d


# ---- every built-in op ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", BUILTINS)
def test_every_builtin_op_passes_check_op(name: str) -> None:
    report = check_op(name)
    match = REPORT.fullmatch(report)
    assert match is not None, report
    assert match["name"] == name and match["count"] == "8" and float(match["error"]) < 1e-6
    assert check_op(OPS[name]) == report  # an Op or its name: the same points, the same report


def test_every_builtin_op_has_a_sampling_domain() -> None:
    """check_op samples a built-in op where its domain says it is defined and smooth: an op
    without one would be sampled on a default interval that may straddle its kink or pole."""
    missing = [name for name in BUILTINS if OPS[name].domain is None]
    assert missing == [], f"built-in ops without a domain: {missing}"
    for name in BUILTINS:
        op = OPS[name]
        assert op.domain is not None and set(op.operands) <= set(op.domain), name
        assert set(op.domain) <= set(op.operands) | set(op.params), name
        for lo, hi in op.domain.values():
            assert math.isfinite(lo) and math.isfinite(hi) and lo < hi, name


@pytest.mark.parametrize(
    ("name", "j"), [(name, j) for name in BUILTINS for j in range(OPS[name].arity)], ids=lambda v: str(v)
)
def test_a_builtin_rule_1_percent_off_is_caught(name: str, j: int) -> None:
    op = OPS[name]
    with pytest.raises(GradcheckError) as error:
        check_op(altered(op, one_percent_off(j)))
    parts = failure(error)
    assert parts["name"] == name and parts["what"] == f"d out/d {op.operands[j]}"
    assert parts["got"] / parts["expected"] == pytest.approx(1.01, rel=1e-4)
    assert op.domain is not None
    for operand in op.operands:  # the point was drawn from the op's domain
        lo, hi = op.domain[operand]
        assert lo <= parts["point"][operand] <= hi


LINEAR_PIECES = {"+", "abs", "relu", "leaky_relu"}  # a local derivative that is constant piece by piece


@pytest.mark.parametrize(
    ("name", "j"), [(name, j) for name in BUILTINS for j in range(OPS[name].arity)], ids=lambda v: str(v)
)
def test_a_builtin_second_derivative_1_percent_off_is_caught(name: str, j: int) -> None:
    """The rule right on numbers but 1% off when run on nodes (create_graph): only the second
    derivative sees it, and only where it is not 0."""
    op = altered(OPS[name], lambda k, d, m: d * 1.01 if k == j and m is ValueMath else d)
    if name in LINEAR_PIECES:
        assert REPORT.fullmatch(check_op(op))  # a constant scaled is still a constant: nothing to see
        return
    with pytest.raises(GradcheckError) as error:
        check_op(op)
    parts = failure(error)
    assert parts["name"] == name and parts["what"].startswith(f"d2 out/d {OPS[name].operands[j]} d ")
    assert parts["got"] / parts["expected"] == pytest.approx(1.01, rel=1e-3)


# ---- user ops: planted mistakes, caught and described --------------------------------------------------
def test_a_unary_rule_1_percent_off_is_caught_naming_op_point_expected_got() -> None:
    op = defop(fresh("cube_off"), lambda x: x**3, lambda x, out, m: 3.03 * x * x)
    with pytest.raises(GradcheckError) as error:
        check_op(op)
    parts = failure(error)
    assert parts["name"] == op.name and parts["what"] == "d out/d x" and set(parts["point"]) == {"x"}
    x = parts["point"]["x"]
    assert -2.0 <= x <= 2.0  # no domain: the default interval
    assert parts["got"] == pytest.approx(3.03 * x * x, rel=1e-12)
    assert parts["expected"] == pytest.approx(3.0 * x * x, rel=1e-6)
    with pytest.raises(GradcheckError, match=re.escape(f"check_op {op.name!r}: d out/d x at x = 1.0:")):
        check_op(op.name, points=[1.0])


@pytest.mark.parametrize("j", [0, 1])
def test_a_binary_rule_1_percent_off_in_one_operand_is_caught(j: int) -> None:
    scale = (1.01, 1.0) if j == 0 else (1.0, 1.01)
    op = defop(
        fresh("hypot_off"),
        math.hypot,
        lambda x, y, out, m: (scale[0] * x / out, scale[1] * y / out),
        domain={"x": (0.5, 3.0), "y": (-3.0, -0.5)},
    )
    with pytest.raises(GradcheckError) as error:
        check_op(op)
    parts = failure(error)
    name = "xy"[j]
    assert parts["name"] == op.name and parts["what"] == f"d out/d {name}"
    x, y = parts["point"]["x"], parts["point"]["y"]
    assert 0.5 <= x <= 3.0 and -3.0 <= y <= -0.5
    assert parts["got"] == pytest.approx(1.01 * (x, y)[j] / math.hypot(x, y), rel=1e-12)
    assert parts["expected"] == pytest.approx((x, y)[j] / math.hypot(x, y), rel=1e-6)


def test_a_parametric_rule_1_percent_off_is_caught_and_the_parameter_named() -> None:
    op = defop(
        fresh("scaled_tanh_off"),
        lambda x, *, k: math.tanh(k * x),
        lambda x, out, m, *, k: 1.01 * k * (1.0 - out * out),
        domain={"x": (-1.0, 1.0), "k": (0.5, 3.0)},
    )
    with pytest.raises(GradcheckError) as error:
        check_op(op)
    parts = failure(error)
    assert parts["name"] == op.name and set(parts["point"]) == {"x", "k"}
    x, k = parts["point"]["x"], parts["point"]["k"]
    assert 0.5 <= k <= 3.0  # drawn from the parameter's domain
    assert parts["got"] / parts["expected"] == pytest.approx(1.01, rel=1e-5)
    assert parts["expected"] == pytest.approx(k * (1.0 - math.tanh(k * x) ** 2), rel=1e-6)


def test_a_rule_right_only_for_one_parameter_value_is_caught() -> None:
    """k without a default or a domain is sampled at 1.0, 1.5 and 2.0: a rule that wrote 2.0 for k fails."""
    op = defop(
        fresh("scaled_tanh_k2"), lambda x, *, k: math.tanh(k * x), lambda x, out, m, *, k: 2.0 * (1.0 - out * out)
    )
    with pytest.raises(GradcheckError) as error:
        check_op(op)
    assert failure(error)["point"]["k"] in (1.0, 1.5)


def test_a_default_parameter_is_used_and_named() -> None:
    op = defop(
        fresh("scaled_tanh_default"),
        lambda x, *, k=2.0: math.tanh(k * x),
        lambda x, out, m, *, k=2.0: (1.01 if k == 2.0 else 1.0) * k * (1.0 - out * out),
    )
    with pytest.raises(GradcheckError) as error:
        check_op(op, points=[0.3])
    assert failure(error)["point"] == {"x": 0.3, "k": 2.0}


@pytest.mark.parametrize(
    ("forward", "rule"),
    [(math.exp, lambda x, out, m: math.exp(x)), (lambda x: x**3, lambda x, out, m: 3.0 * x * float(x))],
    ids=["math.exp instead of m.exp", "float(x) inside the rule"],
)
def test_a_rule_that_only_takes_numbers_is_blamed_for_its_second_derivative(
    forward: Callable[..., float], rule: Callable[..., Any]
) -> None:
    """math.exp(x) and float(x) turn a node into a number: right on floats, but the second
    derivative would be lost. A Value refuses float(), so check_op names the op and says why,
    and so does create_graph (instead of a silently wrong second derivative)."""
    op = defop(fresh("numbers_only"), forward, rule)
    with pytest.raises(GradcheckError, match=rf"^check_op '{op.name}': the second derivative at x = .*write it with m"):
        check_op(op)
    x = Value(0.5)
    with pytest.raises(TypeError, match=rf"^{op.name}: its derivative rule cannot be differentiated again"):
        gradients(op(x), [x], create_graph=True)
    assert gradients(op(x), [x]) == [rule(0.5, forward(0.5), FloatMath)]  # first order works
    fixed = defop(fresh("exp_m"), math.exp, lambda x, out, m: m.exp(x))
    assert REPORT.fullmatch(check_op(fixed))


def test_a_wrong_constant_only_on_nodes_is_caught_in_the_mixed_second_derivative() -> None:
    def derivative(x: Any, y: Any, out: Any, m: Any) -> tuple[Any, Any]:
        c = 1.01 if m is ValueMath else 1.0  # the planted mistake: a different constant on nodes
        return c * y, x

    op = defop(fresh("mul_off"), lambda x, y: x * y, derivative)
    with pytest.raises(GradcheckError) as error:
        check_op(op)
    parts = failure(error)
    assert parts["what"] == "d2 out/d x d y" and parts["got"] == 1.01 and parts["expected"] == pytest.approx(1.0)


# ---- the report, points, seeds ------------------------------------------------------------------------
def test_the_report_says_how_many_points_passed() -> None:
    op = defop(fresh("hypot"), math.hypot, lambda x, y, out, m: (x / out, y / out), domain={"x": (1, 2), "y": (1, 2)})
    for samples in (1, 3, 8):
        report = check_op(op, samples=samples)
        match = REPORT.fullmatch(report)
        assert match is not None and match["count"] == str(samples) and "\n" not in report
    assert check_op(op, seed=7) == check_op(op, seed=7)


def test_points_outside_a_partial_domain_are_skipped() -> None:
    """No domain given: sampled on (-2, 2), where log fails for half the points; 8 others pass."""
    op = defop(fresh("mylog"), math.log, lambda x, out, m: 1.0 / x)
    match = REPORT.fullmatch(check_op(op))
    assert match is not None and match["count"] == "8"


def test_an_op_defined_nowhere_it_is_sampled_is_an_error() -> None:
    def forward(x: float) -> float:
        raise ValueError("nowhere")

    op = Op(fresh("nowhere"), forward, lambda x, out, m: 1.0, ("x",), (), {}, None, None)
    with pytest.raises(ValueError, match=rf"^check_op '{op.name}': the op failed at every sampled point; give points="):
        check_op(op)


def test_seeds_choose_the_points_deterministically() -> None:
    op = altered(OPS["sin"], one_percent_off(0))
    messages = []
    for seed in (0, 0, 1, 2):
        with pytest.raises(GradcheckError) as error:
            check_op(op, seed=seed)
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert len({messages[0], messages[2], messages[3]}) == 3


def test_explicit_points_are_checked_each_one() -> None:
    cube = defop(fresh("cube"), lambda x: x**3, lambda x, out, m: 3.0 * x * x)
    report = check_op(cube, points=[0.5, (-1.5,), [2.0], 7])
    assert REPORT.fullmatch(report) and "at 4 points" in report
    assert "at 2 points" in check_op("pow", points=[(0.5, 3.0), (2.0, -1.5)])
    assert "at 1 points" in check_op("leaky_relu", points=[(-0.5,)])  # the default slope


def test_an_explicit_point_is_where_a_mistake_is_reported() -> None:
    op = altered(OPS["tanh"], one_percent_off(0))
    with pytest.raises(GradcheckError) as error:
        check_op(op, points=[0.25, 0.5])
    assert failure(error)["point"] == {"x": 0.25}
    with pytest.raises(GradcheckError) as error:
        check_op(altered(OPS["pow"], one_percent_off(1)), points=[(1.5, 0.5)])
    assert failure(error)["point"] == {"x": 1.5, "y": 0.5} and failure(error)["what"] == "d out/d y"


def test_an_explicit_point_where_the_op_is_undefined_is_named() -> None:
    with pytest.raises(
        ValueError, match=r"^check_op 'log': the op is not defined at x = -1\.0: log: input must be > 0"
    ):
        check_op("log", points=[2.0, -1.0])
    with pytest.raises(ValueError, match=r"^check_op 'sqrt': the op is not defined at x = 0\.0: ") as error:
        check_op("sqrt", points=[0.0])  # the derivative 1/(2 sqrt x) is infinite there
    assert isinstance(error.value.__cause__, ZeroDivisionError)


def test_a_kink_is_reported_not_passed() -> None:
    """At exactly 0 central differences see the average of the two slopes, not the rule's value."""
    with pytest.raises(GradcheckError) as error:
        check_op("relu", points=[0.0])
    parts = failure(error)
    assert parts["point"] == {"x": 0.0} and parts["got"] == 0.0 and parts["expected"] == pytest.approx(0.5)


def test_check_op_works_inside_no_grad() -> None:
    with no_grad():
        report = check_op("exp")
        assert not is_grad_enabled()
    assert REPORT.fullmatch(report) and is_grad_enabled()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"op": "no such op"}, TypeError, r"^check_op: op must be an Op or the name of a registered op, got str"),
        ({"op": 3.0}, TypeError, r"^check_op: op must be an Op or the name of a registered op, got float 3\.0"),
        ({"op": "exp", "samples": 0}, ValueError, r"^check_op 'exp': samples must be a positive int, got 0"),
        ({"op": "exp", "samples": -1}, ValueError, r"samples must be a positive int, got -1"),
        ({"op": "exp", "samples": True}, ValueError, r"samples must be a positive int, got True"),
        ({"op": "exp", "samples": 2.5}, ValueError, r"samples must be a positive int, got 2\.5"),
        ({"op": "exp", "points": []}, TypeError, r"^check_op 'exp': points must be a non-empty list of points"),
        ({"op": "exp", "points": 5}, TypeError, r"points must be a non-empty list of points .*, got 5"),
        ({"op": "exp", "points": "12"}, TypeError, r"points must be a non-empty list of points .*, got '12'"),
        ({"op": "pow", "points": [1.0]}, ValueError, r"^check_op 'pow': a point needs 2 operand\(s\), got 1\.0"),
        ({"op": "exp", "points": [(1.0, 2.0)]}, ValueError, r"a point needs 1 operand\(s\), got \(1\.0, 2\.0\)"),
        ({"op": "exp", "points": [("a",)]}, TypeError, r"^check_op 'exp': expected a real number"),
        ({"op": "exp", "points": [math.nan]}, ValueError, r"^check_op 'exp': expected a finite number, got nan"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else "",
)
def test_bad_arguments_are_refused_clearly(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        check_op(**kwargs)


# ---- the kinks at exactly 0: what central differences cannot check ------------------------------------
# (value at 0 -> (first derivative, second derivative)), by the rule: piecewise with `m.where(x > 0, ...)`,
# the derivative at 0 is the left piece's. Exact values: these were mutation-testing survivors.
KINKS: list[tuple[str, Callable[[Any], Any], float, float]] = [
    ("relu", lambda x: x.relu(), 0.0, 0.0),
    ("abs", lambda x: x.abs(), 0.0, 0.0),
    ("leaky_relu", lambda x: x.leaky_relu(), 0.01, 0.0),
    ("leaky_relu(0.2)", lambda x: x.leaky_relu(0.2), 0.2, 0.0),
    ("elu", lambda x: x.elu(), 1.0, 1.0),
    ("elu(1.5)", lambda x: x.elu(1.5), 1.5, 1.5),
]


@pytest.mark.parametrize(("f", "first", "second"), [k[1:] for k in KINKS], ids=[k[0] for k in KINKS])
def test_kink_derivatives_at_exactly_zero(f: Callable[[Any], Any], first: float, second: float) -> None:
    x = Value(0.0)
    out = f(x)
    assert out.data == 0.0
    out.backward()
    assert x.grad == first
    assert local_derivatives(out) == (first,)
    assert [s.local for s in explain_steps(out) if s.kind == "edge"] == [first]
    (d,) = gradients(out, [x], create_graph=True)
    assert isinstance(d, Value) and d.data == first
    assert gradients(d, [x]) == [second]
    assert grad(f)(0.0) == first and grad(grad(f))(0.0) == second
    assert grad(f)(-0.0) == first


@pytest.mark.parametrize(
    ("f", "right", "left"),
    [
        (lambda x: x.relu(), 1.0, 0.0),
        (lambda x: x.abs(), 1.0, -1.0),
        (lambda x: x.leaky_relu(0.2), 1.0, 0.2),
        (lambda x: x.elu(1.5), 1.0, 1.5),
    ],
    ids=["relu", "abs", "leaky_relu", "elu"],
)
def test_kink_derivatives_on_either_side_of_zero(f: Callable[[Any], Any], right: float, left: float) -> None:
    tiny = 5e-324  # the nearest floats to 0: the pieces meet exactly at 0, not near it
    assert grad(f)(tiny) == right and grad(f)(-tiny) == left
    assert grad(grad(f))(tiny) == 0.0


def test_kink_first_derivatives_match_torch() -> None:
    torch = requires.torch()
    functional = torch.nn.functional
    pairs = [
        (lambda x: x.relu(), torch.relu),
        (lambda x: x.abs(), torch.abs),
        (lambda x: x.leaky_relu(0.2), lambda t: functional.leaky_relu(t, 0.2)),
        (lambda x: x.elu(1.5), lambda t: functional.elu(t, 1.5)),
    ]
    for ours, theirs in pairs:
        t = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
        (expected,) = torch.autograd.grad(theirs(t), t)
        assert grad(ours)(0.0) == expected.item()


@pytest.mark.parametrize("offset", [1e3, 1e6, -1e6])
def test_a_rule_1_percent_off_is_caught_on_an_op_with_large_values(offset: float) -> None:
    """Rounding in large values limits what a tiny step can resolve: the step grows instead of
    the tolerance, so 1% still fails (a tolerance scaled by |out| let 5% through at 1e6)."""
    right = defop(fresh("offset_sin"), lambda x: offset + math.sin(x), lambda x, out, m: m.cos(x))
    assert check_op(right).startswith(f"check_op '{right.name}': first and second derivatives match")
    wrong = defop(fresh("offset_sin"), lambda x: offset + math.sin(x), lambda x, out, m: 1.01 * m.cos(x))
    with pytest.raises(GradcheckError, match=rf"check_op '{wrong.name}': d out/d x at x = "):
        check_op(wrong)
