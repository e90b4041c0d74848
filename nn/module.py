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
               "output_activation": "none", "init": "uniform"},   (+ "bias": false for bias-free models)
     "state_dict": {"layers.0.neurons.0.w": [0.1, -0.3], "layers.0.neurons.0.b": 0.0, ...}}
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import operator
import os
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from autograd import Value
from autograd._checks import int_at_least, real
from autograd.draw import check_flag
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
    return int_at_least(x, where, what, 1)


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
    return real(x, where)


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


# ---- what Layer and MLP return -------------------------------------------------------------------
def _is_scalar(x: object) -> bool:
    """A number or a Value: what a learner means when they do arithmetic with a model's output."""
    return isinstance(x, (Value, numbers.Number)) and not isinstance(x, bool)


class Outputs(list[Value]):
    """What calling a `Layer` or an `MLP` returns: a list of Values, one per output neuron.

    It is a plain `list` in every way (indexing, `len`, slicing, `==` with lists, `+` with lists,
    `* int`, passing it to a loss). The only addition: the arithmetic a learner coming from micrograd
    writes on a model's output (`n(x) - y`, `n(x) ** 2`, `n(x) > 0`, `n(x).backward()`, where
    micrograd's single-output MLP returns a bare Value) raises an error that says what to write:
    `n(x)[0]`, the output Value, instead of Python's bare "unsupported operand ... 'list'".
    """

    __slots__ = ("_source",)

    def __init__(self, values: Sequence[Value] = (), source: str = "MLP") -> None:
        super().__init__(values)
        self._source = source

    def _hint(self, expression: str, then: str = "") -> TypeError:
        n, src = len(self), self._src()
        call = "model(x)" if src == "MLP" else "layer(x)"
        if n == 1:
            what = "one output"
            fix = (
                f"take the Value out of the list: write {call}[0]{then} "
                "(micrograd's loop: ypred = [n(x)[0] for x in xs])"
            )
        else:
            what = f"{n} outputs"
            fix = f"pick one output with {call}[i]{then}, or pass the whole list to a loss: nn.mse_loss({call}, y)"
        return TypeError(
            f"{expression}: calling an nn.{src} returns a list of Values ({what}), not a Value "
            f"(micrograd's MLP returns a bare Value for one output; chainrule's always returns a list); {fix}"
        )

    def _src(self) -> str:
        return str(getattr(self, "_source", "MLP"))

    def _operand(self, other: object, op: str, reflected: bool = False) -> TypeError:
        mine, theirs = f"{self._src()} output", type(other).__name__
        return self._hint(f"{theirs} {op} {mine}" if reflected else f"{mine} {op} {theirs}")

    # arithmetic a list does not have: always the hint, for a number or a Value operand
    def __sub__(self, other: object) -> Any:
        if _is_scalar(other):
            raise self._operand(other, "-")
        return NotImplemented

    def __rsub__(self, other: object) -> Any:
        if _is_scalar(other):
            raise self._operand(other, "-", reflected=True)
        return NotImplemented

    def __truediv__(self, other: object) -> Any:
        if _is_scalar(other):
            raise self._operand(other, "/")
        return NotImplemented

    def __rtruediv__(self, other: object) -> Any:
        if _is_scalar(other):
            raise self._operand(other, "/", reflected=True)
        return NotImplemented

    def __pow__(self, other: object) -> Any:
        if _is_scalar(other):
            raise self._operand(other, "**")
        return NotImplemented

    def __rpow__(self, other: object) -> Any:
        if _is_scalar(other):
            raise self._operand(other, "**", reflected=True)
        return NotImplemented

    def __neg__(self) -> Any:
        raise self._hint(f"-({self._src()} output)")

    def __abs__(self) -> Any:
        raise self._hint(f"abs({self._src()} output)")

    def __float__(self) -> float:
        raise self._hint(f"float({self._src()} output)")

    def __round__(self, ndigits: int | None = None) -> Any:
        raise self._hint(f"round({self._src()} output)")

    def __format__(self, spec: str) -> str:
        if spec:
            raise self._hint(f"format({self._src()} output, {spec!r})")
        return super().__format__(spec)

    # list operations keep their meaning with lists (+ concatenates, * int repeats); with a number
    # or a Value they would only fail (or, for ==, quietly be False): the hint instead
    def __add__(self, other: object) -> Any:
        if _is_scalar(other):
            raise self._operand(other, "+")
        return super().__add__(other)  # type: ignore[call-overload]

    def __radd__(self, other: object) -> Any:  # also sum(model(x) for x in xs), which starts at 0
        if _is_scalar(other):
            raise self._operand(other, "+", reflected=True)
        return NotImplemented

    def __iadd__(self, other: object) -> Any:
        if _is_scalar(other):
            raise self._operand(other, "+=")
        return super().__iadd__(other)  # type: ignore[arg-type]

    def __mul__(self, other: object) -> Any:
        if isinstance(other, Value) or (_is_scalar(other) and not isinstance(other, numbers.Integral)):
            raise self._operand(other, "*")
        return super().__mul__(other)  # type: ignore[operator]

    def __rmul__(self, other: object) -> Any:
        if isinstance(other, Value) or (_is_scalar(other) and not isinstance(other, numbers.Integral)):
            raise self._operand(other, "*", reflected=True)
        return super().__rmul__(other)  # type: ignore[operator]

    def __eq__(self, other: object) -> bool:
        if _is_scalar(other):
            raise self._operand(other, "==")
        return super().__eq__(other)

    def __ne__(self, other: object) -> bool:
        if _is_scalar(other):
            raise self._operand(other, "!=")
        return super().__ne__(other)

    __hash__ = None  # a list is not hashable

    def __lt__(self, other: object) -> bool:
        if _is_scalar(other):
            raise self._operand(other, "<")
        return super().__lt__(other)  # type: ignore[operator]

    def __le__(self, other: object) -> bool:
        if _is_scalar(other):
            raise self._operand(other, "<=")
        return super().__le__(other)  # type: ignore[operator]

    def __gt__(self, other: object) -> bool:
        if _is_scalar(other):
            raise self._operand(other, ">")
        return super().__gt__(other)  # type: ignore[operator]

    def __ge__(self, other: object) -> bool:
        if _is_scalar(other):
            raise self._operand(other, ">=")
        return super().__ge__(other)  # type: ignore[operator]

    def __getattr__(self, name: str) -> Any:
        # only reached when normal lookup fails: `model(x).backward()`, `model(x).data`, ...
        if not name.startswith("_") and hasattr(Value, name):
            raise AttributeError(str(self._hint(f"{self._src()} output.{name}", then=f".{name}")))
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


# ---- Module --------------------------------------------------------------------------------------
class Module:
    """Base class: parameters, names, gradients, state dicts and JSON files.

    A subclass overrides `local_parameters()` (its own parameters, as (name, Value or list of Values)),
    `named_children()` (its submodules, as (name, module)), `forward()`, and `config()` (the
    constructor arguments that rebuild it, stored in saved files).
    """

    def local_parameters(self) -> list[tuple[str, Entry]]:
        """Returns this module's own parameter entries (not its children's), in a fixed order."""
        return []

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict[str, Any]:
        """In Jupyter a module shows its network diagram (nn.draw_network), which scales to the cell;
        its text form alone when it is too big to draw or Graphviz's `dot` is missing."""
        bundle: dict[str, Any] = {"text/plain": repr(self)}
        from .viz import draw_network  # here: graphviz loads only when a notebook shows a module

        with contextlib.suppress(ValueError, RuntimeError, OSError):  # too many weights to draw, or no `dot`
            bundle.update(draw_network(self)._repr_mimebundle_(include, exclude, **kwargs))  # type: ignore[arg-type]
        return bundle

    def named_children(self) -> list[tuple[str, Module]]:
        """Returns this module's direct submodules with their names, in a fixed order."""
        return []

    def forward(self, x: Sequence[Any]) -> Any:
        """The module's output for inputs `x`; a subclass defines it (the base raises NotImplementedError)."""
        raise NotImplementedError(f"{type(self).__name__}.forward is not implemented")

    def __call__(self, x: Sequence[Any]) -> Any:
        """module(x) is module.forward(x): returns whatever `forward` returns."""
        return self.forward(x)

    def config(self) -> dict[str, Any]:
        """The architecture as plain JSON data (saved in file headers)."""
        return {"type": type(self).__name__}

    # ---- names and parameters ----
    def named_entries(self) -> list[tuple[str, Entry]]:
        """Returns every parameter entry in the module tree with its full dotted name (the state dict's keys)."""
        out: list[tuple[str, Entry]] = []
        stack: list[tuple[str, Module]] = [("", self)]
        while stack:  # iterative pre-order walk; children pushed reversed to keep their order
            prefix, mod = stack.pop()
            for name, entry in mod.local_parameters():
                out.append((prefix + name, entry))
            stack.extend((prefix + name + ".", child) for name, child in reversed(mod.named_children()))
        return out

    def named_parameters(self) -> list[tuple[str, Value]]:
        """Returns (name, Value) for every parameter, named like `layers.0.neurons.1.w.0` or `layers.0.neurons.1.b`."""
        out: list[tuple[str, Value]] = []
        for name, entry in self.named_entries():
            if isinstance(entry, Value):
                out.append((name, entry))
            else:
                out.extend((f"{name}.{i}", v) for i, v in enumerate(entry))
        return out

    def parameters(self) -> list[Value]:
        """Returns a list of every parameter (a leaf Value), in the order of `named_parameters()`."""
        out: list[Value] = []
        for _, entry in self.named_entries():
            if isinstance(entry, Value):
                out.append(entry)
            else:
                out.extend(entry)
        return out

    def zero_grad(self) -> None:
        """Set every parameter's `.grad` to 0 (before the next backward, which adds). Returns None."""
        for p in self.parameters():
            p.grad = 0.0

    def _label_parameters(self) -> None:
        # Labels equal to the names make drawn graphs readable.
        for name, p in self.named_parameters():
            p.label = name

    # ---- state dicts ----
    def state_dict(self) -> dict[str, float | list[float]]:
        """Returns a copy of the parameter values: entry name -> float (bias) or list of floats (weights)."""
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
        """Copy values from a state dict (strict: same keys and sizes, finite real numbers). Returns None.

        Everything is checked before anything changes, so on error the model is as it was.
        """
        _apply(self._plan_load(state, f"{type(self).__name__}.load_state_dict"))

    # ---- files ----
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the architecture and parameters to `path` as JSON, atomically (temp file, rename). Returns None."""
        doc = {"format": FORMAT, "version": VERSION, "model": self.config(), "state_dict": self.state_dict()}
        text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
        atomic_write_text(_check_path(path, f"{type(self).__name__}.save"), text)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Read parameters saved by `save()`. The file is fully checked before the model changes. Returns None."""
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


def _read_json(p: str, invalid: str) -> Any:
    """The JSON document in file `p`, read strictly (no NaN or Infinity, no key twice); a ValueError
    starting with `invalid` (what the file is not) when it cannot be read so."""
    with open(p, "rb") as f:
        raw = f.read()
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError is a ValueError
        raise ValueError(f"{invalid}: {e}") from None
    except RecursionError:  # json's decoder recurses once per level of [ or {
        raise ValueError(f"{invalid}: it is nested too deeply") from None


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
    doc = _read_json(p, f"{where}: {p!r} is not a valid model file")
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
    if set(config) - {"bias"} != {"type", *fields}:  # "bias" is optional: only bias-free models write it
        raise ValueError(f"{where}: {kind} header must have the keys {sorted(['type', *fields])}, got {sorted(config)}")
    if "bias" in config:
        if not isinstance(config["bias"], bool):
            raise ValueError(f"{where}: bias must be true or false, got {config['bias']!r}")
        if config["bias"]:  # the default, written out: the same model as a header without it
            config = {k: v for k, v in config.items() if k != "bias"}
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
    per_neuron_extra = 0 if config.get("bias") is False else 1  # the bias
    needed = sum((sizes[i] + per_neuron_extra) * sizes[i + 1] for i in range(len(sizes) - 1))
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
    """One unit: out = activation(w . x + b) = activation(b + w_0 x_0 + ... + w_{nin-1} x_{nin-1}).

    Parameters: `w`, a list of `nin` weights (leaf Values, drawn by `init`), and `b`, the bias (a leaf
    Value starting at 0; None for `bias=False`, as PyTorch's `Linear.bias`). Calling it,
    `neuron(x)`, returns ONE Value: the output for inputs `x` (a sequence of nin numbers or Values).
    """

    def __init__(
        self,
        nin: int,
        activation: str = "tanh",
        init: str = "uniform",
        rng: random.Random | None = None,
        *,
        fan_out: int = 1,
        bias: bool = True,
    ) -> None:
        """Build a neuron with `nin` inputs.

        activation: one of `nn.ACTIVATIONS` ("none": out = w . x + b, a linear unit).
        init: "uniform" U(-1, 1) (micrograd's), "xavier" U(-a, a) with a = sqrt(6 / (nin + fan_out)),
        or "he" N(0, 2 / nin). rng: a `random.Random` for the weights. fan_out: the width of the
        layer it belongs to (only Xavier uses it). bias: False leaves out b (out = activation(w . x)).
        Returns nothing; raises TypeError / ValueError naming `Neuron` for a bad argument.
        """
        self.nin = _check_size(nin, "nin", "Neuron")
        self.activation = _check_activation(activation, "Neuron")
        self.init = _check_init(init, "Neuron")
        fan_out = _check_size(fan_out, "fan_out", "Neuron")
        self.bias = check_flag(bias, "bias", "Neuron")
        self.w = [Value(x) for x in _init_weights(self.nin, fan_out, self.init, _check_rng(rng, "Neuron"))]
        self.b: Value | None = Value(0.0) if self.bias else None
        self._act = _ACTIVATIONS[self.activation]
        self._label_parameters()

    def local_parameters(self) -> list[tuple[str, Entry]]:
        """Returns the neuron's entries: [("w", weights), ("b", bias)] (no "b" for bias=False)."""
        return [("w", self.w)] if self.b is None else [("w", self.w), ("b", self.b)]

    def _forward(self, x: Sequence[Any]) -> Value:
        # b + w0 x0 + w1 x1 + ...: a plain chain of engine ops, summed by the C loop in sum().
        b = self.b
        if b is None:  # no bias: w0 x0 + w1 x1 + ..., with no `0 +` node
            products = list(map(operator.mul, self.w, x))
            act = sum(products[1:], products[0])
        else:
            act = sum(map(operator.mul, self.w, x), b)
        f = self._act
        return act if f is None else f(act)

    def forward(self, x: Sequence[Any]) -> Value:
        """out = activation(w . x + b) for inputs `x` (nin numbers or Values).

        Returns one Value (its graph reaches every weight, so `out.backward()` fills their `.grad`).
        """
        if _length(x, "Neuron") != self.nin:
            raise ValueError(f"Neuron: expected {self.nin} inputs, got {len(x)}")
        return self._forward(_leaves(x, "Neuron"))

    def __call__(self, x: Sequence[Any]) -> Value:
        """neuron(x) is neuron.forward(x): activation(w . x + b). Returns one Value."""
        return self.forward(x)

    def config(self) -> dict[str, Any]:
        """Returns the constructor arguments as a JSON-ready dict; "bias": False appears only for a bias-free neuron."""
        out: dict[str, Any] = {"type": "Neuron", "nin": self.nin, "activation": self.activation, "init": self.init}
        return out if self.bias else {**out, "bias": False}

    def __repr__(self) -> str:
        extra = "" if self.bias else "bias=False, "
        return f"Neuron(nin={self.nin}, activation={self.activation!r}, {extra}{self.nin + self.bias} parameters)"


# ---- weight matrices as the slides print them -----------------------------------------------------
_LAYOUTS = {
    "inputs": "one row per input, one column per neuron: y = x W, as lecture 003 prints W1",
    "neurons": "one row per neuron, one column per input: y = W x, as PyTorch's Linear.weight",
}


def _check_rows(rows: object, where: str) -> str:
    if rows is None:
        raise TypeError(
            f"{where}: say how the matrix is laid out: rows='inputs' ({_LAYOUTS['inputs']}) or "
            f"rows='neurons' ({_LAYOUTS['neurons']})"
        )
    if rows not in _LAYOUTS:
        raise ValueError(f"{where}: rows must be 'inputs' or 'neurons', got {rows!r}")
    return str(rows)


def _numbers(x: object, where: str, name: str) -> list[Any]:
    """A matrix or vector argument as a list (numpy arrays via tolist()); not a str, not a scalar."""
    if not isinstance(x, (list, tuple)) and hasattr(x, "tolist"):
        x = x.tolist()
    if isinstance(x, (str, bytes)) or not isinstance(x, Sequence):
        raise TypeError(f"{where}: {name} must be a list of numbers or of rows, got {type(x).__name__} {x!r}")
    if not x:
        raise ValueError(f"{where}: {name} is empty")
    return list(x)


def _matrix(w: object, where: str, name: str) -> tuple[list[list[float]], bool]:
    """(rows of finite floats, is it a flat vector?); a flat vector comes back as one row."""
    items = _numbers(w, where, name)
    nested = [isinstance(r, Sequence) and not isinstance(r, (str, bytes)) or hasattr(r, "tolist") for r in items]
    if not any(nested):
        return [[_finite(v, f"{where}: {name}[{j}]") for j, v in enumerate(items)]], True
    out: list[list[float]] = []
    for i, r in enumerate(items):
        if not nested[i]:
            raise TypeError(f"{where}: {name}[{i}] must be a row (a list) like {name}[0], got {type(r).__name__} {r!r}")
        row = _numbers(r, where, f"{name}[{i}]")
        if out and len(row) != len(out[0]):
            raise ValueError(
                f"{where}: {name}[{i}] has {len(row)} numbers but {name}[0] has {len(out[0])}; "
                "every row needs the same length"
            )
        out.append([_finite(v, f"{where}: {name}[{i}][{j}]") for j, v in enumerate(row)])
    return out, False


def _shape(w: object, rows: str, where: str, name: str) -> tuple[int, int]:
    """(nin, nout) of the layer a weight matrix (or a single neuron's flat weight vector) describes."""
    m, flat = _matrix(w, where, name)
    if flat:
        return len(m[0]), 1
    return (len(m), len(m[0])) if rows == "inputs" else (len(m[0]), len(m))


class Layer(Module):
    """`nout` neurons reading the same `nin` inputs: out_j = activation(sum_i W[j][i] x_i + b_j).

    W has one row per neuron (row j = `neurons[j].w`); `weight_matrix(rows=...)` gives it either way
    round. Calling it, `layer(x)`, returns a list of nout Values — ALWAYS a list, also for nout = 1
    (`layer(x)[0]` is the Value).
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "tanh",
        init: str = "uniform",
        rng: random.Random | None = None,
        *,
        bias: bool = True,
    ) -> None:
        """Build `nout` neurons with `nin` inputs each (see `Neuron` for activation and init).

        rng: a `random.Random` for the weights (None: a fresh one). bias: False builds neurons
        without a bias (out_j = activation(sum_i W[j][i] x_i), lecture 003's layers). Returns nothing.
        """
        self.nin = _check_size(nin, "nin", "Layer")
        self.nout = _check_size(nout, "nout", "Layer")
        self.activation = _check_activation(activation, "Layer")
        self.init = _check_init(init, "Layer")
        self.bias = check_flag(bias, "bias", "Layer")
        r = _check_rng(rng, "Layer")
        self.neurons = [
            Neuron(self.nin, self.activation, self.init, r, fan_out=self.nout, bias=self.bias) for _ in range(self.nout)
        ]
        self._label_parameters()

    @classmethod
    def from_weights(cls, weight: Any, bias: Any = None, *, rows: str | None = None, activation: str = "tanh") -> Layer:
        """A layer with the given weights (its size read from them); bias=None builds it without biases.

        weight: a matrix laid out as `rows` says — rows="inputs": one row per input, W[i][j] the
        weight from input i to neuron j, so out = activation(x W + b) as lecture 003 prints W1;
        rows="neurons": one row per neuron, out = activation(W x + b) as PyTorch's `Linear.weight`.
        A flat list is the weights of one neuron. bias: one number per neuron, or None.
        Returns the new Layer; a bad shape or number raises, naming `Layer.from_weights` and the entry.
        """
        where = "Layer.from_weights"
        layout = _check_rows(rows, where)
        nin, nout = _shape(weight, layout, where, "weight")
        layer = cls(nin, nout, activation, bias=bias is not None, rng=random.Random(0))
        layer._set(weight, bias, layout, where, "weight", "bias")
        return layer

    def set_weights(self, weight: Any, bias: Any = None, *, rows: str | None = None) -> None:
        """Copy a weight matrix (and, if given, the biases) into the layer's parameters, in place.

        weight: rows="inputs" for one row per input (nin x nout; out = x W + b, lecture 003's W1);
        rows="neurons" for one row per neuron (nout x nin; out = W x + b, PyTorch's Linear.weight).
        A flat list of nin numbers sets the one neuron of a 1-neuron layer. bias: nout numbers, or
        None to leave the biases as they are. Everything is checked (shape, finite real numbers)
        before anything changes. Returns None; errors name `Layer.set_weights` and the bad entry.
        """
        self._set(weight, bias, _check_rows(rows, "Layer.set_weights"), "Layer.set_weights", "weight", "bias")

    def _set(self, weight: Any, bias: Any, rows: str, where: str, wname: str, bname: str) -> None:
        m, flat = _matrix(weight, where, wname)
        if flat:
            if self.nout != 1:
                raise ValueError(
                    f"{where}: {wname} is a flat list of {len(m[0])} numbers, the weights of ONE neuron, but this "
                    f"layer has {self.nout} neurons; give a matrix ({_LAYOUTS[rows]})"
                )
            if len(m[0]) != self.nin:
                raise ValueError(f"{where}: {wname} has {len(m[0])} weights, but the neuron has {self.nin} inputs")
            per_neuron = m
        else:
            shape = (len(m), len(m[0]))
            want = (self.nin, self.nout) if rows == "inputs" else (self.nout, self.nin)
            if shape != want:
                other = "neurons" if rows == "inputs" else "inputs"
                hint = (
                    f"; that is the shape for rows={other!r}: is it laid out the other way?"
                    if shape == want[::-1]
                    else ""
                )
                raise ValueError(
                    f"{where}: {wname} is {shape[0]} x {shape[1]}, but with rows={rows!r} ({_LAYOUTS[rows]}) "
                    f"this layer of {self.nin} inputs and {self.nout} neurons needs {want[0]} x {want[1]}{hint}"
                )
            per_neuron = [list(col) for col in zip(*m, strict=True)] if rows == "inputs" else m
        biases: list[float] | None = None
        if bias is not None:
            if not self.bias:
                raise ValueError(f"{where}: this layer was built with bias=False, so it has no biases to set")
            if isinstance(bias, numbers.Real) and not isinstance(bias, bool) and self.nout == 1:
                bias = [bias]
            biases = [_finite(v, f"{where}: {bname}[{j}]") for j, v in enumerate(_numbers(bias, where, bname))]
            if len(biases) != self.nout:
                raise ValueError(f"{where}: {bname} has {len(biases)} numbers, one per neuron needs {self.nout}")
        for j, neuron in enumerate(self.neurons):  # checked: assign (cannot fail)
            for v, x in zip(neuron.w, per_neuron[j], strict=True):
                v.data = x
            if biases is not None and neuron.b is not None:
                neuron.b.data = biases[j]

    def weight_matrix(self, *, rows: str | None = None) -> list[list[Value]]:
        """The weights as a matrix of the parameter Values themselves (read `.data` or `.grad`).

        rows="inputs": nin rows of nout (entry [i][j] from input i to neuron j, lecture 003's layout);
        rows="neurons": nout rows of nin (row j = `neurons[j].w`, PyTorch's layout). Returns a new
        list of lists; the Values in it are the layer's own.
        """
        layout = _check_rows(rows, "Layer.weight_matrix")
        by_neuron = [list(n.w) for n in self.neurons]
        return [list(col) for col in zip(*by_neuron, strict=True)] if layout == "inputs" else by_neuron

    def named_children(self) -> list[tuple[str, Module]]:
        """Returns the neurons with their names: [("neurons.0", neuron), ...]."""
        return [(f"neurons.{i}", n) for i, n in enumerate(self.neurons)]

    def _forward(self, x: Sequence[Any]) -> list[Value]:
        return [n._forward(x) for n in self.neurons]

    def forward(self, x: Sequence[Any]) -> Outputs:
        """out_j = activation(sum_i W[j][i] x_i + b_j) for j = 0 .. nout-1, on inputs `x` (length nin).

        Returns a list of nout Values (an `Outputs`, a list whose arithmetic with a number raises an
        error saying to write `layer(x)[0]`).
        """
        if _length(x, "Layer") != self.nin:
            raise ValueError(f"Layer: expected {self.nin} inputs, got {len(x)}")
        return Outputs(self._forward(_leaves(x, "Layer")), "Layer")

    def __call__(self, x: Sequence[Any]) -> Outputs:
        """layer(x) is layer.forward(x): activation(W x + b). Returns a list of nout Values."""
        return self.forward(x)

    def config(self) -> dict[str, Any]:
        """Returns the constructor arguments as a JSON-ready dict; "bias": False appears only for a bias-free layer."""
        out = {"type": "Layer", "nin": self.nin, "nout": self.nout, "activation": self.activation, "init": self.init}
        return out if self.bias else {**out, "bias": False}

    def __repr__(self) -> str:
        count = self.nout * (self.nin + self.bias)
        extra = "" if self.bias else "bias=False, "
        return f"Layer({self.nin} -> {self.nout}, activation={self.activation!r}, {extra}{count} parameters)"


class MLP(Module):
    """A multilayer perceptron: h_0 = x, h_l = activation_l(W_l h_{l-1} + b_l) for layers of sizes `nouts`.

    Hidden layers use `activation`; the last layer uses `output_activation`, which defaults to
    "none" (a linear output, as in micrograd). The same `seed` gives the same weights everywhere.
    Calling it, `model(x)`, returns a list of Values, one per output — ALWAYS a list, also for a
    single output: write `model(x)[0]` for the Value (micrograd's MLP returns the bare Value).
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "tanh",
        output_activation: str | None = None,
        init: str = "uniform",
        seed: int | None = None,
        *,
        bias: bool = True,
    ) -> None:
        """Build layers of sizes `nouts` (e.g. [16, 16, 1]) on `nin` inputs.

        activation: the hidden layers' (one of `nn.ACTIVATIONS`); output_activation: the last
        layer's (None: "none"). init: "uniform", "xavier" or "he" (see `Neuron`). seed: an int for
        reproducible weights (None: random). bias: False builds every layer without biases
        (lecture 003's network). Returns nothing; a bad argument raises, naming `MLP`.
        """
        self.nin = _check_size(nin, "nin", "MLP")
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence) or not nouts:
            raise TypeError(f"MLP: nouts must be a non-empty list of layer sizes, got {nouts!r}")
        self.nouts = [_check_size(n, "each of nouts", "MLP") for n in nouts]
        self.activation = _check_activation(activation, "MLP")
        self.output_activation = _check_activation("none" if output_activation is None else output_activation, "MLP")
        self.init = _check_init(init, "MLP")
        self.bias = check_flag(bias, "bias", "MLP")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"MLP: seed must be an int or None, got {type(seed).__name__} {seed!r}")
        rng = random.Random(seed)
        sizes = [self.nin, *self.nouts]
        last = len(self.nouts) - 1
        self.layers = [
            Layer(
                sizes[i],
                sizes[i + 1],
                self.output_activation if i == last else self.activation,
                self.init,
                rng,
                bias=self.bias,
            )
            for i in range(len(self.nouts))
        ]
        self._label_parameters()

    @classmethod
    def from_weights(
        cls,
        weights: Sequence[Any],
        biases: Sequence[Any] | None = None,
        *,
        rows: str | None = None,
        activation: str = "tanh",
        output_activation: str | None = None,
    ) -> MLP:
        """An MLP with the given weight matrices, one per layer (sizes read from them).

        weights: a list of matrices laid out as `rows` says (see `Layer.set_weights`): rows="inputs"
        takes lecture 003's W1 and W2 as printed (y_hat = x W1 W2); rows="neurons" takes PyTorch's
        `Linear.weight`s. A flat list is a one-neuron layer. biases: one list per layer, or None for
        a network without biases. Returns the new MLP; errors name `MLP.from_weights` and the entry.
        """
        where = "MLP.from_weights"
        layout = _check_rows(rows, where)
        ws = _numbers(weights, where, "weights")
        if biases is not None:
            bs = _numbers(biases, where, "biases")
            if len(bs) != len(ws):
                raise ValueError(f"{where}: {len(ws)} weight matrices but {len(bs)} bias lists; give one per layer")
        sizes: list[int] = []
        for i, w in enumerate(ws):
            nin, nout = _shape(w, layout, where, f"weights[{i}]")
            if sizes and nin != sizes[-1]:
                raise ValueError(
                    f"{where}: weights[{i}] takes {nin} inputs but weights[{i - 1}] has {sizes[-1]} neurons "
                    f"(rows={layout!r}: {_LAYOUTS[layout]})"
                )
            sizes.extend([nin, nout] if not sizes else [nout])
        model = cls(sizes[0], sizes[1:], activation, output_activation, seed=0, bias=biases is not None)
        for i, layer in enumerate(model.layers):
            b = None if biases is None else bs[i]
            layer._set(ws[i], b, layout, where, f"weights[{i}]", f"biases[{i}]")
        return model

    def named_children(self) -> list[tuple[str, Module]]:
        """Returns the layers with their names: [("layers.0", layer), ...]."""
        return [(f"layers.{i}", layer) for i, layer in enumerate(self.layers)]

    def forward(self, x: Sequence[Any]) -> Outputs:
        """h_0 = x, then h_l = activation_l(W_l h_{l-1} + b_l) layer by layer; x: nin numbers or Values.

        Returns a list of Values, one per output neuron (an `Outputs`: a list whose arithmetic with a
        number, as in micrograd's `n(x) - y`, raises an error saying to write `model(x)[0]`).
        """
        if _length(x, "MLP") != self.nin:
            raise ValueError(f"MLP: expected {self.nin} inputs, got {len(x)}")
        h = _leaves(x, "MLP")
        for layer in self.layers:
            h = layer._forward(h)
        return Outputs(h, "MLP")

    def __call__(self, x: Sequence[Any]) -> Outputs:
        """model(x) is model.forward(x): the network on inputs `x`.

        Returns a list of Values, one per output, also for one output: `model(x)[0]` is the Value.
        """
        return self.forward(x)

    def config(self) -> dict[str, Any]:
        """Returns the constructor arguments as a JSON-ready dict; "bias": False only for a bias-free network."""
        out = {
            "type": "MLP",
            "nin": self.nin,
            "nouts": list(self.nouts),
            "activation": self.activation,
            "output_activation": self.output_activation,
            "init": self.init,
        }
        return out if self.bias else {**out, "bias": False}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MLP:
        """Returns the MLP saved with `save()` in `path`, rebuilt (architecture from the file's header)."""
        model = load_model(path)
        if not isinstance(model, MLP):
            raise ValueError(f"MLP.from_file: {os.fspath(path)!r} holds a {type(model).__name__}, not an MLP")  # noqa: TRY004
        return model

    def to_torch(self) -> Any:
        """Returns an equivalent `torch.nn.Sequential` (float64, same weights). Needs torch."""
        from .interop import to_torch

        return to_torch(self)

    @classmethod
    def from_torch(cls, seq: Any) -> MLP:
        """Returns an MLP with the weights of a `torch.nn.Sequential` of Linear and activation modules."""
        from .interop import from_torch

        return from_torch(seq)

    def __repr__(self) -> str:
        sizes = " -> ".join(str(n) for n in [self.nin, *self.nouts])
        head = (
            f"MLP({sizes}, activation={self.activation!r}, output_activation={self.output_activation!r}, "
            f"init={self.init!r}, {'' if self.bias else 'bias=False, '}{len(self.parameters())} parameters)"
        )
        lines = [head] + [f"  (layers.{i}): {layer!r}" for i, layer in enumerate(self.layers)]
        return "\n".join(lines)
