"""Threads: no_grad and detect_anomaly are per thread, and backward on shared parameters is correct.

Barriers put the threads in lock step, so in every round one thread is inside `no_grad()` while
another is outside it at the same moment: a process-wide switch would fail the checks.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import nn
from autograd import Value, detect_anomaly, gradients, is_grad_enabled, no_grad

ROUNDS = 50


def run_threads(n: int, work: Callable[[int], None]) -> None:
    """Run work(0..n-1) in n threads; re-raise the first failure in the calling thread."""
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            work(i)
        except BaseException as e:  # noqa: BLE001 (reported to the test below)
            errors.append(e)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    if errors:
        raise errors[0]


def test_no_grad_in_one_thread_leaves_the_others_recording() -> None:
    n = 4
    barrier = threading.Barrier(n, timeout=30)
    w = Value(0.5, label="w")
    seen: list[tuple[int, int, bool, bool]] = []

    def work(i: int) -> None:
        for r in range(ROUNDS):
            off = (i + r) % 2 == 0  # half the threads inside no_grad in every round, alternating
            if off:
                with no_grad():
                    barrier.wait()  # everyone is now in their mode at the same time
                    y = (w * float(i)).tanh()
                    seen.append((i, r, is_grad_enabled(), y.is_leaf()))
                    barrier.wait()  # nobody leaves their mode before all have built and checked
            else:
                barrier.wait()
                y = (w * float(i)).tanh()
                seen.append((i, r, is_grad_enabled(), y.is_leaf()))
                barrier.wait()
            assert is_grad_enabled()  # restored after the block, in this thread

    run_threads(n, work)
    assert len(seen) == n * ROUNDS
    for i, r, enabled, leaf in seen:
        off = (i + r) % 2 == 0
        assert enabled is not off and leaf is off, (i, r, enabled, leaf)


def test_no_grad_as_a_decorator_is_per_thread() -> None:
    n = 2
    barrier = threading.Barrier(n, timeout=30)
    x = Value(2.0)

    @no_grad()
    def square_without_graph() -> Value:
        barrier.wait()
        out = x * x
        barrier.wait()
        return out

    def square_with_graph() -> Value:
        barrier.wait()
        out = x * x
        barrier.wait()
        return out

    results: dict[int, Value] = {}

    def work(i: int) -> None:
        for _ in range(ROUNDS):
            results[i] = square_without_graph() if i == 0 else square_with_graph()
            assert results[i].is_leaf() is (i == 0)

    run_threads(n, work)
    assert results[0].is_leaf() and results[1].op == "*"


def test_detect_anomaly_in_one_thread_only() -> None:
    n = 2
    barrier = threading.Barrier(n, timeout=30)
    errors: dict[int, type[BaseException]] = {}

    def overflowing() -> Value:
        return (Value(1e-200, "a") * 1e200) * 1e200  # d/da = 1e400: not a float

    def work(i: int) -> None:
        try:
            if i == 0:
                with detect_anomaly():
                    barrier.wait()
                    overflowing().backward()
            else:
                barrier.wait()
                overflowing().backward()
        except ArithmeticError as e:  # FloatingPointError and OverflowError
            errors[i] = type(e)

    run_threads(n, work)
    assert errors == {0: FloatingPointError, 1: OverflowError}


def loss_of(model: nn.MLP, k: int) -> Value:
    x = [math.sin(k), math.cos(3 * k)]
    return nn.mse_loss(model(x), [0.5 * k - 1.0])


def test_concurrent_gradients_on_shared_parameters_equal_the_sequential_ones() -> None:
    model = nn.MLP(2, [8, 8, 1], seed=0)
    params = model.parameters()
    n = 4
    expected = {k: gradients(loss_of(model, k), params) for k in range(n * 5)}
    got: dict[int, list[float]] = {}
    barrier = threading.Barrier(n, timeout=30)

    def work(i: int) -> None:
        for k in range(i, n * 5, n):
            loss = loss_of(model, k)
            barrier.wait()  # all threads start their backward together
            got[k] = gradients(loss, params)

    run_threads(n, work)
    assert got == expected  # bit for bit: each sweep is the same arithmetic in the same order
    assert all(p.grad == 0.0 for p in params)  # gradients() never touches .grad


def test_concurrent_backward_accumulates_every_thread_into_shared_grads() -> None:
    model = nn.MLP(2, [8, 8, 1], seed=1)
    params = model.parameters()
    n = 4
    per_thread = [gradients(loss_of(model, k), params) for k in range(n)]
    barrier = threading.Barrier(n, timeout=30)

    def work(i: int) -> None:
        loss = loss_of(model, i)
        barrier.wait()
        loss.backward()

    for _ in range(5):
        model.zero_grad()
        run_threads(n, work)
        for j, p in enumerate(params):
            # the threads' contributions arrive in any order: equal up to the order of n additions
            total = math.fsum(g[j] for g in per_thread)
            assert math.isclose(p.grad, total, rel_tol=1e-12, abs_tol=1e-15), (j, p.grad, total)


def test_a_thread_under_no_grad_does_not_disturb_a_backward_in_another() -> None:
    model = nn.MLP(2, [8, 1], seed=2)
    params = model.parameters()
    expected = gradients(loss_of(model, 3), params)
    barrier = threading.Barrier(2, timeout=30)
    got: list[list[float]] = []

    def work(i: int) -> None:
        for _ in range(ROUNDS // 5):
            if i == 0:
                with no_grad():
                    barrier.wait()
                    out = loss_of(model, 3)  # a forward pass with no graph, at the same time
                    assert out.is_leaf()
                    barrier.wait()
            else:
                loss = loss_of(model, 3)
                barrier.wait()
                got.append(gradients(loss, params))
                barrier.wait()

    run_threads(2, work)
    assert got and all(g == expected for g in got)
