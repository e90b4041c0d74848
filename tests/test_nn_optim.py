"""Optimizers and schedules: torch.optim equality over 20 steps, Muon vs the reference update, validation."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest

import nn
from autograd import Value
from nn import optim

INIT = [0.5, -1.2, 2.0, 0.0, -0.3, 3.5]
CENTERS = [1.0, 0.5, -2.0, 0.25, 0.0, 3.0]


def torch_or_skip() -> Any:
    return pytest.importorskip("torch", reason="torch is not installed; the torch.optim comparisons are skipped")


def objective(params: list[Value]) -> Value:
    """A smooth, non-quadratic loss so gradients change from step to step."""
    terms = [(p - c) ** 2 + 0.3 * p.sin() for p, c in zip(params, CENTERS)]
    return sum(terms[1:], terms[0])


OPTIMIZERS: dict[str, tuple[Callable[[list[Value]], optim.Optimizer], Callable[[Any, list[Any]], Any]]] = {
    "sgd": (lambda p: optim.SGD(p, lr=0.05), lambda t, p: t.optim.SGD(p, lr=0.05)),
    "sgd_momentum": (
        lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
        lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.9),
    ),
    "sgd_nesterov_wd": (
        lambda p: optim.SGD(p, lr=0.03, momentum=0.8, nesterov=True, weight_decay=0.1),
        lambda t, p: t.optim.SGD(p, lr=0.03, momentum=0.8, nesterov=True, weight_decay=0.1),
    ),
    "sgd_wd": (
        lambda p: optim.SGD(p, lr=0.05, weight_decay=0.01),
        lambda t, p: t.optim.SGD(p, lr=0.05, weight_decay=0.01),
    ),
    "adam": (lambda p: optim.Adam(p, lr=0.1), lambda t, p: t.optim.Adam(p, lr=0.1)),
    "adam_wd": (
        lambda p: optim.Adam(p, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        lambda t, p: t.optim.Adam(p, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    ),
    "adamw": (lambda p: optim.AdamW(p, lr=0.1), lambda t, p: t.optim.AdamW(p, lr=0.1)),
    "adamw_strong_decay": (
        lambda p: optim.AdamW(p, lr=0.05, betas=(0.5, 0.9), weight_decay=0.5),
        lambda t, p: t.optim.AdamW(p, lr=0.05, betas=(0.5, 0.9), weight_decay=0.5),
    ),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_updates_equal_torch_optim_over_20_steps(name: str) -> None:
    torch = torch_or_skip()
    ours_factory, torch_factory = OPTIMIZERS[name]
    params = [Value(x) for x in INIT]
    tp = torch.tensor(INIT, dtype=torch.float64, requires_grad=True)
    ours, theirs = ours_factory(params), torch_factory(torch, [tp])
    for step in range(20):
        ours.zero_grad()
        objective(params).backward()
        grads = [p.grad for p in params]
        if step == 3:  # a zero gradient must still move state (momentum, decay) the same way
            for p in params:
                p.grad = 0.0
            grads = [0.0] * len(params)
        tp.grad = torch.tensor(grads, dtype=torch.float64)
        ours.step()
        theirs.step()
        assert [p.data for p in params] == pytest.approx(tp.detach().tolist(), rel=1e-12, abs=1e-12), step
    assert [p.data for p in params] != INIT


@pytest.mark.parametrize("which", ["step", "linear", "cosine"])
def test_schedules_equal_torch(which: str) -> None:
    torch = torch_or_skip()
    ours_opt = optim.SGD([Value(1.0)], lr=0.2)
    theirs_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
    S = torch.optim.lr_scheduler
    if which == "step":
        ours, theirs = optim.StepLR(ours_opt, step_size=4, gamma=0.5), S.StepLR(theirs_opt, step_size=4, gamma=0.5)
    elif which == "linear":
        ours = optim.LinearLR(ours_opt, total_steps=10, end_factor=0.1)
        theirs = S.LinearLR(theirs_opt, start_factor=1.0, end_factor=0.1, total_iters=10)
    else:
        ours = optim.CosineAnnealingLR(ours_opt, T_max=12, eta_min=0.01)
        theirs = S.CosineAnnealingLR(theirs_opt, T_max=12, eta_min=0.01)
    assert ours_opt.lr == 0.2
    for t in range(1, 13):
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()
        assert ours_opt.lr == pytest.approx(theirs.get_last_lr()[0], rel=1e-12, abs=1e-15), t
        assert ours.get_last_lr() == ours_opt.lr


def test_schedule_formulas_by_hand() -> None:
    opt = optim.Adam([Value(0.0)], lr=1.0)
    lin = optim.LinearLR(opt, total_steps=4)
    lrs = []
    for _ in range(6):
        lin.step()
        lrs.append(opt.lr)
    assert lrs == [0.75, 0.5, 0.25, 0.0, 0.0, 0.0]
    opt.lr = 2.0
    cos = optim.CosineAnnealingLR(opt, T_max=2)
    cos.step()
    assert opt.lr == pytest.approx(1.0, rel=1e-15)
    cos.step()
    cos.step()
    assert opt.lr == pytest.approx(0.0, abs=1e-15)  # held at eta_min after T_max
    opt.lr = 1.0
    st = optim.StepLR(opt, step_size=2, gamma=0.1)
    got = []
    for _ in range(5):
        st.step()
        got.append(opt.lr)
    assert got == pytest.approx([1.0, 0.1, 0.1, 0.01, 0.01], rel=1e-15)


@pytest.mark.parametrize(
    "make",
    [
        lambda p, lr: optim.SGD(p, lr=lr),
        lambda p, lr: optim.Adam(p, lr=lr),
        lambda p, lr: optim.AdamW(p, lr=lr),
        lambda p, lr: optim.Muon(nn.MLP(2, [2, 1], seed=0), lr=lr),
    ],
    ids=["SGD", "Adam", "AdamW", "Muon"],
)
def test_learning_rate_is_validated(make: Callable[[list[Value], Any], optim.Optimizer]) -> None:
    params = [Value(1.0)]
    for bad in (-0.1, math.nan, math.inf):
        with pytest.raises(ValueError, match=r"^(SGD|Adam|AdamW|Muon): lr must be"):
            make(params, bad)
    with pytest.raises(TypeError, match="lr must be a real number"):
        make(params, "0.1")
    opt = make(params, 0.1)
    opt.lr = 0.0  # allowed: a schedule may decay to zero
    with pytest.raises(ValueError, match=f"{type(opt).__name__}: lr must be >= 0, got -1"):
        opt.lr = -1
    assert opt.lr == 0.0


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: optim.SGD([], lr=0.1), ValueError, "SGD: got an empty parameter list"),
        (lambda: optim.SGD([Value(1.0), 2.0], lr=0.1), TypeError, r"SGD: params\[1\] must be a Value"),
        (lambda: optim.Adam(nn.MLP(2, [1])), TypeError, "Adam: pass model.parameters()"),
        (lambda: optim.SGD(Value(1.0), lr=0.1), TypeError, "a single Value"),
        (lambda: optim.SGD([Value(1.0)], lr=0.1, nesterov=True), ValueError, "nesterov momentum needs momentum > 0"),
        (lambda: optim.SGD([Value(1.0)], lr=0.1, momentum=-0.5), ValueError, "SGD: momentum must be >= 0"),
        (lambda: optim.Adam([Value(1.0)], betas=(0.9, 1.0)), ValueError, r"Adam: betas\[1\] must be in \[0, 1\)"),
        (lambda: optim.Adam([Value(1.0)], betas=0.9), TypeError, "Adam: betas must be a pair"),
        (lambda: optim.AdamW([Value(1.0)], weight_decay=-1.0), ValueError, "AdamW: weight_decay must be >= 0"),
        (lambda: optim.Muon([Value(1.0)]), TypeError, r"Muon: model\[0\] must be a Module"),
        (lambda: optim.Muon(nn.MLP(2, [1]), momentum=1.0), ValueError, r"Muon: momentum must be in \[0, 1\)"),
        (lambda: optim.StepLR(optim.SGD([Value(1.0)], lr=0.1), step_size=0), ValueError, "StepLR: step_size"),
        (lambda: optim.CosineAnnealingLR(object(), T_max=3), TypeError, "CosineAnnealingLR: expected an optimizer"),
    ],
)
def test_bad_arguments(call: Callable[[], object], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_duplicate_parameters_are_rejected() -> None:
    p = Value(1.0, "w")
    with pytest.raises(ValueError, match=r"SGD: params\[1\] \('w'\) appears more than once"):
        optim.SGD([p, p], lr=0.1)


def test_zero_grad_clears_parameter_grads() -> None:
    params = [Value(x) for x in INIT]
    opt = optim.Adam(params)
    objective(params).backward()
    assert any(p.grad for p in params)
    opt.zero_grad()
    assert all(p.grad == 0.0 for p in params)


def test_adam_trains_xor_to_full_accuracy() -> None:
    X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
    y = [-1.0, 1.0, 1.0, -1.0]
    model = nn.MLP(2, [4, 1], seed=1)
    opt = optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        loss = nn.mse_loss([model(x)[0] for x in X], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.data < 0.01
    assert [1.0 if model(x)[0].data > 0 else -1.0 for x in X] == y


# ---- Muon -------------------------------------------------------------------------------------------
def test_newton_schulz_output_is_near_orthogonal() -> None:
    np = pytest.importorskip("numpy", reason="numpy is not installed; singular values need it")
    rng = random.Random(0)
    for rows, cols in [(4, 8), (8, 3), (5, 5)]:
        g = [[rng.gauss(0, 1) for _ in range(cols)] for _ in range(rows)]
        s_in = np.linalg.svd(np.array(g), compute_uv=False)
        o = optim.newton_schulz(g)
        assert len(o) == rows and all(len(r) == cols for r in o)
        s_out = np.linalg.svd(np.array(o), compute_uv=False)
        assert s_in.max() / s_in.min() > 2.0  # the input was far from orthogonal
        assert s_out.min() > 0.6 and s_out.max() < 1.25, (rows, cols, s_out)
        # same singular vectors as the input: O ~ U V^T of G
        ug, _, vtg = np.linalg.svd(np.array(g), full_matrices=False)
        k = min(rows, cols)
        polar = ug[:, :k] @ vtg[:k]
        assert np.abs(np.array(o) - polar).max() < 0.35


def reference_newton_schulz(torch: Any, G: Any, steps: int = 5) -> Any:
    """The reference Muon's zeropower_via_newtonschulz5, in float64 instead of bfloat16."""
    a, b, c = (3.4445, -4.7750, 2.0315)
    X = G.clone()
    tall = G.size(-2) > G.size(-1)
    if tall:
        X = X.mT
    X = X / (X.norm() + 1e-7)
    for _ in range(steps):
        A = X @ X.mT
        B = b * A + c * A @ A
        X = a * X + B @ X
    return X.mT if tall else X


def test_newton_schulz_equals_reference() -> None:
    torch = torch_or_skip()
    rng = random.Random(1)
    for rows, cols in [(3, 7), (6, 2)]:
        g = [[rng.uniform(-1, 1) for _ in range(cols)] for _ in range(rows)]
        ref = reference_newton_schulz(torch, torch.tensor(g, dtype=torch.float64)).tolist()
        ours = optim.newton_schulz(g)
        for r1, r2 in zip(ours, ref):
            assert r1 == pytest.approx(r2, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("nesterov", [True, False])
def test_muon_equals_the_reference_update(nesterov: bool) -> None:
    torch = torch_or_skip()
    model = nn.MLP(3, [5, 2], seed=2)
    X = [[0.5, -1.0, 0.25], [1.5, 0.0, -0.5], [-0.3, 0.8, 1.2]]
    targets = [[1.0, -1.0], [0.0, 0.5], [-1.0, 1.0]]
    opt = optim.Muon(model, lr=0.05, momentum=0.9, nesterov=nesterov, weight_decay=0.1, adam_lr=0.01)
    assert len(opt.adam_params) == 5 + 2  # the biases
    # torch side: weight matrices (nout x nin) and bias vectors with the same values
    Ws = [torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64) for layer in model.layers]
    bs = [
        torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64, requires_grad=True)
        for layer in model.layers
    ]
    bufs = [torch.zeros_like(W) for W in Ws]
    adam = torch.optim.AdamW(bs, lr=0.01, weight_decay=0.0)
    for step in range(5):
        loss = nn.mse_loss([model(x) for x in X], targets)
        opt.zero_grad()
        loss.backward()
        for li, layer in enumerate(model.layers):
            G = torch.tensor([[w.grad for w in n.w] for n in layer.neurons], dtype=torch.float64)
            bufs[li].lerp_(G, 1 - 0.9)
            U = G.lerp(bufs[li], 0.9) if nesterov else bufs[li]
            O = reference_newton_schulz(torch, U) * max(1, G.size(-2) / G.size(-1)) ** 0.5
            Ws[li].mul_(1 - 0.05 * 0.1).add_(O, alpha=-0.05)
            bs[li].grad = torch.tensor([n.b.grad for n in layer.neurons], dtype=torch.float64)
        adam.step()
        opt.step()
        for li, layer in enumerate(model.layers):
            for j, n in enumerate(layer.neurons):
                assert [w.data for w in n.w] == pytest.approx(Ws[li][j].tolist(), rel=1e-9, abs=1e-11), step
                assert n.b.data == pytest.approx(bs[li][j].item(), rel=1e-12, abs=1e-14), step


def test_muon_decreases_a_loss() -> None:
    rng = random.Random(3)
    X = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(16)]
    y = [math.sin(2 * a) * b for a, b in X]
    model = nn.MLP(2, [8, 8, 1], seed=3)
    opt = optim.Muon(model, lr=0.02, adam_lr=0.01)
    sched = optim.CosineAnnealingLR(opt, T_max=60)
    first = None
    for _ in range(60):
        loss = nn.mse_loss([model(x)[0] for x in X], y)
        first = loss.data if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    assert loss.data < 0.3 * first
    assert opt.lr == pytest.approx(0.0, abs=1e-15) and opt.adam_lr == pytest.approx(0.0, abs=1e-15)


def test_muon_groups_layers_and_takes_a_list_of_layers() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    opt = optim.Muon(model)
    assert len(opt.params) == len(model.parameters())
    assert [p.label for p in opt.adam_params] == [
        "layers.0.neurons.0.b",
        "layers.0.neurons.1.b",
        "layers.0.neurons.2.b",
        "layers.1.neurons.0.b",
    ]
    only_first = optim.Muon([model.layers[0]])
    assert len(only_first.params) == 9 and len(only_first.adam_params) == 3
    before_second = [p.data for p in model.layers[1].parameters()]
    model([1.0, 1.0])[0].backward()
    only_first.step()
    assert [p.data for p in model.layers[1].parameters()] == before_second


def test_a_new_optimizer_or_schedule_must_say_what_its_state_is() -> None:
    class Plain(optim.Optimizer):
        def step(self) -> None:
            pass

    class Flat(optim.StepLR):
        pass

    opt = Plain([Value(1.0)], lr=0.1)
    with pytest.raises(NotImplementedError):
        opt.state_dict()
    with pytest.raises(NotImplementedError):
        opt._buffers()
    with pytest.raises(NotImplementedError):
        opt._plan_buffers({}, "Plain")
    with pytest.raises(NotImplementedError):
        optim.Optimizer.step(opt)
    sched = Flat(optim.SGD([Value(1.0)], lr=0.1), step_size=1)
    assert sched.state_dict()["type"] == "Flat"
    with pytest.raises(NotImplementedError):
        super(optim.StepLR, sched)._hyperparameters()  # the base class has no settings of its own


def test_state_dict_round_trip_continues_the_same_updates() -> None:
    # a state loaded into a twin optimizer makes the twin take the very same steps
    for make in (
        lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
        lambda p: optim.Adam(p, lr=0.1),
        lambda p: optim.AdamW(p, lr=0.1),
    ):
        a, b = [Value(x) for x in INIT], [Value(x) for x in INIT]
        oa, ob = make(a), make(b)
        for step in range(10):
            for params, opt in ((a, oa), (b, ob)):
                opt.zero_grad()
                objective(params).backward()
                opt.step()
            if step == 4:
                ob = make(b)
                ob.load_state_dict(oa.state_dict())
        assert [p.data for p in a] == [p.data for p in b]
