"""Losses and helpers: MSE, binary cross-entropy with logits, hinge, softmax, cross-entropy, L2 penalty.

Every function builds its result from engine ops, so `loss.backward()` reaches the model's
parameters. Each checks its inputs (lengths, label ranges, numbers) and names itself in errors.
Batch losses are means over elements (samples); `l2_penalty` is an unscaled sum of squares.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Iterable, Sequence
from typing import Any

from autograd import Value, no_grad


def _seq(x: object, name: str, what: str) -> Sequence[Any]:
    if type(x) is list or type(x) is tuple:  # the common case, without the slower ABC check below
        return x
    if isinstance(x, Value):
        raise TypeError(f"{name}: {what} must be a list, got a single Value {x!r} (wrap it in a list)")
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        raise TypeError(f"{name}: {what} must be a list, got {type(x).__name__} {x!r}")
    return x


def _number(x: object, name: str, what: str, i: int | None = None) -> float:
    """A finite real number (a Value gives its data); errors name `what` (with index `i`, if given)."""
    if type(x) is float and -math.inf < x < math.inf:  # the common case first: no string is built
        return x
    if isinstance(x, Value):  # a label or target read as a constant
        return x.data
    if i is not None:
        what = f"{what}[{i}]"
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name}: {what} must be a real number or Value, got {type(x).__name__} {x!r}")
    f = float(x)
    if not math.isfinite(f):
        raise ValueError(f"{name}: {what} must be finite, got {x!r}")
    return f


def _value(x: object, name: str, what: str, i: int | None = None) -> Value:
    return x if isinstance(x, Value) else Value(_number(x, name, what, i))


def _flat(x: object, name: str, what: str) -> tuple[list[Any], list[int] | None]:
    """A list of scalars, or a list of rows (a batch of model outputs) flattened, with the row lengths."""
    xs = _seq(x, name, what)
    if not xs or not isinstance(xs[0], (list, tuple)):
        return list(xs), None
    flat: list[Any] = []
    shape: list[int] = []
    for i, row in enumerate(xs):
        if not isinstance(row, (list, tuple)):
            raise TypeError(f"{name}: {what}[{i}] must be a list like {what}[0], got {type(row).__name__} {row!r}")
        flat.extend(row)
        shape.append(len(row))
    return flat, shape


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _paired(preds: object, targets: object, name: str, pwhat: str, twhat: str) -> tuple[list[Any], list[Any]]:
    p, pshape = _flat(preds, name, pwhat)
    t, tshape = _flat(targets, name, twhat)
    if pshape is not None and tshape is not None and pshape != tshape:  # two batches of rows: say which row
        if len(pshape) != len(tshape):
            raise ValueError(
                f"{name}: {_count(len(pshape), 'row')} of {pwhat} but {_count(len(tshape), 'row')} of {twhat}; "
                "they must match"
            )
        i = next(i for i, (a, b) in enumerate(zip(pshape, tshape, strict=True)) if a != b)
        raise ValueError(
            f"{name}: {pwhat}[{i}] has {_count(pshape[i], 'value')} but {twhat}[{i}] has {tshape[i]}; "
            f"each row of {pwhat} must have as many values as its row of {twhat}"
        )
    if len(p) != len(t):
        raise ValueError(f"{name}: {len(p)} {pwhat} but {len(t)} {twhat}; they must match one to one")
    if not p:
        raise ValueError(f"{name}: {pwhat} and {twhat} are empty")
    return p, t


def _sum(terms: list[Value]) -> Value:
    return sum(terms[1:], terms[0])  # starts from a Value: no extra `0 + ...` node


def _mean(terms: list[Value]) -> Value:
    return _sum(terms) * (1.0 / len(terms))


def mse_loss(preds: Sequence[Any], targets: Sequence[Any]) -> Value:
    """Mean squared error: (1/N) sum_i (pred_i - target_i)^2 over the N elements.

    Takes lists of scalars, or equally shaped lists of rows (e.g. `[model(x) for x in X]`; flat
    targets may pair with rows of one value each). Returns the loss as one Value (call `.backward()`).
    """
    name = "mse_loss"
    p, t = _paired(preds, targets, name, "preds", "targets")
    terms = []
    for i, (pi, ti) in enumerate(zip(p, t, strict=True)):
        pv = _value(pi, name, "preds", i)
        d = pv - ti if isinstance(ti, Value) else pv + (-_number(ti, name, "targets", i))
        terms.append(d * d)
    return _mean(terms)


def binary_cross_entropy_with_logits(logits: Sequence[Any], targets: Sequence[Any]) -> Value:
    """Mean binary cross-entropy of sigmoid(logit) against targets in [0, 1], computed from logits.

    Uses -[y log s(z) + (1 - y) log(1 - s(z))] = softplus(z) - y z, which the engine evaluates
    without overflow for any finite z (its gradient sigmoid(z) - y is stable too).
    Returns the mean over the samples as one Value.
    """
    name = "binary_cross_entropy_with_logits"
    z, y = _paired(logits, targets, name, "logits", "targets")
    terms = []
    for i, (zi, yi) in enumerate(zip(z, y, strict=True)):
        zv = _value(zi, name, "logits", i)
        if isinstance(yi, Value):  # a Value target: compared and multiplied as a Value (a compiled f sees it)
            if not (yi >= 0.0 and yi <= 1.0):
                raise ValueError(f"{name}: targets[{i}] must be in [0, 1], got {yi!r}")
            terms.append(zv.softplus() - zv * yi)
            continue
        yf = _number(yi, name, "targets", i)
        if not 0.0 <= yf <= 1.0:
            raise ValueError(f"{name}: targets[{i}] must be in [0, 1], got {yi!r}")
        terms.append(zv.softplus() + zv * -yf)
    return _mean(terms)


def hinge_loss(scores: Sequence[Any], labels: Sequence[Any]) -> Value:
    """Mean hinge (max-margin) loss: (1/N) sum_i max(0, 1 - y_i s_i), labels y in {-1, +1} (micrograd's demo loss).

    Returns the loss as one Value.
    """
    name = "hinge_loss"
    s, y = _paired(scores, labels, name, "scores", "labels")
    terms = []
    for i, (si, yi) in enumerate(zip(s, y, strict=True)):
        sv = _value(si, name, "scores", i)
        yf = yi.data if isinstance(yi, Value) else _number(yi, name, "labels", i)
        if yf != 1.0 and yf != -1.0:
            raise ValueError(f"{name}: labels[{i}] must be -1 or +1, got {yi!r} (map 0/1 labels with 2 * y - 1)")
        # A Value label is multiplied as a Value (a compiled f sees it; `yf` above was a guarded read).
        terms.append((sv * -yi + 1.0).relu() if isinstance(yi, Value) else (sv * -yf + 1.0).relu())
    return _mean(terms)


def _shifted(logits: object, name: str) -> list[Value]:
    """logits - max(logits), with the max held constant: exp never overflows and nothing changes
    mathematically, since softmax is invariant to shifting every logit by the same amount.

    The max is computed with ops under no_grad() (max(m, z) = m + relu(z - m)), not read from `.data`:
    a compiled replay recomputes it from the new logits, with no gradient through it."""
    zs = [_value(z, name, "logits", i) for i, z in enumerate(_seq(logits, name, "logits"))]
    if not zs:
        raise ValueError(f"{name}: logits are empty")
    with no_grad():
        m = zs[0]
        for z in zs[1:]:
            m = m + (z - m).relu()
        neg_m = -m
    return [z + neg_m for z in zs]


def softmax(logits: Sequence[Any]) -> list[Value]:
    """exp(z_i) / sum_j exp(z_j), computed with the max logit subtracted first."""
    e = [z.exp() for z in _shifted(logits, "softmax")]
    inv = _sum(e) ** -1.0
    return [ei * inv for ei in e]


def log_softmax(logits: Sequence[Any]) -> list[Value]:
    """z_i - log sum_j exp(z_j), via the max-shifted log-sum-exp."""
    zs = _shifted(logits, "log_softmax")
    neg_lse = -(_sum([z.exp() for z in zs]).log())
    return [z + neg_lse for z in zs]


def _index(target: object, n: int, name: str, what: str) -> int:
    if isinstance(target, bool) or not isinstance(target, numbers.Integral):
        raise TypeError(f"{name}: {what} must be an int class index, got {type(target).__name__} {target!r}")
    t = operator.index(target)
    if not 0 <= t < n:
        raise ValueError(f"{name}: {what} {t!r} is out of range for {n} classes (0..{n - 1})")
    return t


def cross_entropy(logits: Sequence[Any], target_index: int) -> Value:
    """-log softmax(logits)[target_index] for one sample = logsumexp(z) - z_target (max-shifted).

    Returns the loss as one Value.
    """
    name = "cross_entropy"
    zs = _shifted(logits, name)
    t = _index(target_index, len(zs), name, "target_index")
    return _sum([z.exp() for z in zs]).log() - zs[t]


def cross_entropy_batch(batch_logits: Sequence[Sequence[Any]], target_indices: Sequence[int]) -> Value:
    """(1/N) sum_i cross_entropy(batch_logits[i], target_indices[i]): the mean over N samples.

    Returns the loss as one Value.
    """
    name = "cross_entropy_batch"
    rows = _seq(batch_logits, name, "batch_logits")
    targets = _seq(target_indices, name, "target_indices")
    if len(rows) != len(targets):
        raise ValueError(f"{name}: {len(rows)} rows of logits but {len(targets)} target indices")
    if not rows:
        raise ValueError(f"{name}: the batch is empty")
    terms = []
    for i, (row, target) in enumerate(zip(rows, targets, strict=True)):
        zs = _shifted(_seq(row, name, f"batch_logits[{i}]"), name)
        t = _index(target, len(zs), name, f"target_indices[{i}]")
        terms.append(_sum([z.exp() for z in zs]).log() - zs[t])
    return _mean(terms)


def l2_penalty(params: Iterable[Value]) -> Value:
    """sum_p p^2 over `params` (unscaled; multiply by your weight-decay coefficient).

    Returns one Value (Value(0.0) for no parameters).
    """
    if isinstance(params, Value):
        raise TypeError("l2_penalty: params must be a list of Values, got a single Value (wrap it in a list)")
    terms = []
    for i, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(f"l2_penalty: params[{i}] must be a Value, got {type(p).__name__} {p!r}")
        terms.append(p * p)
    return _sum(terms) if terms else Value(0.0)
