"""Benchmark of the issue-5 performance item: a depth sweep 2..12 with 3 seeds on a small 1-D
target (d = 16, hidden width 8, 128 samples) on 2 cores, then the same command again (served
from the store). Runs use ``cbn fit``'s default start (the ladder).

Run: ``pytest -m bench tests/bench_sweep.py -s``. Environment overrides (for a shorter look):
``CBN_BENCH_DEPTHS`` (default ``2,3,4,5,6,7,8,9,10,11,12``), ``CBN_BENCH_TARGET`` (default
``lowpass``: the 8-channel low-pass projection on d = 16, linear network, exact R0 = 40),
``CBN_BENCH_ARGS`` (extra ``cbn fit`` arguments, default ``--param channels=8``).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time

import pytest


@pytest.mark.bench
def test_sweep_then_store(tmp_path):
    depths = os.environ.get("CBN_BENCH_DEPTHS", "2,3,4,5,6,7,8,9,10,11,12")
    target = os.environ.get("CBN_BENCH_TARGET", "lowpass")
    extra = shlex.split(os.environ.get("CBN_BENCH_ARGS", "--param channels=8"))
    cmd = [sys.executable, "-m", "cbn.figures.cli", "fit", target, "--param", "spatial=[16]",
           "--depths", depths, "--seeds", "3", "--samples", "128", "--width", "8",
           "--workers", "2", "--store", str(tmp_path / "store"), "--json", "--quiet", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    timings = []
    for _ in range(2):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        timings.append(time.perf_counter() - t0)
        summary = json.loads(done.stdout)
    first, second = timings
    print(f"\nsweep {target} depths {depths} x 3 seeds, d=16, width 8, 128 samples, 2 workers:")
    print(f"  first run  {first:8.1f} s ({summary['store']['reused']} reused on 2nd call)")
    print(f"  second run {second:8.2f} s (served from the store)")
    print(f"  start: {summary['init']}")
    print(f"  norms {summary['norm']}")
    print(f"  exact {summary['exact']}")
    worst = max(r["residual_rel"] for runs in summary["runs"] for r in runs)
    print(f"  largest residual_rel over all runs {worst:.2e}")
    if summary["exact"] is not None:
        gap = max(abs(n - e) / e for n, e in zip(summary["norm"], summary["exact"]))
        print(f"  largest |best norm - exact| / exact {gap:.2e}")
    print(f"  R0_fit {summary['R0_fit']}, interval {summary['R0_interval']}, "
          f"bounds [{summary['R0_lower_bound']}, {summary['R0_upper_bound']}]")
    print(f"  flags: {summary['flags']}")
    assert summary["store"]["computed"] == 0
