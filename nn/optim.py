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
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

from autograd import Value

from .module import Layer, Module

Matrix = list[list[float]]


def _real(x: object, where: str, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{where}: {what} must be a real number, got {type(x).__name__} {x!r}")
    f = float(x)
    if not math.isfinite(f):
        raise ValueError(f"{where}: {what} must be finite, got {x!r}")
    return f


def _nonneg(x: object, where: str, what: str) -> float:
    f = _real(x, where, what)
    if f < 0.0:
        raise ValueError(f"{where}: {what} must be >= 0, got {x!r}")
    return f


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


def _positive_int(x: object, where: str, what: str) -> int:
    if isinstance(x, bool) or not isinstance(x, numbers.Integral) or int(x) < 1:
        raise ValueError(f"{where}: {what} must be an int >= 1, got {x!r}")
    return int(x)


class StepLR(_Schedule):
    """lr = base_lr * gamma ** (t // step_size) after t steps."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        self.step_size = _positive_int(step_size, "StepLR", "step_size")
        self.gamma = _nonneg(gamma, "StepLR", "gamma")

    def _lr_at(self, base: float, t: int) -> float:
        return base * self.gamma ** (t // self.step_size)


class LinearLR(_Schedule):
    """lr falls linearly from base_lr to base_lr * end_factor over `total_steps`, then stays there."""

    def __init__(self, optimizer: Optimizer, total_steps: int, end_factor: float = 0.0) -> None:
        super().__init__(optimizer)
        self.total_steps = _positive_int(total_steps, "LinearLR", "total_steps")
        self.end_factor = _nonneg(end_factor, "LinearLR", "end_factor")

    def _lr_at(self, base: float, t: int) -> float:
        return base * (1.0 + (self.end_factor - 1.0) * min(t, self.total_steps) / self.total_steps)


class CosineAnnealingLR(_Schedule):
    """lr = eta_min + (base_lr - eta_min) (1 + cos(pi t / T_max)) / 2, held at eta_min after T_max steps."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        super().__init__(optimizer)
        self.T_max = _positive_int(T_max, "CosineAnnealingLR", "T_max")
        self.eta_min = _nonneg(eta_min, "CosineAnnealingLR", "eta_min")

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
