"""nn modules: parameter counts and names, list outputs, activations, init, repr, state dicts, save/load."""

from __future__ import annotations

import json
import math
import os
import random
import statistics
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import nn
from autograd import Value


def snapshot(model: nn.Module) -> list[float]:
    return [p.data for p in model.parameters()]


# ---- structure ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("nin", "nouts", "count"),
    [
        (2, [4, 1], 2 * 4 + 4 + 4 * 1 + 1),
        (2, [16, 16, 1], 48 + 272 + 17),
        (64, [32, 10], 64 * 32 + 32 + 330),
        (3, [1], 4),
    ],
)
def test_parameter_counts(nin: int, nouts: list[int], count: int) -> None:
    model = nn.MLP(nin, nouts, seed=0)
    assert len(model.parameters()) == count
    assert len(model.named_parameters()) == count
    assert f"{count} parameters" in repr(model)


def test_parameter_names_and_labels() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert names[:4] == [
        "layers.0.neurons.0.w.0",
        "layers.0.neurons.0.w.1",
        "layers.0.neurons.0.b",
        "layers.0.neurons.1.w.0",
    ]
    assert names[-1] == "layers.1.neurons.0.b"
    assert "layers.0.neurons.1.w.0" in names and "layers.0.neurons.1.b" in names
    assert len(set(names)) == len(names)
    for name, p in model.named_parameters():
        assert p.label == name and p.is_leaf()
    assert [p for _, p in model.named_parameters()] == model.parameters()
    # the entry names (state dict keys) are the names without the element index
    assert list(model.state_dict())[:2] == ["layers.0.neurons.0.w", "layers.0.neurons.0.b"]


def test_neuron_and_layer_names() -> None:
    assert [n for n, _ in nn.Neuron(2, rng=random.Random(0)).named_parameters()] == ["w.0", "w.1", "b"]
    layer = nn.Layer(1, 2, rng=random.Random(0))
    assert [n for n, _ in layer.named_parameters()] == ["neurons.0.w.0", "neurons.0.b", "neurons.1.w.0", "neurons.1.b"]


def test_layer_and_mlp_always_return_lists() -> None:
    layer = nn.Layer(3, 1, rng=random.Random(1))
    out = layer([1.0, 2.0, 3.0])
    assert isinstance(out, list) and len(out) == 1 and isinstance(out[0], Value)
    model = nn.MLP(3, [1], seed=1)
    out = model([1.0, 2.0, 3.0])
    assert isinstance(out, list) and len(out) == 1
    assert isinstance(nn.Neuron(2, rng=random.Random(0))([1.0, 2.0]), Value)


def test_forward_is_the_formula() -> None:
    neuron = nn.Neuron(3, activation="none", rng=random.Random(2))
    neuron.b.data = 0.25
    x = [0.5, -1.5, 2.0]
    expected = sum(w.data * xi for w, xi in zip(neuron.w, x)) + 0.25
    assert neuron(x).data == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("name", nn.ACTIVATIONS)
def test_activation_by_name_matches_engine(name: str) -> None:
    neuron = nn.Neuron(2, activation=name, rng=random.Random(3))
    neuron.b.data = -0.3
    x = [0.7, -0.4]
    pre = Value(neuron.w[0].data * 0.7 + neuron.w[1].data * -0.4 - 0.3)
    expected = pre if name == "none" else getattr(pre, name)()
    out = neuron(x)
    assert out.data == pytest.approx(expected.data, rel=1e-14, abs=1e-15)
    assert out.op == ("+" if name == "none" else name)


def test_mlp_hidden_and_output_activations() -> None:
    model = nn.MLP(2, [3, 3, 2], activation="relu", output_activation="sigmoid", seed=0)
    assert [layer.activation for layer in model.layers] == ["relu", "relu", "sigmoid"]
    assert [layer.activation for layer in nn.MLP(2, [3, 1], seed=0).layers] == ["tanh", "none"]


def test_gradients_match_central_differences() -> None:
    model = nn.MLP(3, [4, 2], activation="gelu", output_activation="tanh", seed=5)
    x = [0.3, -0.8, 1.1]

    def loss_value() -> float:
        return sum(o.data * (k + 1) for k, o in enumerate(model(x)))

    out = model(x)
    loss = out[0] + 2 * out[1]
    model.zero_grad()
    loss.backward()
    h = 1e-6
    for name, p in model.named_parameters():
        orig = p.data
        p.data = orig + h
        up = loss_value()
        p.data = orig - h
        down = loss_value()
        p.data = orig
        assert p.grad == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-8), name


def test_forward_accepts_values_and_propagates_to_inputs() -> None:
    model = nn.MLP(2, [2, 1], seed=0)
    x = [Value(0.5), Value(-0.5)]
    y = model(x)[0]
    y.backward()
    assert any(xi.grad != 0.0 for xi in x)


def test_zero_grad() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    model([1.0, 2.0])[0].backward()
    assert any(p.grad != 0.0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_bad_inputs_are_clear_errors() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="MLP: expected 2 inputs, got 3"):
        model([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="MLP: input must be a sequence"):
        model(Value(1.0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Layer: expected 3 inputs"):
        nn.Layer(3, 2)([1.0])
    with pytest.raises(ValueError, match="Neuron: expected 2 inputs"):
        nn.Neuron(2)([1.0])
    with pytest.raises(TypeError, match="MLP: bad input: .*got str 'a'"):
        model(["a", "b"])
    with pytest.raises(ValueError, match="Layer: bad input: .*finite"):
        nn.Layer(2, 1)([1.0, math.nan])


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: nn.MLP(0, [1]), ValueError, "nin must be >= 1"),
        (lambda: nn.MLP(2, []), TypeError, "nouts must be a non-empty list"),
        (lambda: nn.MLP(2, [3, 0]), ValueError, "each of nouts must be >= 1"),
        (lambda: nn.MLP(2, [True]), TypeError, "each of nouts must be an int"),
        (lambda: nn.MLP(2.0, [1]), TypeError, "nin must be an int"),
        (lambda: nn.MLP(2, [1], activation="swish"), ValueError, "unknown activation 'swish'"),
        (lambda: nn.MLP(2, [1], output_activation="softmax"), ValueError, "unknown activation 'softmax'"),
        (lambda: nn.MLP(2, [1], init="zeros"), ValueError, "unknown init 'zeros'"),
        (lambda: nn.MLP(2, [1], seed="abc"), TypeError, "seed must be an int or None"),
        (lambda: nn.Neuron(2, rng=42), TypeError, "rng must be a random.Random"),
        (lambda: nn.Layer(2, -1), ValueError, "nout must be >= 1"),
    ],
)
def test_bad_constructor_arguments(make: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()  # type: ignore[operator]


# ---- init -----------------------------------------------------------------------------------------
def test_same_seed_same_model_and_different_seed_differs() -> None:
    assert snapshot(nn.MLP(3, [5, 2], seed=7)) == snapshot(nn.MLP(3, [5, 2], seed=7))
    assert snapshot(nn.MLP(3, [5, 2], seed=7)) != snapshot(nn.MLP(3, [5, 2], seed=8))


def test_uniform_init_is_micrograds() -> None:
    micrograd_nn = pytest.importorskip("micrograd.nn", reason="micrograd (the bench extra) is not installed")
    random.seed(123)
    ref = micrograd_nn.MLP(3, [4, 4, 1])
    ours = nn.MLP(3, [4, 4, 1], activation="relu", seed=123)
    assert [p.data for p in ref.parameters()] == snapshot(ours)
    x = [0.5, -1.0, 2.0]
    r, o = ref(x), ours(x)[0]
    r.backward()
    o.backward()
    assert o.data == pytest.approx(r.data, rel=1e-12, abs=1e-15)
    for rp, op in zip(ref.parameters(), ours.parameters()):
        assert op.grad == pytest.approx(rp.grad, rel=1e-12, abs=1e-15)


def test_init_scales() -> None:
    nin, nout = 50, 40
    uni = nn.Layer(nin, nout, init="uniform", rng=random.Random(0))
    xav = nn.Layer(nin, nout, init="xavier", rng=random.Random(0))
    he = nn.Layer(nin, nout, init="he", rng=random.Random(0))

    def weights(layer: nn.Layer) -> list[float]:
        return [w.data for n in layer.neurons for w in n.w]

    bound = math.sqrt(6.0 / (nin + nout))
    assert max(abs(w) for w in weights(uni)) <= 1.0 and max(abs(w) for w in weights(uni)) > 0.95
    assert max(abs(w) for w in weights(xav)) <= bound and max(abs(w) for w in weights(xav)) > 0.95 * bound
    # He: N(0, 2 / fan_in); 2000 draws put the sample std within 10% of sqrt(2 / 50) = 0.2
    assert statistics.pstdev(weights(he)) == pytest.approx(math.sqrt(2.0 / nin), rel=0.1)
    assert all(n.b.data == 0.0 for layer in (uni, xav, he) for n in layer.neurons)


def test_repr_is_readable() -> None:
    text = repr(nn.MLP(2, [16, 16, 1], activation="relu", seed=0))
    assert text.splitlines()[0] == (
        "MLP(2 -> 16 -> 16 -> 1, activation='relu', output_activation='none', init='uniform', 337 parameters)"
    )
    assert "(layers.1): Layer(16 -> 16, activation='relu', 272 parameters)" in text
    assert "(layers.2): Layer(16 -> 1, activation='none', 17 parameters)" in text


# ---- state dicts ----------------------------------------------------------------------------------
def test_state_dict_round_trip() -> None:
    a, b = nn.MLP(2, [3, 2], seed=1), nn.MLP(2, [3, 2], seed=2)
    state = a.state_dict()
    assert state["layers.1.neurons.0.w"] == [w.data for w in a.layers[1].neurons[0].w]
    assert state["layers.1.neurons.0.b"] == a.layers[1].neurons[0].b.data
    b.load_state_dict(state)
    assert snapshot(b) == snapshot(a)
    x = [0.4, -0.2]
    assert [o.data for o in b(x)] == [o.data for o in a(x)]
    state["layers.0.neurons.0.b"] = 99.0  # a copy: editing it leaves the model alone
    assert a.layers[0].neurons[0].b.data != 99.0
    json.dumps(a.state_dict())  # plain JSON data


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=13, max_size=13))
def test_state_dict_round_trip_any_values(values: list[float]) -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    for p, v in zip(model.parameters(), values):
        p.data = v
    other = nn.MLP(2, [3, 1], seed=1)
    other.load_state_dict(model.state_dict())
    assert snapshot(other) == values


def bad_states() -> list[tuple[str, object, type[Exception], str]]:
    good = nn.MLP(2, [2, 1], seed=0).state_dict()
    cases: list[tuple[str, object, type[Exception], str]] = []

    def edit(desc: str, fn: object, error: type[Exception], match: str) -> None:
        state = json.loads(json.dumps(good))
        fn(state)  # type: ignore[operator]
        cases.append((desc, state, error, match))

    edit("missing key", lambda s: s.pop("layers.1.neurons.0.b"), ValueError, "missing keys: layers.1.neurons.0.b")
    edit("extra key", lambda s: s.update({"layers.2.neurons.0.b": 0.0}), ValueError, "unexpected keys")
    edit("short vector", lambda s: s["layers.0.neurons.1.w"].pop(), ValueError, "has 1 numbers, the model needs 2")
    edit("long vector", lambda s: s["layers.1.neurons.0.w"].append(1.0), ValueError, "has 3 numbers")
    edit("string", lambda s: s.update({"layers.1.neurons.0.b": "0.5"}), TypeError, "expected a real number")
    edit("bool", lambda s: s["layers.0.neurons.0.w"].__setitem__(0, True), TypeError, "expected a real number")
    edit("None", lambda s: s["layers.0.neurons.0.w"].__setitem__(1, None), TypeError, "expected a real number")
    edit("nan", lambda s: s.update({"layers.0.neurons.0.b": math.nan}), ValueError, "expected a finite number")
    edit("inf", lambda s: s["layers.1.neurons.0.w"].__setitem__(0, math.inf), ValueError, "finite")
    edit("huge int", lambda s: s.update({"layers.0.neurons.0.b": 10**400}), ValueError, "finite")
    edit("scalar for vector", lambda s: s.update({"layers.0.neurons.0.w": 1.0}), TypeError, "must be a list of 2")
    edit("vector for scalar", lambda s: s.update({"layers.0.neurons.0.b": [1.0]}), TypeError, "real number")
    cases.append(("not a dict", [1, 2], TypeError, "must be a dict"))
    return cases


@pytest.mark.parametrize(("desc", "state", "error", "match"), bad_states(), ids=[c[0] for c in bad_states()])
def test_load_state_dict_rejects_and_changes_nothing(
    desc: str, state: object, error: type[Exception], match: str
) -> None:
    model = nn.MLP(2, [2, 1], seed=3)
    before = snapshot(model)
    # the good entries (seed 0) differ from this model's (seed 3), so a partial load would show
    with pytest.raises(error, match=match):
        model.load_state_dict(state)  # type: ignore[arg-type]
    assert snapshot(model) == before


# ---- files ------------------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path: Path) -> None:
    a = nn.MLP(2, [4, 1], activation="relu", output_activation="sigmoid", init="he", seed=4)
    path = tmp_path / "model.json"
    a.save(path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["format"] == "chainrule-model" and doc["version"] == 1
    assert doc["model"] == {
        "type": "MLP",
        "nin": 2,
        "nouts": [4, 1],
        "activation": "relu",
        "output_activation": "sigmoid",
        "init": "he",
    }
    b = nn.MLP(2, [4, 1], activation="relu", output_activation="sigmoid", seed=5)  # init may differ
    b.load(str(path))
    assert snapshot(b) == snapshot(a)
    c = nn.MLP.from_file(path)
    assert snapshot(c) == snapshot(a) and c.config() == a.config()
    assert snapshot(nn.load_model(path)) == snapshot(a)
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]  # no temp file left behind


def test_neuron_and_layer_files(tmp_path: Path) -> None:
    layer = nn.Layer(3, 2, activation="elu", rng=random.Random(0))
    layer.save(tmp_path / "layer.json")
    back = nn.load_model(tmp_path / "layer.json")
    assert isinstance(back, nn.Layer) and snapshot(back) == snapshot(layer)
    neuron = nn.Neuron(2, activation="softplus", rng=random.Random(0))
    neuron.save(tmp_path / "neuron.json")
    assert snapshot(nn.load_model(tmp_path / "neuron.json")) == snapshot(neuron)
    with pytest.raises(ValueError, match="holds a Layer, not an MLP"):
        nn.MLP.from_file(tmp_path / "layer.json")


def test_save_overwrites_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.json"
    model = nn.MLP(2, [2, 1], seed=0)
    model.save(path)
    original = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    model.layers[0].neurons[0].b.data = 5.0
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == original  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # the temp file was removed


def file_errors(good: dict) -> list[tuple[str, str, str]]:
    text = json.dumps(good)
    cases = [
        ("truncated", text[: len(text) // 2], "not a valid model file"),
        ("empty", "", "not a valid model file"),
        ("not utf-8", "\udcff", "not a valid model file"),
        ("NaN literal", text.replace('"layers.0.neurons.0.b": 0.0', '"layers.0.neurons.0.b": NaN'), "NaN"),
        (
            "Infinity literal",
            text.replace('"layers.0.neurons.0.b": 0.0', '"layers.0.neurons.0.b": -Infinity'),
            "Infinity",
        ),
        ("overflowing number", text.replace('"layers.0.neurons.0.b": 0.0', '"layers.0.neurons.0.b": 1e999'), "finite"),
        ("top-level list", "[1, 2]", "not a model file"),
        ("duplicate key", text[:-1] + ', "format": "chainrule-model"}', "duplicate key"),
    ]

    def edit(desc: str, fn: object, match: str) -> None:
        doc = json.loads(text)
        fn(doc)  # type: ignore[operator]
        cases.append((desc, json.dumps(doc), match))

    edit("wrong format", lambda d: d.update(format="keras"), "format 'keras'")
    edit("wrong version", lambda d: d.update(version=2), "version 2")
    edit("bool version", lambda d: d.update(version=True), "version True")
    edit("missing state_dict", lambda d: d.pop("state_dict"), "must have exactly the keys")
    edit("extra top-level key", lambda d: d.update(extra=1), "must have exactly the keys")
    edit("other architecture", lambda d: d["model"].update(nouts=[3, 1]), "holds MLP")
    edit("other activation", lambda d: d["model"].update(activation="relu"), "holds MLP")
    edit("unknown type", lambda d: d["model"].update(type="CNN"), "unknown model type 'CNN'")
    edit("bad nin type", lambda d: d["model"].update(nin="2"), "nin must be an int")
    edit("bad activation", lambda d: d["model"].update(activation=3), "activation must be a str")
    edit("missing header key", lambda d: d["model"].pop("init"), "header must have the keys")
    edit("missing key", lambda d: d["state_dict"].pop("layers.1.neurons.0.w"), "missing keys")
    edit("extra key", lambda d: d["state_dict"].update({"x": 1.0}), "unexpected keys: 'x'")
    edit("wrong size", lambda d: d["state_dict"]["layers.0.neurons.1.w"].append(0.5), "has 3 numbers")
    edit("string number", lambda d: d["state_dict"].update({"layers.0.neurons.1.b": "0.1"}), "real number")
    edit("bool number", lambda d: d["state_dict"].update({"layers.0.neurons.1.b": False}), "real number")
    edit("null number", lambda d: d["state_dict"]["layers.1.neurons.0.w"].__setitem__(1, None), "real number")
    edit("state_dict not an object", lambda d: d.update(state_dict=[1.0]), "must be a dict")
    return cases


GOOD_DOC = {
    "format": "chainrule-model",
    "version": 1,
    "model": {
        "type": "MLP",
        "nin": 2,
        "nouts": [2, 1],
        "activation": "tanh",
        "output_activation": "none",
        "init": "uniform",
    },
    "state_dict": {
        "layers.0.neurons.0.w": [0.5, -0.5],
        "layers.0.neurons.0.b": 0.0,
        "layers.0.neurons.1.w": [0.25, 0.75],
        "layers.0.neurons.1.b": 0.1,
        "layers.1.neurons.0.w": [1.0, -1.0],
        "layers.1.neurons.0.b": -0.2,
    },
}


def test_a_hand_written_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(GOOD_DOC), encoding="utf-8")
    model = nn.MLP(2, [2, 1], seed=9)
    model.load(path)
    assert model.layers[0].neurons[1].w[1].data == 0.75 and model.layers[1].neurons[0].b.data == -0.2
    out = model([1.0, 2.0])[0].data
    assert out == pytest.approx(math.tanh(-0.5) - math.tanh(0.25 + 1.5 + 0.1) - 0.2, rel=1e-15)


CASES = file_errors(GOOD_DOC)


@pytest.mark.parametrize(("desc", "text", "match"), CASES, ids=[c[0] for c in CASES])
def test_every_load_error_leaves_the_model_as_it_was(tmp_path: Path, desc: str, text: str, match: str) -> None:
    path = tmp_path / "m.json"
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    model = nn.MLP(2, [2, 1], seed=6)
    before = snapshot(model)
    with pytest.raises(ValueError, match=match):
        model.load(path)
    assert snapshot(model) == before
    if desc not in ("other architecture", "other activation"):
        with pytest.raises(ValueError, match=match):
            nn.load_model(path)


def test_load_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        nn.MLP(2, [1]).load(tmp_path / "nope.json")


class Affine(nn.Module):
    """A user-defined module: y = a x + c, with its own parameters and config."""

    def __init__(self) -> None:
        self.a = Value(2.0)
        self.c = Value(-1.0)
        self.inner = nn.Neuron(1, activation="none", rng=random.Random(0))

    def local_parameters(self) -> list[tuple[str, nn.module.Entry]]:
        return [("a", self.a), ("c", self.c)]

    def named_children(self) -> list[tuple[str, nn.Module]]:
        return [("inner", self.inner)]

    def forward(self, x: list[float]) -> Value:
        return self.inner([self.a * x[0] + self.c])

    def config(self) -> dict[str, object]:
        return {"type": "Affine"}


def test_a_user_defined_module_gets_names_state_and_files(tmp_path: Path) -> None:
    m = Affine()
    assert [n for n, _ in m.named_parameters()] == ["a", "c", "inner.w.0", "inner.b"]
    assert m.state_dict() == {"a": 2.0, "c": -1.0, "inner.w": [m.inner.w[0].data], "inner.b": 0.0}
    m.save(tmp_path / "affine.json")
    other = Affine()
    other.a.data = 7.0
    other.load(tmp_path / "affine.json")
    assert other.a.data == 2.0
    with pytest.raises(ValueError, match="unknown model type 'Affine'"):
        nn.load_model(tmp_path / "affine.json")
    with pytest.raises(ValueError, match="unknown model type 'Affine'"):
        nn.MLP(1, [1]).load(tmp_path / "affine.json")


def test_each_input_is_one_leaf_shared_by_the_first_layer() -> None:
    import autograd

    model = nn.MLP(3, [4, 2], seed=0)
    out = model([1.0, 2.0, 3.0])[0]
    leaves = autograd.leaves(out)
    params = set(model.layers[0].parameters()) | set(model.layers[1].neurons[0].parameters())
    inputs = [v for v in leaves if v not in params]
    assert sorted(v.data for v in inputs) == [1.0, 2.0, 3.0]  # not one leaf per multiplication
    assert len(leaves) == 3 + len(params)


# ---- help() teaches -----------------------------------------------------------------------------
def _public_methods(cls: type) -> list[str]:
    names = [n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))]
    return ["__init__", "__call__", *sorted(names)]


@pytest.mark.parametrize("cls", [nn.Neuron, nn.Layer, nn.MLP], ids=lambda c: c.__name__)
def test_every_public_method_says_what_it_returns(cls: type) -> None:
    for name in _public_methods(cls):
        doc = getattr(cls, name).__doc__
        assert doc, f"{cls.__name__}.{name} has no docstring"
        assert "return" in doc.lower(), f"help({cls.__name__}.{name}) does not say what it returns:\n{doc}"


def test_help_gives_the_math_and_the_return_type_of_calling_a_module() -> None:
    # what `help(nn.Neuron)`, `help(nn.Layer)`, `help(nn.MLP.__call__)` show first
    assert "activation(w . x + b)" in (nn.Neuron.__doc__ or "") and "returns ONE Value" in (nn.Neuron.__doc__ or "")
    assert "activation(sum_i W[j][i] x_i + b_j)" in (nn.Layer.__doc__ or "")
    assert "returns a list of nout Values" in (nn.Layer.__doc__ or "")
    assert "h_l = activation_l(W_l h_{l-1} + b_l)" in (nn.MLP.__doc__ or "")
    assert "returns a list of Values" in (nn.MLP.__doc__ or "") and "model(x)[0]" in (nn.MLP.__doc__ or "")
    for cls, returned in ((nn.Neuron, "one Value"), (nn.Layer, "list of nout Values"), (nn.MLP, "list of Values")):
        assert returned in (cls.__call__.__doc__ or ""), cls
        assert returned.replace("nout ", "") in (cls.forward.__doc__ or "").replace("nout ", ""), cls
    assert "bias" in (nn.Layer.__init__.__doc__ or "") and "rows=" in (nn.Layer.set_weights.__doc__ or "")
    import pydoc

    text = pydoc.render_doc(nn.MLP.__call__, renderer=pydoc.plaintext)
    assert "`model(x)[0]` is the Value" in text
