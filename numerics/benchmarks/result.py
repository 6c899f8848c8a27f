"""The record of one benchmark and a note on the machine it ran on."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class BenchResult:
    """One benchmark: the toolkit's route against a baseline on the same problem.

    Attributes
    ----------
    name, job, baseline : what was timed, in words
    seconds, baseline_seconds : wall time of each route (best of the repeats stated in detail)
    ratio : ``baseline_seconds / seconds``; a lower bound when ``ratio_is_lower_bound`` (the
        baseline never reached the target accuracy within its budget)
    agreement : how the two routes' numbers compare (the check each benchmark makes)
    detail : further measurements (sizes, accuracies, FLOP/s), JSON-able
    machine : :func:`machine_note` at the end of the run
    """

    name: str
    job: str
    baseline: str
    seconds: float
    baseline_seconds: float
    agreement: str
    ratio_is_lower_bound: bool = False
    detail: dict = field(default_factory=dict)
    machine: str = ""

    @property
    def ratio(self) -> float:
        return self.baseline_seconds / self.seconds

    def to_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio}


def machine_note() -> str:
    """Processor, cores and the 1-minute load average (a loaded machine is said so)."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{platform.machine()} {platform.processor() or ''}".strip()
            + f", {os.cpu_count()} cores, load {load:.1f}")


def best_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Smallest wall time of ``repeats`` calls of ``fn`` and the last return value."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out
