"""A depth sweep computed, then the same sweep served from the result store."""

from __future__ import annotations

import tempfile
import time

from cbn.numerics.benchmarks.result import BenchResult, machine_note

#: quick: the derivative on d = 8; full: the 8-channel low-pass projection on d = 16 (linear
#: targets with a closed form): (target, params, depths, seeds, samples, width, workers)
SIZES = {True: ("derivative", {"spatial": [8]}, [2, 3, 4], 2, 8, 2, 1),
         False: ("lowpass", {"spatial": [16], "channels": 8}, list(range(2, 13)), 3, 128, 8, 2)}


def run(quick: bool) -> BenchResult:
    from cbn.numerics.executor import make_executor
    from cbn.numerics.search import SearchSettings
    from cbn.numerics.store import ResultStore
    from cbn.numerics.sweep import SweepSpec, execute_sweep, summarize

    name, params, depths, seeds, samples, width, workers = SIZES[quick]
    spec = SweepSpec(target={"spec": name, "params": params},
                     depths=depths, seeds=seeds, n_samples=samples, width=width,
                     activation="identity", bias=False, settings=SearchSettings(max_iter=20000))
    with tempfile.TemporaryDirectory(prefix="cbn-bench-store-") as root:
        store = ResultStore(root)
        timings = []
        for _ in range(2):
            start = time.perf_counter()
            with make_executor(None, workers) as executor:
                report = execute_sweep(spec, store, executor, progress=False)
            timings.append(time.perf_counter() - start)
            summary = summarize(spec, report.records)
    gap = max(abs(n - e) / e for n, e in zip(summary.norm, summary.exact))
    runs = len(depths) * seeds
    return BenchResult(
        name="sweep_store",
        job=f"same sweep again, served from the store ({runs} runs)",
        baseline=f"the sweep computed: {name} {params}, depths "
                 f"{depths[0]}..{depths[-1]}, {seeds} seeds, {samples} samples, width {width}, "
                 f"{workers} worker(s)",
        seconds=timings[1], baseline_seconds=timings[0],
        agreement=f"second call reused {report.reused} of {runs} runs; best norms within "
                  f"{gap:.1e} of the closed form",
        detail={"first_seconds": timings[0], "second_seconds": timings[1],
                "runs": runs, "reused_second": report.reused, "norm_gap": gap,
                "R0_fit": summary.R0_fit, "R0_exact": summary.R0_exact,
                "flags": summary.flags},
        machine=machine_note())
