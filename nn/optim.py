"""Optimizers (SGD, Adam, AdamW, Muon) and learning-rate schedules (StepLR, LinearLR, CosineAnnealingLR).

SGD, Adam and AdamW follow torch.optim's update formulas step for step (same order of floating-point
operations where it matters), so on the same parameters and gradients they agree with PyTorch to
rounding. Each optimizer keeps plain-float state per parameter and reads `p.grad`, writes `p.data`.

Typical loop:

    opt = optim.Adam(model.parameters(), lr=1e-2)
    sched = optim.CosineAnnealingLR(opt, T_max=steps)
    for _ in range(steps):
        loss = ...; opt.zero_grad(); loss.backward(); opt.step(); sched.step()
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from autograd import Value
from autograd._checks import int_at_least, real, real_at_least

from .module import Layer, Module

Matrix = list[list[float]]


def _real(x: object, where: str, what: str) -> float:
    return real(x, where, what)


def _nonneg(x: object, where: str, what: str) -> float:
    return real_at_least(x, where, what, 0)


def _beta(x: object, where: str, what: str) -> float:
    f = _real(x, where, what)
    if not 0.0 <= f < 1.0:
        raise ValueError(f"{where}: {what} must be in [0, 1), got {x!r}")
    return f


def _betas(betas: object, where: str, what: str = "betas") -> tuple[float, float]:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise TypeError(f"{where}: {what} must be a pair (beta1, beta2), got {betas!r}")
    return _beta(betas[0], where, f"{what}[0]"), _beta(betas[1], where, f"{what}[1]")


def _params(params: object, where: str) -> list[Value]:
    if isinstance(params, Module):
        raise TypeError(f"{where}: pass model.parameters(), not the model itself")
    if isinstance(params, Value):
        raise TypeError(f"{where}: params must be a list of Values, got a single Value (wrap it in a list)")
    try:
        out: list[Any] = list(params)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"{where}: params must be an iterable of Values, got {type(params).__name__}") from None
    seen: set[int] = set()  # ids only to spot duplicates; never used for ordering
    for i, p in enumerate(out):
        if not isinstance(p, Value):
            raise TypeError(f"{where}: params[{i}] must be a Value, got {type(p).__name__} {p!r}")
        if id(p) in seen:
            raise ValueError(f"{where}: params[{i}] ({p.label or p!r}) appears more than once")
        seen.add(id(p))
    if not out:
        raise ValueError(f"{where}: got an empty parameter list")
    return out


# ---- state dicts (for checkpoints) ------------------------------------------------------------------
def _count(x: object, where: str, what: str) -> int:
    """An int >= 0 (a step count)."""
    if isinstance(x, bool) or not isinstance(x, int):
        raise TypeError(f"{where}: {what} must be an int, got {type(x).__name__} {x!r}")
    if x < 0:
        raise ValueError(f"{where}: {what} must be >= 0, got {x!r}")
    return x


def _floats(x: object, n: int, where: str, what: str, nonneg: bool = False) -> list[float]:
    """A list of exactly `n` finite real numbers (>= 0 when `nonneg`), as floats."""
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"{where}: {what} must be a list of {n} numbers, got {type(x).__name__}")
    if len(x) != n:
        raise ValueError(f"{where}: {what} has {len(x)} numbers, this optimizer needs {n}")
    check = _nonneg if nonneg else _real
    return [check(v, where, f"{what}[{i}]") for i, v in enumerate(x)]


def _same(a: object, b: object) -> bool:
    """Equal hyper-parameter values (numbers, bools, lists of them), types included: True is not 1."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _check_keys(state: object, expected: Sequence[str], where: str, what: str) -> Mapping[str, Any]:
    """A mapping with exactly the keys `expected`; the error lists what is missing and what is extra."""
    if not isinstance(state, Mapping):
        raise TypeError(f"{where}: {what} must be a dict, got {type(state).__name__}")
    missing = [k for k in expected if k not in state]
    unexpected = [repr(k) for k in state if k not in expected]
    if missing or unexpected:
        parts = [f"missing keys: {', '.join(missing)}"] if missing else []
        parts += [f"unexpected keys: {', '.join(unexpected)}"] if unexpected else []
        raise ValueError(f"{where}: {what} does not match ({'; '.join(parts)})")
    return state


def _check_hyper(saved: object, mine: dict[str, Any], where: str, kind: str) -> None:
    """The saved hyper-parameters must be exactly this object's: a state is only loaded into its twin."""
    saved = _check_keys(saved, list(mine), where, "hyperparameters")
    for k, v in mine.items():
        if not _same(saved[k], v):
            raise ValueError(
                f"{where}: the state was saved by {_a(kind)} with {k}={saved[k]!r}, but this one has {k}={v!r}"
                f" (build it with the same hyper-parameters)"
            )


def _a(word: str) -> str:
    """`word` with its indefinite article: "an Adam", "a StepLR"."""
    return f"{'an' if word[:1] in 'AEIOUaeiou' else 'a'} {word}"


def _check_type(saved: object, kind: str, where: str, what: str) -> None:
    if saved != kind:
        raise ValueError(f"{where}: the state is for {what} {saved!r}, but this is {_a(kind)}")


def _lerp(start: float, end: float, weight: float) -> float:
    # torch.lerp's formula, branch included, so results match it to the last bit.
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


class Optimizer:
    """Base class: holds `params` and the learning rate `lr` (validated on every assignment)."""

    # The learning-rate attributes a schedule scales (Muon also has `adam_lr`).
    lr_names: tuple[str, ...] = ("lr",)

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        self.params = _params(params, type(self).__name__)
        self.lr = lr

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _nonneg(value, type(self).__name__, "lr")

    def zero_grad(self) -> None:
        """Set `.grad` of every parameter to 0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr!r}, {len(self.params)} parameters)"

    # ---- state dicts ----
    def _hyperparameters(self) -> dict[str, Any]:
        """The fixed settings (everything but the learning rates) a loaded state must match."""
        raise NotImplementedError

    def _buffers(self) -> dict[str, Any]:
        """Copies of the per-parameter buffers and step counts that `step()` reads."""
        raise NotImplementedError

    def _plan_buffers(self, state: object, where: str) -> Callable[[], None]:
        """Check saved buffers; return a function that installs them (and cannot fail)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Everything `step()` depends on besides the parameters themselves, as plain JSON data.

        `{"type": "Adam", "num_params": 6, "hyperparameters": {"betas": [0.9, 0.999], "eps": 1e-08,
        "weight_decay": 0.0}, "lr": 0.1, "state": {"steps": 3, "exp_avg": [...], "exp_avg_sq": [...]}}`.
        The learning rates (`lr`, and Muon's `adam_lr`) are saved as state, because a schedule changes
        them; the other hyper-parameters are saved so that `load_state_dict` can refuse a state that was
        made with different ones. Buffers are listed in the order of `params`; lists are copies.
        """
        out: dict[str, Any] = {
            "type": type(self).__name__,
            "num_params": len(self.params),
            "hyperparameters": self._hyperparameters(),
        }
        out.update({name: getattr(self, name) for name in self.lr_names})
        out["state"] = self._buffers()
        return out

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a `state_dict()`, strictly: the same optimizer class, hyper-parameters, number of
        parameters and buffer sizes, and finite numbers. Everything is checked before anything changes,
        so on error the optimizer is as it was."""
        self._plan_load(state, f"{type(self).__name__}.load_state_dict")()

    def _plan_load(self, state: object, where: str) -> Callable[[], None]:
        """Check a whole state dict against this optimizer; return a function that applies it."""
        kind = type(self).__name__
        keys = ["type", "num_params", "hyperparameters", *self.lr_names, "state"]
        checked = _check_keys(state, keys, where, "optimizer state")
        _check_type(checked["type"], kind, where, "optimizer")
        n = _count(checked["num_params"], where, "num_params")
        if n != len(self.params):
            raise ValueError(f"{where}: the state is for {n} parameters, but this {kind} has {len(self.params)}")
        _check_hyper(checked["hyperparameters"], self._hyperparameters(), where, kind)
        lrs = {name: _nonneg(checked[name], where, name) for name in self.lr_names}
        install_buffers = self._plan_buffers(checked["state"], where)

        def apply() -> None:
            for name, value in lrs.items():
                setattr(self, name, value)
            install_buffers()

        return apply


class SGD(Optimizer):
    """Stochastic gradient descent, as torch.optim.SGD (dampening 0).

    g = grad + weight_decay * p; with momentum: buf = g at the first step, then
    buf = momentum * buf + g; g = g + momentum * buf (nesterov) or buf; then p -= lr * g.
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.momentum = _nonneg(momentum, "SGD", "momentum")
        if not isinstance(nesterov, bool):
            raise TypeError(f"SGD: nesterov must be a bool, got {nesterov!r}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("SGD: nesterov momentum needs momentum > 0")
        self.nesterov = nesterov
        self.weight_decay = _nonneg(weight_decay, "SGD", "weight_decay")
        self._buf: list[float] | None = None  # momentum buffers, created at the first step

    def step(self) -> None:
        lr, mom, wd, nesterov = self._lr, self.momentum, self.weight_decay, self.nesterov
        if mom == 0.0:
            for p in self.params:
                g = p.grad if wd == 0.0 else p.grad + wd * p.data
                p.data = p.data + -lr * g
            return
        buf = self._buf
        first = buf is None
        if buf is None:
            buf = self._buf = [0.0] * len(self.params)
        for i, p in enumerate(self.params):
            g = p.grad if wd == 0.0 else p.grad + wd * p.data
            b = g if first else buf[i] * mom + g  # the buffer starts as the first gradient
            buf[i] = b
            g = g + mom * b if nesterov else b
            p.data = p.data + -lr * g

    def _hyperparameters(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov, "weight_decay": self.weight_decay}

    def _buffers(self) -> dict[str, Any]:
        """`{"momentum_buffer": null}` before the first step with momentum, else one float per parameter."""
        return {"momentum_buffer": None if self._buf is None else list(self._buf)}

    def _plan_buffers(self, state: object, where: str) -> Callable[[], None]:
        raw = _check_keys(state, ["momentum_buffer"], where, "SGD state")["momentum_buffer"]
        buf = None if raw is None else _floats(raw, len(self.params), where, "momentum_buffer")
        if buf is not None and self.momentum == 0.0:
            raise ValueError(f"{where}: momentum_buffer must be null for SGD without momentum")

        def apply() -> None:
            self._buf = buf

        return apply


class Adam(Optimizer):
    """Adam (Kingma & Ba), as torch.optim.Adam: weight_decay adds wd * p to the gradient (L2)."""

    _decoupled = False

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        name = type(self).__name__
        self.betas = _betas(betas, name)
        self.eps = _nonneg(eps, name, "eps")
        self.weight_decay = _nonneg(weight_decay, name, "weight_decay")
        n = len(self.params)
        self._m = [0.0] * n  # first moment (exp_avg)
        self._v = [0.0] * n  # second moment (exp_avg_sq)
        self.steps = 0

    def step(self) -> None:
        self.steps += 1
        _adam_update(
            self.params,
            self._m,
            self._v,
            self.steps,
            self._lr,
            self.betas,
            self.eps,
            self.weight_decay,
            self._decoupled,
        )

    def _hyperparameters(self) -> dict[str, Any]:
        return {"betas": list(self.betas), "eps": self.eps, "weight_decay": self.weight_decay}

    def _buffers(self) -> dict[str, Any]:
        """The step count and, per parameter, the first and second moments."""
        return {"steps": self.steps, "exp_avg": list(self._m), "exp_avg_sq": list(self._v)}

    def _plan_buffers(self, state: object, where: str) -> Callable[[], None]:
        checked = _check_keys(state, ["steps", "exp_avg", "exp_avg_sq"], where, f"{type(self).__name__} state")
        steps = _count(checked["steps"], where, "steps")
        n = len(self.params)
        m = _floats(checked["exp_avg"], n, where, "exp_avg")
        v = _floats(checked["exp_avg_sq"], n, where, "exp_avg_sq", nonneg=True)

        def apply() -> None:
            self.steps, self._m, self._v = steps, m, v

        return apply


def _adam_update(
    params: Sequence[Value],
    m: list[float],
    v: list[float],
    t: int,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    wd: float,
    decoupled: bool,
) -> None:
    """One Adam/AdamW step in torch's operation order (torch.optim.adam._single_tensor_adam)."""
    beta1, beta2 = betas
    one_minus_b1, one_minus_b2 = 1.0 - beta1, 1.0 - beta2
    step_size = lr / (1.0 - beta1**t)
    bc2_sqrt = (1.0 - beta2**t) ** 0.5
    decay = 1.0 - lr * wd
    sqrt = math.sqrt
    for i, p in enumerate(params):
        g = p.grad
        if wd != 0.0:
            if decoupled:
                p.data = p.data * decay  # AdamW: p *= 1 - lr * wd, before the Adam step
            else:
                g = g + wd * p.data
        mi = _lerp(m[i], g, one_minus_b1)
        vi = v[i] * beta2 + one_minus_b2 * (g * g)
        m[i], v[i] = mi, vi
        denom = sqrt(vi) / bc2_sqrt + eps
        p.data = p.data + -step_size * (mi / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW."""

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)


# ---- Muon ----------------------------------------------------------------------------------------
_NS_COEFFS = (3.4445, -4.7750, 2.0315)


def _matmul(a: Matrix, b: Matrix) -> Matrix:
    bt = list(zip(*b, strict=True))
    return [[math.fsum(map(float.__mul__, row, col)) for col in bt] for row in a]


def newton_schulz(matrix: Sequence[Sequence[float]], steps: int = 5) -> Matrix:
    """Approximately orthogonalize `matrix` (U S V^T -> about U V^T) with Muon's quintic Newton-Schulz iteration.

    X = G / ||G||_F (transposed when it has more rows than columns), then `steps` times
    A = X X^T, X = a X + (b A + c A A) X with (a, b, c) = (3.4445, -4.7750, 2.0315). The result's
    singular values land near 1 (roughly 0.7..1.2), not exactly on it: that is the design.
    """
    g = [[float(x) for x in row] for row in matrix]
    if not g or not g[0] or any(len(row) != len(g[0]) for row in g):
        raise ValueError("newton_schulz: matrix must be a non-empty list of equally long rows")
    a, b, c = _NS_COEFFS
    tall = len(g) > len(g[0])
    x = [list(col) for col in zip(*g, strict=True)] if tall else g
    norm = math.sqrt(math.fsum(v * v for row in x for v in row)) + 1e-7
    x = [[v / norm for v in row] for row in x]
    for _ in range(steps):
        xt = [list(col) for col in zip(*x, strict=True)]
        a_ = _matmul(x, xt)
        aa = _matmul(a_, a_)
        bm = [[b * p + c * q for p, q in zip(r1, r2, strict=True)] for r1, r2 in zip(a_, aa, strict=True)]
        bx = _matmul(bm, x)
        x = [[a * p + q for p, q in zip(r1, r2, strict=True)] for r1, r2 in zip(x, bx, strict=True)]
    return [list(col) for col in zip(*x, strict=True)] if tall else x


class Muon(Optimizer):
    """Muon (Keller Jordan et al.): momentum orthogonalized per weight matrix; AdamW for the rest.

    `Muon(model, lr=0.02, momentum=0.95, nesterov=True, ns_steps=5, weight_decay=0.0,
    adam_lr=1e-3, adam_betas=(0.9, 0.999), adam_eps=1e-8, adam_weight_decay=0.0)`

    `model` is a Module or a list of Modules; every `Layer` inside is one matrix (its neurons' weight
    vectors as rows: nout x nin) updated as in the reference Muon:

        buf = lerp(buf, G, 1 - momentum)       # buf starts at 0
        U = lerp(G, buf, momentum) if nesterov else buf
        O = newton_schulz(U, ns_steps) * max(1, rows / cols) ** 0.5
        W = W * (1 - lr * weight_decay) - lr * O

    Biases and any parameter outside a Layer's weight matrix get AdamW with `adam_lr` etc. Both
    `lr` and `adam_lr` are scaled by LR schedules. Unlike the reference (bfloat16), all math is float64.
    """

    lr_names = ("lr", "adam_lr")

    def __init__(
        self,
        model: Module | Sequence[Module],
        lr: float = 0.02,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_steps: int = 5,
        weight_decay: float = 0.0,
        adam_lr: float = 1e-3,
        adam_betas: tuple[float, float] = (0.9, 0.999),
        adam_eps: float = 1e-8,
        adam_weight_decay: float = 0.0,
    ) -> None:
        modules = _modules(model)
        layers = _find_layers(modules)
        self._matrices = [[n.w for n in layer.neurons] for layer in layers]
        in_matrix = {id(v) for mat in self._matrices for row in mat for v in row}
        everything = [p for mod in modules for p in mod.parameters()]
        super().__init__(everything, lr)
        self.adam_params = [p for p in self.params if id(p) not in in_matrix]
        self.momentum = _beta(momentum, "Muon", "momentum")
        if not isinstance(nesterov, bool):
            raise TypeError(f"Muon: nesterov must be a bool, got {nesterov!r}")
        self.nesterov = nesterov
        if isinstance(ns_steps, bool) or not isinstance(ns_steps, int) or ns_steps < 1:
            raise ValueError(f"Muon: ns_steps must be an int >= 1, got {ns_steps!r}")
        self.ns_steps = ns_steps
        self.weight_decay = _nonneg(weight_decay, "Muon", "weight_decay")
        self.adam_lr = adam_lr
        self.adam_betas = _betas(adam_betas, "Muon", "adam_betas")
        self.adam_eps = _nonneg(adam_eps, "Muon", "adam_eps")
        self.adam_weight_decay = _nonneg(adam_weight_decay, "Muon", "adam_weight_decay")
        self._bufs: list[Matrix] = [[[0.0] * len(row) for row in mat] for mat in self._matrices]
        self._m = [0.0] * len(self.adam_params)
        self._v = [0.0] * len(self.adam_params)
        self.steps = 0

    @property
    def adam_lr(self) -> float:
        return self._adam_lr

    @adam_lr.setter
    def adam_lr(self, value: float) -> None:
        self._adam_lr = _nonneg(value, "Muon", "adam_lr")

    def step(self) -> None:
        self.steps += 1
        lr, beta = self._lr, self.momentum
        decay = 1.0 - lr * self.weight_decay
        for mat, buf in zip(self._matrices, self._bufs, strict=True):
            rows, cols = len(mat), len(mat[0])
            grad = [[v.grad for v in row] for row in mat]
            for brow, grow in zip(buf, grad, strict=True):
                for j, gj in enumerate(grow):
                    brow[j] = _lerp(brow[j], gj, 1.0 - beta)
            if self.nesterov:
                upd = [
                    [_lerp(gj, bj, beta) for gj, bj in zip(grow, brow, strict=True)]
                    for grow, brow in zip(grad, buf, strict=True)
                ]
            else:
                upd = buf
            o = newton_schulz(upd, self.ns_steps)
            scale = max(1.0, rows / cols) ** 0.5
            for row, orow in zip(mat, o, strict=True):
                for v, ov in zip(row, orow, strict=True):
                    v.data = v.data * decay - lr * (ov * scale)
        if self.adam_params:
            _adam_update(
                self.adam_params,
                self._m,
                self._v,
                self.steps,
                self._adam_lr,
                self.adam_betas,
                self.adam_eps,
                self.adam_weight_decay,
                True,
            )

    def _hyperparameters(self) -> dict[str, Any]:
        return {
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "ns_steps": self.ns_steps,
            "weight_decay": self.weight_decay,
            "adam_betas": list(self.adam_betas),
            "adam_eps": self.adam_eps,
            "adam_weight_decay": self.adam_weight_decay,
        }

    def _buffers(self) -> dict[str, Any]:
        """The step count, one momentum matrix per layer, and AdamW's moments for the other parameters."""
        return {
            "steps": self.steps,
            "momentum_buffers": [[list(row) for row in buf] for buf in self._bufs],
            "exp_avg": list(self._m),
            "exp_avg_sq": list(self._v),
        }

    def _plan_buffers(self, state: object, where: str) -> Callable[[], None]:
        keys = ["steps", "momentum_buffers", "exp_avg", "exp_avg_sq"]
        checked = _check_keys(state, keys, where, "Muon state")
        steps = _count(checked["steps"], where, "steps")
        saved = checked["momentum_buffers"]
        if not isinstance(saved, (list, tuple)) or len(saved) != len(self._matrices):
            raise ValueError(f"{where}: momentum_buffers must be a list of {len(self._matrices)} matrices")
        bufs: list[Matrix] = []
        for k, (mat, buf) in enumerate(zip(self._matrices, saved, strict=True)):
            what = f"momentum_buffers[{k}]"
            if not isinstance(buf, (list, tuple)) or len(buf) != len(mat):
                raise ValueError(f"{where}: {what} must be a list of {len(mat)} rows")
            bufs.append(
                [_floats(r, len(row), where, f"{what}[{i}]") for i, (row, r) in enumerate(zip(mat, buf, strict=True))]
            )
        n = len(self.adam_params)
        m = _floats(checked["exp_avg"], n, where, "exp_avg")
        v = _floats(checked["exp_avg_sq"], n, where, "exp_avg_sq", nonneg=True)

        def apply() -> None:
            self.steps, self._bufs, self._m, self._v = steps, bufs, m, v

        return apply

    def __repr__(self) -> str:
        n_matrix = len(self.params) - len(self.adam_params)
        return (
            f"Muon(lr={self.lr!r}, momentum={self.momentum!r}, {len(self._matrices)} matrices with {n_matrix} "
            f"weights; adam_lr={self.adam_lr!r} for {len(self.adam_params)} other parameters)"
        )


def _modules(model: object) -> list[Module]:
    if isinstance(model, Module):
        return [model]
    if isinstance(model, Sequence) and not isinstance(model, (str, bytes)) and model:
        for i, m in enumerate(model):
            if not isinstance(m, Module):
                raise TypeError(f"Muon: model[{i}] must be a Module (e.g. a Layer), got {type(m).__name__}")
        return list(model)
    raise TypeError(
        f"Muon: takes the model (a Module) or a non-empty list of its layers, got {type(model).__name__}"
        " (Muon needs the layers to group weights into matrices)"
    )


def _find_layers(modules: list[Module]) -> list[Layer]:
    """Every Layer in the module trees, in order (iterative walk)."""
    out: list[Layer] = []
    stack = list(reversed(modules))
    while stack:
        mod = stack.pop()
        if isinstance(mod, Layer):
            out.append(mod)
            continue
        stack.extend(child for _, child in reversed(mod.named_children()))
    return out


# ---- learning-rate schedules ----------------------------------------------------------------------
class _Schedule:
    """Base: remembers the optimizer's initial learning rate(s); `step()` advances one optimizer step."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: expected an optimizer from nn.optim, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lrs = {name: float(getattr(optimizer, name)) for name in optimizer.lr_names}
        self.last_step = 0

    def _lr_at(self, base: float, t: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        """Advance one step and set the optimizer's learning rate(s)."""
        self.last_step += 1
        for name, base in self.base_lrs.items():
            setattr(self.optimizer, name, self._lr_at(base, self.last_step))

    def get_last_lr(self) -> float:
        return self.optimizer.lr

    def _hyperparameters(self) -> dict[str, Any]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """The schedule's position and settings as plain JSON data, e.g. `{"type": "StepLR",
        "hyperparameters": {"step_size": 10, "gamma": 0.1}, "base_lrs": {"lr": 0.1}, "last_step": 5}`.
        (The optimizer's current learning rate is in the optimizer's own state dict.)"""
        return {
            "type": type(self).__name__,
            "hyperparameters": self._hyperparameters(),
            "base_lrs": dict(self.base_lrs),
            "last_step": self.last_step,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a `state_dict()`: the same schedule class and settings (else an error), then its
        starting learning rates and step. Everything is checked before anything changes."""
        self._plan_load(state, f"{type(self).__name__}.load_state_dict")()

    def _plan_load(self, state: object, where: str) -> Callable[[], None]:
        """Check a whole state dict against this schedule; return a function that applies it."""
        kind = type(self).__name__
        checked = _check_keys(state, ["type", "hyperparameters", "base_lrs", "last_step"], where, "schedule state")
        _check_type(checked["type"], kind, where, "schedule")
        _check_hyper(checked["hyperparameters"], self._hyperparameters(), where, kind)
        names = self.optimizer.lr_names
        saved = _check_keys(checked["base_lrs"], names, where, "base_lrs")
        base_lrs = {name: _nonneg(saved[name], where, f"base_lrs[{name!r}]") for name in names}
        last_step = _count(checked["last_step"], where, "last_step")

        def apply() -> None:
            self.base_lrs, self.last_step = base_lrs, last_step

        return apply


def _positive_int(x: object, where: str, what: str) -> int:
    return int_at_least(x, where, what, 1)


class StepLR(_Schedule):
    """lr = base_lr * gamma ** (t // step_size) after t steps."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size = _positive_int(step_size, "StepLR", "step_size")
        self.gamma = _nonneg(gamma, "StepLR", "gamma")

    def _hyperparameters(self) -> dict[str, Any]:
        return {"step_size": self.step_size, "gamma": self.gamma}

    def _lr_at(self, base: float, t: int) -> float:
        return base * self.gamma ** (t // self.step_size)


class LinearLR(_Schedule):
    """lr falls linearly from base_lr to base_lr * end_factor over `total_steps`, then stays there."""

    def __init__(self, optimizer: Optimizer, total_steps: int, end_factor: float = 0.0) -> None:
        super().__init__(optimizer)
        self.total_steps = _positive_int(total_steps, "LinearLR", "total_steps")
        self.end_factor = _nonneg(end_factor, "LinearLR", "end_factor")

    def _hyperparameters(self) -> dict[str, Any]:
        return {"total_steps": self.total_steps, "end_factor": self.end_factor}

    def _lr_at(self, base: float, t: int) -> float:
        return base * (1.0 + (self.end_factor - 1.0) * min(t, self.total_steps) / self.total_steps)


class CosineAnnealingLR(_Schedule):
    """lr = eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2, held at eta_min after T_max steps."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        super().__init__(optimizer)
        self.T_max = _positive_int(T_max, "CosineAnnealingLR", "T_max")
        self.eta_min = _nonneg(eta_min, "CosineAnnealingLR", "eta_min")

    def _hyperparameters(self) -> dict[str, Any]:
        return {"T_max": self.T_max, "eta_min": self.eta_min}

    def _lr_at(self, base: float, t: int) -> float:
        t = min(t, self.T_max)
        return self.eta_min + (base - self.eta_min) * (1.0 + math.cos(math.pi * t / self.T_max)) / 2.0


__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "LinearLR",
    "Muon",
    "Optimizer",
    "StepLR",
    "newton_schulz",
]
