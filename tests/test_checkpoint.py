"""Checkpoints: 100 steps equal 50 + save + (a new process) load + 50, bit for bit; strict, atomic loading."""

from __future__ import annotations

import copy
import json
import math
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import nn
from autograd import Value
from nn import optim

ROOT = Path(__file__).resolve().parent.parent

# Tiny data: 8 points, 2 features, 2 classes; mini-batches of 3 drawn from a seeded Random.
X = [[math.sin(1.7 * i), math.cos(2.3 * i)] for i in range(8)]
Y = [int(a * b > 0) for a, b in X]
RUNS = ["sgd_momentum", "sgd_nesterov", "adam", "adamw", "muon"]


def build(run: str) -> tuple[nn.MLP, optim.Optimizer, Any, random.Random]:
    """The model, optimizer, schedule and data-order RNG of one run, freshly made."""
    model = nn.MLP(2, [3, 2], seed=4)
    opt: optim.Optimizer
    if run == "sgd_momentum":
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
        return model, opt, optim.StepLR(opt, step_size=30, gamma=0.5), random.Random(11)
    if run == "sgd_nesterov":
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.8, nesterov=True)
        return model, opt, optim.LinearLR(opt, total_steps=100, end_factor=0.1), random.Random(12)
    if run == "adam":
        opt = optim.Adam(model.parameters(), lr=0.05, weight_decay=1e-3)
        return model, opt, optim.CosineAnnealingLR(opt, T_max=100), random.Random(13)
    if run == "adamw":
        opt = optim.AdamW(model.parameters(), lr=0.05)
        return model, opt, optim.LinearLR(opt, total_steps=100), random.Random(14)
    opt = optim.Muon(model, lr=0.05, adam_lr=0.01, weight_decay=1e-3)
    return model, opt, optim.CosineAnnealingLR(opt, T_max=100, eta_min=1e-3), random.Random(15)


def train(run: str, start: int, stop: int, load: str = "", save: str = "") -> dict[str, list[float]]:
    """Steps start+1..stop (after loading `load`, if given; saving to `save` at the end, if given)."""
    model, opt, sched, rng = build(run)
    if load:
        assert nn.load_checkpoint(load, model=model, optimizer=opt, schedule=sched, rng=rng).step == start
    losses = steps(model, opt, sched, rng, stop - start)
    if save:
        nn.save_checkpoint(save, model=model, optimizer=opt, schedule=sched, step=stop, rng=rng)
    return {"losses": losses, "params": [p.data for p in model.parameters()]}


def steps(model: nn.MLP, opt: optim.Optimizer, sched: Any, rng: random.Random, n: int) -> list[float]:
    """n training steps on mini-batches of 3 drawn by `rng`; the loss of each."""
    losses = []
    for _ in range(n):
        idx = rng.sample(range(len(X)), 3)  # the data order
        noise = rng.gauss(0.0, 0.01)  # gauss keeps a cached second value inside the RNG state
        loss = nn.cross_entropy_batch([model([X[i][0] + noise, X[i][1]]) for i in idx], [Y[i] for i in idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.data)
    return losses


def test_100_steps_equal_50_then_resume_in_a_new_process_bit_for_bit(tmp_path: Path) -> None:
    ckpts = {run: str(tmp_path / f"{run}.json") for run in RUNS}
    full = {run: train(run, 0, 100) for run in RUNS}
    first = {run: train(run, 0, 50, save=ckpts[run]) for run in RUNS}
    script = f"import sys, json; sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / 'tests')!r}]; import test_checkpoint as t; "
    script += "print(json.dumps({r: t.train(r, 50, 100, load=p) for r, p in json.loads(sys.argv[1]).items()}))"
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(ckpts)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    resumed = json.loads(result.stdout)  # JSON floats round-trip exactly (repr)
    for run in RUNS:
        assert first[run]["losses"] + resumed[run]["losses"] == full[run]["losses"], run
        assert resumed[run]["params"] == full[run]["params"], run
        assert first[run]["params"] != full[run]["params"]  # it did train on after the resume


def test_without_the_optimizer_state_the_resumed_run_differs(tmp_path: Path) -> None:
    # the control for the test above: the buffers matter, so restoring them is what makes it exact
    full = train("adam", 0, 20)
    train("adam", 0, 10, save=str(tmp_path / "c.json"))
    model, opt, sched, rng = build("adam")
    nn.load_checkpoint(tmp_path / "c.json", model=model, optimizer=opt, schedule=sched, rng=rng)
    state = opt.state_dict()
    state["state"] = build("adam")[1].state_dict()["state"]  # fresh moments, step count 0
    opt.load_state_dict(state)
    steps(model, opt, sched, rng, 10)
    assert [p.data for p in model.parameters()] != full["params"]


# ---- optimizer and schedule state dicts -------------------------------------------------------------
def stepped(run: str, steps: int = 3) -> tuple[nn.MLP, optim.Optimizer, Any, random.Random]:
    model, opt, sched, rng = build(run)
    for _ in range(steps):
        loss = nn.cross_entropy_batch([model(x) for x in X[:3]], Y[:3])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model, opt, sched, rng


@pytest.mark.parametrize("run", RUNS)
def test_state_dicts_round_trip_through_json(run: str) -> None:
    _, opt, sched, _ = stepped(run)
    _, fresh_opt, fresh_sched, _ = build(run)
    assert fresh_opt.state_dict() != opt.state_dict()
    fresh_opt.load_state_dict(json.loads(json.dumps(opt.state_dict())))
    fresh_sched.load_state_dict(json.loads(json.dumps(sched.state_dict())))
    assert fresh_opt.state_dict() == opt.state_dict()
    assert fresh_sched.state_dict() == sched.state_dict()
    assert fresh_opt.lr == opt.lr  # the scheduled lr came back
    if run != "sgd_momentum":  # (StepLR has not moved it yet)
        assert opt.lr != build(run)[1].lr


def test_state_dicts_are_copies_and_say_what_they_hold() -> None:
    _, opt, sched, _ = stepped("adam")
    state = opt.state_dict()
    assert list(state) == ["type", "num_params", "hyperparameters", "lr", "state"]
    assert state["hyperparameters"] == {"betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 1e-3}
    assert list(state["state"]) == ["steps", "exp_avg", "exp_avg_sq"] and state["state"]["steps"] == 3
    state["state"]["exp_avg"][0] = 123.0
    assert opt.state_dict()["state"]["exp_avg"][0] != 123.0
    assert sched.state_dict() == {
        "type": "CosineAnnealingLR",
        "hyperparameters": {"T_max": 100, "eta_min": 0.0},
        "base_lrs": {"lr": 0.05},
        "last_step": 3,
    }
    muon = stepped("muon")[1].state_dict()
    assert {"lr", "adam_lr"} <= set(muon) and len(muon["state"]["momentum_buffers"]) == 2
    fresh_sgd = build("sgd_momentum")[1].state_dict()
    assert fresh_sgd["state"] == {"momentum_buffer": None}  # no buffer before the first step
    plain = optim.SGD([Value(1.0)], lr=0.1)
    plain.load_state_dict(plain.state_dict())


def _edit(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """Set (or delete, for value DELETE) the entry at a dotted path (or /-separated, for keys with dots)."""

    def edit(state: dict[str, Any]) -> None:
        *parents, last = path.split("/" if "/" in path else ".")
        node: Any = state
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if value is DELETE:
            del node[last]
        elif isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return edit


DELETE = object()
BAD_OPTIMIZER_STATES = [
    ("adam", _edit("type", "AdamW"), ValueError, r"the state is for optimizer 'AdamW', but this is an Adam"),
    ("adam", _edit("state.steps", DELETE), ValueError, r"Adam state does not match \(missing keys: steps\)"),
    ("adam", _edit("extra_key", 1), ValueError, r"unexpected keys: 'extra_key'"),
    ("adam", _edit("num_params", 5), ValueError, r"the state is for 5 parameters, but this Adam has 17"),
    ("adam", _edit("hyperparameters.betas", [0.8, 0.999]), ValueError, r"betas=\[0.8, 0.999\], but this one has"),
    ("adam", _edit("hyperparameters.eps", 1), ValueError, "eps=1, but this one has eps=1e-08"),
    ("adam", _edit("lr", math.nan), ValueError, "Adam.load_state_dict: lr must be finite"),
    ("adam", _edit("lr", -1.0), ValueError, "lr must be >= 0"),
    ("adam", _edit("state.steps", True), TypeError, "steps must be an int, got bool"),
    ("adam", _edit("state.steps", -1), ValueError, "steps must be >= 0"),
    ("adam", _edit("state.exp_avg", [0.0] * 16), ValueError, "exp_avg has 16 numbers, this optimizer needs 17"),
    ("adam", _edit("state.exp_avg", "0"), TypeError, "exp_avg must be a list of 17 numbers, got str"),
    ("adam", _edit("state.exp_avg.4", math.inf), ValueError, r"exp_avg\[4\] must be finite"),
    ("adam", _edit("state.exp_avg.4", "1"), TypeError, r"exp_avg\[4\] must be a real number"),
    ("adam", _edit("state.exp_avg_sq.2", -1e-9), ValueError, r"exp_avg_sq\[2\] must be >= 0"),
    ("adam", _edit("state", []), TypeError, "Adam state must be a dict, got list"),
    ("sgd_momentum", _edit("hyperparameters.nesterov", 1), ValueError, "nesterov=1, but this one has nesterov=False"),
    ("sgd_momentum", _edit("hyperparameters.momentum", DELETE), ValueError, "missing keys: momentum"),
    ("sgd_momentum", _edit("state.momentum_buffer.0", None), TypeError, r"momentum_buffer\[0\] must be a real"),
    ("muon", _edit("hyperparameters.ns_steps", 4), ValueError, "ns_steps=4, but this one has ns_steps=5"),
    ("muon", _edit("adam_lr", -0.1), ValueError, "adam_lr must be >= 0"),
    ("muon", _edit("state.momentum_buffers", [[]]), ValueError, "momentum_buffers must be a list of 2 matrices"),
    ("muon", _edit("state.momentum_buffers.1", [[0.0, 0.0, 0.0]]), ValueError, r"momentum_buffers\[1\] must be a list"),
    ("muon", _edit("state.momentum_buffers.0.2", [0.0]), ValueError, r"momentum_buffers\[0\]\[2\] has 1 numbers"),
    ("muon", _edit("state.exp_avg", [0.0]), ValueError, "exp_avg has 1 numbers, this optimizer needs 5"),
]


@pytest.mark.parametrize(("run", "edit", "error", "match"), BAD_OPTIMIZER_STATES)
def test_a_bad_optimizer_state_is_a_clear_error_and_changes_nothing(
    run: str, edit: Callable[[dict[str, Any]], None], error: type[Exception], match: str
) -> None:
    _, opt, _, _ = stepped(run)
    target = stepped(run, steps=1)[1]
    state = copy.deepcopy(opt.state_dict())
    edit(state)
    before = target.state_dict()
    with pytest.raises(error, match=match):
        target.load_state_dict(state)
    assert target.state_dict() == before


def test_a_state_for_another_optimizer_or_a_non_dict_is_refused() -> None:
    sgd = optim.SGD([Value(1.0)], lr=0.1)
    with pytest.raises(TypeError, match="SGD.load_state_dict: optimizer state must be a dict, got list"):
        sgd.load_state_dict([])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="missing keys: momentum_buffer"):
        sgd.load_state_dict({**sgd.state_dict(), "state": {"steps": 0, "exp_avg": [0.0], "exp_avg_sq": [0.0]}})
    with pytest.raises(ValueError, match="momentum_buffer must be null for SGD without momentum"):
        sgd.load_state_dict({**sgd.state_dict(), "state": {"momentum_buffer": [0.0]}})


BAD_SCHEDULE_STATES = [
    (_edit("type", "StepLR"), ValueError, r"the state is for schedule 'StepLR', but this is a CosineAnnealingLR"),
    (_edit("hyperparameters.T_max", 50), ValueError, "T_max=50, but this one has T_max=100"),
    (_edit("base_lrs.adam_lr", 0.1), ValueError, r"base_lrs does not match \(unexpected keys: 'adam_lr'\)"),
    (_edit("base_lrs.lr", -0.1), ValueError, r"base_lrs\['lr'\] must be >= 0"),
    (_edit("last_step", 2.0), TypeError, "last_step must be an int, got float"),
    (_edit("last_step", DELETE), ValueError, "missing keys: last_step"),
]


@pytest.mark.parametrize(("edit", "error", "match"), BAD_SCHEDULE_STATES)
def test_a_bad_schedule_state_is_a_clear_error_and_changes_nothing(
    edit: Callable[[dict[str, Any]], None], error: type[Exception], match: str
) -> None:
    _, _, sched, _ = stepped("adam")
    target = build("adam")[2]
    state = copy.deepcopy(sched.state_dict())
    edit(state)
    before = target.state_dict()
    with pytest.raises(error, match=f"^CosineAnnealingLR.load_state_dict: .*{match}"):
        target.load_state_dict(state)
    assert target.state_dict() == before


# ---- checkpoint files ---------------------------------------------------------------------------------
def snapshot(model: nn.Module, opt: optim.Optimizer, sched: Any, rng: random.Random) -> tuple[Any, ...]:
    return model.state_dict(), opt.state_dict(), sched.state_dict(), rng.getstate()


def test_the_file_is_json_with_a_header_and_the_rng_state(tmp_path: Path) -> None:
    train("adam", 0, 3, save=str(tmp_path / "c.json"))
    doc = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert list(doc) == ["format", "version", "step", "models", "optimizers", "schedules", "rng", "extra"]
    assert (doc["format"], doc["version"], doc["step"], doc["extra"]) == ("chainrule-checkpoint", 1, 3, {})
    assert doc["models"]["model"]["model"]["type"] == "MLP" and list(doc["optimizers"]) == ["optimizer"]
    assert doc["rng"]["version"] == 3 and len(doc["rng"]["internal_state"]) == 625
    assert isinstance(doc["rng"]["gauss_next"], float)  # an odd number of gauss draws so far
    rng = random.Random(0)
    model, opt, sched, _ = build("adam")
    step, extra = nn.load_checkpoint(tmp_path / "c.json", model=model, optimizer=opt, schedule=sched, rng=rng)
    assert (step, extra) == (3, {})
    assert list(rng.getstate()[1]) == doc["rng"]["internal_state"]


def test_several_named_models_and_extra_data(tmp_path: Path) -> None:
    a, b = nn.MLP(2, [2, 1], seed=0), nn.Neuron(2, activation="none", rng=random.Random(1))
    oa, ob = optim.Adam(a.parameters()), optim.SGD(b.parameters(), lr=0.1)
    extra = {"losses": [0.5, 0.25], "note": "first half"}
    nn.save_checkpoint(tmp_path / "c.json", model={"a": a, "b": b}, optimizer={"a": oa, "b": ob}, step=2, extra=extra)
    a2, b2 = nn.MLP(2, [2, 1], seed=5), nn.Neuron(2, activation="none", rng=random.Random(6))
    got = nn.load_checkpoint(tmp_path / "c.json", model={"a": a2, "b": b2}, optimizer={"a": oa, "b": ob})
    assert got == nn.Checkpoint(2, extra) and got.extra == extra
    assert a2.state_dict() == a.state_dict() and b2.state_dict() == b.state_dict()
    nn.save_checkpoint(tmp_path / "m.json", model=a)  # a model alone: step 0, no optimizer
    assert nn.load_checkpoint(tmp_path / "m.json", model=a2).step == 0


BAD_FILES = [
    (_edit("format", "chainrule-model"), "has format 'chainrule-model', expected 'chainrule-checkpoint'"),
    (_edit("version", 2), "has version 2; this chainrule reads version 1"),
    (_edit("version", True), "has version True"),
    (_edit("rng", DELETE), "must have exactly the keys"),
    (_edit("step", -3), "step must be >= 0"),
    (_edit("step", "50"), "step must be an int, got str"),
    (_edit("extra", []), "extra must be an object"),
    (_edit("models", []), "models must be an object"),
    (_edit("models.model", {"state_dict": {}}), "models\\['model'\\] must be an object with the keys"),
    (_edit("models.model.model.nouts", [3, 3]), "model 'model' was saved as"),
    (_edit("models/model/state_dict/layers.0.neurons.0.b", "x"), "model 'model': MLP.load_state_dict: entry"),
    (_edit("optimizers", {}), r"holds optimizers \[\], but load_checkpoint was given \['optimizer'\]"),
    (_edit("schedules.warmup", {}), r"holds schedules \['schedule', 'warmup'\]"),
    (_edit("optimizers.optimizer.hyperparameters.eps", 0.1), "optimizer 'optimizer': the state was saved by an Adam"),
    (_edit("optimizers.optimizer.state.exp_avg", "none"), "optimizer 'optimizer': exp_avg must be a list"),
    (_edit("schedules.schedule.last_step", None), "schedule 'schedule': last_step must be an int"),
    (_edit("rng", None), "holds no RNG state to restore"),
    (_edit("rng", [3, [], None]), "rng must be an object with the keys"),
    (_edit("rng.internal_state", [0] * 624), "rng internal_state must be a list of 625 ints"),
    (_edit("rng.internal_state.7", 2**32), r"rng internal_state\[7\] must be an int in \[0, 2\*\*32\)"),
    (_edit("rng.internal_state.7", 1.0), r"rng internal_state\[7\] must be an int"),
    (_edit("rng.gauss_next", 1), "rng gauss_next must be null or a finite float, got 1"),
    (_edit("rng.version", 9), "rng state is not a valid random.Random state"),
    (_edit("rng.internal_state.624", 700), "rng state is not a valid random.Random state"),
]


@pytest.mark.parametrize(("edit", "match"), BAD_FILES)
def test_a_bad_checkpoint_file_is_a_clear_error_and_changes_nothing(
    edit: Callable[[dict[str, Any]], None], match: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.json"
    train("adam", 0, 3, save=str(path))
    doc = json.loads(path.read_text(encoding="utf-8"))
    edit(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")
    objects = build("adam")
    before = snapshot(*objects)
    model, opt, sched, rng = objects
    with pytest.raises(ValueError, match=match) as exc:
        nn.load_checkpoint(path, model=model, optimizer=opt, schedule=sched, rng=rng)
    assert str(exc.value).startswith(f"load_checkpoint: {str(path)!r}")
    assert snapshot(*objects) == before


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{", "is not a valid checkpoint file"),
        ('{"step": NaN}', "non-finite number NaN"),
        ('{"step": 1, "step": 2}', "duplicate key 'step'"),
        ("[1]", r"is not a checkpoint \(top level is list"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_a_file_that_is_not_a_checkpoint(text: str, match: str, tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text(text, encoding="utf-8")
    model = nn.MLP(2, [3, 2], seed=4)
    with pytest.raises(ValueError, match=match):
        nn.load_checkpoint(path, model=model)


def test_a_failing_second_model_puts_the_first_one_back(tmp_path: Path) -> None:
    a, b = nn.MLP(2, [2, 1], seed=0), nn.MLP(2, [2, 1], seed=1)
    nn.save_checkpoint(tmp_path / "c.json", model={"a": a, "b": b})
    doc = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    doc["models"]["b"]["state_dict"]["layers.1.neurons.0.w"] = [1.0]
    (tmp_path / "c.json").write_text(json.dumps(doc), encoding="utf-8")
    a2, b2 = nn.MLP(2, [2, 1], seed=7), nn.MLP(2, [2, 1], seed=8)
    before = a2.state_dict(), b2.state_dict()
    with pytest.raises(ValueError, match="model 'b': MLP.load_state_dict: entry 'layers.1.neurons.0.w' has 1"):
        nn.load_checkpoint(tmp_path / "c.json", model={"a": a2, "b": b2})
    assert (a2.state_dict(), b2.state_dict()) == before


def test_asking_for_the_rng_of_a_checkpoint_without_one(tmp_path: Path) -> None:
    model = nn.MLP(2, [3, 2], seed=4)
    nn.save_checkpoint(tmp_path / "c.json", model=model, rng=random.Random(0))
    with pytest.raises(ValueError, match="holds an RNG state, but no rng= was passed"):
        nn.load_checkpoint(tmp_path / "c.json", model=model)


def test_saving_is_atomic_and_refuses_non_finite_numbers(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    train("adam", 0, 2, save=str(path))
    old = path.read_bytes()
    model, opt, _, _ = build("adam")
    with pytest.raises(ValueError, match="save_checkpoint: a parameter, buffer or extra value is nan or inf"):
        nn.save_checkpoint(path, model=model, optimizer=opt, extra={"loss": math.inf})
    with pytest.raises(TypeError, match="save_checkpoint: extra must hold only JSON data"):
        nn.save_checkpoint(path, model=build("adam")[0], extra={"f": print})
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json"]  # no temp files left behind


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": None}, TypeError, "save_checkpoint: model must be a Module or a dict of named ones, got NoneType"),
        ({"model": {}}, TypeError, "model must be a Module or a dict"),
        ({"optimizer": "adam"}, TypeError, "optimizer must be an Optimizer or a dict"),
        ({"schedule": {"s": 1}}, TypeError, r"schedule\['s'\] must be a Schedule, got int"),
        ({"optimizer": {"": None}}, TypeError, "the names in optimizer= must be non-empty strings"),
        ({"rng": 3}, TypeError, "rng must be a random.Random or None, got int"),
        ({"extra": [1]}, TypeError, "extra must be a dict of JSON data, got list"),
        ({"step": -1}, ValueError, "save_checkpoint: step must be >= 0"),
        ({"path": 3}, TypeError, "save_checkpoint: path must be a str or os.PathLike"),
    ],
)
def test_bad_arguments_to_save(kwargs: dict[str, Any], error: type[Exception], match: str, tmp_path: Path) -> None:
    args: dict[str, Any] = {"path": tmp_path / "c.json", "model": nn.MLP(2, [1], seed=0), **kwargs}
    with pytest.raises(error, match=match):
        nn.save_checkpoint(**args)
    assert not (tmp_path / "c.json").exists()


def test_bad_arguments_to_load(tmp_path: Path) -> None:
    model = nn.MLP(2, [1], seed=0)
    nn.save_checkpoint(tmp_path / "c.json", model=model)
    with pytest.raises(TypeError, match="load_checkpoint: rng must be a random.Random or None, got str"):
        nn.load_checkpoint(tmp_path / "c.json", model=model, rng="seed")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"load_checkpoint: model\['m'\] must be a Module, got list"):
        nn.load_checkpoint(tmp_path / "c.json", model={"m": []})  # type: ignore[dict-item]
