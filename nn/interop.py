"""PyTorch interop for users who outgrow chainrule: `to_torch(mlp)` and `from_torch(sequential)`.

torch is optional and imported only when these are called.
"""

from __future__ import annotations

import math
from typing import Any

from .module import MLP

_HINT = "PyTorch is needed for this; install it with: pip install torch==2.13.0"


def _torch() -> Any:
    try:
        import torch
    except ImportError as e:
        raise ImportError(_HINT) from e
    return torch


def _activation_module(torch: Any, name: str) -> Any | None:
    nn = torch.nn
    # Same defaults as the engine: leaky_relu slope 0.01, elu alpha 1, exact (erf) GELU.
    # torch's Softplus returns x itself for x > 20 (threshold); the engine's differs there by < 2.1e-9.
    table = {
        "tanh": nn.Tanh,
        "relu": nn.ReLU,
        "sigmoid": nn.Sigmoid,
        "leaky_relu": lambda: nn.LeakyReLU(0.01),
        "gelu": lambda: nn.GELU(approximate="none"),
        "softplus": nn.Softplus,
        "elu": lambda: nn.ELU(1.0),
        "none": None,
    }
    make = table[name]
    return None if make is None else make()


def to_torch(model: MLP) -> Any:
    """An equivalent `torch.nn.Sequential` of float64 `Linear` and activation modules with the same weights."""
    if not isinstance(model, MLP):
        raise TypeError(f"to_torch: expected an nn.MLP, got {type(model).__name__}")
    torch = _torch()
    modules = []
    with torch.no_grad():
        for layer in model.layers:
            linear = torch.nn.Linear(layer.nin, layer.nout, bias=layer.bias, dtype=torch.float64)
            linear.weight.copy_(torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64))
            if layer.bias:
                b = [n.b.data for n in layer.neurons if n.b is not None]
                linear.bias.copy_(torch.tensor(b, dtype=torch.float64))
            modules.append(linear)
            act = _activation_module(torch, layer.activation)
            if act is not None:
                modules.append(act)
    return torch.nn.Sequential(*modules)


def _activation_name(torch: Any, module: Any, where: str) -> str:
    """The engine activation equal to a torch activation module, or a clear error."""
    nn = torch.nn
    if isinstance(module, nn.Tanh):
        return "tanh"
    if isinstance(module, nn.ReLU):
        return "relu"
    if isinstance(module, nn.Sigmoid):
        return "sigmoid"
    if isinstance(module, nn.Identity):
        return "none"
    if isinstance(module, nn.LeakyReLU):
        if module.negative_slope != 0.01:
            raise ValueError(
                f"{where}: LeakyReLU needs negative_slope=0.01 (the engine's), got {module.negative_slope}"
            )
        return "leaky_relu"
    if isinstance(module, nn.ELU):
        if module.alpha != 1.0:
            raise ValueError(f"{where}: ELU needs alpha=1.0 (the engine's), got {module.alpha}")
        return "elu"
    if isinstance(module, nn.GELU):
        if module.approximate != "none":
            raise ValueError(f"{where}: GELU needs approximate='none' (exact erf form), got {module.approximate!r}")
        return "gelu"
    if isinstance(module, nn.Softplus):
        if module.beta != 1.0:
            raise ValueError(f"{where}: Softplus needs beta=1, got {module.beta}")
        return "softplus"
    raise TypeError(
        f"{where}: {type(module).__name__} is not supported; use Linear layers each followed by at most one of "
        "Tanh, ReLU, Sigmoid, LeakyReLU, GELU, Softplus, ELU, Identity"
    )


def from_torch(seq: Any) -> MLP:
    """An `nn.MLP` with the weights of a `torch.nn.Sequential` of Linear (+ activation) modules.

    Every Linear has a bias, or none has (bias=False), and may be followed by one activation; hidden layers must share
    one activation (an MLP has one hidden `activation` and an `output_activation`).
    """
    torch = _torch()
    where = "from_torch"
    if not isinstance(seq, torch.nn.Sequential):
        raise TypeError(f"{where}: expected a torch.nn.Sequential, got {type(seq).__name__}")
    linears: list[Any] = []
    acts: list[str | None] = []  # per Linear: its activation, None until one follows it
    for i, module in enumerate(seq):
        at = f"{where}: module {i}"
        if isinstance(module, torch.nn.Linear):
            if linears and (module.bias is None) != (linears[-1].bias is None):
                raise ValueError(f"{at}: some Linear layers have a bias and some do not; an MLP has one bias setting")
            if linears and module.in_features != linears[-1].out_features:
                raise ValueError(
                    f"{at}: Linear takes {module.in_features} inputs but the previous one gives "
                    f"{linears[-1].out_features}"
                )
            linears.append(module)
            acts.append(None)
            continue
        name = _activation_name(torch, module, at)
        if not linears or acts[-1] is not None:
            raise ValueError(f"{at}: an activation must directly follow a Linear (one per Linear)")
        acts[-1] = name
    if not linears:
        raise ValueError(f"{where}: the Sequential has no Linear layers")
    names = [a if a is not None else "none" for a in acts]
    if len(set(names[:-1])) > 1:
        raise ValueError(f"{where}: hidden layers use different activations {names[:-1]}; an MLP has one")
    model = MLP(
        linears[0].in_features,
        [m.out_features for m in linears],
        activation=names[0] if len(names) > 1 else "tanh",
        output_activation=names[-1],
        seed=0,
        bias=linears[0].bias is not None,
    )
    state: dict[str, Any] = {}
    for li, m in enumerate(linears):
        w = m.weight.detach().to(torch.float64).tolist()
        b = None if m.bias is None else m.bias.detach().to(torch.float64).tolist()
        for j in range(m.out_features):
            if not all(math.isfinite(x) for x in w[j]) or (b is not None and not math.isfinite(b[j])):
                raise ValueError(f"{where}: Linear {li} has a non-finite weight or bias in row {j}")
            state[f"layers.{li}.neurons.{j}.w"] = w[j]
            if b is not None:
                state[f"layers.{li}.neurons.{j}.b"] = b[j]
    model.load_state_dict(state)
    return model
