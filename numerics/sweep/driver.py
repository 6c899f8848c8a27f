"""Executing a sweep: missing runs go to an executor, each is stored as soon as it finishes.

:func:`execute` runs a batch of configurations; :func:`execute_ladder` runs the depths in
increasing order, each seed's rung warm-started from its last rung that fits (for a path
sweep, as a second start beside the path); :func:`execute_sweep` picks between them by the
sweep's start.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tqdm import tqdm

from cbn.numerics.executor import SerialExecutor
from cbn.numerics.store import ResultStore, StoredRecord
from cbn.numerics.sweep.spec import SweepSpec
from cbn.numerics.sweep.worker import run_min_norm
from cbn.numerics.weights import Network

__all__ = ["ExecutionReport", "execute", "execute_ladder", "execute_sweep"]


@dataclass
class ExecutionReport:
    """Records of a batch of runs, in configuration order, and where each came from."""

    records: list[StoredRecord]
    reused: int
    computed: int
    recomputed_corrupt: int
    seconds: float


def execute(
    configs: Sequence[dict],
    store: ResultStore,
    executor=None,
    fn: Callable[[dict], tuple[dict, dict]] = run_min_norm,
    progress: bool = True,
) -> ExecutionReport:
    """Run every configuration not yet in ``store`` and store each result when it finishes.

    Finished records are reused; corrupt ones are detected by the store and recomputed. Each
    record is written atomically as soon as its run returns, so an interruption (Ctrl-C, kill)
    loses only the runs in flight and the next call resumes.
    """
    start = time.perf_counter()
    executor = executor or SerialExecutor()
    corrupt_before = len(store.corrupt_keys)
    found = [store.load(c) for c in configs]
    missing = [i for i, rec in enumerate(found) if rec is None]
    bar = tqdm(total=len(configs), initial=len(configs) - len(missing), file=sys.stderr,
               disable=not progress, desc="runs", unit="run")
    try:
        for j, (record, arrays) in executor.map_unordered(fn, [configs[i] for i in missing]):
            found[missing[j]] = store.save(configs[missing[j]], record, arrays)
            bar.update(1)
    finally:
        bar.close()
    return ExecutionReport(
        records=found, reused=len(configs) - len(missing), computed=len(missing),
        recomputed_corrupt=len(store.corrupt_keys) - corrupt_before,
        seconds=time.perf_counter() - start,
    )


def execute_ladder(
    spec: SweepSpec, store: ResultStore, executor=None, progress: bool = True
) -> ExecutionReport:
    """Depth by depth: every seed's run at depth ``L`` starts from its last run that fits.

    Rungs (the requested depths, in increasing order): seed ``s`` at depth ``L`` starts from
    its most recent shallower run of depth >= 2 whose ``residual_rel <= spec.residual_rtol``,
    padded to ``L`` by ``cbn.numerics.starts.pad_to_depth`` with the data projector (exact on the
    samples), tried once (``start_attempts = 1``). Without such a run (the smallest depth, or
    every earlier rung of that seed missed the data) the run starts at random with
    ``spec.ladder_restarts`` starts. The start's weights and the attempts are part of the run
    configuration (hence of its store key), so a ladder resumes and reuses records like any
    sweep.

    A path sweep (``init="path"``) runs the same rungs, but every run starts from the path and,
    where the seed has a shallower run that fits, also from that run padded where it is
    cheapest (:func:`cbn.numerics.starts.cheapest_padding`); the run keeps the better
    (:func:`cbn.numerics.sweep.worker.run_min_norm`).
    """
    if spec.init not in ("ladder", "path"):
        raise ValueError(f"execute_ladder needs init 'ladder' or 'path', got {spec.init!r}")
    start = time.perf_counter()
    records: list[StoredRecord] = []
    reused = computed = corrupt = 0
    fitting: dict[int, StoredRecord] = {}  # seed -> its deepest run so far that fits
    base = {(c["depth"], c["seed"]): c for c in spec.run_configs()}
    for L in sorted(spec.depths):
        configs = []
        for seed in range(spec.seeds):
            config = dict(base[(L, seed)])
            before = fitting.get(seed)
            if before is not None:
                net = Network.from_arrays(before.arrays)
                # a bias-free run stores zero biases: do not pass them on
                biases = net.biases if spec.bias else None
                if spec.init == "ladder":
                    config["start_attempts"] = 1
                    config["guard_attempts"] = spec.ladder_restarts
                config["ladder_from"] = {
                    "depth": before.config["depth"],
                    "filters": [f.tolist() for f in net.filters],
                    "biases": None if biases is None else [b.tolist() for b in biases],
                }
            configs.append(config)
        rep = execute(configs, store, executor, progress=progress)
        records += rep.records
        reused, computed = reused + rep.reused, computed + rep.computed
        corrupt += rep.recomputed_corrupt
        for r in rep.records:
            # a depth-1 network has no hidden layer of the sweep's width (nor a ReLU output)
            # to pad after: depth 2 starts at random
            if r.record["residual_rel"] <= spec.residual_rtol and r.config["depth"] >= 2:
                fitting[r.config["seed"]] = r
    return ExecutionReport(records, reused, computed, corrupt, time.perf_counter() - start)


def execute_sweep(
    spec: SweepSpec, store: ResultStore, executor=None, progress: bool = True
) -> ExecutionReport:
    """Run (or reuse) every run of ``spec``: :func:`execute_ladder` for ``init="ladder"`` and
    ``"path"``, else :func:`execute` on :meth:`SweepSpec.run_configs`."""
    if spec.init in ("ladder", "path"):
        return execute_ladder(spec, store, executor, progress)
    return execute(spec.run_configs(), store, executor, progress=progress)

