"""The bad-input table: one row per mistake a user can make at a public entry point of autograd or nn.

Each row is one test. It asserts the error type and that the message names where the mistake was
made, what was wrong (the offending value or type) and what was expected. The table of docs/errors.md
("Errors and guarantees") lists the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import autograd
import nn
from autograd import Value
from nn import datasets, optim


@dataclass(frozen=True)
class Row:
    case: str  # what the user did
    call: Callable[[], object]
    error: type[BaseException]
    words: tuple[str, ...]  # each must appear in the message: where, what was wrong, what was expected


def _mlp() -> nn.MLP:
    return nn.MLP(2, [3, 1], seed=0)


def _params() -> list[Value]:
    return _mlp().parameters()


def _sgd() -> optim.SGD:
    return optim.SGD(_params(), lr=0.1)


def _set_lr(value: object) -> None:
    opt = _sgd()
    opt.lr = value  # type: ignore[assignment]


def _f(x: Value) -> Value:
    return x * x


ROWS = [
    # ---- autograd: Values and ops ----
    Row("Value of a str", lambda: Value("3"), TypeError, ("Value", "str", "'3'", "expected a real number")),  # type: ignore[arg-type]
    Row("Value of None", lambda: Value(None), TypeError, ("Value", "NoneType", "expected a real number")),  # type: ignore[arg-type]
    Row("Value of a complex", lambda: Value(1j), TypeError, ("Value", "complex", "1j", "expected a real number")),  # type: ignore[arg-type]
    Row("Value of a list", lambda: Value([1.0]), TypeError, ("Value", "list", "[1.0]", "expected a real number")),  # type: ignore[arg-type]
    Row("Value of a bool", lambda: Value(True), TypeError, ("Value", "bool", "True", "expected a real number")),
    Row("Value of nan", lambda: Value(math.nan), ValueError, ("Value", "nan", "expected a finite number")),
    Row("Value of inf", lambda: Value(-math.inf), ValueError, ("Value", "-inf", "expected a finite number")),
    Row("Value of 10**400", lambda: Value(10**400), OverflowError, ("Value", "int", "too large", "finite number")),
    Row("label not a str", lambda: Value(1.0, 5), TypeError, ("Value", "label must be a str", "int", "5")),  # type: ignore[arg-type]
    Row("Value + str", lambda: Value(1.0) + "2", TypeError, ("+", "str", "'2'", "unsupported operand")),  # type: ignore[operator]
    Row("Value * None", lambda: Value(1.0) * None, TypeError, ("*", "NoneType", "unsupported operand")),  # type: ignore[operator]
    Row("list - Value", lambda: [1.0] - Value(1.0), TypeError, ("-", "list", "unsupported operand")),  # type: ignore[operator]
    Row("Value / complex", lambda: Value(1.0) / 2j, TypeError, ("/", "complex", "2j")),  # type: ignore[operator]
    Row("Value ** str", lambda: Value(2.0) ** "2", TypeError, ("**", "str", "'2'", "expected a real number")),  # type: ignore[operator]
    Row("Value < str", lambda: Value(1.0) < "2", TypeError, ("<", "str", "'2'", "unsupported operand")),  # type: ignore[operator]
    Row("log of 0", lambda: Value(0.0).log(), ValueError, ("log", "0.0", "must be > 0")),
    Row("sqrt of a negative", lambda: Value(-4.0).sqrt(), ValueError, ("sqrt", "-4.0", "must be >= 0")),
    Row("division by zero", lambda: Value(3.0) / 0, ZeroDivisionError, ("/", "division by zero", "3.0")),
    Row("negative ** fraction", lambda: Value(-8.0) ** 0.5, ValueError, ("**", "-8.0", "non-integer", "not real")),
    Row("forward overflow", lambda: Value(1000.0).exp(), OverflowError, ("exp", "overflows", "1000.0")),
    Row(
        "gradient that overflows",
        lambda: ((Value(1e-200, "a") * 1e200) * 1e200).backward(),
        OverflowError,
        ("backward", "'a'", "inf", "detect_anomaly"),
    ),
    Row(
        "infinite derivative",
        lambda: Value(0.0).sqrt().backward(),
        autograd.DerivativeError,
        ("sqrt", "derivative is infinite at x = 0.0"),
    ),
    Row(
        "exponent's gradient at a negative base",
        lambda: (Value(-2.0) ** Value(2.0)).backward(),
        autograd.DerivativeError,
        ("pow", "d out/d y", "undefined (nan)", "x = -2.0"),
    ),
    Row(
        "math.exp of a Value",
        lambda: math.exp(Value(1.0)),
        TypeError,
        ("float(Value) is refused", "v.exp()", "v.item()"),
    ),  # type: ignore[arg-type]
    Row("Value == a number", lambda: Value(1.0) == 1.0, TypeError, ("Value == 1.0", "identity", "v.data == 1.0")),
    Row("if Value:", lambda: bool(Value(0.0)), TypeError, ("bool(Value)", "if v.data != 0:")),
    Row("op parameter a str", lambda: Value(1.0).leaky_relu("0.1"), TypeError, ("leaky_relu", "str", "real number")),  # type: ignore[arg-type]
    Row("op parameter nan", lambda: Value(1.0).elu(math.nan), ValueError, ("elu", "nan", "finite")),
    Row("backward seed a str", lambda: Value(1.0).backward("1"), TypeError, ("backward", "str", "real number")),  # type: ignore[arg-type]
    Row("backward seed inf", lambda: Value(1.0).backward(math.inf), ValueError, ("backward", "inf", "finite")),
    # ---- autograd: graph functions and calculus ----
    Row(
        "gradients of a non-Value",
        lambda: autograd.gradients(3.0, []),  # type: ignore[arg-type]
        TypeError,
        ("gradients", "output must be a Value", "float"),
    ),
    Row(
        "gradients wrt a bare Value",
        lambda: autograd.gradients(Value(1.0), Value(1.0)),  # type: ignore[arg-type]
        TypeError,
        ("gradients", "list or tuple of Values", "wrap"),
    ),
    Row(
        "gradients wrt a str",
        lambda: autograd.gradients(Value(1.0), ["x"]),  # type: ignore[list-item]
        TypeError,
        ("gradients", "expected Value", "str"),
    ),
    Row(
        "topological_order of a non-Value",
        lambda: autograd.topological_order("x"),  # type: ignore[arg-type]
        TypeError,
        ("topological_order", "must be a Value", "str"),
    ),
    Row("zero_grad of a non-Value", lambda: autograd.zero_grad(None), TypeError, ("zero_grad", "Values", "NoneType")),  # type: ignore[arg-type]
    Row("leaves of a non-Value", lambda: autograd.leaves([1]), TypeError, ("leaves", "must be a Value", "list")),  # type: ignore[arg-type]
    Row(
        "local_derivatives of a non-Value",
        lambda: autograd.local_derivatives(2.0),  # type: ignore[arg-type]
        TypeError,
        ("local_derivatives", "must be a Value", "float"),
    ),
    Row("grad at a str", lambda: autograd.grad(_f)("1.0"), TypeError, ("grad argument 0", "str", "real number")),
    Row(
        "grad argnums a str",
        lambda: autograd.grad(_f, argnums="0")(1.0),  # type: ignore[arg-type]
        TypeError,
        ("argnums", "'0'", "int or a tuple of ints"),
    ),
    Row(
        "grad argnums out of range",
        lambda: autograd.grad(_f, argnums=3)(1.0),
        ValueError,
        ("argnums 3", "out of range", "1 positional argument"),
    ),
    Row(
        "f returns a str",
        lambda: autograd.value_and_grad(lambda x: "y")(1.0),
        TypeError,
        ("f's result", "str", "real number"),
    ),
    Row("gradcheck without inputs", lambda: autograd.gradcheck(_f), ValueError, ("gradcheck", "at least one input")),
    Row(
        "gradcheck of a non-Value f",
        lambda: autograd.gradcheck(lambda x: 1.0, 2.0),
        TypeError,
        ("gradcheck", "must return a Value", "float"),
    ),
    Row("draw a non-Value", lambda: autograd.draw(1.0), TypeError, ("draw", "root must be a Value", "float")),  # type: ignore[arg-type]
    Row(
        "draw with an unknown rankdir",
        lambda: autograd.draw(Value(1.0), rankdir="XY"),
        ValueError,
        ("draw", "rankdir", "'XY'", "LR"),
    ),
    Row(
        "draw with max_nodes a bool",
        lambda: autograd.draw(Value(1.0), max_nodes=True),
        TypeError,
        ("draw", "max_nodes must be an int", "True"),
    ),
    Row(
        "draw a graph over max_nodes",
        lambda: autograd.draw(Value(1.0) * 2.0, max_nodes=2),
        ValueError,
        ("draw", "3 nodes", "max_nodes=2"),
    ),
    Row("save_svg to None", lambda: autograd.save_svg(Value(1.0), None), TypeError, ("save_svg", "path", "NoneType")),  # type: ignore[arg-type]
    Row("explain a non-Value", lambda: autograd.explain("L"), TypeError, ("explain", "must be a Value", "str")),  # type: ignore[arg-type]
    # ---- nn: building models ----
    Row("MLP nin a str", lambda: nn.MLP("2", [1]), TypeError, ("MLP", "nin must be an int", "str")),  # type: ignore[arg-type]
    Row("MLP nin a float", lambda: nn.MLP(2.0, [1]), TypeError, ("MLP", "nin must be an int", "float")),  # type: ignore[arg-type]
    Row("MLP nin a bool", lambda: nn.MLP(True, [1]), TypeError, ("MLP", "nin must be an int", "bool")),
    Row("MLP nin 0", lambda: nn.MLP(0, [1]), ValueError, ("MLP", "nin must be >= 1", "0")),
    Row("MLP nouts empty", lambda: nn.MLP(2, []), TypeError, ("MLP", "nouts", "non-empty list", "[]")),
    Row("MLP nouts an int", lambda: nn.MLP(2, 3), TypeError, ("MLP", "nouts", "non-empty list", "3")),  # type: ignore[arg-type]
    Row("MLP layer size 0", lambda: nn.MLP(2, [4, 0]), ValueError, ("MLP", "each of nouts", ">= 1", "0")),
    Row(
        "unknown activation",
        lambda: nn.MLP(2, [1], activation="tanhh"),
        ValueError,
        ("MLP", "unknown activation 'tanhh'", "tanh", "relu"),
    ),
    Row(
        "activation not a str",
        lambda: nn.Layer(2, 2, activation=None),  # type: ignore[arg-type]
        TypeError,
        ("Layer", "activation must be a str", "NoneType"),
    ),
    Row(
        "unknown output activation",
        lambda: nn.MLP(2, [1], output_activation="softmax"),
        ValueError,
        ("MLP", "unknown activation 'softmax'", "none"),
    ),
    Row("unknown init", lambda: nn.Neuron(2, init="glorot"), ValueError, ("Neuron", "unknown init 'glorot'", "xavier")),
    Row("seed a str", lambda: nn.MLP(2, [1], seed="1"), TypeError, ("MLP", "seed", "str", "int or None")),  # type: ignore[arg-type]
    # ---- nn: forward ----
    Row("MLP input too long", lambda: _mlp()([1.0, 2.0, 3.0]), ValueError, ("MLP", "expected 2 inputs", "got 3")),
    Row("MLP input too short", lambda: _mlp()([1.0]), ValueError, ("MLP", "expected 2 inputs", "got 1")),
    Row("Layer input wrong length", lambda: nn.Layer(3, 2)([1.0]), ValueError, ("Layer", "expected 3 inputs", "got 1")),
    Row("Neuron input wrong length", lambda: nn.Neuron(3)([]), ValueError, ("Neuron", "expected 3 inputs", "got 0")),
    Row("MLP input None", lambda: _mlp()(None), TypeError, ("MLP", "sequence of numbers", "NoneType")),  # type: ignore[arg-type]
    Row(
        "MLP input a str element",
        lambda: _mlp()(["a", 1.0]),
        TypeError,
        ("MLP", "bad input", "str", "'a'", "real number"),
    ),
    Row("MLP input a complex", lambda: _mlp()([1j, 1.0]), TypeError, ("MLP", "bad input", "complex", "real number")),
    Row("MLP input a bool", lambda: _mlp()([True, 1.0]), TypeError, ("MLP", "bad input", "bool", "real number")),
    Row(
        "MLP input a nested list",
        lambda: _mlp()([[1.0], 2.0]),
        TypeError,
        ("MLP", "bad input", "list", "real number"),
    ),
    Row(
        "non-finite sample from a dataset",
        lambda: _mlp()(datasets.xor()[0][1][:1] + [math.nan]),
        ValueError,
        ("MLP", "bad input", "nan", "finite"),
    ),
    Row(
        "Neuron input nan",
        lambda: nn.Neuron(2)([math.nan, 1.0]),
        ValueError,
        ("Neuron", "bad input", "nan", "finite"),
    ),
    Row("Neuron input a str", lambda: nn.Neuron(2)(["x", 1.0]), TypeError, ("Neuron", "bad input", "str", "'x'")),
    # ---- nn: losses ----
    Row(
        "mse_loss lengths differ",
        lambda: nn.mse_loss([Value(1.0), Value(2.0)], [1.0]),
        ValueError,
        ("mse_loss", "2 preds but 1 targets", "match"),
    ),
    Row("mse_loss empty batch", lambda: nn.mse_loss([], []), ValueError, ("mse_loss", "empty")),
    Row(
        "mse_loss of a bare Value",
        lambda: nn.mse_loss(Value(1.0), [1.0]),  # type: ignore[arg-type]
        TypeError,
        ("mse_loss", "preds must be a list", "single Value"),
    ),
    Row("mse_loss target None", lambda: nn.mse_loss([1.0], [None]), TypeError, ("mse_loss", "targets[0]", "NoneType")),
    Row(
        "mse_loss target nan",
        lambda: nn.mse_loss([1.0], [math.nan]),
        ValueError,
        ("mse_loss", "targets[0]", "nan", "finite"),
    ),
    Row(
        "BCE target out of range",
        lambda: nn.binary_cross_entropy_with_logits([0.5], [2.0]),
        ValueError,
        ("binary_cross_entropy_with_logits", "targets[0]", "[0, 1]", "2.0"),
    ),
    Row(
        "hinge label 0",
        lambda: nn.hinge_loss([0.5, 0.1], [1, 0]),
        ValueError,
        ("hinge_loss", "labels[1]", "-1 or +1", "got 0"),
    ),
    Row(
        "cross_entropy label out of range",
        lambda: nn.cross_entropy([1.0, 2.0, 3.0], 3),
        ValueError,
        ("cross_entropy", "3", "out of range for 3 classes", "0..2"),
    ),
    Row(
        "cross_entropy negative label",
        lambda: nn.cross_entropy([1.0, 2.0], -1),
        ValueError,
        ("cross_entropy", "-1", "out of range", "0..1"),
    ),
    Row(
        "cross_entropy label a float",
        lambda: nn.cross_entropy([1.0, 2.0], 1.0),  # type: ignore[arg-type]
        TypeError,
        ("cross_entropy", "int class index", "float", "1.0"),
    ),
    Row(
        "cross_entropy label a bool",
        lambda: nn.cross_entropy([1.0, 2.0], True),
        TypeError,
        ("cross_entropy", "int class index", "bool"),
    ),
    Row("cross_entropy no logits", lambda: nn.cross_entropy([], 0), ValueError, ("cross_entropy", "logits are empty")),
    Row(
        "cross_entropy_batch lengths differ",
        lambda: nn.cross_entropy_batch([[1.0, 2.0]], [0, 1]),
        ValueError,
        ("cross_entropy_batch", "1 rows of logits but 2 target indices"),
    ),
    Row(
        "cross_entropy_batch empty batch",
        lambda: nn.cross_entropy_batch([], []),
        ValueError,
        ("cross_entropy_batch", "batch is empty"),
    ),
    Row(
        "cross_entropy_batch label out of range",
        lambda: nn.cross_entropy_batch([[1.0, 2.0], [0.0, 1.0]], [0, 2]),
        ValueError,
        ("cross_entropy_batch", "target_indices[1]", "2", "out of range for 2 classes"),
    ),
    Row("softmax of a str", lambda: nn.softmax("abc"), TypeError, ("softmax", "logits must be a list", "str")),  # type: ignore[arg-type]
    Row("log_softmax of nothing", lambda: nn.log_softmax([]), ValueError, ("log_softmax", "logits are empty")),
    Row(
        "l2_penalty of a number",
        lambda: nn.l2_penalty([Value(1.0), 2.0]),  # type: ignore[list-item]
        TypeError,
        ("l2_penalty", "params[1]", "must be a Value", "float"),
    ),
    # ---- nn: optimizers and schedules ----
    Row(
        "negative learning rate", lambda: optim.SGD(_params(), lr=-0.1), ValueError, ("SGD", "lr must be >= 0", "-0.1")
    ),
    Row("negative Adam lr", lambda: optim.Adam(_params(), lr=-1e-3), ValueError, ("Adam", "lr must be >= 0", "-0.001")),
    Row("lr set negative later", lambda: _set_lr(-1.0), ValueError, ("SGD", "lr must be >= 0", "-1.0")),
    Row("lr a str", lambda: optim.SGD(_params(), lr="0.1"), TypeError, ("SGD", "lr must be a real number", "str")),  # type: ignore[arg-type]
    Row("lr nan", lambda: optim.AdamW(_params(), lr=math.nan), ValueError, ("AdamW", "lr must be finite", "nan")),
    Row("optimizer given the model", lambda: optim.SGD(_mlp(), lr=0.1), TypeError, ("SGD", "model.parameters()")),  # type: ignore[arg-type]
    Row("optimizer given no parameters", lambda: optim.Adam([]), ValueError, ("Adam", "empty parameter list")),
    Row(
        "optimizer given a number",
        lambda: optim.SGD([Value(1.0), 2.0], lr=0.1),  # type: ignore[list-item]
        TypeError,
        ("SGD", "params[1]", "float"),
    ),
    Row(
        "a parameter twice",
        lambda: optim.SGD([p := Value(1.0), p], lr=0.1),
        ValueError,
        ("SGD", "params[1]", "more than once"),
    ),
    Row(
        "negative momentum",
        lambda: optim.SGD(_params(), lr=0.1, momentum=-0.9),
        ValueError,
        ("SGD", "momentum", ">= 0"),
    ),
    Row(
        "beta of 1",
        lambda: optim.Adam(_params(), betas=(0.9, 1.0)),
        ValueError,
        ("Adam", "betas[1]", "[0, 1)", "1.0"),
    ),
    Row(
        "Muon given parameters",
        lambda: optim.Muon(_params()),
        TypeError,
        ("Muon", "model[0]", "must be a Module", "Value"),
    ),
    Row("schedule of a non-optimizer", lambda: optim.StepLR("adam", 10), TypeError, ("StepLR", "optimizer", "str")),  # type: ignore[arg-type]
    Row("schedule step_size 0", lambda: optim.StepLR(_sgd(), 0), ValueError, ("StepLR", "step_size", ">= 1", "0")),
    # ---- nn: datasets ----
    Row("dataset size a str", lambda: datasets.moons(n="100"), TypeError, ("moons", "n must be an int", "str")),  # type: ignore[arg-type]
    Row("dataset too small", lambda: datasets.moons(n=1), ValueError, ("moons", "n must be >= 2", "1")),
    Row("negative noise", lambda: datasets.circles(noise=-0.1), ValueError, ("circles", "noise", ">= 0", "-0.1")),
    Row("seed None", lambda: datasets.blobs(seed=None), TypeError, ("blobs", "seed must be an int", "NoneType")),  # type: ignore[arg-type]
    Row(
        "batches of unequal X and y",
        lambda: datasets.batches([[0.0]] * 3, [0, 1], 2),
        ValueError,
        ("batches", "same length", "3 and 2"),
    ),
    Row("batch size 0", lambda: datasets.batches([[0.0]], [0], 0), ValueError, ("batches", "batch_size", ">= 1", "0")),
    Row(
        "test fraction of 1",
        lambda: datasets.digits(test_fraction=1.0),
        ValueError,
        ("digits", "test_fraction", "between 0 and 1", "1.0"),
    ),
    # ---- nn: state dicts, files, torch ----
    Row(
        "state dict with a nan",
        lambda: nn.Neuron(1).load_state_dict({"w": [math.nan], "b": 0.0}),
        ValueError,
        ("Neuron.load_state_dict", "'w'", "nan", "finite"),
    ),
    Row(
        "state dict of the wrong size",
        lambda: nn.Neuron(2).load_state_dict({"w": [1.0], "b": 0.0}),
        ValueError,
        ("Neuron.load_state_dict", "'w'", "1 numbers", "needs 2"),
    ),
    Row(
        "state dict with a missing key",
        lambda: nn.Neuron(2).load_state_dict({"w": [1.0, 2.0]}),
        ValueError,
        ("Neuron.load_state_dict", "missing keys: b"),
    ),
    Row("save to None", lambda: _mlp().save(None), TypeError, ("MLP.save", "path", "NoneType")),  # type: ignore[arg-type]
    Row("load from an int", lambda: _mlp().load(3), TypeError, ("MLP.load", "path", "int")),  # type: ignore[arg-type]
    Row("load_model from a list", lambda: nn.load_model(["m.json"]), TypeError, ("load_model", "path", "list")),  # type: ignore[arg-type]
    Row("to_torch of a Neuron", lambda: nn.to_torch(nn.Neuron(2)), TypeError, ("to_torch", "nn.MLP", "Neuron")),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("row", ROWS, ids=[row.case for row in ROWS])
def test_bad_input_gives_a_clear_error(row: Row) -> None:
    with pytest.raises(row.error) as info:
        row.call()
    assert type(info.value) is row.error, f"{type(info.value).__name__} is a subclass, not {row.error.__name__}"
    message = str(info.value)
    missing = [w for w in row.words if w not in message]
    assert not missing, f"message {message!r} does not mention {missing}"


# ---- rows that need a file -----------------------------------------------------------------------
def test_non_finite_number_in_a_model_file(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    model = _mlp()
    model.save(path)
    path.write_text(path.read_text(encoding="utf-8").replace("0.0", "NaN", 1), encoding="utf-8")
    with pytest.raises(ValueError, match=r"MLP.load: .*m.json.* not a valid model file: non-finite number NaN"):
        model.load(path)


def test_wrong_architecture_in_a_model_file(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    nn.MLP(3, [1]).save(path)
    with pytest.raises(ValueError, match=r"MLP.load: .* holds MLP\(nin=3, .*but this model is MLP\(nin=2"):
        _mlp().load(path)


def test_from_torch_of_a_non_sequential() -> None:
    torch = pytest.importorskip("torch", reason="torch not installed: `pip install torch==2.13.0` for interop tests")
    with pytest.raises(TypeError, match="from_torch: expected a torch.nn.Sequential, got Linear"):
        nn.from_torch(torch.nn.Linear(2, 1))
