"""The exercises' graphs, built fresh from the engine each time a checker runs.

Every number is a literal inside the function that uses it (no module-level table a student's
file could rebind), and every node the student is asked about carries a label, so the checker's
diagnosis names nodes as the statement does. Root nodes are labelled `L`.
"""

from __future__ import annotations

from collections.abc import Sequence

import nn
from autograd import Value


def _named(v: Value, label: str) -> Value:
    v.label = label
    return v


def _minus(a: Value, b: Value) -> Value:
    """a - b as the engine builds it, a + (-1) b, with the negation named `-b` for the diagnosis."""
    return a + _named(Value(-1.0, label="-1") * b, f"-{b.label}")


def textbook() -> Value:
    """Lecture 000: L = c e, e = a + d, d = 2 b with a = 3, b = 1, c = -2."""
    a, b, c, two = Value(3.0, label="a"), Value(1.0, label="b"), Value(-2.0, label="c"), Value(2.0, label="2")
    d = _named(two * b, "d")
    e = _named(a + d, "e")
    return _named(c * e, "L")


def used_twice() -> Value:
    """x = p + 1, u = x y, v = u + x, L = v z with p = 1, y = 3, z = -1: x is used twice."""
    p, one = Value(1.0, label="p"), Value(1.0, label="1")
    y, z = Value(3.0, label="y"), Value(-1.0, label="z")
    x = _named(p + one, "x")
    u = _named(x * y, "u")
    v = _named(u + x, "v")
    return _named(v * z, "L")


def delta_case() -> nn.LayerDeltas:
    """The delta recursion of a 2-3-2 tanh network (rows = neurons, as lecture 001's W(l)), squared
    error on one sample, by `nn.layer_deltas`: the engine's own recursion, equal to backward()."""
    w1 = [[0.5, -0.4], [0.3, 0.8], [-0.6, 0.2]]
    w2 = [[0.7, -0.5, 0.4], [-0.3, 0.9, 0.6]]
    model = nn.MLP.from_weights([w1, w2], [[0.1, -0.2, 0.05], [0.0, 0.1]], rows="neurons", activation="tanh")
    return nn.layer_deltas(model, [0.6, -1.2], [0.5, -0.5], loss="mse")


def delta_layer(s: Sequence[float], w_next: Sequence[Sequence[float]], delta_next: Sequence[float]) -> Value:
    """One layer l of a tanh network as a graph whose gradients are the deltas.

    o_b(l) = tanh(s_b(l)), s_c(l+1) = sum_b w_cb(l+1) o_b(l), and the root L = sum_c delta_c(l+1)
    s_c(l+1): then dL/ds_c(l+1) = delta_c(l+1) and dL/ds_b(l) = delta_b(l), the recursion's numbers.
    """
    s_l = [Value(v, label=f"s{b + 1}(l)") for b, v in enumerate(s)]
    o_l = [_named(v.tanh(), f"o{b + 1}(l)") for b, v in enumerate(s_l)]
    terms = []
    for c, row in enumerate(w_next):
        s_c: Value | None = None
        for b, (w, o) in enumerate(zip(row, o_l, strict=True)):
            wo = _named(Value(w, label=f"w{c + 1}{b + 1}(l+1)") * o, f"w{c + 1}{b + 1}o{b + 1}")
            s_c = wo if s_c is None else s_c + wo
        assert s_c is not None
        s_c.label = f"s{c + 1}(l+1)"
        terms.append(_named(Value(delta_next[c], label=f"delta{c + 1}(l+1)") * s_c, f"delta{c + 1}s{c + 1}(l+1)"))
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return _named(total, "L")


def bce(z: float, y: float) -> Value:
    """Binary cross-entropy from the logit, as the engine computes it: L = softplus(z) + (-y) z."""
    zv = Value(z, label="z")
    sp = _named(zv.softplus(), "softplus(z)")
    minus_yz = _named(Value(-y, label="-y") * zv, "-yz")
    return _named(sp + minus_yz, "L")


def softmax_ce(z: Sequence[float], target: int) -> Value:
    """Softmax cross-entropy from the logits: L = log sum_k e^(z_k) - z_t (t the target class)."""
    zs = [Value(v, label=f"z{k + 1}") for k, v in enumerate(z)]
    es = [_named(v.exp(), f"e{k + 1}") for k, v in enumerate(zs)]
    total = es[0]
    for k, e in enumerate(es[1:], start=2):
        total = _named(total + e, "S" if k == len(es) else f"e1+..+e{k}")
    log_s = _named(total.log(), "log S")
    return _named(_minus(log_s, zs[target]), "L")


def two_layer() -> Value:
    """Lecture 003: x = [2, 3], y = 1, W1 = [[-0.78, 0.13], [0.85, 0.23]] (rows = inputs), W2 = [1.8, 0.4],
    biases 0; h = x W1 + b1, y_hat = h W2 + b2, r = y_hat - y, L = 1/2 r^2."""
    x = [Value(2.0, label="x1"), Value(3.0, label="x2")]
    w1 = [
        [Value(v, label=f"w1_{i + 1}{j + 1}") for j, v in enumerate(row)]
        for i, row in enumerate([[-0.78, 0.13], [0.85, 0.23]])
    ]
    w2 = [Value(v, label=f"w2_{j + 1}") for j, v in enumerate([1.8, 0.40])]
    b1 = [Value(0.0, label=f"b1_{j + 1}") for j in range(2)]
    h = []
    for j in range(2):
        p1 = _named(x[0] * w1[0][j], f"x1w1_1{j + 1}")
        p2 = _named(x[1] * w1[1][j], f"x2w1_2{j + 1}")
        h.append(_named(_named(p1 + p2, f"xW1_{j + 1}") + b1[j], f"h{j + 1}"))
    q1 = _named(w2[0] * h[0], "w2_1h1")
    q2 = _named(w2[1] * h[1], "w2_2h2")
    y_hat = _named(_named(q1 + q2, "hW2") + Value(0.0, label="b2"), "y_hat")
    r = _named(y_hat + Value(-1.0, label="-y"), "r")
    return _named(0.5 * _named(r**2, "r^2"), "L")


XOR = ((0.0, 0.0, 0.0), (0.0, 1.0, 1.0), (1.0, 0.0, 1.0), (1.0, 1.0, 0.0))
"""The four XOR samples (x1, x2, y); a tuple of tuples, so nothing can change it in place."""


def xor_neuron(w1: float, w2: float, b: float) -> Value:
    """One linear neuron on XOR: y_hat_k = w1 x1 + w2 x2 + b, L = 1/4 sum_k (y_hat_k - y_k)^2."""
    wv1, wv2, bv = Value(w1, label="w1"), Value(w2, label="w2"), Value(b, label="b")
    total: Value | None = None
    for x1, x2, y in XOR:
        tag = f"{x1:.0f}{x2:.0f}"
        xv1, xv2 = Value(x1, label=f"x1[{tag}]"), Value(x2, label=f"x2[{tag}]")
        w1x1, w2x2 = _named(wv1 * xv1, f"w1x1[{tag}]"), _named(wv2 * xv2, f"w2x2[{tag}]")
        y_hat = _named(_named(w1x1 + w2x2, f"w.x[{tag}]") + bv, f"y_hat[{tag}]")
        sq = _named(_named(y_hat + Value(-y, label=f"-y[{tag}]"), f"r[{tag}]") ** 2, f"r[{tag}]^2")
        total = sq if total is None else _named(total + sq, f"sum to [{tag}]")
    assert total is not None
    return _named(0.25 * total, "L")
