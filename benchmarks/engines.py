"""Engine adapters: the same workload code drives every engine through these few methods.

Each adapter makes scalars (`leaf` for trainable ones, `const` for data), applies the chain's
activation, runs backward, and does one SGD update. Workloads never touch engine internals, so
every engine runs literally the same Python loop and pays only for its own arithmetic.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import autograd

from .floors import FloorNode, as_values, eager_order, value_sweep

# Engine keys in table order. "compiled" is chainrule's `autograd.compile` replay; it has no
# adapter of its own because it replays a function traced with the eager engine.
# "floor" is the object-per-node floor (forward) and the given-order sweep (backward), see
# `benchmarks.floors`; "torchvec" is PyTorch's vectorised moons step, a reference column of its own.
ENGINE_KEYS: tuple[str, ...] = ("eager", "compiled", "floor", "micrograd", "torch", "torchvec", "plain")
# Stack frames the benchmark itself has below an engine's backward call, on top of the graph's depth.
RECURSION_MARGIN = 200

ENGINE_TITLES: dict[str, str] = {
    "eager": "chainrule eager",
    "compiled": "chainrule compiled",
    "floor": "floors",
    "micrograd": "micrograd",
    "torch": "PyTorch scalars",
    "torchvec": "PyTorch vectorised",
    "plain": "plain floats",
}


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class Engine:
    """A scalar autodiff engine as the workloads see it."""

    key: str = ""
    activation: str = "tanh"  # the chain's nonlinearity on this engine
    has_backward: bool = True
    available: bool = True
    reason: str = ""  # why the engine is unavailable
    version: str = ""
    # Set per engine to the engine's own function (an unbound method where there is one), so the
    # workloads call exactly what a user of that engine would call.
    act: Callable[[Any], Any]  # the chain's nonlinearity
    relu: Callable[[Any], Any]

    @property
    def title(self) -> str:
        return ENGINE_TITLES[self.key]

    def leaf(self, x: float) -> Any:
        """A trainable scalar (gradients wanted)."""
        raise NotImplementedError

    def const(self, x: float) -> Any:
        """A data scalar (an input of the model; no gradient needed)."""
        return self.leaf(x)

    def backward(self, root: Any) -> None:
        raise NotImplementedError

    def prepare_backward(self, root: Any) -> Callable[[], None]:
        """What the backward timing runs; an engine can do untimed work here (the floor's ordering)."""
        return lambda: self.backward(root)

    def grad(self, v: Any) -> float:
        raise NotImplementedError

    def data(self, v: Any) -> float:
        return float(v.data)

    def zero_grad(self, params: Sequence[Any]) -> None:
        for p in params:
            p.grad = 0.0

    def sgd(self, params: Sequence[Any], lr: float) -> None:
        for p in params:
            p.data -= lr * p.grad

    @contextlib.contextmanager
    def deep_recursion(self, depth: int) -> Iterator[bool]:
        """Make room for a backward pass over a graph `depth` nodes deep; yields False if impossible."""
        yield True


class EagerEngine(Engine):
    """chainrule's `autograd.Value` (eager: every op builds a node, `backward()` walks them)."""

    key = "eager"

    def __init__(self) -> None:
        self.version = _version("chainrule")
        self.act = autograd.Value.tanh
        self.relu = autograd.Value.relu

    def leaf(self, x: float) -> Any:
        return autograd.Value(x)

    def backward(self, root: Any) -> None:
        root.backward()

    def grad(self, v: Any) -> float:
        return float(v.grad)


class MicrogradEngine(Engine):
    """micrograd 0.1.0 from PyPI. It has no tanh, so its chains use relu instead."""

    key = "micrograd"
    activation = "relu"

    def __init__(self) -> None:
        try:
            engine = importlib.import_module("micrograd.engine")
            self.nn = importlib.import_module("micrograd.nn")
        except ImportError as exc:
            self.available = False
            self.reason = f"micrograd not installed ({exc}); pip install 'micrograd==0.1.0'"
            return
        self.version = _version("micrograd")
        self.Value = engine.Value
        self.act = engine.Value.relu
        self.relu = engine.Value.relu

    def leaf(self, x: float) -> Any:
        return self.Value(x)

    def backward(self, root: Any) -> None:
        root.backward()

    def grad(self, v: Any) -> float:
        return float(v.grad)

    def zero_grad(self, params: Sequence[Any]) -> None:
        for p in params:
            p.grad = 0

    @contextlib.contextmanager
    def deep_recursion(self, depth: int) -> Iterator[bool]:
        # micrograd's topological sort recurses once per graph level. From Python 3.11 on, a
        # Python-to-Python call uses no C stack, so raising the limit is safe; on 3.10 a deep
        # recursion could overflow the C stack and crash the whole run, so we decline instead.
        old = sys.getrecursionlimit()
        if depth + RECURSION_MARGIN <= old:
            yield True
            return
        if sys.version_info < (3, 11):
            yield False
            return
        sys.setrecursionlimit(depth + RECURSION_MARGIN)
        try:
            yield True
        finally:
            sys.setrecursionlimit(old)


class TorchEngine(Engine):
    """PyTorch used as a scalar engine: 0-dim float64 tensors with requires_grad."""

    key = "torch"

    def __init__(self) -> None:
        try:
            self.torch = importlib.import_module("torch")
        except ImportError as exc:
            self.available = False
            self.reason = f"torch not installed ({exc})"
            return
        self.version = str(self.torch.__version__)
        self.act = self.torch.Tensor.tanh
        self.relu = self.torch.Tensor.relu

    def leaf(self, x: float) -> Any:
        return self.torch.tensor(x, dtype=self.torch.float64, requires_grad=True)

    def const(self, x: float) -> Any:
        return self.torch.tensor(x, dtype=self.torch.float64)

    def backward(self, root: Any) -> None:
        root.backward()

    def grad(self, v: Any) -> float:
        return 0.0 if v.grad is None else float(v.grad)

    def data(self, v: Any) -> float:
        return float(v.detach())

    def zero_grad(self, params: Sequence[Any]) -> None:
        for p in params:
            p.grad = None  # what torch.optim's zero_grad does by default

    def sgd(self, params: Sequence[Any], lr: float) -> None:
        with self.torch.no_grad():
            for p in params:
                p.sub_(lr * p.grad)


class FloorEngine(Engine):
    """The floors: `FloorNode` for the forward pass; for the backward pass the given-order
    `value_sweep` over the same graph rebuilt as chainrule's nodes (untimed)."""

    key = "floor"

    def __init__(self) -> None:
        self._twins: dict[int, Any] = {}
        self.version = sys.version.split()[0]
        self.act = FloorNode.tanh
        self.relu = FloorNode.relu

    def leaf(self, x: float) -> Any:
        return FloorNode(float(x))

    def backward(self, root: Any) -> None:
        self.prepare_backward(root)()

    def prepare_backward(self, root: Any) -> Callable[[], None]:
        # Untimed: the graph is rebuilt as chainrule's own nodes and the sweep is handed eager's order.
        values, self._twins = as_values(root)
        order = eager_order(values)
        return lambda: value_sweep(order)

    def grad(self, v: Any) -> float:
        """The gradient the last sweep left for the `FloorNode` leaf `v` (on its chainrule twin)."""
        return float(self._twins[id(v)]._grad)


def _plain_relu(x: float) -> float:
    return x if x > 0.0 else 0.0  # noqa: FURB136 -- a conditional is what a hand-written float model uses; max() is slower


class PlainEngine(Engine):
    """Plain Python floats: the forward arithmetic alone, the floor for any Python engine."""

    key = "plain"
    has_backward = False

    def __init__(self) -> None:
        self.version = sys.version.split()[0]
        self.act = math.tanh
        self.relu = _plain_relu

    def leaf(self, x: float) -> Any:
        return float(x)

    def data(self, v: Any) -> float:
        return float(v)


def compile_function() -> tuple[Callable[..., Any] | None, str]:
    """`autograd.compile` if this chainrule has it, else None and the reason."""
    fn = getattr(autograd, "compile", None)
    if fn is None:
        return None, "autograd.compile not available in this chainrule"
    return fn, ""


def make_engines(keys: Sequence[str]) -> dict[str, Engine]:
    """Adapters for the adapter-backed engines among `keys` (all of them, available or not)."""
    factories: dict[str, Callable[[], Engine]] = {
        "eager": EagerEngine,
        "floor": FloorEngine,
        "micrograd": MicrogradEngine,
        "torch": TorchEngine,
        "plain": PlainEngine,
    }
    return {k: factories[k]() for k in keys if k in factories}
