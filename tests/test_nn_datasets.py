"""nn.datasets: shapes, label ranges, geometry, determinism, argument checks, mini-batches, digits."""

from __future__ import annotations

import math
import sys
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nn import datasets

GENERATORS = {
    "moons": lambda seed: datasets.moons(n=40, noise=0.1, seed=seed),
    "circles": lambda seed: datasets.circles(n=40, noise=0.05, factor=0.5, seed=seed),
    "blobs": lambda seed: datasets.blobs(n=40, centers=3, std=1.0, seed=seed),
    "spiral": lambda seed: datasets.spiral(n_per_class=20, classes=3, noise=0.2, seed=seed),
}


def _check_points(X: list[list[float]], y: list[int], n: int, classes: int) -> None:
    assert len(X) == len(y) == n
    for p in X:
        assert isinstance(p, list) and len(p) == 2
        assert all(type(c) is float and math.isfinite(c) for c in p)
    assert all(type(t) is int for t in y)
    assert set(y) == set(range(classes))


def test_xor_is_the_truth_table() -> None:
    X, y = datasets.xor()
    assert X == [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    assert y == [int(a) ^ int(b) for a, b in X]


@pytest.mark.parametrize("n", [2, 3, 100, 101])
def test_moons_shape_and_labels(n: int) -> None:
    X, y = datasets.moons(n=n, noise=0.1, seed=1)
    _check_points(X, y, n, 2)
    assert Counter(y) == {0: n // 2, 1: n - n // 2}


def test_moons_without_noise_lie_on_the_two_half_circles() -> None:
    X, y = datasets.moons(n=50, noise=0.0, seed=0)
    for (a, b), t in zip(X, y, strict=True):
        if t == 0:  # upper half of the unit circle
            assert math.hypot(a, b) == pytest.approx(1.0, abs=1e-12)
            assert b >= -1e-12
        else:  # lower half of the unit circle centred at (1, 0.5)
            assert math.hypot(a - 1.0, b - 0.5) == pytest.approx(1.0, abs=1e-12)
            assert b <= 0.5 + 1e-12


def test_moons_and_circles_match_scikit_learn_without_noise() -> None:
    sk = pytest.importorskip(
        "sklearn.datasets", reason="scikit-learn is not installed (pip install 'chainrule[demos]')"
    )
    for ours, theirs in [
        (datasets.moons(n=31, noise=0.0), sk.make_moons(n_samples=31, noise=None, shuffle=False)),
        (datasets.circles(n=31, noise=0.0, factor=0.3), sk.make_circles(n_samples=31, factor=0.3, shuffle=False)),
    ]:
        X, y = ours
        sx, sy = theirs
        mine = sorted((t, a, b) for (a, b), t in zip(X, y, strict=True))
        ref = sorted((int(t), float(a), float(b)) for (a, b), t in zip(sx.tolist(), sy.tolist(), strict=True))
        assert len(mine) == len(ref)
        for (t1, a1, b1), (t2, a2, b2) in zip(mine, ref, strict=True):
            assert t1 == t2
            assert a1 == pytest.approx(a2, abs=1e-12) and b1 == pytest.approx(b2, abs=1e-12)


def test_circles_radii() -> None:
    X, y = datasets.circles(n=60, noise=0.0, factor=0.3, seed=0)
    _check_points(X, y, 60, 2)
    for (a, b), t in zip(X, y, strict=True):
        assert math.hypot(a, b) == pytest.approx(1.0 if t == 0 else 0.3, abs=1e-12)


def test_blobs_shape_balance_and_centers() -> None:
    X, y = datasets.blobs(n=31, centers=4, std=1.0, seed=3)
    _check_points(X, y, 31, 4)
    assert sorted(Counter(y).values()) == [7, 8, 8, 8]
    # with no spread every point of a class is its center, drawn inside [-10, 10]^2
    X0, y0 = datasets.blobs(n=12, centers=3, std=0.0, seed=3)
    for k in range(3):
        pts = {tuple(p) for p, t in zip(X0, y0, strict=True) if t == k}
        assert len(pts) == 1
        ((cx, cy),) = pts
        assert -10.0 <= cx <= 10.0 and -10.0 <= cy <= 10.0


def test_spiral_is_the_lectures_300_by_2() -> None:
    X, y = datasets.spiral()
    _check_points(X, y, 300, 3)
    assert y == [0] * 100 + [1] * 100 + [2] * 100  # ordered by class, as in the lecture


@pytest.mark.parametrize("noise", [0.0, 0.2, 1.5])
def test_spiral_radii_are_evenly_spaced_whatever_the_noise(noise: float) -> None:
    # the noise only perturbs the angle: point i of each arm sits at radius i / (n - 1)
    n, k = 25, 4
    X, y = datasets.spiral(n_per_class=n, classes=k, noise=noise, seed=5)
    _check_points(X, y, n * k, k)
    for j in range(k):
        arm = X[j * n : (j + 1) * n]
        for i, (a, b) in enumerate(arm):
            assert math.hypot(a, b) == pytest.approx(i / (n - 1), abs=1e-12)


def test_spiral_without_noise_ends_arm_j_at_radius_1_and_angle_4j_plus_4() -> None:
    X, _ = datasets.spiral(n_per_class=10, classes=3, noise=0.0)
    for j in range(3):
        a, b = X[j * 10 + 9]  # radius 1, angle 4 (j + 1): (sin t, cos t)
        t = 4.0 * (j + 1)
        assert (a, b) == (pytest.approx(math.sin(t), abs=1e-12), pytest.approx(math.cos(t), abs=1e-12))


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_same_data_different_seed_different_data(name: str) -> None:
    make = GENERATORS[name]
    assert make(7) == make(7)
    assert make(7) != make(8)


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (lambda: datasets.moons(n=0), ValueError, "moons: n"),
        (lambda: datasets.moons(n=1), ValueError, "moons: n"),
        (lambda: datasets.moons(n=10.0), TypeError, "moons: n"),  # type: ignore[arg-type]
        (lambda: datasets.moons(n=True), TypeError, "moons: n"),
        (lambda: datasets.moons(noise=-0.1), ValueError, "moons: noise"),
        (lambda: datasets.moons(noise=math.nan), ValueError, "moons: noise"),
        (lambda: datasets.moons(noise=math.inf), ValueError, "moons: noise"),
        (lambda: datasets.moons(noise="0.1"), TypeError, "moons: noise"),  # type: ignore[arg-type]
        (lambda: datasets.moons(seed=None), TypeError, "moons: seed"),  # type: ignore[arg-type]
        (lambda: datasets.moons(seed=1.5), TypeError, "moons: seed"),  # type: ignore[arg-type]
        (lambda: datasets.circles(factor=1.0), ValueError, "circles: factor"),
        (lambda: datasets.circles(factor=-0.5), ValueError, "circles: factor"),
        (lambda: datasets.circles(n=-3), ValueError, "circles: n"),
        (lambda: datasets.blobs(centers=0), ValueError, "blobs: centers"),
        (lambda: datasets.blobs(n=2, centers=3), ValueError, "blobs: n"),
        (lambda: datasets.blobs(std=-1.0), ValueError, "blobs: std"),
        (lambda: datasets.spiral(n_per_class=0), ValueError, "spiral: n_per_class"),
        (lambda: datasets.spiral(classes=0), ValueError, "spiral: classes"),
        (lambda: datasets.spiral(noise=math.inf), ValueError, "spiral: noise"),
        (lambda: datasets.digits(test_fraction=0.0), ValueError, "digits: test_fraction"),
        (lambda: datasets.digits(test_fraction=1.0), ValueError, "digits: test_fraction"),
        (lambda: datasets.digits(test_fraction="0.2"), TypeError, "digits: test_fraction"),  # type: ignore[arg-type]
        (lambda: datasets.digits(seed="0"), TypeError, "digits: seed"),  # type: ignore[arg-type]
    ],
)
def test_bad_arguments_raise_clear_errors(call, error: type[Exception], fragment: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=fragment):
        call()


# ---- batches ----------------------------------------------------------------------------------------
@given(n=st.integers(1, 60), batch_size=st.integers(1, 70), shuffle=st.booleans(), seed=st.integers(0, 2**32))
def test_batches_cover_every_sample_once_in_full_size_batches(
    n: int, batch_size: int, shuffle: bool, seed: int
) -> None:
    X = [[float(i), -float(i)] for i in range(n)]
    y = list(range(n))
    out = list(datasets.batches(X, y, batch_size, shuffle=shuffle, seed=seed))
    sizes = [len(yb) for _, yb in out]
    assert sizes == [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    seen = [t for _, yb in out for t in yb]
    assert sorted(seen) == y
    if not shuffle:
        assert seen == y
    for Xb, yb in out:  # samples stay paired with their labels
        assert Xb == [[float(t), -float(t)] for t in yb]


def test_batches_shuffle_is_seeded() -> None:
    X = list(range(50))

    def order(seed: int) -> list[int]:
        return [t for _, yb in datasets.batches(X, X, 8, seed=seed) for t in yb]

    assert order(3) == order(3)
    assert order(3) != order(4)
    assert order(3) != X


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "fragment"),
    [
        (([1, 2], [1], 1), {}, ValueError, "same length"),
        (([1, 2], [1, 2], 0), {}, ValueError, "batch_size"),
        (([1, 2], [1, 2], 1.5), {}, TypeError, "batch_size"),
        (([1, 2], [1, 2], 1), {"seed": None}, TypeError, "seed"),
        (([1, 2], [1, 2], 1), {"shuffle": 1}, TypeError, "shuffle"),
        (("ab", [1, 2], 1), {}, TypeError, "X must be"),
        (([1, 2], {1, 2}, 1), {}, TypeError, "y must be"),
    ],
)
def test_batches_checks_arguments_when_called(args: tuple, kwargs: dict, error: type[Exception], fragment: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(error, match=f"batches: .*{fragment}"):
        datasets.batches(*args, **kwargs)  # no next(): the error comes from the call itself


# ---- digits -----------------------------------------------------------------------------------------
def test_digits_split_is_stratified_scaled_and_seeded() -> None:
    sk = pytest.importorskip(
        "sklearn.datasets", reason="scikit-learn is not installed (pip install 'chainrule[demos]')"
    )
    X_train, y_train, X_test, y_test = datasets.digits(test_fraction=0.2, seed=0)
    ref = sk.load_digits()
    counts = Counter(int(t) for t in ref.target.tolist())
    assert len(X_train) + len(X_test) == len(ref.target) == 1797
    assert Counter(y_test) == {k: round(0.2 * c) for k, c in counts.items()}
    assert all(len(x) == 64 and all(0.0 <= p <= 1.0 for p in x) for x in X_train + X_test)
    assert max(max(x) for x in X_train) == 1.0
    # every image is used exactly once, with its own label
    pairs = sorted((tuple(x), t) for x, t in zip(X_train + X_test, y_train + y_test, strict=True))
    expected = sorted(
        (tuple(p / 16.0 for p in row), int(t)) for row, t in zip(ref.data.tolist(), ref.target.tolist(), strict=True)
    )
    assert pairs == expected
    assert datasets.digits(seed=0)[3] == y_test
    assert datasets.digits(seed=1)[3] != y_test


def test_digits_without_scikit_learn_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes `from sklearn.datasets import ...` fail
    with pytest.raises(ImportError, match=r"digits: .*pip install 'chainrule\[demos\]'"):
        datasets.digits()


def test_batches_refuses_an_empty_data_set() -> None:
    with pytest.raises(ValueError, match="batches: X and y are empty"):
        datasets.batches([], [], 4)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_batches_refuses_non_finite_samples(bad: float) -> None:
    with pytest.raises(ValueError, match=r"batches: X\[1\]\[0\] is .*finite numbers"):
        datasets.batches([[0.0, 1.0], [bad, 1.0]], [0, 1], 1)
