"""Is the machine busy? Load-average readings during a run, and the rule that marks the run LOADED.

The rule: a reading's *others' load* is its 1-minute load average minus this run's own share of
it, `1 - exp(-t / 60)` for a run that has kept one core busy for t seconds (the kernel's 1-minute
average is an exponential average with a 60 s time constant). The run is LOADED when the others'
load of any reading (at the start, before each workload, at the end) exceeds `LOAD_FACTOR` x the
cores this process may run on: above half the cores, other work is likely to share a core, the
caches or the memory bus with the timed code.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

LOAD_FACTOR = 0.5
RULE = (
    "LOADED when any reading's 1-min load average, less this run's own share 1 - exp(-t/60) after t s,"
    f" exceeds {LOAD_FACTOR} x cores"
)


def cores() -> int:
    """The CPUs this process may run on (its affinity mask), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def read_load() -> tuple[float, float, float] | None:
    """The 1, 5 and 15-minute load averages, or None where the platform has none."""
    try:
        one, five, fifteen = os.getloadavg()
    except (AttributeError, OSError):
        return None
    return one, five, fifteen


def own_share(elapsed: float) -> float:
    """What one process busy for `elapsed` seconds adds to the 1-minute load average."""
    return 1.0 - math.exp(-max(elapsed, 0.0) / 60.0)


@dataclass
class LoadWatch:
    """Readings of the load average over a run, judged by the rule in this module's docstring."""

    cores: int = field(default_factory=cores)
    factor: float = LOAD_FACTOR
    readings: list[dict[str, Any]] = field(default_factory=list)
    clock: Any = time.monotonic
    reader: Any = read_load
    _t0: float | None = None

    def read(self, where: str) -> None:
        """Take a reading, labelled `where` ("start", a workload's name, "end")."""
        now = self.clock()
        if self._t0 is None:
            self._t0 = now
        elapsed = now - self._t0
        load = self.reader()
        reading: dict[str, Any] = {"where": where, "elapsed_s": round(elapsed, 1), "load": None, "others": None}
        if load is not None:
            reading["load"] = [round(x, 2) for x in load]
            reading["others"] = round(load[0] - own_share(elapsed), 2)
        self.readings.append(reading)

    @property
    def limit(self) -> float:
        return self.factor * self.cores

    @property
    def worst(self) -> float | None:
        """The highest others' load seen, or None without readings."""
        others = [r["others"] for r in self.readings if r["others"] is not None]
        return max(others) if others else None

    @property
    def loaded(self) -> bool:
        worst = self.worst
        return worst is not None and worst > self.limit

    def summary(self) -> dict[str, Any]:
        """What the results record: the verdict, the rule, the cores and every reading."""
        return {
            "loaded": self.loaded,
            "known": self.worst is not None,
            "worst_others": self.worst,
            "limit": self.limit,
            "cores": self.cores,
            "rule": RULE,
            "readings": self.readings,
        }


def describe(load: dict[str, Any]) -> str:
    """One line for the table's header: LOADED or clean, with the figures behind the verdict."""
    if not load or not load.get("known"):
        return "load: unknown (no load average on this platform); figures not marked"
    first, last = load["readings"][0], load["readings"][-1]
    figures = (
        f"1-min load {first['load'][0]:.2f} at the start, {last['load'][0]:.2f} at the end;"
        f" others' load at most {load['worst_others']:.2f} against a limit of {load['limit']:.2f}"
        f" ({LOAD_FACTOR} x {load['cores']} cores)"
    )
    return ("LOADED: " if load["loaded"] else "not loaded: ") + figures


__all__ = ["LOAD_FACTOR", "RULE", "LoadWatch", "cores", "describe", "own_share", "read_load"]
