"""The road from micrograd: its code runs with the imports changed, or fails saying what to write.

- micrograd's README example runs unchanged but for the import and prints micrograd's numbers.
- The lecture's training loop fails at `yout - ygt` with an error naming `n(x)[0]`; with that one
  change it trains chainrule's MLP exactly as it trains micrograd's (same init, same updates).
- What `nn.MLP` / `nn.Layer` return stays a list in every way a list is used.
- Lecture 003's network built from its printed matrices (`bias=False`, `from_weights`,
  `set_weights`) gives y_hat = 2.162 and the slide's gradients.
- `import autograd` does not import graphviz; the default pytest run prints skip reasons.
"""

from __future__ import annotations

import copy
import json
import math
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nn
from autograd import Value

ROOT = Path(__file__).resolve().parent.parent

# micrograd's README example, verbatim but for the import line.
MICROGRAD_README = """
from micrograd.engine import Value

a = Value(-4.0)
b = Value(2.0)
c = a + b
d = a * b + b**3
c += c + 1
c += 1 + c + (-a)
d += d * 2 + (b + a).relu()
d += 3 * d + (b - a).relu()
e = c - d
f = e**2
g = f / 2.0
g += 10.0 / f
print(f'{g.data:.4f}') # prints 24.7041, the outcome of this forward pass
g.backward()
print(f'{a.grad:.4f}') # prints 138.8338, i.e. the numerical value of dg/da
print(f'{b.grad:.4f}') # prints 645.5773, i.e. the numerical value of dg/db
"""

# The lecture's data set.
XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]


def run_readme(source: str, capsys: pytest.CaptureFixture[str]) -> list[str]:
    exec(compile(source, "micrograd_readme", "exec"), {})
    return capsys.readouterr().out.split()


def test_micrograds_readme_example_runs_with_only_the_import_changed(capsys: pytest.CaptureFixture[str]) -> None:
    ours = MICROGRAD_README.replace("from micrograd.engine import Value", "from autograd import Value")
    assert ours.count("\n") == MICROGRAD_README.count("\n") and ours != MICROGRAD_README
    assert run_readme(ours, capsys) == ["24.7041", "138.8338", "645.5773"]  # the numbers its comments print


def test_micrograds_readme_example_gives_micrograds_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("micrograd", reason="micrograd (the bench extra) is not installed")
    theirs = run_readme(MICROGRAD_README, capsys)
    ours = run_readme(MICROGRAD_README.replace("micrograd.engine", "autograd"), capsys)
    assert ours == theirs


# ---- the lecture's training loop -----------------------------------------------------------------
def test_the_lectures_loop_unchanged_says_to_write_n_x_0() -> None:
    n = nn.MLP(3, [4, 4, 1], seed=0)
    ypred = [n(x) for x in XS]
    with pytest.raises(TypeError) as info:
        sum((yout - ygt) ** 2 for ygt, yout in zip(YS, ypred))
    message = str(info.value)
    assert message.startswith("MLP output - float: calling an nn.MLP returns a list of Values (one output)")
    assert "write model(x)[0]" in message and "ypred = [n(x)[0] for x in xs]" in message
    assert all(p.grad == 0.0 for p in n.parameters())  # nothing half-done


def test_the_lectures_loop_with_0_trains_as_micrograd_does() -> None:
    """The loop with its one change ([0]) gives micrograd's numbers on micrograd's own MLP, step by step."""
    micrograd_nn = pytest.importorskip("micrograd.nn", reason="micrograd (the bench extra) is not installed")
    random.seed(7)
    ref = micrograd_nn.MLP(3, [4, 4, 1])  # ReLU hidden layers, linear output
    ours = nn.MLP(3, [4, 4, 1], activation="relu", seed=7)
    for n, pick in ((ref, lambda out: out), (ours, lambda out: out[0])):
        losses = []
        for _ in range(10):
            ypred = [pick(n(x)) for x in XS]
            loss = sum((yout - ygt) ** 2 for ygt, yout in zip(YS, ypred))
            n.zero_grad()
            loss.backward()
            for p in n.parameters():
                p.data += -0.05 * p.grad
            losses.append(loss.data)
        n.losses = losses  # type: ignore[attr-defined]
    assert ours.losses == pytest.approx(ref.losses, rel=1e-12, abs=1e-15)  # type: ignore[attr-defined]
    assert [p.data for p in ours.parameters()] == pytest.approx([p.data for p in ref.parameters()], rel=1e-12)


def test_the_lectures_tanh_network_learns_with_the_manual_sgd_step() -> None:
    n = nn.MLP(3, [4, 4, 1], activation="tanh", output_activation="tanh", seed=0)
    for _ in range(20):
        ypred = [n(x)[0] for x in XS]
        loss = sum((yout - ygt) ** 2 for ygt, yout in zip(YS, ypred))
        for p in n.parameters():
            p.grad = 0.0
        loss.backward()
        for p in n.parameters():
            p.data += -0.1 * p.grad
    assert loss.data < 0.1
    assert [round(y.data) for y in ypred] == [1, -1, -1, 1]


# ---- what Layer and MLP return -------------------------------------------------------------------
def one_output() -> nn.module.Outputs:
    return nn.MLP(2, [3, 1], seed=0)([0.5, -1.0])


MISTAKES = {
    "out - 1.0": (lambda o: o - 1.0, "MLP output - float"),
    "1.0 - out": (lambda o: 1.0 - o, "float - MLP output"),
    "out - Value": (lambda o: o - Value(1.0), "MLP output - Value"),
    "Value - out": (lambda o: Value(1.0) - o, "Value - MLP output"),
    "out + 1": (lambda o: o + 1, "MLP output + int"),
    "sum(outs)": (lambda o: sum([o, o]), "int + MLP output"),
    "Value + out": (lambda o: Value(1.0) + o, "Value + MLP output"),
    "out * 0.5": (lambda o: o * 0.5, "MLP output * float"),
    "0.5 * out": (lambda o: 0.5 * o, "float * MLP output"),
    "out * Value": (lambda o: o * Value(2.0), "MLP output * Value"),
    "out / 2": (lambda o: o / 2, "MLP output / int"),
    "2 / out": (lambda o: 2 / o, "int / MLP output"),
    "out ** 2": (lambda o: o**2, "MLP output ** int"),
    "2 ** out": (lambda o: 2**o, "int ** MLP output"),
    "-out": (lambda o: -o, "-(MLP output)"),
    "abs(out)": (lambda o: abs(o), "abs(MLP output)"),
    "float(out)": (lambda o: float(o), "float(MLP output)"),
    "round(out, 2)": (lambda o: round(o, 2), "round(MLP output)"),
    "f'{out:.3f}'": (lambda o: f"{o:.3f}", "format(MLP output, '.3f')"),
    "out > 0": (lambda o: o > 0, "MLP output > int"),
    "out >= 0": (lambda o: o >= 0, "MLP output >= int"),
    "out < 0.0": (lambda o: o < 0.0, "MLP output < float"),
    "out <= 0": (lambda o: o <= 0, "MLP output <= int"),
    "out == 1.0": (lambda o: o == 1.0, "MLP output == float"),
    "out != 1.0": (lambda o: o != 1.0, "MLP output != float"),
    "out += 1.0": (lambda o: o.__iadd__(1.0), "MLP output += float"),
}


@pytest.mark.parametrize("case", MISTAKES, ids=list(MISTAKES))
def test_value_arithmetic_on_the_output_list_says_what_to_write(case: str) -> None:
    mistake, expression = MISTAKES[case]
    with pytest.raises(TypeError) as info:
        mistake(one_output())
    assert str(info.value).startswith(expression + ": calling an nn.MLP returns a list of Values (one output)")
    assert "write model(x)[0]" in str(info.value)


@pytest.mark.parametrize("name", ["backward", "data", "grad", "tanh", "item"])
def test_value_attributes_of_the_output_list_say_what_to_write(name: str) -> None:
    with pytest.raises(AttributeError, match=rf"MLP output\.{name}: .*write model\(x\)\[0\]\.{name} "):
        getattr(one_output(), name)
    assert not hasattr(one_output(), name)
    with pytest.raises(AttributeError, match="'Outputs' object has no attribute 'nonsense'"):
        one_output().nonsense  # noqa: B018


def test_a_layer_or_a_wide_output_gets_the_hint_for_many_outputs() -> None:
    with pytest.raises(
        TypeError, match=r"Layer output - int: calling an nn.Layer returns a list of Values \(3 outputs\)"
    ):
        nn.Layer(2, 3)([1.0, 2.0]) - 1
    with pytest.raises(TypeError, match=r"pick one output with model\(x\)\[i\], or pass the whole list to a loss"):
        nn.MLP(2, [2])([1.0, 2.0]) ** 2


def test_the_output_is_still_a_list_in_every_list_use() -> None:
    out = one_output()
    v = out[0]
    assert isinstance(out, list) and len(out) == 1 and isinstance(v, Value)
    assert out == [v] and out != [Value(0.0)] and out == out and (out != [v]) is False
    assert out + [v] == [v, v] and out * 2 == [v, v] and 2 * out == [v, v] and out[:] == [v]
    assert (out < [v, v]) and (out <= [v]) and ([v, v] > out) and (out >= [v])
    assert list(out) == [v] and [*out] == [v] and tuple(out) == (v,)
    assert repr(out) == repr([v]) and f"{out}" == str([v])
    assert copy.copy(out) == out and type(copy.deepcopy(out)) is type(out)
    assert json.dumps([[o.data for o in out]]) == json.dumps([[v.data]])
    out += [v]  # list's += extends
    assert out == [v, v]
    assert np.array(one_output(), dtype=object).shape == (1,)
    # a loss takes the outputs as they come
    outs = [nn.MLP(2, [3, 2], seed=0)(x) for x in ([0.0, 1.0], [1.0, 0.0])]
    loss = nn.mse_loss(outs, [[0.0, 1.0], [1.0, 0.0]])
    loss.backward()
    with pytest.raises(TypeError):
        hash(out)
    fresh = one_output()
    assert [fresh[0], fresh[0]] > fresh and not (fresh > [fresh[0], fresh[0]])


@pytest.mark.parametrize(
    "other_op",
    [
        lambda o: o - "1",
        lambda o: "1" - o,
        lambda o: o / None,
        lambda o: None / o,
        lambda o: o ** "2",
        lambda o: "2" ** o,
        lambda o: None + o,
        lambda o: o + (1,),
    ],
)
def test_operands_that_are_not_numbers_get_pythons_own_error(other_op) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError) as info:
        other_op(one_output())
    assert "model(x)[0]" not in str(info.value)  # not a learner's Value arithmetic: the list's usual error


# ---- lecture 003 as printed ----------------------------------------------------------------------
X, Y = [2.0, 3.0], 1.0
W1 = [[-0.78, 0.13], [0.85, 0.23]]  # one row per input (w_ij: input i -> hidden j), as printed
W2 = [1.8, 0.40]
Y_HAT = 2.162  # printed on the slide


def slide_gradients() -> tuple[list[list[float]], list[float]]:
    """The slide's formulas on its numbers: dL/dw_ij(1) = (y_hat - y) w_j(2) x_i, dL/dw_j(2) = (y_hat - y) h_j."""
    r = Y_HAT - Y
    h = [sum(X[i] * W1[i][j] for i in range(2)) for j in range(2)]
    return [[r * W2[j] * X[i] for j in range(2)] for i in range(2)], [r * h[j] for j in range(2)]


def check_lecture_003(net: nn.MLP) -> None:
    y_hat = net(X)[0]
    assert y_hat.data == pytest.approx(Y_HAT, abs=1e-12)
    L = 0.5 * (y_hat - Y) ** 2
    L.backward()
    g1, g2 = slide_gradients()
    got1 = [[w.grad for w in row] for row in net.layers[0].weight_matrix(rows="inputs")]
    assert got1 == [pytest.approx(row, abs=1e-12) for row in g1]
    assert [w.grad for w in net.layers[1].neurons[0].w] == pytest.approx(g2, abs=1e-12)
    assert g1 == [pytest.approx([4.1832, 0.9296]), pytest.approx([6.2748, 1.3944])]  # to the printed digit
    assert g2 == pytest.approx([1.15038, 1.1039])


def test_lecture_003_from_its_printed_matrices() -> None:
    net = nn.MLP.from_weights([W1, W2], rows="inputs", activation="none")
    assert len(net.parameters()) == 6 and not net.bias and all(n.b is None for n in net.layers[0].neurons)
    check_lecture_003(net)


def test_lecture_003_layer_by_layer_and_in_pytorchs_layout() -> None:
    net = nn.MLP(2, [2, 1], activation="none", bias=False, seed=0)
    net.layers[0].set_weights(W1, rows="inputs")
    net.layers[1].set_weights(W2, rows="inputs")
    check_lecture_003(net)
    transposed = [[W1[i][j] for i in range(2)] for j in range(2)]
    same = nn.MLP.from_weights([transposed, [W2]], rows="neurons", activation="none")
    assert same.state_dict() == net.state_dict()
    layer = nn.Layer.from_weights(W1, rows="inputs", activation="none")
    assert [h.data for h in layer(X)] == pytest.approx([0.99, 0.95])
    assert layer.weight_matrix(rows="neurons") == [n.w for n in layer.neurons]


def test_lecture_003_matches_the_hand_built_graph_of_the_textbook_demo() -> None:
    from demos.textbook import two_layer

    v = two_layer()
    v["L"].backward()
    net = nn.MLP.from_weights([W1, W2], rows="inputs", activation="none")
    (0.5 * (net(X)[0] - Y) ** 2).backward()
    rows = net.layers[0].weight_matrix(rows="inputs")
    for i in range(2):
        for j in range(2):
            assert rows[i][j].grad == pytest.approx(v[f"w1_{i + 1}{j + 1}"].grad, abs=1e-12)


def test_from_weights_with_biases() -> None:
    layer = nn.Layer.from_weights([[1.0, 2.0], [3.0, 4.0]], [0.5, -0.5], rows="neurons", activation="none")
    assert [o.data for o in layer([1.0, 1.0])] == [3.5, 6.5]
    net = nn.MLP.from_weights([[[1.0, 2.0]], [3.0, 4.0]], [[0.0, 1.0], 0.5], rows="inputs", activation="relu")
    assert net.bias and net.nouts == [2, 1] and net.layers[1].neurons[0].b.data == 0.5  # type: ignore[union-attr]
    assert net([1.0])[0].data == 3.0 * 1.0 + 4.0 * 3.0 + 0.5
    layer.set_weights([[0.0, 0.0], [0.0, 0.0]], [1.0, 2.0], rows="neurons")
    assert [o.data for o in layer([5.0, 5.0])] == [1.0, 2.0]
    layer.set_weights(np.array([[1.0, 0.0], [0.0, 1.0]]), rows="inputs")  # numpy works too
    assert [o.data for o in layer([5.0, 6.0])] == [6.0, 8.0]


BAD_WEIGHTS = [
    (lambda L: L.set_weights(W1), TypeError, r"Layer.set_weights: say how the matrix is laid out: rows='inputs'"),
    (lambda L: L.set_weights(W1, rows="cols"), ValueError, r"rows must be 'inputs' or 'neurons', got 'cols'"),
    (lambda L: L.set_weights("W1", rows="inputs"), TypeError, r"weight must be a list of numbers or of rows, got str"),
    (lambda L: L.set_weights([], rows="inputs"), ValueError, r"Layer.set_weights: weight is empty"),
    (lambda L: L.set_weights([[1.0, 2.0]], rows="inputs"), ValueError, r"weight is 1 x 2, .* needs 3 x 2$"),
    (
        lambda L: L.set_weights([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], rows="inputs"),
        ValueError,
        r"weight is 2 x 3, .*needs 3 x 2; that is the shape for rows='neurons'",
    ),
    (lambda L: L.set_weights([[1, 2], [3, 4, 5], [6, 7]], rows="inputs"), ValueError, r"weight\[1\] has 3 numbers but"),
    (lambda L: L.set_weights([[1, 2], 3, [6, 7]], rows="inputs"), TypeError, r"weight\[1\] must be a row"),
    (lambda L: L.set_weights([[1, 2], [3, math.nan], [6, 7]], rows="inputs"), ValueError, r"weight\[1\]\[1\].*nan"),
    (lambda L: L.set_weights([[1, 2], [3, "4"], [6, 7]], rows="inputs"), TypeError, r"weight\[1\]\[1\].*str '4'"),
    (lambda L: L.set_weights([[1, 2], [3, True], [6, 7]], rows="inputs"), TypeError, r"weight\[1\]\[1\].*bool True"),
    (
        lambda L: L.set_weights([1.0, 2.0, 3.0], rows="inputs"),
        ValueError,
        r"flat list of 3 numbers, the weights of ONE",
    ),
    (lambda L: L.set_weights([[1, 2]] * 3, [1.0], rows="inputs"), ValueError, r"bias has 1 numbers, one per neuron"),
    (lambda L: L.set_weights([[1, 2]] * 3, [1.0, 2.0], rows="inputs"), ValueError, r"bias=False, so it has no biases"),
]


@pytest.mark.parametrize(("bad", "error", "match"), BAD_WEIGHTS)
def test_set_weights_checks_everything_before_changing_anything(bad, error, match) -> None:  # type: ignore[no-untyped-def]
    layer = nn.Layer(3, 2, activation="none", rng=random.Random(0))
    if "no biases" in match:
        layer = nn.Layer(3, 2, bias=False, rng=random.Random(0))
    before = layer.state_dict()
    with pytest.raises(error, match=match):
        bad(layer)
    assert layer.state_dict() == before


def test_one_neuron_layers_take_a_flat_list_and_mlp_from_weights_checks_the_chain() -> None:
    with pytest.raises(ValueError, match=r"weight has 2 weights, but the neuron has 3 inputs"):
        nn.Layer(3, 1).set_weights([1.0, 2.0], rows="inputs")
    with pytest.raises(
        ValueError, match=r"MLP.from_weights: weights\[1\] takes 3 inputs but weights\[0\] has 2 neurons"
    ):
        nn.MLP.from_weights([W1, [1.0, 2.0, 3.0]], rows="inputs")
    with pytest.raises(ValueError, match=r"MLP.from_weights: 2 weight matrices but 1 bias lists"):
        nn.MLP.from_weights([W1, W2], [[0.0, 0.0]], rows="inputs")
    with pytest.raises(ValueError, match=r"MLP.from_weights: weights\[1\]\[0\]: expected a finite number, got inf"):
        nn.MLP.from_weights([W1, [math.inf, 1.0]], rows="inputs")
    with pytest.raises(TypeError, match=r"MLP.from_weights: say how the matrix is laid out"):
        nn.MLP.from_weights([W1, W2])
    with pytest.raises(TypeError, match=r"Layer.weight_matrix: say how"):
        nn.Layer(2, 2).weight_matrix()
    with pytest.raises(TypeError, match=r"Layer: bias must be True or False, got int 0"):
        nn.Layer(2, 2, bias=0)  # type: ignore[arg-type]


# ---- bias-free modules: parameters, state dicts, files -------------------------------------------
def test_bias_free_modules_have_no_b() -> None:
    neuron = nn.Neuron(3, bias=False, rng=random.Random(0))
    assert neuron.b is None and len(neuron.parameters()) == 3 and list(neuron.state_dict()) == ["w"]
    assert repr(neuron) == "Neuron(nin=3, activation='tanh', bias=False, 3 parameters)"
    net = nn.MLP(2, [3, 1], bias=False, seed=0)
    assert [name for name, _ in net.named_parameters()][:3] == [
        "layers.0.neurons.0.w.0",
        "layers.0.neurons.0.w.1",
        "layers.0.neurons.1.w.0",
    ]
    assert len(net.parameters()) == 2 * 3 + 3 * 1 and "bias=False, 9 parameters" in repr(net)
    out = net([1.0, 2.0])[0]
    out.backward()
    assert all(p.grad != 0.0 for p in net.layers[1].parameters())
    # the output is w . h with no `0 +` node: its op is the last +, whose inputs are two products
    assert out.op == "+" and [i.op for i in out.inputs] == ["+", "*"]


def test_bias_free_state_dict_and_file_round_trip(tmp_path: Path) -> None:
    net = nn.MLP.from_weights([W1, W2], rows="inputs", activation="none")
    state = net.state_dict()
    assert set(state) == {"layers.0.neurons.0.w", "layers.0.neurons.1.w", "layers.1.neurons.0.w"}
    other = nn.MLP(2, [2, 1], activation="none", bias=False, seed=3)
    other.load_state_dict(state)
    assert other.state_dict() == state
    with pytest.raises(ValueError, match=r"unexpected keys: 'layers.0.neurons.0.b'"):
        other.load_state_dict({**state, "layers.0.neurons.0.b": 0.0})
    path = tmp_path / "lecture003.json"
    net.save(path)
    header = json.loads(path.read_text())["model"]
    assert header == {**net.config(), "bias": False} == {**header}
    assert header["bias"] is False
    back = nn.load_model(path)
    assert isinstance(back, nn.MLP) and back.config() == net.config() and back.state_dict() == state
    assert back(X)[0].data == net(X)[0].data
    again = nn.MLP.from_file(path)
    assert again.state_dict() == state
    with pytest.raises(ValueError, match=r"holds MLP\(.*bias=False\), but this model is MLP\("):
        nn.MLP(2, [2, 1], activation="none", seed=0).load(path)
    for module in (nn.Layer(3, 2, bias=False), nn.Neuron(4, bias=False)):
        p = tmp_path / f"{type(module).__name__}.json"
        module.save(p)
        loaded = nn.load_model(p)
        assert loaded.config() == module.config() and loaded.state_dict() == module.state_dict()


def test_model_file_headers_may_state_bias(tmp_path: Path) -> None:
    net = nn.MLP(2, [2, 1], seed=0)
    path = tmp_path / "m.json"
    net.save(path)
    doc = json.loads(path.read_text())
    assert "bias" not in doc["model"]  # files of models with biases are as before
    doc["model"]["bias"] = True  # the default, written out: the same model
    path.write_text(json.dumps(doc))
    assert nn.load_model(path).state_dict() == net.state_dict()
    net.load(path)
    doc["model"]["bias"] = "no"
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"bias must be true or false, got 'no'"):
        nn.load_model(path)


def test_layer_deltas_of_a_bias_free_network_equal_backward() -> None:
    net = nn.MLP.from_weights([W1, W2], rows="inputs", activation="none")
    ld = nn.layer_deltas(net, X, [Y], loss="half_mse")
    (0.5 * nn.mse_loss(net(X), [Y])).backward()
    assert ld.layers[1].o == pytest.approx((Y_HAT,))
    assert [[w.grad for w in n.w] for n in net.layers[0].neurons] == [list(row) for row in ld.layers[0].G]


def test_a_bias_free_mlp_goes_to_torch_and_back() -> None:
    torch = pytest.importorskip("torch", reason="torch==2.13.0 is not installed")
    net = nn.MLP.from_weights([W1, W2], rows="inputs", activation="none")
    seq = net.to_torch()
    assert all(m.bias is None for m in seq if isinstance(m, torch.nn.Linear))
    with torch.no_grad():
        assert seq(torch.tensor(X, dtype=torch.float64)).item() == pytest.approx(Y_HAT)
    back = nn.MLP.from_torch(seq)
    assert back.config() == net.config() and back.state_dict() == net.state_dict()


# ---- light import, visible skips -----------------------------------------------------------------
def test_import_autograd_and_nn_do_not_import_graphviz() -> None:
    code = "import autograd, nn, sys; assert 'graphviz' not in sys.modules, 'graphviz was imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)
    draw = "import autograd, sys; autograd.draw(autograd.Value(1.0) * 2.0); assert 'graphviz' in sys.modules"
    subprocess.run([sys.executable, "-c", draw], check=True, cwd=ROOT, timeout=60)


def test_the_default_pytest_run_shows_why_tests_were_skipped() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # (tomllib is Python 3.11+)
    addopts = re.search(r'^addopts = "([^"]*)"', pyproject, flags=re.M).group(1).split()  # type: ignore[union-attr]
    assert "-rs" in addopts and "-q" in addopts
