"""Checkers for the exercises whose answers are gradients on a graph (lectures 000 to 003).

Each checker computes its references from the engine first (a `GraphReference` per case), then
runs the student's file, then compares: the student's code never runs before the references exist.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from autograd.explain import num

from . import graphs
from .core import GraphReference, close, graph_reference, load_student, numbers_dict, numbers_list, student_function
from .core import call_student as call
from .report import Report, graph_report, right, wrong


def check_textbook(path: Path) -> Report:
    """Exercise 1: dL/dx for lecture 000's L = c(a + 2b)."""
    ref = graph_reference(graphs.textbook())
    module = load_student(path)
    got = numbers_dict(call(student_function(module, "gradients")), ("a", "b", "c", "d", "e"), "gradients()")
    return graph_report(ref, got, "gradients()") or right("every gradient of L = c(a + 2b).", ref.narration)


def check_used_twice(path: Path) -> Report:
    """Exercise 2: a graph in which x is used twice."""
    ref = graph_reference(graphs.used_twice())
    module = load_student(path)
    got = numbers_dict(call(student_function(module, "gradients")), ("p", "x", "y", "z", "u", "v"), "gradients()")
    return graph_report(ref, got, "gradients()") or right("every gradient, x's two uses added up.", ref.narration)


def check_delta(path: Path) -> Report:
    """Exercise 4: delta(l) from delta(l+1) for one layer of a tanh network."""
    case = graphs.delta_case()
    layer, above = case.layers[0], case.layers[1]
    ref = graph_reference(graphs.delta_layer(layer.s, above.W, above.delta))
    args = (tuple(above.W), tuple(above.delta), tuple(layer.o))
    module = load_student(path)
    w_next, d_next, o = [list(r) for r in args[0]], list(args[1]), list(args[2])  # copies the student may change
    got = numbers_list(call(student_function(module, "delta"), w_next, d_next, o), len(layer.s), "delta(...)")
    where = f"delta(W_next={_mat(args[0])}, delta_next={_vec(args[1])}, o={_vec(args[2])})"
    named = {f"s{b + 1}(l)": g for b, g in enumerate(got)}
    expected = ", ".join(f"delta{b + 1}(l) = dL/ds{b + 1}(l)" for b in range(len(got)))
    report = graph_report(ref, named, f"{where}\n  ({expected})")
    return report or right(f"delta(l) = {_vec(layer.delta)}, as nn.layer_deltas has it.", ref.narration)


def check_losses(path: Path) -> Report:
    """Exercise 5: dL/dz of binary cross-entropy and of softmax cross-entropy."""
    bce_cases = ((0.8, 1.0), (-1.5, 0.0), (0.3, 0.25))
    ce_cases = (((2.0, 1.0, 0.1), 0), ((0.5, -1.0, 1.5), 1))
    bce_refs = [graph_reference(graphs.bce(z, y)) for z, y in bce_cases]
    ce_refs = [graph_reference(graphs.softmax_ce(z, t)) for z, t in ce_cases]
    module = load_student(path)
    bce_fn, ce_fn = student_function(module, "bce_grad"), student_function(module, "softmax_ce_grad")
    for (z, y), ref in zip(bce_cases, bce_refs, strict=True):
        got = {"z": numbers_list([call(bce_fn, z, y)], 1, f"bce_grad({z}, {y})")[0]}
        report = graph_report(ref, got, f"bce_grad(z={z}, y={y})")
        if report:
            return report
    for (z, t), ref in zip(ce_cases, ce_refs, strict=True):
        values = numbers_list(call(ce_fn, list(z), t), len(z), f"softmax_ce_grad({list(z)}, {t})")
        report = graph_report(ref, {f"z{k + 1}": g for k, g in enumerate(values)}, f"softmax_ce_grad(z={list(z)}, {t})")
        if report:
            return report
    return right(
        "dL/dz = sigmoid(z) - y and dL/dz_k = softmax(z)_k - [k = t] at every point checked.",
        bce_refs[0].narration + "\n\n" + ce_refs[0].narration,
        "The engine's backward passes of the first case of each, for comparison",
    )


def check_two_layer(path: Path) -> Report:
    """Exercise 6: every gradient of lecture 003's two-layer network."""
    ref = graph_reference(graphs.two_layer())
    keys = ("y_hat", "h1", "h2", "w2_1", "w2_2", "b2", "w1_11", "w1_12", "w1_21", "w1_22", "b1_1", "b1_2")
    module = load_student(path)
    got = numbers_dict(call(student_function(module, "gradients")), keys, "gradients()")
    return graph_report(ref, got, "gradients()") or right("the whole backward pass of lecture 003.", ref.narration)


def check_xor(path: Path) -> Report:
    """Exercise 7: the XOR gap, a linear neuron's gradients, and its best fit."""
    points = ((0.5, -0.25, 0.1), (-1.0, 2.0, 0.3))
    refs = [graph_reference(graphs.xor_neuron(*p)) for p in points]
    module = load_student(path)
    gap = student_function(module, "xor_gap")
    for w in ((1.0, 1.0, -0.5), (2.0, -3.0, 0.7)):
        got = numbers_list([call(gap, *w)], 1, f"xor_gap{w}")[0]
        if not close(got, 0.0):
            s = [w[0] * x1 + w[1] * x2 + w[2] for x1, x2, _ in graphs.XOR]
            terms = f"s(0,0) = {num(s[0])}, s(0,1) = {num(s[1])}, s(1,0) = {num(s[2])}, s(1,1) = {num(s[3])}"
            return wrong(
                f"xor_gap{w}", f"  With {terms}: the gap is {num(s[1] + s[2] - s[0] - s[3])}; yours is {num(got)}."
            )
    grad_fn = student_function(module, "gradients")
    for p, ref in zip(points, refs, strict=True):
        got = numbers_dict(call(grad_fn, *p), ("w1", "w2", "b"), f"gradients{p}")
        report = graph_report(ref, got, f"gradients(w1={p[0]}, w2={p[1]}, b={p[2]})")
        if report:
            return report
    return _check_best(module, refs[0])


def _check_best(module: ModuleType, ref: GraphReference) -> Report:
    best = numbers_dict(call(student_function(module, "best_neuron")), ("w1", "w2", "b"), "best_neuron()")
    at = graph_reference(graphs.xor_neuron(best["w1"], best["w2"], best["b"]))
    off = {k: at.grads[k] for k in ("w1", "w2", "b") if not close(at.grads[k], 0.0)}
    if off:
        listed = ", ".join(f"dL/d{k} = {num(g)}" for k, g in off.items())
        return wrong("best_neuron()", f"  At {best} the gradients are not all 0: {listed}, so L can still go down.")
    preds = [best["w1"] * x1 + best["w2"] * x2 + best["b"] for x1, x2, _ in graphs.XOR]
    text = (
        f"the gap is 0 for every weight, and the best linear neuron (L = {num(at.value)}) predicts "
        f"{', '.join(num(v) for v in preds)} for (0,0), (0,1), (1,0), (1,1): the same for all four, so no "
        "threshold separates XOR."
    )
    return right(text, ref.narration, "The engine's backward pass at the first point checked, for comparison")


def _vec(xs: tuple[float, ...] | list[float]) -> str:
    return "[" + ", ".join(num(x) for x in xs) + "]"


def _mat(rows: tuple[tuple[float, ...], ...]) -> str:
    return "[" + ", ".join(_vec(r) for r in rows) + "]"
