"""Performance benchmarks as ratios against a baseline measured in the same process.

Each benchmark is a function ``run(quick: bool) -> BenchResult``: it times the toolkit's route
and a baseline on the same problem, checks that both give the same numbers (to the accuracy
the baseline has), and reports the ratio ``baseline_seconds / seconds``. Ratios, not seconds,
are what carries over between machines; both are recorded, with the machine's load.
``cbn bench`` runs them all in one process; ``pytest -m bench tests/bench_suite.py`` too.
"""

from __future__ import annotations

from collections.abc import Callable

from cbn.numerics.benchmarks.result import BenchResult, machine_note

__all__ = ["BENCHMARKS", "BenchResult", "machine_note", "run_benchmark"]


def _registry() -> dict[str, Callable[[bool], BenchResult]]:
    from cbn.numerics.benchmarks import convex, engine, linear, sweep, throughput

    return {"linear_closed_form": linear.run, "convex_interpolation": convex.run,
            "engine_vs_naive": engine.run, "sweep_store": sweep.run,
            "cpu_throughput": throughput.run}


#: Benchmark names, in the order ``cbn bench`` runs them.
BENCHMARKS: tuple[str, ...] = ("linear_closed_form", "convex_interpolation", "engine_vs_naive",
                               "sweep_store", "cpu_throughput")


def run_benchmark(name: str, quick: bool) -> BenchResult:
    """Run one benchmark by name (see :data:`BENCHMARKS`)."""
    registry = _registry()
    if name not in registry:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")
    return registry[name](quick)
