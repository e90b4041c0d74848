"""The lectures' delta recursion (`nn.layer_deltas`) against the engine's `.grad`, and its printing."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nn
from autograd import OPS, FloatMath, Value
from demos.delta import W1, W2, lecture_003_model


def random_model(seed: int, activation: str) -> tuple[nn.MLP, list[float], list[float]]:
    """A random MLP (1 to 4 layers of 1 to 4 units, any output activation), an input and a target."""
    rng = random.Random(seed)
    sizes = [rng.randint(1, 4) for _ in range(rng.randint(1, 4))]
    out_act = rng.choice(nn.ACTIVATIONS)
    model = nn.MLP(3, sizes, activation=activation, output_activation=out_act, init="xavier", seed=seed)
    for p in model.parameters():  # biases too, so that they matter
        p.data = rng.uniform(-1.5, 1.5)
    x = [rng.uniform(-2.0, 2.0) for _ in range(3)]
    y = [rng.uniform(-1.0, 1.0) for _ in range(sizes[-1])]
    return model, x, y


def engine(model: nn.MLP, x: list[float], y: list[float], loss: str) -> float:
    model.zero_grad()
    value = nn.mse_loss(model(x), y)
    if loss == "half_mse":
        value = 0.5 * value
    value.backward()
    return value.data


@pytest.mark.parametrize("activation", nn.ACTIVATIONS)
@pytest.mark.parametrize("loss", nn.viz.LOSSES)
@given(seed=st.integers(0, 10**6))
def test_deltas_equal_the_engines_grad_bit_for_bit(activation: str, loss: str, seed: int) -> None:
    model, x, y = random_model(seed, activation)
    result = nn.layer_deltas(model, x, y, loss=loss)
    assert result.loss == engine(model, x, y, loss)
    assert len(result.layers) == len(model.layers)
    for ld, layer in zip(result.layers, model.layers):
        assert [list(row) for row in ld.G] == [[w.grad for w in n.w] for n in layer.neurons]
        assert list(ld.bias_grad) == [n.b.grad for n in layer.neurons]
        assert ld.bias_grad == ld.delta


@pytest.mark.parametrize("activation", nn.ACTIVATIONS)
def test_the_recursion_holds_between_layers_with_the_op_tables_derivative(activation: str) -> None:
    model = nn.MLP(3, [4, 3, 2], activation=activation, seed=3)
    result = nn.layer_deltas(model, [0.3, -1.2, 0.8], [0.5, -0.5])
    for ld in result.layers:
        if ld.activation == "none":
            assert ld.o == ld.s and set(ld.dtheta) == {1.0}
            continue
        op = OPS[ld.activation]
        params = op.bind({})
        for s, o, d in zip(ld.s, ld.o, ld.dtheta):
            assert o == op.forward(s, **(params or {}))
            assert d == op.local((s,), o, params, FloatMath)[0]
        assert ld.delta == tuple(u * d for u, d in zip(ld.upstream, ld.dtheta))
    for lower, upper in zip(result.layers, result.layers[1:]):  # d loss/d o(l) = W(l+1)^T delta(l+1)
        for b, up in enumerate(lower.upstream):
            assert math.isclose(up, math.fsum(dc * row[b] for dc, row in zip(upper.delta, upper.W)), rel_tol=1e-12)
        for b, row in enumerate(lower.G):  # G(l) = delta(l) o(l-1)^T
            assert row == tuple(lower.delta[b] * oa for oa in _prev(result, lower))


def _prev(result: nn.LayerDeltas, ld: nn.LayerDelta) -> tuple[float, ...]:
    return result.x if ld.layer == 1 else result.layers[ld.layer - 2].o


def test_lecture_001_tanh_network_with_squared_error() -> None:
    model = nn.MLP(2, [3, 2, 1], activation="tanh", seed=0)
    result = nn.layer_deltas(model, [0.5, -1.0], 0.2)  # a single output may take a number
    top = result.layers[-1]
    assert top.delta == (2.0 * (top.o[0] - 0.2),)  # delta(L) = 2 (o - y), theta(z) = z
    assert result.loss == (top.o[0] - 0.2) ** 2  # K = 1: nn.mse_loss is the lecture's (o - y)^2
    for ld in result.layers[:-1]:
        assert ld.dtheta == tuple(1.0 - o * o for o in ld.o)  # tanh' = 1 - o^2


def test_lecture_003_to_the_printed_digit() -> None:
    result = nn.layer_deltas(lecture_003_model(), [2, 3], [1], loss="half_mse")
    hidden, out = result.layers
    assert f"{out.o[0]:.3f}" == "2.162"
    err = out.o[0] - 1.0
    assert math.isclose(result.loss, 0.5 * 1.162**2, rel_tol=1e-12)
    assert [round(g, 6) for g in out.G[0]] == [1.15038, 1.1039]  # (y_hat - y) x W1
    assert [round(g, 6) for g in out.bias_grad] == [1.162]
    assert [[round(g, 6) for g in row] for row in hidden.G] == [[4.1832, 6.2748], [0.9296, 1.3944]]
    assert [round(g, 6) for g in hidden.bias_grad] == [2.0916, 0.4648]  # (y_hat - y) W2
    for j in range(2):  # the slide's formulas, W1[i][j] from input i to hidden unit j
        assert hidden.W[j] == (W1[0][j], W1[1][j])
        for i, x in enumerate((2.0, 3.0)):
            assert math.isclose(hidden.G[j][i], err * W2[j] * x, rel_tol=1e-12)


LECTURE_003_TEXT = """\
forward, o(0) = x = [2.0, 3.0]
  s(1) = W(1) o(0) + b(1) = [0.99, 0.95]
  o(1) = s(1) = [0.99, 0.95]
  s(2) = W(2) o(1) + b(2) = [2.162]
  o(2) = s(2) = [2.162]
loss = (1/2K) sum_k (o_k - y_k)^2, half of nn.mse_loss = 0.675122   (y = [1.0], K = 1)
backward, delta(l) = d loss / d s(l):
  d loss/d o(2) = (1/K)(o(2) - y) = [1.162]
  theta'(s(2)) = 1 (no activation: o = s) = [1.0]
  delta(2) = d loss/d o(2) * theta'(s(2)) = [1.162]
  G(2) = delta(2) o(1)^T = [[1.15038, 1.1039]]
  d loss/d b(2) = delta(2) = [1.162]
  d loss/d o(1) = W(2)^T delta(2) = [2.0916, 0.4648]
  theta'(s(1)) = 1 (no activation: o = s) = [1.0, 1.0]
  delta(1) = d loss/d o(1) * theta'(s(1)) = [2.0916, 0.4648]
  G(1) = delta(1) o(0)^T = [[4.1832, 6.2748], [0.9296, 1.3944]]
  d loss/d b(1) = delta(1) = [2.0916, 0.4648]"""


def test_printing_uses_the_lectures_notation() -> None:
    assert str(nn.layer_deltas(lecture_003_model(), [2, 3], [1], loss="half_mse")) == LECTURE_003_TEXT
    text = str(nn.layer_deltas(nn.MLP(2, [2, 2, 1], activation="tanh", seed=1), [1, 1], [0]))
    assert "loss = (1/K) sum_k (o_k - y_k)^2, as nn.mse_loss" in text
    assert "d loss/d o(3) = (2/K)(o(3) - y)" in text
    assert "theta'(s(2)) = tanh'(s(2)) = 1 - o(2)^2" in text
    assert "d loss/d o(1) = W(2)^T delta(2)" in text
    for act, shown in [("sigmoid", "o(1) (1 - o(1))"), ("relu", "1[s(1) > 0]"), ("gelu", "gelu'(s(1)) = [")]:
        assert shown in str(nn.layer_deltas(nn.MLP(1, [2, 1], activation=act, seed=0), [0.3], [1.0]))


def test_a_layer_alone_and_values_as_inputs_are_accepted() -> None:
    layer = nn.Layer(2, 2, activation="sigmoid", rng=random.Random(0))
    result = nn.layer_deltas(layer, [Value(0.5), 1], [Value(0.0), 1.0])
    loss = nn.mse_loss(layer([0.5, 1.0]), [0.0, 1.0])
    loss.backward()
    assert [list(r) for r in result.layers[0].G] == [[w.grad for w in n.w] for n in layer.neurons]


def test_no_graph_is_built_and_no_grad_changes() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    for p in model.parameters():
        p.grad = 0.25
    nn.layer_deltas(model, [1.0, 2.0], [0.0])
    assert {p.grad for p in model.parameters()} == {0.25}


def test_bad_arguments_are_named() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    with pytest.raises(TypeError, match="layer_deltas: model must be an nn.MLP or nn.Layer, got Neuron"):
        nn.layer_deltas(nn.Neuron(2), [1.0, 2.0], [0.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="loss must be one of 'mse', 'half_mse', got 'mae'"):
        nn.layer_deltas(model, [1.0, 2.0], [0.0], loss="mae")
    with pytest.raises(ValueError, match="the model takes 2 inputs, x has 3"):
        nn.layer_deltas(model, [1.0, 2.0, 3.0], [0.0])
    with pytest.raises(ValueError, match="the model has 1 outputs, target has 2"):
        nn.layer_deltas(model, [1.0, 2.0], [0.0, 1.0])
    with pytest.raises(TypeError, match=r"x\[1\] must be a finite real number, got nan"):
        nn.layer_deltas(model, [1.0, float("nan")], [0.0])
    with pytest.raises(TypeError, match="target must be a list of numbers, got str"):
        nn.layer_deltas(model, [1.0, 2.0], "0")
    with pytest.raises(TypeError, match=r"x\[0\] must be a finite real number, got True"):
        nn.layer_deltas(model, [True, 2.0], [0.0])
