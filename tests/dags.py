"""Random expression DAGs for the tests: a recipe is a list of steps, and step k makes node k from
earlier nodes, so a node can be used many times (fan-out). Every op keeps values bounded, so
central differences stay accurate, and domain-restricted ops get arguments made positive or
nonzero by construction. The same recipe runs on Values or on torch tensors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from autograd import Value


def _torch_f() -> Any:
    import torch.nn.functional

    return torch.nn.functional


UNARY: dict[str, Callable[[Any], Any]] = {
    "tanh": lambda x: x.tanh(),
    "sin": lambda x: x.sin(),
    "cos": lambda x: x.cos(),
    "sigmoid": lambda x: x.sigmoid(),
    "softplus": lambda x: x.softplus() if isinstance(x, Value) else _torch_f().softplus(x),
    "gelu": lambda x: x.gelu() if isinstance(x, Value) else _torch_f().gelu(x),
    "erf": lambda x: x.erf(),
    "relu": lambda x: x.relu(),
    "abs": lambda x: abs(x),
    "leaky_relu": lambda x: x.leaky_relu(0.2) if isinstance(x, Value) else _torch_f().leaky_relu(x, 0.2),
    "elu": lambda x: x.elu(0.7) if isinstance(x, Value) else _torch_f().elu(x, 0.7),
    "exp": lambda x: (x.tanh() * 2).exp(),
    "log": lambda x: (x * x + 0.5).log(),
    "sqrt": lambda x: (x * x + 0.25).sqrt(),
    "square": lambda x: x**2,
    "cube": lambda x: x.tanh() ** 3,
    "recip": lambda x: 1 / (x * x + 1),
    "neg": lambda x: -x,
}
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x.tanh() * y,
    "/": lambda x, y: x / (y * y + 1),
    "**": lambda x, y: (x * x + 0.5) ** y.tanh(),
}
KINKED = {"relu", "abs", "leaky_relu", "elu"}  # no derivative at 0: central differences would straddle it

Recipe = list[tuple[str, int, int]]


@st.composite
def recipes(draw: st.DrawFn, n_inputs: int = 3, max_steps: int = 20, smooth: bool = False) -> Recipe:
    """A recipe over `n_inputs` inputs; `smooth` leaves out the ops with a kink."""
    steps: Recipe = []
    names = sorted(set(UNARY) - (KINKED if smooth else set())) + sorted(BINARY)
    for k in range(draw(st.integers(1, max_steps))):
        name = draw(st.sampled_from(names))
        i = draw(st.integers(0, n_inputs + k - 1))
        j = draw(st.integers(0, n_inputs + k - 1))  # may equal i: x op x
        steps.append((name, i, j))
    return steps


def nodes_of(recipe: Recipe, inputs: list[Any]) -> list[Any]:
    """Run the recipe: the inputs followed by one node per step."""
    nodes = list(inputs)
    for name, i, j in recipe:
        nodes.append(UNARY[name](nodes[i]) if name in UNARY else BINARY[name](nodes[i], nodes[j]))
    return nodes
