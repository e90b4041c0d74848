"""Modules: `Module`, `Neuron`, `Layer`, `MLP` — parameters, names, state dicts and JSON files.

A module lists its own parameters in `local_parameters()` and its submodules in `named_children()`;
names, `parameters()`, `state_dict()` and `save`/`load` all follow from those two lists. There is
no attribute magic: nothing is discovered by scanning `__dict__`.

State dict layout: one entry per parameter *vector*, keyed like `named_parameters()` without the
trailing element index. A neuron's weights are one list (`"layers.0.neurons.1.w": [0.5, -0.2]`)
and its bias one float (`"layers.0.neurons.1.b": 0.1`), so a wrong-size entry is detectable.

File format (`save`/`load`), JSON:

    {"format": "chainrule-model", "version": 1,
     "model": {"type": "MLP", "nin": 2, "nouts": [4, 1], "activation": "tanh",
               "output_activation": "none", "init": "uniform"},
     "state_dict": {"layers.0.neurons.0.w": [0.1, -0.3], "layers.0.neurons.0.b": 0.0, ...}}
"""

from __future__ import annotations

import json
import math
import numbers
import operator
import os
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from autograd import Value
from autograd.files import atomic_write_text

Entry = Value | list[Value]
"""A parameter entry: one scalar Value (a bias) or a vector of Values (a neuron's weights)."""

FORMAT = "chainrule-model"
VERSION = 1

# Activation name -> function on a Value (None: identity). Defaults: leaky_relu slope 0.01, elu alpha 1.
_ACTIVATIONS: dict[str, Callable[[Value], Value] | None] = {
    "tanh": Value.tanh,
    "relu": Value.relu,
    "sigmoid": Value.sigmoid,
    "leaky_relu": Value.leaky_relu,
    "gelu": Value.gelu,
    "softplus": Value.softplus,
    "elu": Value.elu,
    "none": None,
}
ACTIVATIONS: tuple[str, ...] = tuple(_ACTIVATIONS)
"""The activation names a Neuron, Layer or MLP accepts."""

INITS: tuple[str, ...] = ("uniform", "xavier", "he")
"""The weight init schemes: U(-1, 1) as in micrograd, Xavier/Glorot uniform, He (Kaiming) normal."""


# ---- argument checks (construction time only; forward passes stay lean) --------------------------
def _check_size(x: object, what: str, where: str) -> int:
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{where}: {what} must be an int, got {type(x).__name__} {x!r}")
    n = int(x)
    if n < 1:
        raise ValueError(f"{where}: {what} must be >= 1, got {n!r}")
    return n


def _check_name(name: object, kind: str, choices: Sequence[str], where: str) -> str:
    """An activation or init name: a str, one of `choices`."""
    if not isinstance(name, str):
        raise TypeError(f"{where}: {kind} must be a str, got {type(name).__name__} {name!r}")
    if name not in choices:
        raise ValueError(f"{where}: unknown {kind} {name!r}; choose one of {', '.join(choices)}")
    return name


def _check_activation(name: object, where: str) -> str:
    return _check_name(name, "activation", ACTIVATIONS, where)


def _check_init(name: object, where: str) -> str:
    return _check_name(name, "init", INITS, where)


def _check_rng(rng: object, where: str) -> random.Random:
    if rng is None:
        return random.Random()
    if not isinstance(rng, random.Random):
        raise TypeError(f"{where}: rng must be a random.Random or None, got {type(rng).__name__} {rng!r}")
    return rng


def _finite(x: object, where: str) -> float:
    """A real, finite, non-bool number as a float (for state dicts and files)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{where}: expected a real number, got {type(x).__name__} {x!r}")
    try:
        f = float(x)
    except OverflowError:
        raise ValueError(f"{where}: expected a finite number, got {x!r}") from None
    if not math.isfinite(f):
        raise ValueError(f"{where}: expected a finite number, got {x!r}")
    return f


def _length(x: object, where: str) -> int:
    try:
        return len(x)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(
            f"{where}: input must be a sequence of numbers or Values, got {type(x).__name__} {x!r}"
        ) from None


def _leaves(x: Sequence[Any], where: str) -> list[Value]:
    """Inputs as Values: each plain number becomes ONE leaf shared by every neuron that reads it
    (instead of a fresh leaf per multiplication), so the graph is smaller and shows the real fan-out."""
    try:
        return [v if type(v) is Value else (v if isinstance(v, Value) else Value(v)) for v in x]
    except (TypeError, ValueError) as e:  # a non-number or NaN input: say where it went in
        raise type(e)(f"{where}: bad input: {e}") from None


# ---- Module --------------------------------------------------------------------------------------
class Module:
    """Base class: parameters, names, gradients, state dicts and JSON files.

    A subclass overrides `local_parameters()` (its own parameters, as (name, Value or list of Values)),
    `named_children()` (its submodules, as (name, module)), `forward()`, and `config()` (the
    constructor arguments that rebuild it, stored in saved files).
    """

    def local_parameters(self) -> list[tuple[str, Entry]]:
        """This module's own parameter entries (not its children's), in a fixed order."""
        return []

    def named_children(self) -> list[tuple[str, Module]]:
        """This module's direct submodules with their names, in a fixed order."""
        return []

    def forward(self, x: Sequence[Any]) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def __call__(self, x: Sequence[Any]) -> Any:
        return self.forward(x)

    def config(self) -> dict[str, Any]:
        """The architecture as plain JSON data (saved in file headers)."""
        return {"type": type(self).__name__}

    # ---- names and parameters ----
    def named_entries(self) -> list[tuple[str, Entry]]:
        """Every parameter entry in the module tree with its full dotted name (the state dict's keys)."""
        out: list[tuple[str, Entry]] = []
        stack: list[tuple[str, Module]] = [("", self)]
        while stack:  # iterative pre-order walk; children pushed reversed to keep their order
            prefix, mod = stack.pop()
            for name, entry in mod.local_parameters():
                out.append((prefix + name, entry))
            stack.extend((prefix + name + ".", child) for name, child in reversed(mod.named_children()))
        return out

    def named_parameters(self) -> list[tuple[str, Value]]:
        """Every parameter with a stable name such as `layers.0.neurons.1.w.0` or `layers.0.neurons.1.b`."""
        out: list[tuple[str, Value]] = []
        for name, entry in self.named_entries():
            if isinstance(entry, Value):
                out.append((name, entry))
            else:
                out.extend((f"{name}.{i}", v) for i, v in enumerate(entry))
        return out

    def parameters(self) -> list[Value]:
        """Every parameter (a leaf Value), in the order of `named_parameters()`."""
        out: list[Value] = []
        for _, entry in self.named_entries():
            if isinstance(entry, Value):
                out.append(entry)
            else:
                out.extend(entry)
        return out

    def zero_grad(self) -> None:
        """Set every parameter's `.grad` to 0."""
        for p in self.parameters():
            p.grad = 0.0

    def _label_parameters(self) -> None:
        # Labels equal to the names make drawn graphs readable.
        for name, p in self.named_parameters():
            p.label = name

    # ---- state dicts ----
    def state_dict(self) -> dict[str, float | list[float]]:
        """A copy of the parameter values: entry name -> float (bias) or list of floats (weights)."""
        return {
            name: entry.data if isinstance(entry, Value) else [v.data for v in entry]
            for name, entry in self.named_entries()
        }

    def _plan_load(self, state: object, where: str) -> list[tuple[Entry, Any]]:
        """Check a whole state dict against this model; return what to assign. Changes nothing."""
        if not isinstance(state, Mapping):
            raise TypeError(f"{where}: state dict must be a dict, got {type(state).__name__}")
        entries = self.named_entries()
        names = [name for name, _ in entries]
        known = set(names)
        missing = [n for n in names if n not in state]
        unexpected = [repr(k) for k in state if k not in known]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append("missing keys: " + ", ".join(missing))
            if unexpected:
                parts.append("unexpected keys: " + ", ".join(unexpected))
            raise ValueError(f"{where}: state dict does not match the model ({'; '.join(parts)})")
        plan: list[tuple[Entry, Any]] = []
        for name, entry in entries:
            value = state[name]
            if isinstance(entry, Value):
                plan.append((entry, _finite(value, f"{where}: entry {name!r}")))
                continue
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                raise TypeError(
                    f"{where}: entry {name!r} must be a list of {len(entry)} numbers, got {type(value).__name__}"
                )
            if len(value) != len(entry):
                raise ValueError(f"{where}: entry {name!r} has {len(value)} numbers, the model needs {len(entry)}")
            plan.append((entry, [_finite(x, f"{where}: entry {name!r}[{i}]") for i, x in enumerate(value)]))
        return plan

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Copy values from a state dict (strict: same keys and sizes, finite real numbers).

        Everything is checked before anything changes, so on error the model is as it was.
        """
        _apply(self._plan_load(state, f"{type(self).__name__}.load_state_dict"))

    # ---- files ----
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the architecture and parameters to `path` as JSON, atomically (temp file, then replace)."""
        doc = {"format": FORMAT, "version": VERSION, "model": self.config(), "state_dict": self.state_dict()}
        text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
        atomic_write_text(_check_path(path, f"{type(self).__name__}.save"), text)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Read parameters saved by `save()`. The file is fully checked before the model changes."""
        where = f"{type(self).__name__}.load"
        mine = self.config()
        config, state = _read_model_file(path, where, mine.get("type"))
        # init only decides starting values, which the file replaces; everything else must match.
        theirs = {k: v for k, v in config.items() if k != "init"}
        ours = {k: v for k, v in mine.items() if k != "init"}
        if theirs != ours:
            raise ValueError(
                f"{where}: {os.fspath(path)!r} holds {_describe(config)}, but this model is {_describe(mine)}"
            )
        _apply(_plan_from_file(self, state, f"{where}: {os.fspath(path)!r}"))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.parameters())} parameters)"


def _apply(plan: list[tuple[Entry, Any]]) -> None:
    """Assign checked values (see `Module._plan_load`); cannot fail."""
    for entry, value in plan:
        if isinstance(entry, Value):
            entry.data = value
        else:
            for v, x in zip(entry, value, strict=True):  # sizes checked by _plan_load
                v.data = x


def _plan_from_file(model: Module, state: object, where: str) -> list[tuple[Entry, Any]]:
    try:
        return model._plan_load(state, where)
    except TypeError as e:  # a wrong type inside a file is a bad file: one error type for callers
        raise ValueError(str(e)) from None


def _describe(config: Mapping[str, Any]) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in config.items() if k != "type")
    return f"{config.get('type', '?')}({args})"


def _check_path(path: object, where: str) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{where}: path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    p = os.fspath(path)
    if not isinstance(p, str):  # a PathLike of bytes
        raise TypeError(f"{where}: path must be a str or os.PathLike of str, got {type(path).__name__} {path!r}")
    return p


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name} is not allowed")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _read_model_file(
    path: str | os.PathLike[str], where: str, custom_type: object = None
) -> tuple[dict[str, Any], Any]:
    """Parse and check a model file's header; return (validated config, raw state dict).

    A header of a user-defined Module subclass (`custom_type`) is only checked to be an object here;
    the caller compares it with the model's own `config()`.
    """
    p = _check_path(path, where)
    with open(p, "rb") as f:
        raw = f.read()
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError is a ValueError
        raise ValueError(f"{where}: {p!r} is not a valid model file: {e}") from None
    except RecursionError:  # json's decoder recurses once per level of [ or {
        raise ValueError(f"{where}: {p!r} is not a valid model file: it is nested too deeply") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: {p!r} is not a model file (top level is {type(doc).__name__}, not an object)")  # noqa: TRY004 (a bad file is a ValueError)
    expected = {"format", "version", "model", "state_dict"}
    if set(doc) != expected:
        raise ValueError(f"{where}: {p!r} must have exactly the keys {sorted(expected)}, got {sorted(doc)}")
    if doc["format"] != FORMAT:
        raise ValueError(f"{where}: {p!r} has format {doc['format']!r}, expected {FORMAT!r}")
    if type(doc["version"]) is not int or doc["version"] != VERSION:
        raise ValueError(f"{where}: {p!r} has version {doc['version']!r}; this chainrule reads version {VERSION}")
    config = doc["model"]
    if custom_type in _CONFIG_FIELDS or not isinstance(config, dict) or config.get("type") != custom_type:
        config = _check_config(config, f"{where}: {p!r}")
    return config, doc["state_dict"]


def _check_config(config: object, where: str) -> dict[str, Any]:
    """Validate a saved architecture header fully (types, sizes, names)."""
    if not isinstance(config, dict):
        raise ValueError(f"{where}: 'model' must be an object, got {type(config).__name__}")  # noqa: TRY004
    kind = config.get("type")
    fields = _CONFIG_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise ValueError(f"{where}: unknown model type {kind!r}; expected one of {', '.join(_CONFIG_FIELDS)}")
    if set(config) != {"type", *fields}:
        raise ValueError(f"{where}: {kind} header must have the keys {sorted(['type', *fields])}, got {sorted(config)}")
    try:
        for key in fields:
            value = config[key]
            if key in ("nin", "nout"):
                _check_size(value, key, where)
            elif key == "nouts":
                if not isinstance(value, list) or not value:
                    raise ValueError(f"{where}: nouts must be a non-empty list of ints, got {value!r}")
                for n in value:
                    _check_size(n, "each of nouts", where)
            elif key in ("activation", "output_activation"):
                _check_activation(value, where)
            elif key == "init":
                _check_init(value, where)
    except TypeError as e:  # a file with a wrong type is a bad file: report it as one
        raise ValueError(str(e)) from None
    return config


_CONFIG_FIELDS: dict[str, tuple[str, ...]] = {
    "Neuron": ("nin", "activation", "init"),
    "Layer": ("nin", "nout", "activation", "init"),
    "MLP": ("nin", "nouts", "activation", "output_activation", "init"),
}


def _check_count(config: dict[str, Any], state: object, where: str) -> None:
    """Refuse a header asking for far more parameters than the file holds numbers, before building
    the model: otherwise a small file claiming nin = 10**9 would allocate a billion weights. Smaller
    mismatches are left to the strict state-dict check, whose message names each key."""
    nouts = config["nouts"] if config["type"] == "MLP" else [config.get("nout", 1)]
    sizes = [config["nin"], *nouts]
    needed = sum((sizes[i] + 1) * sizes[i + 1] for i in range(len(sizes) - 1))
    held = 0
    if isinstance(state, Mapping):
        for value in state.values():
            held += len(value) if isinstance(value, list) else 1
    # The model built is at most about twice the numbers read, so memory stays in proportion to the file.
    if needed > 2 * held + 1000:
        raise ValueError(
            f"{where}: the header describes {_describe(config)} with {needed} parameters, "
            f"but the state dict holds {held} numbers"
        )


def load_model(path: str | os.PathLike[str]) -> Module:
    """Rebuild the Neuron, Layer or MLP saved in `path` (architecture from the header, then its weights)."""
    config, state = _read_model_file(path, "load_model")
    _check_count(config, state, f"load_model: {os.fspath(path)!r}")
    args = {k: v for k, v in config.items() if k != "type"}
    model: Module
    if config["type"] == "Neuron":
        model = Neuron(**args, rng=random.Random(0))
    elif config["type"] == "Layer":
        model = Layer(**args, rng=random.Random(0))
    else:
        model = MLP(**args, seed=0)
    _apply(_plan_from_file(model, state, f"load_model: {os.fspath(path)!r}"))
    return model


# ---- Neuron, Layer, MLP --------------------------------------------------------------------------
def _init_weights(nin: int, fan_out: int, init: str, rng: random.Random) -> list[float]:
    if init == "uniform":  # micrograd's
        return [rng.uniform(-1.0, 1.0) for _ in range(nin)]
    if init == "xavier":  # Glorot & Bengio 2010: U(-a, a), a = sqrt(6 / (fan_in + fan_out))
        a = math.sqrt(6.0 / (nin + fan_out))
        return [rng.uniform(-a, a) for _ in range(nin)]
    std = math.sqrt(2.0 / nin)  # He et al. 2015: N(0, 2 / fan_in), for ReLU layers
    return [rng.normalvariate(0.0, std) for _ in range(nin)]


class Neuron(Module):
    """One unit: activation(w . x + b), with `nin` weights `w` and a bias `b` (initialised to 0).

    `fan_out` (the width of the layer it belongs to) only matters for Xavier init.
    """

    def __init__(
        self,
        nin: int,
        activation: str = "tanh",
        init: str = "uniform",
        rng: random.Random | None = None,
        *,
        fan_out: int = 1,
    ) -> None:
        self.nin = _check_size(nin, "nin", "Neuron")
        self.activation = _check_activation(activation, "Neuron")
        self.init = _check_init(init, "Neuron")
        fan_out = _check_size(fan_out, "fan_out", "Neuron")
        self.w = [Value(x) for x in _init_weights(self.nin, fan_out, self.init, _check_rng(rng, "Neuron"))]
        self.b = Value(0.0)
        self._act = _ACTIVATIONS[self.activation]
        self._label_parameters()

    def local_parameters(self) -> list[tuple[str, Entry]]:
        return [("w", self.w), ("b", self.b)]

    def _forward(self, x: Sequence[Any]) -> Value:
        # b + w0 x0 + w1 x1 + ...: a plain chain of engine ops, summed by the C loop in sum().
        act = sum(map(operator.mul, self.w, x), self.b)
        f = self._act
        return act if f is None else f(act)

    def forward(self, x: Sequence[Any]) -> Value:
        """The neuron's output for inputs `x` (numbers or Values, length nin): one Value."""
        if _length(x, "Neuron") != self.nin:
            raise ValueError(f"Neuron: expected {self.nin} inputs, got {len(x)}")
        return self._forward(_leaves(x, "Neuron"))

    def config(self) -> dict[str, Any]:
        return {"type": "Neuron", "nin": self.nin, "activation": self.activation, "init": self.init}

    def __repr__(self) -> str:
        return f"Neuron(nin={self.nin}, activation={self.activation!r}, {self.nin + 1} parameters)"


class Layer(Module):
    """`nout` neurons sharing the same inputs. Calling it ALWAYS returns a list (also for nout = 1)."""

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "tanh",
        init: str = "uniform",
        rng: random.Random | None = None,
    ) -> None:
        self.nin = _check_size(nin, "nin", "Layer")
        self.nout = _check_size(nout, "nout", "Layer")
        self.activation = _check_activation(activation, "Layer")
        self.init = _check_init(init, "Layer")
        r = _check_rng(rng, "Layer")
        self.neurons = [Neuron(self.nin, self.activation, self.init, r, fan_out=self.nout) for _ in range(self.nout)]
        self._label_parameters()

    def named_children(self) -> list[tuple[str, Module]]:
        return [(f"neurons.{i}", n) for i, n in enumerate(self.neurons)]

    def _forward(self, x: Sequence[Any]) -> list[Value]:
        return [n._forward(x) for n in self.neurons]

    def forward(self, x: Sequence[Any]) -> list[Value]:
        """The layer's outputs for inputs `x` (length nin): a list of nout Values."""
        if _length(x, "Layer") != self.nin:
            raise ValueError(f"Layer: expected {self.nin} inputs, got {len(x)}")
        return self._forward(_leaves(x, "Layer"))

    def config(self) -> dict[str, Any]:
        return {"type": "Layer", "nin": self.nin, "nout": self.nout, "activation": self.activation, "init": self.init}

    def __repr__(self) -> str:
        count = self.nout * (self.nin + 1)
        return f"Layer({self.nin} -> {self.nout}, activation={self.activation!r}, {count} parameters)"


class MLP(Module):
    """A multilayer perceptron: layers of sizes `nouts` on `nin` inputs.

    Hidden layers use `activation`; the last layer uses `output_activation`, which defaults to
    "none" (a linear output, as in micrograd). The same `seed` gives the same weights everywhere.
    Calling it returns a list of Values (also for a single output).
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "tanh",
        output_activation: str | None = None,
        init: str = "uniform",
        seed: int | None = None,
    ) -> None:
        self.nin = _check_size(nin, "nin", "MLP")
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence) or not nouts:
            raise TypeError(f"MLP: nouts must be a non-empty list of layer sizes, got {nouts!r}")
        self.nouts = [_check_size(n, "each of nouts", "MLP") for n in nouts]
        self.activation = _check_activation(activation, "MLP")
        self.output_activation = _check_activation("none" if output_activation is None else output_activation, "MLP")
        self.init = _check_init(init, "MLP")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"MLP: seed must be an int or None, got {type(seed).__name__} {seed!r}")
        rng = random.Random(seed)
        sizes = [self.nin, *self.nouts]
        last = len(self.nouts) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], self.output_activation if i == last else self.activation, self.init, rng)
            for i in range(len(self.nouts))
        ]
        self._label_parameters()

    def named_children(self) -> list[tuple[str, Module]]:
        return [(f"layers.{i}", layer) for i, layer in enumerate(self.layers)]

    def forward(self, x: Sequence[Any]) -> list[Value]:
        """The network's outputs for inputs `x` (numbers or Values, length nin): a list of Values."""
        if _length(x, "MLP") != self.nin:
            raise ValueError(f"MLP: expected {self.nin} inputs, got {len(x)}")
        h = _leaves(x, "MLP")
        for layer in self.layers:
            h = layer._forward(h)
        return h

    def config(self) -> dict[str, Any]:
        return {
            "type": "MLP",
            "nin": self.nin,
            "nouts": list(self.nouts),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "init": self.init,
        }

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MLP:
        """Rebuild an MLP saved with `save()` (architecture from the file's header)."""
        model = load_model(path)
        if not isinstance(model, MLP):
            raise ValueError(f"MLP.from_file: {os.fspath(path)!r} holds a {type(model).__name__}, not an MLP")  # noqa: TRY004
        return model

    def to_torch(self) -> Any:
        """An equivalent `torch.nn.Sequential` (float64, same weights). Needs torch."""
        from .interop import to_torch

        return to_torch(self)

    @classmethod
    def from_torch(cls, seq: Any) -> MLP:
        """An MLP with the weights of a `torch.nn.Sequential` of Linear and activation modules."""
        from .interop import from_torch

        return from_torch(seq)

    def __repr__(self) -> str:
        sizes = " -> ".join(str(n) for n in [self.nin, *self.nouts])
        head = (
            f"MLP({sizes}, activation={self.activation!r}, output_activation={self.output_activation!r}, "
            f"init={self.init!r}, {len(self.parameters())} parameters)"
        )
        lines = [head] + [f"  (layers.{i}): {layer!r}" for i, layer in enumerate(self.layers)]
        return "\n".join(lines)
