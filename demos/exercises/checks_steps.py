"""Checkers for the optimizer exercises (lecture 004): the student's step against `nn.optim`'s.

The student's code gets its own copies of the parameters (fresh Values with the same `.data` and
`.grad`) and of the optimizer state; `nn.optim` steps on another set. The comparison is tight
(written code, not hand arithmetic), and the first wrong parameter is explained with the formula's
numbers and what the student's new value implies.
"""

from __future__ import annotations

import math
from pathlib import Path

from autograd import Value
from autograd.explain import num
from nn import optim

from .core import ExerciseError, call_student, load_student, number, student_function
from .report import Report, right, wrong


def _same(got: float, expected: float) -> bool:
    return math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12)


def _params(data: tuple[float, ...], grads: tuple[float, ...]) -> list[Value]:
    out = []
    for i, (d, g) in enumerate(zip(data, grads, strict=True)):
        v = Value(d, label=f"p[{i}]")
        v.grad = g
        out.append(v)
    return out


def _read(params: list[Value], what: str) -> list[float]:
    return [number(p.data, f"{what}: params[{i}].data after your step") for i, p in enumerate(params)]


def check_sgd(path: Path) -> Report:
    """Exercise 8: one SGD step with weight decay."""
    data, grads, lr, wd = (0.5, -1.2, 2.0), (0.3, -0.4, 0.0), 0.1, 0.2
    ref = _params(data, grads)
    optim.SGD(ref, lr=lr, weight_decay=wd).step()
    expected = [p.data for p in ref]
    module = load_student(path)
    mine = _params(data, grads)
    call_student(student_function(module, "sgd_step"), mine, lr, wd)
    got = _read(mine, "sgd_step")
    where = f"sgd_step(params, lr={lr}, weight_decay={wd})"
    for i, (p, g, e, y) in enumerate(zip(data, grads, expected, got, strict=True)):
        if not _same(y, e):
            return wrong(where, _sgd_diagnosis(i, p, g, lr, wd, e, y))
    lines = [
        f"p[{i}]: g = {num(g)} + {num(wd)} * {num(p)} = {num(g + wd * p)}; "
        f"{num(p)} - {num(lr)} * {num(g + wd * p)} = {num(e)}"
        for i, (p, g, e) in enumerate(zip(data, grads, expected, strict=True))
    ]
    return right("every parameter matches nn.optim.SGD(weight_decay=...).", "\n".join(lines), "nn.optim.SGD's step")


def _sgd_diagnosis(i: int, p: float, g: float, lr: float, wd: float, expected: float, got: float) -> str:
    full = g + wd * p
    lines = [
        f"First wrong parameter: p[{i}] (data {num(p)}, grad {num(g)}).",
        f"  Expected: dL/dW + alpha W = {num(g)} + {num(wd)} * {num(p)} = {num(full)}, "
        f"so W - eta (dL/dW + alpha W) = {num(p)} - {num(lr)} * {num(full)} = {num(expected)}.",
    ]
    implied = (p - got) / lr if lr else math.nan
    lines.append(f"  Yours is {num(got)}: a step of -{num(lr)} * {num(implied)}, i.e. a gradient of {num(implied)}.")
    if _same(implied, g):
        lines.append(
            "  Diagnosis: the weight decay is missing: add alpha W to the gradient (or scale W by 1 - eta alpha)."
        )
    elif _same(implied, g - wd * p):
        lines.append("  Diagnosis: the weight decay has the wrong sign: it pulls W toward 0, so add + alpha W.")
    elif _same(implied, -full):
        lines.append("  Diagnosis: sign error: the step goes up the gradient; subtract eta times the gradient.")
    elif _same(got, p):
        lines.append("  Diagnosis: the parameter did not change: assign the new value to p.data.")
    else:
        lines.append(f"  Diagnosis: the gradient your step uses is {num(implied)}, not {num(full)}.")
    return "\n".join(lines)


def _adam_reference() -> tuple[tuple[float, ...], tuple[float, ...], optim.Adam, list[Value]]:
    """Two Adam steps taken by nn.optim.Adam, then the third step's gradients: (data, grads, opt, params)."""
    params = _params((0.5, -1.0, 0.25), (0.0, 0.0, 0.0))
    opt = optim.Adam(params, lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    for grads in ((0.3, -0.2, 0.05), (-0.1, -0.4, 0.2)):
        for p, g in zip(params, grads, strict=True):
            p.grad = g
        opt.step()
    third = (0.2, 0.1, -0.3)
    for p, g in zip(params, third, strict=True):
        p.grad = g
    return tuple(p.data for p in params), third, opt, params


def check_adam(path: Path) -> Report:
    """Exercise 9: the third Adam step from a given state, against nn.optim.Adam."""
    data, grads, opt, ref = _adam_reference()
    before = opt.state_dict()["state"]
    state0 = (before["steps"], tuple(before["exp_avg"]), tuple(before["exp_avg_sq"]))
    opt.step()
    after = opt.state_dict()["state"]
    expected = [p.data for p in ref]
    module = load_student(path)
    mine = _params(data, grads)
    state = {"t": state0[0], "m": list(state0[1]), "v": list(state0[2])}
    call_student(student_function(module, "adam_step"), mine, state, 0.1, (0.9, 0.999), 1e-8)
    where = f"adam_step(params, state with t = {state0[0]}, lr=0.1, betas=(0.9, 0.999), eps=1e-8)"
    if state.get("t") != after["steps"]:
        return wrong(
            where,
            f"  state['t'] should be {after['steps']} after the step (once per step); yours is {state.get('t')!r}.",
        )
    got = _read(mine, "adam_step")
    for i in range(len(data)):
        m_i, v_i = _moment(state, "m", i), _moment(state, "v", i)
        ok = _same(m_i, after["exp_avg"][i]) and _same(v_i, after["exp_avg_sq"][i]) and _same(got[i], expected[i])
        if not ok:
            return wrong(where, _adam_diagnosis(i, data[i], grads[i], state0, after, (m_i, v_i, got[i]), expected[i]))
    t = after["steps"]
    lines = [
        f"p[{i}]: m = {num(after['exp_avg'][i])}, v = {num(after['exp_avg_sq'][i])}, "
        f"m_hat = {num(after['exp_avg'][i] / (1 - 0.9**t))}, v_hat = {num(after['exp_avg_sq'][i] / (1 - 0.999**t))}, "
        f"data {num(data[i])} -> {num(expected[i])}"
        for i in range(len(data))
    ]
    return right("m, v, t and every parameter match nn.optim.Adam.", "\n".join(lines), f"nn.optim.Adam's step {t}")


def _moment(state: object, key: str, i: int) -> float:
    try:
        return number(state[key][i], f"state[{key!r}][{i}]")  # type: ignore[index]
    except (KeyError, IndexError, TypeError):
        raise ExerciseError(f"state[{key!r}] must stay a list with one number per parameter") from None


def _adam_diagnosis(
    i: int,
    p: float,
    g: float,
    state0: tuple[int, tuple[float, ...], tuple[float, ...]],
    after: dict[str, list[float]],
    mine: tuple[float, float, float],
    expected: float,
) -> str:
    t = state0[0] + 1
    m0, v0 = state0[1][i], state0[2][i]
    m, v = after["exp_avg"][i], after["exp_avg_sq"][i]
    lines = [f"First wrong parameter: p[{i}] (data {num(p)}, grad g = {num(g)}, step t = {t})."]
    if not _same(mine[0], m):
        lines.append(
            f"  m = beta1 m + (1 - beta1) g = 0.9 * {num(m0)} + 0.1 * {num(g)} = {num(m)}; yours is {num(mine[0])}."
        )
        return "\n".join(lines)
    if not _same(mine[1], v):
        lines.append(
            f"  v = beta2 v + (1 - beta2) g^2 = 0.999 * {num(v0)} + 0.001 * {num(g)}^2 = {num(v)}; "
            f"yours is {num(mine[1])}."
        )
        return "\n".join(lines)
    m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
    lines.append(
        f"  m and v are right; m_hat = {num(m_hat)}, v_hat = {num(v_hat)}, so p - lr m_hat / (sqrt(v_hat) + eps) "
        f"= {num(expected)}; yours is {num(mine[2])}."
    )
    if _same(mine[2], p - 0.1 * m / (math.sqrt(v) + 1e-8)):
        lines.append("  Diagnosis: the bias correction is missing: divide m by 1 - beta1^t and v by 1 - beta2^t.")
    elif _same(mine[2], p - 0.1 * m_hat / (v_hat + 1e-8)):
        lines.append("  Diagnosis: the square root is missing: divide by sqrt(v_hat) + eps.")
    elif _same(mine[2], p + (p - expected)):
        lines.append("  Diagnosis: sign error: the step goes up the gradient.")
    return "\n".join(lines)
