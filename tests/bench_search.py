"""Benchmark of the ReLU search's starts on the bottleneck targets: the target's perturbed
construction (budget 60000/2000, the plateau stop off: the reference it has always been),
the ladder, and the weight-decay path with revival and the padded shallower rung (``--init
path``, the default of a ReLU fit), one process after the other, depths 5, 6, 8, 10, 12, 12
samples, width 8, 2 workers. Prints wall time, the best norm per depth (UPPER bounds) and
``R0_fit`` for each, and the path's norms relative to the construction's.

Run: ``pytest -m bench tests/bench_search.py -s``. Environment overrides:
``CBN_BENCH_TARGETS`` (default ``relu_lowpass,bottleneck``; the labels of
:data:`TARGET_ARGS`), ``CBN_BENCH_DEPTHS`` (default
``5,6,8,10,12``), ``CBN_BENCH_STARTS`` (default ``construction,ladder,path``; ``path-200``
is the path with the linear fits' 200 L-BFGS steps per augmented-Lagrangian step),
``CBN_BENCH_SEEDS`` (default: 1 for the construction, the reference, and the ladder; ``cbn
fit``'s own 3 for the path starts, the default start of a ReLU fit).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

#: The benchmark cases: a label (what ``CBN_BENCH_TARGETS`` names) -> the ``cbn fit`` target
#: and its parameters. The first two are the default; the others are the rest of the set the
#: search is judged on: the teacher on 12 points, two kept channels (``c_rep = 2`` with two
#: input and output channels: the constant-input lower bound on ``R0`` is 6, the
#: construction's upper bound), and the 4 x 4 grids.
_TEACHER = ["--param", "K=1", "--param", "c_rep=1", "--param", "c_in=1", "--param", "c_out=1",
            "--param", "hidden=4"]
TARGET_ARGS = {
    "relu_lowpass": ("relu_lowpass", ["--param", "spatial=[8]", "--param", "K=1"]),
    "bottleneck": ("bottleneck", ["--param", "spatial=[8]", *_TEACHER]),
    "bottleneck-d12": ("bottleneck", ["--param", "spatial=[12]", *_TEACHER]),
    "bottleneck-2ch": ("bottleneck", ["--param", "spatial=[8]", "--param", "K=1",
                                      "--param", "c_rep=2", "--param", "c_in=2",
                                      "--param", "c_out=2", "--param", "hidden=4"]),
    "bottleneck_2d": ("bottleneck_2d", ["--param", "spatial=[4,4]", "--param", "K=1"]),
    "relu_lowpass-2d": ("relu_lowpass", ["--param", "spatial=[4,4]", "--param", "K=1"]),
}
#: Extra arguments of each start.
START_ARGS = {
    "construction": ["--init", "construction", "--start-noise", "0.03", "--max-iter", "60000",
                     "--inner-iter", "2000", "--set", "plateau_rtol=0"],
    "ladder": ["--init", "ladder"],
    "path": ["--init", "path"],
    "path-200": ["--init", "path", "--inner-iter", "200"],
}


def _seeds(start: str) -> str:
    """The seeds of a start's sweep (``CBN_BENCH_SEEDS`` or the default of the docstring)."""
    return os.environ.get("CBN_BENCH_SEEDS", "3" if start.startswith("path") else "1")


def _fit(target: str, start: str, depths: str, store) -> tuple[float, dict]:
    name, params = TARGET_ARGS[target]
    cmd = [sys.executable, "-m", "cbn.figures.cli", "fit", name, *params,
           "--depths", depths, "--seeds", _seeds(start),
           "--samples", "12", "--width", "8",
           "--workers", "2", "--store", str(store), "--json", "--quiet", *START_ARGS[start]]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True,
                          text=True, check=True)
    return time.perf_counter() - t0, json.loads(done.stdout)


@pytest.mark.bench
def test_starts_on_the_bottleneck_targets(tmp_path):
    targets = os.environ.get("CBN_BENCH_TARGETS", "relu_lowpass,bottleneck").split(",")
    depths = os.environ.get("CBN_BENCH_DEPTHS", "5,6,8,10,12")
    starts = os.environ.get("CBN_BENCH_STARTS", "construction,ladder,path").split(",")
    unknown = sorted(set(targets) - set(TARGET_ARGS)) + sorted(set(starts) - set(START_ARGS))
    if unknown:
        pytest.fail(f"unknown CBN_BENCH_TARGETS or CBN_BENCH_STARTS {unknown}: use labels of "
                    f"{sorted(TARGET_ARGS)} and {sorted(START_ARGS)}")
    for target in targets:
        name, params = TARGET_ARGS[target]
        print(f"\n{target}: {name} {' '.join(params[1::2])}, depths {depths}, 12 samples, "
              "width 8:")
        norms = {}
        for start in starts:
            seconds, s = _fit(target, start, depths, tmp_path / f"{target}-{start}")
            norms[start] = s["norm"]
            shown = ", ".join("-" if n is None else f"{n:.3f}" for n in s["norm"])
            r0 = "n/a" if s["R0_fit"] is None else f"{s['R0_fit']:.3f}"
            print(f"  {start:<12} {_seeds(start)} seed(s) {seconds:7.1f} s  norms [{shown}]  "
                  f"R0_fit {r0} "
                  f"(bounds {s['R0_lower_bound']}..{s['R0_upper_bound']})")
        if "construction" in norms and "path" in norms:
            ratio = ", ".join("-" if p is None or c is None else f"{p / c:.4f}"
                              for p, c in zip(norms["path"], norms["construction"]))
            print(f"  path / construction: [{ratio}]")
