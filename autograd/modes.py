"""Switches that change what building a node means: `no_grad`, `enable_grad`, `detect_anomaly`, and
the observer hook through which the compiler watches a function run.

One context variable, the *mode*, says what the node builder does in this thread and context:
`True` records the graph, `False` (inside `no_grad()`) records nothing, and an `Observer` records
what its `grad_enabled` says and is told about every node, every read of a Value's number and every
decision taken on it. Keeping all three in one variable costs the common case (`True`) nothing.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ops import Op
    from .value import Value

__all__ = ["detect_anomaly", "enable_grad", "is_grad_enabled", "no_grad"]


class Observer:
    """Watches graph building in one thread: the official hook for tracers (`autograd.compile`).

    Install one with `observing(observer)`. Ops built while it is installed call `node`; user code
    that reads or converts a Value's number calls the other methods, so an observer sees every
    data-dependent decision. The base class allows everything and records nothing.
    """

    grad_enabled: bool = True

    def with_grad(self, enabled: bool) -> Observer:
        """The same observer with graph recording switched on or off (for no_grad inside a trace)."""
        raise NotImplementedError

    def node(self, out: Value, op: Op, a: Value, b: Value | None, params: dict[str, float] | None) -> None:
        """`out` was just built by `op` from `a` (and `b`); linked to them iff `self.grad_enabled`."""

    def detached(self, out: Value, source: Value) -> None:
        """`out = source.detach()`: a new leaf holding source's number."""

    def read(self, v: Value) -> Any:
        """User code reads `v.data`; return what it should see."""
        return v._data

    def write(self, v: Value, x: Any) -> None:
        """User code assigns `v.data = x`."""

    def compare(self, v: Value, op: str, other: Any, outcome: bool) -> None:
        """User code compared `v` (`v < other` and so on); `outcome` is the eager answer."""

    def convert(self, v: Value, how: str) -> None:
        """User code turned `v` into a plain number (`float(v)`, `round(v)`, ...)."""

    def escape(self, what: str, writes: bool) -> None:
        """User code calls an API the observer cannot watch: one that writes `.grad` (`writes`:
        `backward()`, `zero_grad()`) or returns plain floats (`gradients(...)`), or copies a Value."""


def escape(what: str, writes: bool) -> None:
    """Tell an observer installed in this thread (a compiler tracing) about an API call it cannot
    follow: one that writes `.grad` (`writes`) or hands out plain numbers or copies."""
    mode = _mode.get()
    if type(mode) is not bool:
        mode.escape(what, writes)


class TracedNumber:
    """Base of numbers an observer hands out for `.data`; the engine asks them before using one."""

    def to_float(self, where: str) -> float:
        """Called where the engine would turn this number into a float (Value(...), an operand)."""
        raise NotImplementedError


# Checks that run, while a trace is under way anywhere, when user code reads a Value's number or
# compares it outside any observer (e.g. in another thread): a tracer registers one to refuse the
# Values of its own trace there, since it sees only its own thread. Empty, as almost always, it
# costs a Value's `.data` one truth test.
foreign_checks: list[Callable[[object], None]] = []

Mode = "bool | Observer"
_mode: contextvars.ContextVar[Any] = contextvars.ContextVar("autograd_mode", default=True)
_detect_anomaly: contextvars.ContextVar[bool] = contextvars.ContextVar("detect_anomaly", default=False)


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()`."""
    mode = _mode.get()
    return mode if type(mode) is bool else bool(mode.grad_enabled)


def _with_grad(enabled: bool) -> Any:
    mode = _mode.get()
    return enabled if type(mode) is bool else mode.with_grad(enabled)


class _Switch:
    """A context manager that sets a context variable for the `with` block: per thread and per
    context, and nestable (one token per open block). A subclass says what to set."""

    _var: contextvars.ContextVar[Any] = _mode

    def __init__(self) -> None:
        self._tokens: list[contextvars.Token[Any]] = []

    def _value(self) -> Any:
        raise NotImplementedError

    def __enter__(self) -> None:
        self._tokens.append(self._var.set(self._value()))

    def __exit__(self, *exc: object) -> None:
        self._var.reset(self._tokens.pop())

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Use the switch as a decorator: `fn` runs inside it."""
        switch = type(self)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with switch():
                return fn(*args, **kwargs)

        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


class no_grad(_Switch):
    """Context manager (and decorator): ops inside it record no graph. Per thread and per context."""

    def _value(self) -> Any:
        return _with_grad(False)


class enable_grad(_Switch):
    """Context manager (and decorator): record graphs again, even inside `no_grad()`."""

    def _value(self) -> Any:
        return _with_grad(True)


class detect_anomaly(_Switch):
    """Context manager: backward checks every step and fails at the op that makes a nan or inf."""

    _var = _detect_anomaly

    def _value(self) -> Any:
        return True


class observing(_Switch):
    """Context manager installing `observer` for this thread and context (see `Observer`)."""

    def __init__(self, observer: Observer) -> None:
        super().__init__()
        self._observer = observer

    def _value(self) -> Any:
        return self._observer
