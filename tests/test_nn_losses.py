"""Losses: hand-computed values, central-difference gradients, torch float64, stability, input errors."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nn
from autograd import Value


def vals(xs: list[float]) -> list[Value]:
    return [Value(x) for x in xs]


def numeric_grad(f: Callable[[list[float]], float], xs: list[float], h: float = 1e-6) -> list[float]:
    out = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += h
        down[i] -= h
        out.append((f(up) - f(down)) / (2 * h))
    return out


# ---- hand-computed values ------------------------------------------------------------------------
def test_mse_by_hand() -> None:
    loss = nn.mse_loss(vals([1.0, 2.0, 4.0]), [0.0, 2.0, 1.0])
    assert loss.data == pytest.approx((1 + 0 + 9) / 3, rel=1e-15)
    # nested rows (a batch of model outputs) average over every element
    loss = nn.mse_loss([vals([1.0, 2.0]), vals([3.0, 5.0])], [[0.0, 0.0], [3.0, 3.0]])
    assert loss.data == pytest.approx((1 + 4 + 0 + 4) / 4, rel=1e-15)


def test_cross_entropy_lecture_values() -> None:
    # lecture 000: a confident right answer costs -log(0.9), a wrong one -log(0.1)
    logits = [math.log(0.9), math.log(0.1)]
    assert nn.cross_entropy(vals(logits), 0).data == pytest.approx(-math.log(0.9), rel=1e-14)
    assert nn.cross_entropy(vals(logits), 1).data == pytest.approx(-math.log(0.1), rel=1e-14)


def test_softmax_and_log_softmax_by_hand() -> None:
    z = [1.0, 2.0, 3.0]
    denom = sum(math.exp(v) for v in z)
    probs = nn.softmax(vals(z))
    assert [p.data for p in probs] == pytest.approx([math.exp(v) / denom for v in z], rel=1e-14)
    assert sum(p.data for p in probs) == pytest.approx(1.0, rel=1e-15)
    assert [p.data for p in nn.log_softmax(vals(z))] == pytest.approx([v - math.log(denom) for v in z], rel=1e-14)


def test_bce_with_logits_by_hand() -> None:
    z, y = [0.5, -1.0, 2.0], [1.0, 0.0, 0.25]

    def sig(v: float) -> float:
        return 1 / (1 + math.exp(-v))

    expected = -sum(t * math.log(sig(v)) + (1 - t) * math.log(1 - sig(v)) for v, t in zip(z, y)) / 3
    assert nn.binary_cross_entropy_with_logits(vals(z), y).data == pytest.approx(expected, rel=1e-14)


def test_hinge_by_hand() -> None:
    # micrograd's demo loss: relu(1 - y s); margins 1 - 2 = -1 -> 0, 1 - (-0.5) = 1.5, 1 - 0.5 = 0.5
    loss = nn.hinge_loss(vals([2.0, 0.5, -0.5]), [1, -1, -1])
    assert loss.data == pytest.approx((0.0 + 1.5 + 0.5) / 3, rel=1e-15)


def test_l2_penalty_by_hand() -> None:
    params = vals([1.0, -2.0, 0.5])
    pen = nn.l2_penalty(params)
    assert pen.data == 5.25
    pen.backward()
    assert [p.grad for p in params] == [2.0, -4.0, 1.0]  # d/dp p^2 = 2p
    assert nn.l2_penalty([]).data == 0.0
    model = nn.MLP(2, [2, 1], seed=0)
    assert nn.l2_penalty(model.parameters()).data == pytest.approx(sum(p.data**2 for p in model.parameters()))


def test_cross_entropy_batch_is_the_mean() -> None:
    rows = [[1.0, 0.0, -1.0], [0.2, 0.3, 0.1]]
    single = [nn.cross_entropy(vals(r), t).data for r, t in zip(rows, [0, 2])]
    batch = nn.cross_entropy_batch([vals(r) for r in rows], [0, 2])
    assert batch.data == pytest.approx(sum(single) / 2, rel=1e-15)


# ---- gradients -----------------------------------------------------------------------------------
LOSSES: dict[str, tuple[Callable[[list[Value]], Value], Callable[[list[float]], float]]] = {
    "mse": (lambda p: nn.mse_loss(p, [0.5, -1.0, 2.0]), lambda p: nn.mse_loss(p, [0.5, -1.0, 2.0]).data),
    "bce": (
        lambda p: nn.binary_cross_entropy_with_logits(p, [1.0, 0.0, 0.3]),
        lambda p: nn.binary_cross_entropy_with_logits(p, [1.0, 0.0, 0.3]).data,
    ),
    "hinge": (lambda p: nn.hinge_loss(p, [1, -1, 1]), lambda p: nn.hinge_loss(p, [1, -1, 1]).data),
    "cross_entropy": (lambda p: nn.cross_entropy(p, 1), lambda p: nn.cross_entropy(p, 1).data),
    "log_softmax[2]": (lambda p: nn.log_softmax(p)[2], lambda p: nn.log_softmax(p)[2].data),
    "softmax[0]": (lambda p: nn.softmax(p)[0], lambda p: nn.softmax(p)[0].data),
}


@pytest.mark.parametrize("name", LOSSES)
def test_gradients_match_central_differences(name: str) -> None:
    build, value = LOSSES[name]
    xs = [0.3, -0.7, 1.9]  # away from hinge kinks
    params = vals(xs)
    build(params).backward()
    expected = numeric_grad(lambda v: value(vals(v)), xs)
    assert [p.grad for p in params] == pytest.approx(expected, rel=1e-6, abs=1e-9)


# ---- stability -----------------------------------------------------------------------------------
@pytest.mark.parametrize("z", [1e4, -1e4, 800.0, -800.0])
@pytest.mark.parametrize("y", [0.0, 1.0, 0.5])
def test_bce_stable_for_huge_logits(z: float, y: float) -> None:
    logit = Value(z)
    loss = nn.binary_cross_entropy_with_logits([logit], [y])
    loss.backward()
    # exact: softplus(z) - y z = max(z, 0) - y z + log1p(exp(-|z|)); gradient sigmoid(z) - y
    assert loss.data == pytest.approx(max(z, 0.0) - y * z, rel=1e-15)
    assert logit.grad == pytest.approx((1.0 if z > 0 else 0.0) - y, abs=1e-15)


def test_cross_entropy_stable_at_logits_of_1e3() -> None:
    logits = vals([1000.0, 999.0, -1000.0])
    loss = nn.cross_entropy(logits, 1)
    loss.backward()
    lse_shift = math.log(1 + math.exp(-1.0) + math.exp(-2000.0))
    assert loss.data == pytest.approx(lse_shift + 1.0, rel=1e-14)
    p0 = 1 / (1 + math.exp(-1.0))
    assert [v.grad for v in logits] == pytest.approx([p0, (1 - p0) - 1.0, 0.0], abs=1e-14)
    probs = nn.softmax(vals([1000.0, 1000.0]))
    assert [p.data for p in probs] == [0.5, 0.5]
    assert nn.log_softmax(vals([-1000.0, 1000.0]))[0].data == -2000.0


# ---- torch float64 ---------------------------------------------------------------------------------
def torch_or_skip() -> Any:
    return pytest.importorskip("torch", reason="torch is not installed; the torch reference comparisons are skipped")


small = st.floats(-30.0, 30.0, allow_nan=False)


@given(st.lists(st.tuples(small, small, st.integers(0, 2)), min_size=1, max_size=5))
def test_losses_vs_torch(rows: list[tuple[float, float, int]]) -> None:
    torch = torch_or_skip()
    F = torch.nn.functional
    a = [r[0] for r in rows]
    b = [r[1] for r in rows]
    cls = [r[2] for r in rows]
    unit = [1 / (1 + math.exp(-v)) for v in b]  # targets in (0, 1)

    def check(ours: Callable[[list[Value]], Value], theirs: Callable[[object], object]) -> None:
        params = vals(a)
        loss = ours(params)
        loss.backward()
        t = torch.tensor(a, dtype=torch.float64, requires_grad=True)
        ref = theirs(t)
        ref.backward()
        assert loss.data == pytest.approx(ref.item(), rel=1e-12, abs=1e-12)
        assert [p.grad for p in params] == pytest.approx(t.grad.tolist(), rel=1e-10, abs=1e-12)

    check(lambda p: nn.mse_loss(p, b), lambda t: F.mse_loss(t, torch.tensor(b, dtype=torch.float64)))
    check(
        lambda p: nn.binary_cross_entropy_with_logits(p, unit),
        lambda t: F.binary_cross_entropy_with_logits(t, torch.tensor(unit, dtype=torch.float64)),
    )
    labels = [1.0 if c else -1.0 for c in cls]
    check(
        lambda p: nn.hinge_loss(p, labels),
        lambda t: torch.relu(1 - torch.tensor(labels, dtype=torch.float64) * t).mean(),
    )
    check(
        lambda p: nn.cross_entropy(p, cls[0] % len(a)),
        lambda t: F.cross_entropy(t[None], torch.tensor([cls[0] % len(a)])),
    )
    check(lambda p: nn.log_softmax(p)[-1], lambda t: F.log_softmax(t, 0)[-1])
    check(lambda p: nn.softmax(p)[0], lambda t: F.softmax(t, 0)[0])
    check(lambda p: nn.l2_penalty(p), lambda t: (t * t).sum())


def test_cross_entropy_batch_vs_torch() -> None:
    torch = torch_or_skip()
    rows = [[0.5, -1.0, 2.0], [3.0, 1.0, -2.0], [100.0, -50.0, 99.5], [0.0, 0.0, 0.0]]
    targets = [2, 0, 1, 1]
    params = [vals(r) for r in rows]
    loss = nn.cross_entropy_batch(params, targets)
    loss.backward()
    t = torch.tensor(rows, dtype=torch.float64, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(t, torch.tensor(targets))
    ref.backward()
    assert loss.data == pytest.approx(ref.item(), rel=1e-13)
    assert [[v.grad for v in r] for r in params] == [pytest.approx(g, abs=1e-14) for g in t.grad.tolist()]


# ---- input errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: nn.mse_loss(vals([1.0, 2.0]), [1.0]), ValueError, "mse_loss: 2 preds but 1 targets"),
        (lambda: nn.mse_loss([], []), ValueError, "mse_loss: preds and targets are empty"),
        (lambda: nn.mse_loss(Value(1.0), [1.0]), TypeError, "mse_loss: preds must be a list, got a single Value"),
        (lambda: nn.mse_loss(vals([1.0]), [math.nan]), ValueError, r"mse_loss: targets\[0\] must be finite"),
        (lambda: nn.mse_loss(vals([1.0]), ["1"]), TypeError, r"mse_loss: targets\[0\] must be a real number"),
        (lambda: nn.mse_loss(["x"], [1.0]), TypeError, r"mse_loss: preds\[0\] must be a real number"),
        (lambda: nn.mse_loss([vals([1.0, 2.0])], [[1.0], [2.0]]), ValueError, "mse_loss: 1 row of preds but 2 rows"),
        (
            lambda: nn.binary_cross_entropy_with_logits(vals([1.0]), [1.5]),
            ValueError,
            r"binary_cross_entropy_with_logits: targets\[0\] must be in \[0, 1\], got 1.5",
        ),
        (lambda: nn.binary_cross_entropy_with_logits(vals([1.0]), [True]), TypeError, "must be a real number"),
        (lambda: nn.binary_cross_entropy_with_logits(vals([1.0, 2.0]), [1.0]), ValueError, "2 logits but 1 targets"),
        (lambda: nn.hinge_loss(vals([1.0]), [0]), ValueError, r"hinge_loss: labels\[0\] must be -1 or \+1, got 0"),
        (lambda: nn.hinge_loss(vals([1.0, 1.0]), [1, 2]), ValueError, r"labels\[1\] must be -1 or \+1, got 2"),
        (lambda: nn.hinge_loss([], []), ValueError, "hinge_loss: scores and labels are empty"),
        (
            lambda: nn.cross_entropy(vals([1.0, 2.0]), 2),
            ValueError,
            "cross_entropy: target_index 2 is out of range for 2 classes",
        ),
        (lambda: nn.cross_entropy(vals([1.0, 2.0]), -1), ValueError, "target_index -1 is out of range"),
        (lambda: nn.cross_entropy(vals([1.0, 2.0]), 1.0), TypeError, "target_index must be an int"),
        (lambda: nn.cross_entropy(vals([1.0, 2.0]), True), TypeError, "target_index must be an int"),
        (lambda: nn.cross_entropy([], 0), ValueError, "cross_entropy: logits are empty"),
        (lambda: nn.softmax([]), ValueError, "softmax: logits are empty"),
        (lambda: nn.log_softmax(Value(2.0)), TypeError, "log_softmax: logits must be a list"),
        (lambda: nn.cross_entropy_batch([vals([1.0])], [0, 0]), ValueError, "1 rows of logits but 2 target indices"),
        (lambda: nn.cross_entropy_batch([], []), ValueError, "cross_entropy_batch: the batch is empty"),
        (lambda: nn.cross_entropy_batch([vals([1.0, 2.0])], [5]), ValueError, r"target_indices\[0\] 5 is out of range"),
        (lambda: nn.l2_penalty([Value(1.0), 2.0]), TypeError, r"l2_penalty: params\[1\] must be a Value"),
        (lambda: nn.l2_penalty(Value(1.0)), TypeError, "l2_penalty: params must be a list"),
    ],
)
def test_input_errors_name_the_loss_and_value(call: Callable[[], object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_plain_numbers_are_accepted_as_predictions() -> None:
    assert nn.mse_loss([1.0, 3.0], [1.0, 1.0]).data == 2.0
    assert isinstance(nn.cross_entropy([0.0, 0.0], 0), Value)


def test_labels_and_targets_may_be_values() -> None:
    s = Value(0.3)
    assert nn.hinge_loss([s], [Value(-1.0)]).data == nn.hinge_loss([s], [-1.0]).data
    assert nn.binary_cross_entropy_with_logits([s], [Value(1.0)]).data == pytest.approx(
        nn.binary_cross_entropy_with_logits([s], [1.0]).data
    )


def test_cross_entropy_compiles_without_guards() -> None:
    import autograd

    zs = [Value(0.1), Value(2.0), Value(-1.0)]
    step = autograd.compile(lambda: nn.cross_entropy(zs, 1))
    assert not step.guards
    loss = step()
    eager = nn.cross_entropy(zs, 1)
    assert loss == pytest.approx(eager.data, rel=1e-12)
    grads = [z.grad for z in zs]
    for z in zs:
        z.grad = 0.0
    eager.backward()
    assert grads == pytest.approx([z.grad for z in zs], rel=1e-12)


def test_rows_of_different_shapes_say_which_row_differs() -> None:
    """Three rows against three rows, one of them a different length: the message names that row."""
    preds = [vals([1.0, 2.0, 3.0]), vals([1.0, 2.0]), vals([1.0, 2.0, 3.0])]
    targets = [[0.0, 0.0, 0.0]] * 3
    with pytest.raises(ValueError) as info:
        nn.mse_loss(preds, targets)
    assert str(info.value) == (
        "mse_loss: preds[1] has 2 values but targets[1] has 3; "
        "each row of preds must have as many values as its row of targets"
    )
    with pytest.raises(ValueError, match=r"^mse_loss: 2 rows of preds but 3 rows of targets; they must match$"):
        nn.mse_loss(preds[:2], targets)
    with pytest.raises(ValueError, match=r"hinge_loss: scores\[0\] has 1 value but labels\[0\] has 2"):
        nn.hinge_loss([vals([1.0])], [[1.0, -1.0]])
    # rows of one value each still pair with flat targets, as before
    assert nn.mse_loss([vals([1.0]), vals([3.0])], [1.0, 1.0]).data == 2.0


LOSSES_THAT_RETURN_ONE_VALUE = [
    nn.mse_loss,
    nn.binary_cross_entropy_with_logits,
    nn.hinge_loss,
    nn.cross_entropy,
    nn.cross_entropy_batch,
    nn.l2_penalty,
]


@pytest.mark.parametrize("loss", LOSSES_THAT_RETURN_ONE_VALUE, ids=lambda f: f.__name__)
def test_help_of_a_loss_gives_its_math_and_what_it_returns(loss: Callable[..., Value]) -> None:
    doc = loss.__doc__ or ""
    assert "Returns" in doc and "one Value" in doc, f"help(nn.{loss.__name__}) does not say what it returns"
    assert any(sign in doc for sign in ("sum", "mean", "log")), f"help(nn.{loss.__name__}) gives no formula"
