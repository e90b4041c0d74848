"""PyTorch interop: to_torch/from_torch give equal outputs and gradients; unsupported layers are refused."""

from __future__ import annotations

import sys
from typing import Any

import pytest

import nn
from nn.interop import from_torch, to_torch

TORCH_REASON = "torch is not installed; the interop tests need it"
X = [[0.5, -1.0, 0.25], [1.5, 0.0, -0.5], [-0.3, 0.8, 1.2]]


def torch_or_skip() -> Any:
    return pytest.importorskip("torch", reason=TORCH_REASON)


@pytest.mark.parametrize(
    ("activation", "output_activation"),
    [
        ("tanh", None),
        ("relu", "sigmoid"),
        ("leaky_relu", "tanh"),
        ("gelu", "elu"),
        ("softplus", "none"),
        ("elu", "relu"),
    ],
)
def test_to_torch_equal_outputs_and_gradients(activation: str, output_activation: str | None) -> None:
    torch = torch_or_skip()
    model = nn.MLP(3, [4, 4, 2], activation=activation, output_activation=output_activation, seed=11)
    seq = model.to_torch()
    assert isinstance(seq, torch.nn.Sequential)
    assert all(p.dtype == torch.float64 for p in seq.parameters())
    assert sum(p.numel() for p in seq.parameters()) == len(model.parameters())
    # the same loss on both sides: sum over samples of (out0 - 2 out1)
    loss = None
    for x in X:
        out = model(x)
        term = out[0] - 2 * out[1]
        loss = term if loss is None else loss + term
    assert loss is not None
    model.zero_grad()
    loss.backward()
    t_out = seq(torch.tensor(X, dtype=torch.float64))
    t_loss = (t_out[:, 0] - 2 * t_out[:, 1]).sum()
    t_loss.backward()
    assert loss.data == pytest.approx(t_loss.item(), rel=1e-12, abs=1e-12)
    assert [[o.data for o in model(x)] for x in X] == [pytest.approx(r, rel=1e-12, abs=1e-12) for r in t_out.tolist()]
    linears = [m for m in seq if isinstance(m, torch.nn.Linear)]
    for layer, lin in zip(model.layers, linears):
        for j, n in enumerate(layer.neurons):
            assert [w.grad for w in n.w] == pytest.approx(lin.weight.grad[j].tolist(), rel=1e-10, abs=1e-12)
            assert n.b.grad == pytest.approx(lin.bias.grad[j].item(), rel=1e-10, abs=1e-12)


def test_from_torch_round_trip_and_reverse_direction() -> None:
    torch = torch_or_skip()
    torch.manual_seed(0)
    seq = torch.nn.Sequential(
        torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2)
    ).double()
    model = nn.MLP.from_torch(seq)
    assert model.config() == {
        "type": "MLP",
        "nin": 3,
        "nouts": [5, 5, 2],
        "activation": "relu",
        "output_activation": "none",
        "init": "uniform",
    }
    with torch.no_grad():
        ref = seq(torch.tensor(X, dtype=torch.float64)).tolist()
    assert [[o.data for o in model(x)] for x in X] == [pytest.approx(r, rel=1e-12, abs=1e-12) for r in ref]
    back = to_torch(model)
    for a, b in zip(seq.parameters(), back.parameters()):
        assert torch.equal(a, b)  # float64 -> float -> float64 is exact


def test_from_torch_float32_and_identity_output() -> None:
    torch = torch_or_skip()
    torch.manual_seed(1)
    seq = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1), torch.nn.Identity())
    model = from_torch(seq)
    assert [layer.activation for layer in model.layers] == ["tanh", "none"]
    assert model.layers[0].neurons[1].w[0].data == seq[0].weight[1, 0].item()  # float32 widened exactly
    single = from_torch(torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.Sigmoid()))
    assert [layer.activation for layer in single.layers] == ["sigmoid"]


def bad_sequences(torch: Any) -> list[tuple[object, type[Exception], str]]:
    L, tnn = torch.nn.Linear, torch.nn
    return [
        (L(2, 3), TypeError, "expected a torch.nn.Sequential"),
        (tnn.Sequential(), ValueError, "has no Linear layers"),
        (tnn.Sequential(L(2, 3), tnn.Dropout(0.5), L(3, 1)), TypeError, "module 1: Dropout is not supported"),
        (tnn.Sequential(L(2, 3), L(3, 1, bias=False)), ValueError, "some Linear layers have a bias and some do not"),
        (tnn.Sequential(L(2, 3), L(4, 1)), ValueError, "Linear takes 4 inputs but the previous one gives 3"),
        (tnn.Sequential(tnn.ReLU(), L(2, 1)), ValueError, "module 0: an activation must directly follow a Linear"),
        (tnn.Sequential(L(2, 3), tnn.ReLU(), tnn.Tanh()), ValueError, "module 2: an activation must directly follow"),
        (tnn.Sequential(L(2, 3), tnn.ReLU(), L(3, 3), tnn.Tanh(), L(3, 1)), ValueError, "different activations"),
        (tnn.Sequential(L(2, 3), tnn.LeakyReLU(0.2)), ValueError, "negative_slope=0.01"),
        (tnn.Sequential(L(2, 3), tnn.GELU(approximate="tanh")), ValueError, "approximate='none'"),
        (tnn.Sequential(L(2, 3), tnn.Softplus(beta=2.0)), ValueError, "Softplus needs beta=1"),
        (tnn.Sequential(L(2, 3), tnn.ELU(alpha=0.5)), ValueError, "ELU needs alpha=1.0"),
        (tnn.Sequential(tnn.Sequential(L(2, 1))), TypeError, "Sequential is not supported"),
    ]


def test_from_torch_rejects_unsupported_sequences() -> None:
    torch = torch_or_skip()
    for seq, error, match in bad_sequences(torch):
        with pytest.raises(error, match=match):
            from_torch(seq)
    seq = torch.nn.Sequential(torch.nn.Linear(2, 1))
    with torch.no_grad():
        seq[0].weight[0, 1] = float("nan")
    with pytest.raises(ValueError, match="non-finite weight or bias in row 0"):
        from_torch(seq)


def test_to_torch_rejects_non_mlp() -> None:
    torch_or_skip()
    with pytest.raises(TypeError, match="to_torch: expected an nn.MLP, got Layer"):
        to_torch(nn.Layer(2, 1))  # type: ignore[arg-type]


def test_missing_torch_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` raise ImportError
    with pytest.raises(ImportError, match=r"pip install torch==2\.13\.0"):
        nn.MLP(2, [1], seed=0).to_torch()
    with pytest.raises(ImportError, match=r"pip install torch==2\.13\.0"):
        nn.MLP.from_torch(object())
