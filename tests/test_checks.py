"""The shared argument checks: one wording per mistake, TypeError for the wrong kind, ValueError
for the wrong value, used alike by autograd and nn."""

from __future__ import annotations

import math

import pytest

import nn
from autograd import Value
from autograd._checks import int_at_least, real, real_at_least


def test_real_accepts_finite_numbers_and_names_the_mistake() -> None:
    assert real(3, "f", "x") == 3.0 and type(real(3, "f", "x")) is float
    with pytest.raises(TypeError, match=r"^f: x must be a real number, got bool True$"):
        real(True, "f", "x")
    with pytest.raises(TypeError, match=r"^f: expected a real number, got str '1'$"):
        real("1", "f")
    with pytest.raises(ValueError, match=r"^f: x must be finite, got nan$"):
        real(math.nan, "f", "x")
    with pytest.raises(ValueError, match=r"^f: expected a finite number, got 1000"):
        real(10**400, "f")


def test_at_least_checks_the_bound() -> None:
    assert real_at_least(0, "f", "lr", 0) == 0.0 and int_at_least(1, "f", "n", 1) == 1
    with pytest.raises(ValueError, match=r"^f: lr must be >= 0, got -1$"):
        real_at_least(-1, "f", "lr", 0)
    with pytest.raises(ValueError, match=r"^f: n must be >= 1, got 0$"):
        int_at_least(0, "f", "n", 1)
    with pytest.raises(TypeError, match=r"^f: n must be an int, got float 1.5$"):
        int_at_least(1.5, "f", "n", 1)


def test_nn_raises_the_same_kinds_of_error_everywhere() -> None:
    """An int argument given as a str is a TypeError in every nn constructor (a schedule's used to
    raise ValueError), and a value out of range is a ValueError."""
    model = nn.MLP(2, [2, 1], seed=0)
    opt = nn.optim.SGD(model.parameters(), lr=0.1)
    for make in (
        lambda: nn.MLP("2", [1]),
        lambda: nn.optim.StepLR(opt, step_size="3"),
        lambda: nn.datasets.moons("10"),
    ):
        with pytest.raises(TypeError, match="must be an int, got str"):
            make()  # type: ignore[no-untyped-call]
    for make in (
        lambda: nn.MLP(0, [1]),
        lambda: nn.optim.StepLR(opt, step_size=0),
        lambda: nn.optim.SGD([Value(1.0)], lr=-1.0),
    ):
        with pytest.raises(ValueError, match=r"must be >= "):
            make()  # type: ignore[no-untyped-call]
