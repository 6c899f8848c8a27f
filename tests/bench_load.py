"""Behaviour on a busy machine: CPU time (user + sys) and wall time of ``cbn check --quick``
and ``cbn reproduce --quick``, alone and with two busy-loop processes beside them (one per core
of a 2-core machine). Goal: loaded CPU time within 1.3x of the idle one (threads that wait
sleep instead of spinning), wall time within ~2.5x.

Run: ``pytest -m bench tests/bench_load.py -s`` on an otherwise idle machine (the "idle"
numbers are only as idle as the machine). ``CBN_BENCH_LOAD_JOBS=check`` limits it to the
claim checks (~1 minute instead of ~10).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.bench

#: the jobs, and whether they take a result store (a fresh one per measurement)
JOBS = {"check": (["check", "--quick"], False), "reproduce": (["reproduce", "--quick"], True)}


def _busy_loop() -> None:
    while True:
        pass


def _measure(job: str, folder) -> tuple[float, float]:
    """(wall s, user + sys CPU s of the child and its workers) of one ``cbn`` call."""
    args, has_store = JOBS[job]
    args = [*args, "--out", str(folder / "out")] + (
        ["--store", str(folder / "store")] if has_store else [])
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cbn.figures.cli", *args],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


@pytest.mark.parametrize("job", os.environ.get("CBN_BENCH_LOAD_JOBS", "check,reproduce")
                         .split(","))
def test_cpu_time_under_load(job, tmp_path):
    idle_wall, idle_cpu = _measure(job, tmp_path / "idle")
    busy = [multiprocessing.get_context("spawn").Process(target=_busy_loop, daemon=True)
            for _ in range(2)]
    for p in busy:
        p.start()
    try:
        load_wall, load_cpu = _measure(job, tmp_path / "loaded")
    finally:
        for p in busy:
            p.terminate()
            p.join()
    print(f"\n[load] cbn {' '.join(JOBS[job][0])}: idle {idle_wall:.1f} s wall, {idle_cpu:.1f} s "
          f"CPU; beside 2 busy loops {load_wall:.1f} s wall ({load_wall / idle_wall:.2f}x), "
          f"{load_cpu:.1f} s CPU ({load_cpu / idle_cpu:.2f}x); OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY', 'unset (PASSIVE set by numerics)')}")
    assert load_cpu <= 1.3 * idle_cpu
