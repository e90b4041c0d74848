"""Checkpoints: a training run saved whole (model, optimizer, schedule, step, data-order RNG) to resume it.

    nn.save_checkpoint("run.json", model=model, optimizer=opt, schedule=sched, step=50, rng=order_rng)
    ...                                                 # a new process builds the same objects, then
    step, extra = nn.load_checkpoint("run.json", model=model, optimizer=opt, schedule=sched, rng=order_rng)

Training on from there gives bit for bit the run that never stopped: every number the next update
reads is restored exactly (JSON writes floats with repr, which reads back to the same bits).

File format, JSON, written atomically (temp file, fsync, rename); never pickle:

    {"format": "chainrule-checkpoint", "version": 1, "step": 50,
     "models": {"model": {"model": {"type": "MLP", ...}, "state_dict": {...}}},
     "optimizers": {"optimizer": {"type": "Adam", ...}},      # Optimizer.state_dict()
     "schedules": {"schedule": {"type": "LinearLR", ...}},     # {} without a schedule
     "rng": {"version": 3, "internal_state": [625 ints], "gauss_next": null},   # or null
     "extra": {}}                                              # any JSON object of the caller's

`model`, `optimizer` and `schedule` each take one object (saved under the names "model",
"optimizer", "schedule") or a dict of named ones, for a run that trains several models.
"""

from __future__ import annotations

import json
import math
import os
import random
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

from autograd.files import atomic_write_text

from .module import Module, _check_path, _read_json
from .optim import Optimizer, _a, _count, _Schedule

FORMAT = "chainrule-checkpoint"
VERSION = 1
_KEYS = ("format", "version", "step", "models", "optimizers", "schedules", "rng", "extra")
_MT_WORDS = 625  # random.Random.getstate()[1]: 624 Mersenne Twister words and the position in them

T = TypeVar("T")


class Checkpoint(NamedTuple):
    """What `load_checkpoint` returns besides the objects it restored in place."""

    step: int
    """The step count saved (the number of optimizer steps taken so far)."""
    extra: dict[str, Any]
    """The caller's own JSON data saved with `extra=` (e.g. loss curves so far); {} if none."""


# ---- saving ---------------------------------------------------------------------------------------
def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: Module | Mapping[str, Module],
    optimizer: Optimizer | Mapping[str, Optimizer] | None = None,
    schedule: _Schedule | Mapping[str, _Schedule] | None = None,
    step: int = 0,
    rng: random.Random | None = None,
    extra: Mapping[str, Any] | None = None,
) -> None:
    """Write a checkpoint to `path` as JSON, atomically: the file is the old one or the new one.

    Saved: each model's architecture and `state_dict()`, each optimizer's and schedule's
    `state_dict()` (buffers, step counts, current learning rates), `step`, the full state of `rng`
    (the `random.Random` that draws the data order) and `extra` (JSON data of your own).
    """
    where = "save_checkpoint"
    p = _check_path(path, where)
    models = _named(model, Module, "model", where, required=True)
    optimizers = _named(optimizer, Optimizer, "optimizer", where)
    schedules = _named(schedule, _Schedule, "schedule", where)
    _count(step, where, "step")
    if rng is not None and not isinstance(rng, random.Random):
        raise TypeError(f"{where}: rng must be a random.Random or None, got {type(rng).__name__}")
    if extra is not None and not isinstance(extra, Mapping):
        raise TypeError(f"{where}: extra must be a dict of JSON data, got {type(extra).__name__}")
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "step": step,
        "models": {k: {"model": m.config(), "state_dict": m.state_dict()} for k, m in models.items()},
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "schedules": {k: s.state_dict() for k, s in schedules.items()},
        "rng": None if rng is None else _rng_state(rng),
        "extra": {} if extra is None else dict(extra),
    }
    try:
        text = json.dumps(doc, indent=1, allow_nan=False) + "\n"
    except ValueError:
        raise ValueError(f"{where}: a parameter, buffer or extra value is nan or inf; nothing was written") from None
    except TypeError as e:
        raise TypeError(f"{where}: extra must hold only JSON data (dicts, lists, str, numbers): {e}") from None
    atomic_write_text(p, text)


def _named(obj: object, cls: type[T], label: str, where: str, required: bool = False) -> dict[str, T]:
    """One object (named `label`) or a dict of named ones, as a dict; None gives {} unless required."""
    if obj is None and not required:
        return {}
    if isinstance(obj, cls):
        return {label: obj}
    kind = "Schedule" if cls is _Schedule else cls.__name__
    if isinstance(obj, Mapping) and (obj or not required):
        for k, v in obj.items():
            if not isinstance(k, str) or not k:
                raise TypeError(f"{where}: the names in {label}= must be non-empty strings, got {k!r}")
            if not isinstance(v, cls):
                raise TypeError(f"{where}: {label}[{k!r}] must be {_a(kind)}, got {type(v).__name__}")
        return dict(obj)
    raise TypeError(f"{where}: {label} must be {_a(kind)} or a dict of named ones, got {type(obj).__name__} {obj!r}")


def _rng_state(rng: random.Random) -> dict[str, Any]:
    version, internal, gauss_next = rng.getstate()
    return {"version": version, "internal_state": list(internal), "gauss_next": gauss_next}


# ---- loading --------------------------------------------------------------------------------------
def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: Module | Mapping[str, Module],
    optimizer: Optimizer | Mapping[str, Optimizer] | None = None,
    schedule: _Schedule | Mapping[str, _Schedule] | None = None,
    rng: random.Random | None = None,
) -> Checkpoint:
    """Restore a checkpoint written by `save_checkpoint` into freshly built objects; return (step, extra).

    Strict: the file must hold exactly the models, optimizers and schedules passed (same names), each
    of the same architecture, class and hyper-parameters, and an RNG state exactly when `rng` is
    passed. The whole file is checked before anything changes; on any error (a ValueError naming the
    file and the entry) every object is as it was.
    """
    where = "load_checkpoint"
    p = _check_path(path, where)
    models = _named(model, Module, "model", where, required=True)
    optimizers = _named(optimizer, Optimizer, "optimizer", where)
    schedules = _named(schedule, _Schedule, "schedule", where)
    if rng is not None and not isinstance(rng, random.Random):
        raise TypeError(f"{where}: rng must be a random.Random or None, got {type(rng).__name__}")
    place = f"{where}: {p!r}"
    doc = _read(p, place)
    try:  # a wrong type inside a file is a bad file: one error type for callers
        step = _count(doc["step"], place, "step")
        states = _plan_models(models, _section(doc, "models", list(models), place), place)
        plans = [
            o._plan_load(s, f"{place}: optimizer {k!r}") for k, o, s in _pairs(doc, "optimizers", optimizers, place)
        ]
        plans += [
            s._plan_load(st, f"{place}: schedule {k!r}") for k, s, st in _pairs(doc, "schedules", schedules, place)
        ]
        plans.append(_plan_rng(doc["rng"], rng, place))
    except TypeError as e:
        raise ValueError(str(e)) from None
    if not isinstance(doc["extra"], dict):
        raise ValueError(f"{place}: extra must be an object, got {type(doc['extra']).__name__}")
    _load_models(states, place)  # the only part that can still fail; it undoes itself on error
    for apply in plans:
        apply()
    return Checkpoint(step, doc["extra"])


def _read(p: str, place: str) -> dict[str, Any]:
    """Parse the file and check its header (format, version, exactly the expected keys)."""
    doc = _read_json(p, f"{place} is not a valid checkpoint file")
    if not isinstance(doc, dict):
        raise ValueError(f"{place} is not a checkpoint (top level is {type(doc).__name__}, not an object)")
    if set(doc) != set(_KEYS):
        raise ValueError(f"{place} must have exactly the keys {sorted(_KEYS)}, got {sorted(doc)}")
    if doc["format"] != FORMAT:
        raise ValueError(f"{place} has format {doc['format']!r}, expected {FORMAT!r}")
    if type(doc["version"]) is not int or doc["version"] != VERSION:
        raise ValueError(f"{place} has version {doc['version']!r}; this chainrule reads version {VERSION}")
    return doc


def _section(doc: dict[str, Any], key: str, names: list[str], place: str) -> dict[str, Any]:
    """The file's `key` object, holding exactly the given names."""
    section = doc[key]
    if not isinstance(section, dict):
        raise ValueError(f"{place}: {key} must be an object, got {type(section).__name__}")
    if sorted(section) != sorted(names):
        raise ValueError(
            f"{place} holds {key} {sorted(section)}, but load_checkpoint was given {sorted(names)}"
            " (pass the same objects that were saved)"
        )
    return section


def _pairs(doc: dict[str, Any], key: str, objects: Mapping[str, T], place: str) -> list[tuple[str, T, Any]]:
    section = _section(doc, key, list(objects), place)
    return [(k, obj, section[k]) for k, obj in objects.items()]


def _plan_models(models: dict[str, Module], section: dict[str, Any], place: str) -> list[tuple[str, Module, Any]]:
    """Check each saved model's architecture against the model passed (as `Module.load` does)."""
    out = []
    for k, m in models.items():
        saved = section[k]
        if not isinstance(saved, dict) or set(saved) != {"model", "state_dict"}:
            raise ValueError(f"{place}: models[{k!r}] must be an object with the keys 'model' and 'state_dict'")
        mine = {a: b for a, b in m.config().items() if a != "init"}  # init only decides starting values
        theirs = saved["model"]
        if not isinstance(theirs, dict) or {a: b for a, b in theirs.items() if a != "init"} != mine:
            raise ValueError(f"{place}: model {k!r} was saved as {theirs!r}, but the model passed is {m.config()!r}")
        out.append((k, m, saved["state_dict"]))
    return out


def _load_models(states: list[tuple[str, Module, Any]], place: str) -> None:
    """Load each model's state dict; if one fails, put back the ones already loaded, then raise."""
    done: list[tuple[Module, dict[str, Any]]] = []
    for k, m, state in states:
        before = m.state_dict()
        try:
            m.load_state_dict(state)
        except (TypeError, ValueError) as e:
            for earlier, old in reversed(done):
                earlier.load_state_dict(old)
            raise ValueError(f"{place}: model {k!r}: {e}") from None
        done.append((m, before))


def _plan_rng(saved: object, rng: random.Random | None, place: str) -> Callable[[], None]:
    """Check a saved `random.Random` state; return a function that sets it on `rng`."""
    if rng is None or saved is None:
        if rng is None and saved is None:
            return lambda: None
        has = "holds an RNG state, but no rng= was passed" if rng is None else "holds no RNG state to restore"
        raise ValueError(f"{place} {has}")
    if not isinstance(saved, dict) or set(saved) != {"version", "internal_state", "gauss_next"}:
        raise ValueError(f"{place}: rng must be an object with the keys version, internal_state, gauss_next")
    words, gauss = saved["internal_state"], saved["gauss_next"]
    if not isinstance(words, list) or len(words) != _MT_WORDS:
        raise ValueError(f"{place}: rng internal_state must be a list of {_MT_WORDS} ints")
    for i, w in enumerate(words):
        if type(w) is not int or not 0 <= w < 2**32:
            raise ValueError(f"{place}: rng internal_state[{i}] must be an int in [0, 2**32), got {w!r}")
    if gauss is not None and (type(gauss) is not float or not math.isfinite(gauss)):
        raise ValueError(f"{place}: rng gauss_next must be null or a finite float, got {gauss!r}")
    state = (saved["version"], tuple(words), gauss)
    try:
        random.Random().setstate(state)  # let random itself judge it, on a scratch generator
    except (TypeError, ValueError) as e:
        raise ValueError(f"{place}: rng state is not a valid random.Random state: {e}") from None
    return lambda: rng.setstate(state)


__all__ = ["FORMAT", "VERSION", "Checkpoint", "load_checkpoint", "save_checkpoint"]
