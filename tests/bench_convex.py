"""Benchmark: depth-2 linear CNN interpolation, 64 frequencies, 16 channels, 8 samples.

Run with ``pytest -m bench tests/bench_convex.py -s``. Prints, in one run, the time of the
toolkit's route (closed form ``A(m) = Y(m) X(m)^+`` on half the frequencies, with a dual
certificate; exact to round-off) and of naive cvxpy (one problem, all 64 complex blocks, default
settings) with SCS and with Clarabel, and the ratios. Naive Clarabel takes minutes at full size
(234 s measured by the issue author on a 2-core machine), so by default it is timed on the same
problem with fewer frequencies (``CBN_BENCH_CLARABEL_D``, default 8) and the full-size run
happens only with ``CBN_BENCH_FULL_CLARABEL=1``.
"""

from __future__ import annotations

import os
import time

import pytest

from cbn.numerics.benchmarks.convex import instance, naive_cvxpy
from cbn.numerics.convex.interpolation import interpolate

D, CHANNELS, SAMPLES = 64, 16, 8


def _ours(X, Y, repeats: int = 5) -> tuple[float, float, dict]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        res = interpolate(X, Y)
        times.append(time.perf_counter() - start)
    return res.value, min(times), res.record.certificate


@pytest.mark.bench
def test_interpolation_benchmark():
    X, Y = instance(D, CHANNELS, SAMPLES)
    value, t_ours, cert = _ours(X, Y)
    # Accuracy of our route: the dual certificate closes the gap to round-off (<< 1e-8).
    assert abs(cert["certified_gap"]) <= 1e-8 * value
    v_scs, t_scs, st_scs = naive_cvxpy(X, Y, "SCS")
    assert st_scs in ("optimal", "optimal_inaccurate")
    print(f"\ninterpolation, d={D} frequencies, {CHANNELS} channels, {SAMPLES} samples")
    print(f"  ours (closed form + dual certificate)  : {t_ours * 1e3:9.2f} ms   value "
          f"{value:.10f}  certified gap {cert['certified_gap']:.1e}")
    print(f"  naive cvxpy SCS, default settings      : {t_scs:9.2f} s    value {v_scs:.10f}  "
          f"(rel. error {abs(v_scs - value) / value:.1e}, status {st_scs})  "
          f"ratio {t_scs / t_ours:,.0f}x")
    start = time.perf_counter()
    halved = interpolate(X, Y, method="cvxpy", solver="SCS")
    t_halved = time.perf_counter() - start
    print(f"  ours, halved cvxpy route (SCS eps 1e-9) : {t_halved:9.2f} s    value "
          f"{halved.value:.10f}  (rel. error {abs(halved.value - value) / value:.1e})  "
          f"ratio {t_halved / t_ours:,.0f}x")
    if os.environ.get("CBN_BENCH_FULL_CLARABEL") == "1":
        d_cl, Xc, Yc = D, X, Y
    else:
        d_cl = int(os.environ.get("CBN_BENCH_CLARABEL_D", "8"))
        Xc, Yc = instance(d_cl, CHANNELS, SAMPLES)
    v_ref, t_ref, _ = _ours(Xc, Yc)
    v_cl, t_cl, st_cl = naive_cvxpy(Xc, Yc, "CLARABEL")
    print(f"  naive cvxpy Clarabel, default, d={d_cl:<3}  : {t_cl:9.2f} s    value {v_cl:.10f}  "
          f"(rel. error {abs(v_cl - v_ref) / v_ref:.1e}, status {st_cl})  ratio to ours at "
          f"the same d ({t_ref * 1e3:.2f} ms) {t_cl / t_ref:,.0f}x")
    # Our route must agree with both naive solves to their accuracy (SCS default eps 1e-5-ish,
    # Clarabel default gap 1e-8).
    assert abs(v_scs - value) <= 1e-3 * value
    assert abs(halved.value - value) <= 1e-7 * value  # SCS at eps 1e-9
    assert abs(v_cl - v_ref) <= 1e-6 * v_ref
    assert t_ours < 1.0
