"""Small seeded data sets for training demos, and mini-batching.

Every generator is pure Python driven by one `random.Random(seed)`, so the same seed gives the same
data on every machine, with or without numpy. Each returns `(X, y)`: `X` a list of points (each a
list of floats), `y` a list of integer class labels 0..k-1. Demos that train with a hinge loss map
them to {-1, +1} themselves (`2 * label - 1`).

`moons`, `circles` and `blobs` follow scikit-learn's `make_moons`, `make_circles` and `make_blobs`
(same shapes and parameters; not the same random numbers). `spiral` is the 3-arm spiral of the
lectures (300 x 2 at the defaults). `digits` loads scikit-learn's bundled 8x8 handwritten digits.
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Iterator, Sequence
from typing import Any

from autograd._checks import int_at_least, real_at_least

__all__ = ["batches", "blobs", "circles", "digits", "moons", "spiral", "xor"]

Points = list[list[float]]
Labels = list[int]

_INSTALL_HINT = "pip install 'chainrule[demos]'"


# ---- argument checks ------------------------------------------------------------------------------
def _check_int(where: str, name: str, value: object, minimum: int) -> int:
    return int_at_least(value, where, name, minimum)


def _check_real(where: str, name: str, value: object, minimum: float = 0.0) -> float:
    return real_at_least(value, where, name, minimum)


def _check_seed(where: str, seed: object) -> int:
    # Only ints: random.Random also accepts str/bytes/None, and None would silently be unseeded.
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{where}: seed must be an int, got {type(seed).__name__} {seed!r}")
    return int(seed)


def _linspace(start: float, stop: float, num: int, endpoint: bool = True) -> list[float]:
    """numpy.linspace for plain floats (a single point is `start`)."""
    if num == 1:
        return [float(start)]
    div = num - 1 if endpoint else num
    step = (stop - start) / div
    return [start + i * step for i in range(num)]


def _shuffled(rng: random.Random, X: Points, y: Labels) -> tuple[Points, Labels]:
    order = list(range(len(X)))
    rng.shuffle(order)
    return [X[i] for i in order], [y[i] for i in order]


def _two_classes(rng: random.Random, first: Points, second: Points, noise: float) -> tuple[Points, Labels]:
    """Label `first` 0 and `second` 1, shuffle, then add Gaussian noise (std `noise`) to every coordinate."""
    X, y = _shuffled(rng, first + second, [0] * len(first) + [1] * len(second))
    if noise:
        X = [[a + rng.gauss(0.0, noise), b + rng.gauss(0.0, noise)] for a, b in X]
    return X, y


# ---- generators -----------------------------------------------------------------------------------
def xor() -> tuple[Points, Labels]:
    """The four XOR points: label 1 exactly when one input is 1."""
    return [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0]


def moons(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[Points, Labels]:
    """Two interleaving half circles (scikit-learn's `make_moons`): `n` points in 2-D, labels 0/1.

    The upper moon (label 0) gets `n // 2` points, the lower one the rest; points are shuffled,
    then Gaussian noise with standard deviation `noise` is added to each coordinate.
    """
    n = _check_int("moons", "n", n, 2)  # at least one point per class
    noise = _check_real("moons", "noise", noise)
    rng = random.Random(_check_seed("moons", seed))
    n_out = n // 2
    n_in = n - n_out
    upper = [[math.cos(t), math.sin(t)] for t in _linspace(0.0, math.pi, n_out)]
    lower = [[1.0 - math.cos(t), 0.5 - math.sin(t)] for t in _linspace(0.0, math.pi, n_in)]
    return _two_classes(rng, upper, lower, noise)


def circles(n: int = 100, noise: float = 0.05, factor: float = 0.5, seed: int = 0) -> tuple[Points, Labels]:
    """A small circle inside a large one (scikit-learn's `make_circles`): `n` points in 2-D.

    Label 0 is the outer circle (radius 1, `n // 2` points), label 1 the inner one (radius
    `factor`, 0 <= factor < 1). Points are shuffled, then Gaussian noise (std `noise`) is added.
    """
    n = _check_int("circles", "n", n, 2)
    noise = _check_real("circles", "noise", noise)
    factor = _check_real("circles", "factor", factor)
    if factor >= 1.0:
        raise ValueError(f"circles: factor (inner radius / outer radius) must be < 1, got {factor!r}")
    rng = random.Random(_check_seed("circles", seed))
    n_out = n // 2
    n_in = n - n_out
    two_pi = 2.0 * math.pi
    outer = [[math.cos(t), math.sin(t)] for t in _linspace(0.0, two_pi, n_out, endpoint=False)]
    inner = [[factor * math.cos(t), factor * math.sin(t)] for t in _linspace(0.0, two_pi, n_in, endpoint=False)]
    return _two_classes(rng, outer, inner, noise)


def blobs(n: int = 100, centers: int = 3, std: float = 1.0, seed: int = 0) -> tuple[Points, Labels]:
    """Isotropic Gaussian clusters (scikit-learn's `make_blobs`): `n` points in 2-D, labels 0..centers-1.

    Each center is drawn uniformly from the box [-10, 10]^2; the points are split as evenly as
    possible between centers (the first `n % centers` get one more) and shuffled.
    """
    n = _check_int("blobs", "n", n, 1)
    centers = _check_int("blobs", "centers", centers, 1)
    if n < centers:
        raise ValueError(f"blobs: n must be >= centers so every class has a point, got n={n!r}, centers={centers!r}")
    std = _check_real("blobs", "std", std)
    rng = random.Random(_check_seed("blobs", seed))
    middles = [[rng.uniform(-10.0, 10.0), rng.uniform(-10.0, 10.0)] for _ in range(centers)]
    X: Points = []
    y: Labels = []
    for k, (cx, cy) in enumerate(middles):
        count = n // centers + (1 if k < n % centers else 0)
        for _ in range(count):
            X.append([cx + rng.gauss(0.0, std), cy + rng.gauss(0.0, std)])
            y.append(k)
    return _shuffled(rng, X, y)


def spiral(n_per_class: int = 100, classes: int = 3, noise: float = 0.2, seed: int = 0) -> tuple[Points, Labels]:
    """The lectures' spiral: `classes` arms of `n_per_class` points each, in 2-D (300 x 2 by default).

    Arm j has radii evenly spaced in [0, 1] and angles evenly spaced in [4j, 4j + 4] radians plus
    Gaussian noise of standard deviation `noise`; the point is (r sin t, r cos t). Points come
    ordered by class, as in the lecture.
    """
    n_per_class = _check_int("spiral", "n_per_class", n_per_class, 1)
    classes = _check_int("spiral", "classes", classes, 1)
    noise = _check_real("spiral", "noise", noise)
    rng = random.Random(_check_seed("spiral", seed))
    X: Points = []
    y: Labels = []
    radii = _linspace(0.0, 1.0, n_per_class)
    for j in range(classes):
        angles = _linspace(4.0 * j, 4.0 * (j + 1), n_per_class)
        for r, t in zip(radii, angles, strict=True):
            t += rng.gauss(0.0, noise) if noise else 0.0
            X.append([r * math.sin(t), r * math.cos(t)])
            y.append(j)
    return X, y


# ---- mini-batches ---------------------------------------------------------------------------------
def batches(
    X: Sequence[Any], y: Sequence[Any], batch_size: int, shuffle: bool = True, seed: int = 0
) -> Iterator[tuple[list[Any], list[Any]]]:
    """Yield `(Xb, yb)` mini-batches of `batch_size` samples (the last one may be smaller).

    With `shuffle` the order is a permutation drawn from `random.Random(seed)`; pass a different
    seed each epoch (e.g. `seed + epoch`) for a fresh order. Arguments are checked on the call,
    not when the first batch is drawn.
    """
    if isinstance(X, (str, bytes)) or not isinstance(X, Sequence):
        raise TypeError(f"batches: X must be a list or tuple of samples, got {type(X).__name__}")
    if isinstance(y, (str, bytes)) or not isinstance(y, Sequence):
        raise TypeError(f"batches: y must be a list or tuple of labels, got {type(y).__name__}")
    if len(X) != len(y):
        raise ValueError(f"batches: X and y must have the same length, got {len(X)} and {len(y)}")
    if not X:
        raise ValueError("batches: X and y are empty; there is nothing to make batches of")
    _check_finite_samples(X, "batches")
    batch_size = _check_int("batches", "batch_size", batch_size, 1)
    if not isinstance(shuffle, bool):
        raise TypeError(f"batches: shuffle must be a bool, got {type(shuffle).__name__} {shuffle!r}")
    seed = _check_seed("batches", seed)
    order = list(range(len(X)))
    if shuffle:
        random.Random(seed).shuffle(order)
    return _batches(X, y, order, batch_size)


def _check_finite_samples(X: Sequence[Any], where: str) -> None:
    """Refuse nan/inf anywhere in the samples' numbers, naming the first place it is."""
    for i, sample in enumerate(X):
        values = sample if isinstance(sample, Sequence) and not isinstance(sample, (str, bytes)) else [sample]
        for j, v in enumerate(values):
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError(f"{where}: X[{i}][{j}] is {v!r}; samples must hold finite numbers")


def _batches(
    X: Sequence[Any], y: Sequence[Any], order: list[int], batch_size: int
) -> Iterator[tuple[list[Any], list[Any]]]:
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        yield [X[i] for i in chunk], [y[i] for i in chunk]


# ---- scikit-learn's digits ------------------------------------------------------------------------
def digits(test_fraction: float = 0.2, seed: int = 0) -> tuple[Points, Labels, Points, Labels]:
    """scikit-learn's 8x8 handwritten digits (1797 images) as `(X_train, y_train, X_test, y_test)`.

    Each image is a list of 64 pixels scaled from 0..16 to [0, 1]; labels are 0..9. The split is
    stratified: from every digit, `round(test_fraction * count)` images (drawn with
    `random.Random(seed)`) go to the test set; both sets are then shuffled. Needs scikit-learn
    (no network: the data ships with it).
    """
    f = _check_real("digits", "test_fraction", test_fraction)
    if not 0.0 < f < 1.0:
        raise ValueError(f"digits: test_fraction must be strictly between 0 and 1, got {test_fraction!r}")
    rng = random.Random(_check_seed("digits", seed))
    try:
        from sklearn.datasets import load_digits  # type: ignore[import-untyped]
    except ImportError as exc:
        raise ImportError(
            f"digits: the 8x8 digits come with scikit-learn, which is not installed; install it with {_INSTALL_HINT}"
            " (or pip install scikit-learn)"
        ) from exc
    data = load_digits()
    images = [[float(p) / 16.0 for p in row] for row in data.data.tolist()]
    labels = [int(t) for t in data.target.tolist()]
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    train: list[int] = []
    test: list[int] = []
    for label in sorted(by_class):  # sorted: the draw order must not depend on dict order
        idx = by_class[label]
        rng.shuffle(idx)
        k = round(f * len(idx))
        test += idx[:k]
        train += idx[k:]
    rng.shuffle(train)
    rng.shuffle(test)
    return [images[i] for i in train], [labels[i] for i in train], [images[i] for i in test], [labels[i] for i in test]
