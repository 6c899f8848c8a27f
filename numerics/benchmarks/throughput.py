"""Forward + backward of the engine's CircularCNN: today's route against the previous one and
against this machine's own matmul rate, all in one process.

* Baseline: :func:`previous_forward`, a faithful copy of the engine's earlier convolution
  (``rfftn`` over the contiguous spatial axes of ``(N, c, *grid)``, permute to ``(F, N, c)``,
  complex ``bmm``, permute back, ``irfftn``), kept here only to measure against, timed under
  glibc's default memory policy as the earlier engine ran.
* The engine is timed under the policy the ``cbn`` command sets
  (:func:`cbn.numerics.memory.retain_freed_memory`); the previous route is timed under it too,
  so the report separates what the memory policy buys from what the route buys.
* The ratio ``baseline / engine`` is the speed-up; both compute the same map, checked on the
  benchmark's own outputs (:data:`AGREEMENT_RTOL`).
* FLOPs are counted for the FFT formulation (FFTs at 2.5 n log2 n per real transform of
  length n, complex products at 8 real FLOPs per multiply-add) for both routes, so FLOP/s
  compare like with like; the fraction of the measured float32 matmul rate says how close
  the engine runs to this machine's BLAS.
"""

from __future__ import annotations

import math
import time

from cbn.numerics.benchmarks.result import BenchResult, best_time, machine_note
from cbn.numerics.memory import malloc_policy

#: quick / full: (batch, grid, channels per layer, repeats)
SIZES = {True: (64, (28, 28), [1] + [32] * 8, 3), False: (1024, (28, 28), [1] + [32] * 8, 3)}

#: max |engine - previous| / max |previous| allowed per dtype. Both routes are exact circular
#: convolutions; they differ by summation order only: per layer ~eps * (d_1 + d_2 + c) for the
#: DFT sums and channel sums (eps = 2^-24 in float32, 2^-53 in float64), over 8 layers with
#: O(1) gains: ~1e-5 in float32, ~1e-14 in float64. Ten times that (float32) and a round
#: 1e-12 (float64) still catch any indexing or convention error, which is O(1).
AGREEMENT_RTOL = {"float32": 1e-4, "float64": 1e-12}


def engine_flops(n: int, channels: list[int], spatial: tuple[int, int]) -> float:
    """FLOPs of one forward + backward: per layer an rfft, a complex matmul and an irfft
    forward; backward the same for the input gradient (not at layer 1) plus one matmul for
    the weight gradient."""
    d = math.prod(spatial)
    nfreq = spatial[0] * (spatial[1] // 2 + 1)
    fft = 2.5 * d * math.log2(d)
    total = 0.0
    for layer, (ci, co) in enumerate(zip(channels[:-1], channels[1:])):
        mm = 8.0 * n * nfreq * ci * co
        fwd = n * ci * fft + mm + n * co * fft
        bwd = n * co * fft + mm + (n * ci * fft + mm if layer > 0 else 0.0)
        total += fwd + bwd
    return total


def matmul_flops_per_second(size: int = 2048, repeats: int = 3) -> float:
    """FLOP/s of a float32 ``size x size`` matrix product in torch (2 size^3 FLOPs)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    t, _ = best_time(lambda: a @ b, repeats)
    return 2.0 * size**3 / t


def previous_conv(w, x, convention: str):
    """The engine's earlier convolution, ``x (N, ci, *grid)`` -> ``(N, co, *grid)``."""
    import torch

    from cbn.numerics.fourier import scale_factor

    grid = tuple(x.shape[2:])
    dims = tuple(range(-len(grid), 0))
    xh = torch.fft.rfftn(x, dim=dims)  # (N, ci, *F)
    wh = torch.fft.rfftn(w, dim=dims) * scale_factor(grid, convention)  # (co, ci, *F)
    n, ci = xh.shape[:2]
    fshape = xh.shape[2:]
    xf = xh.reshape(n, ci, -1).permute(2, 0, 1)  # (F, N, ci)
    wf = wh.reshape(wh.shape[0], ci, -1).permute(2, 1, 0)  # (F, ci, co)
    yh = torch.bmm(xf, wf).permute(1, 2, 0).reshape(n, -1, *fshape)
    return torch.fft.irfftn(yh, s=grid, dim=dims)


def previous_forward(net, x):
    """The earlier forward pass of a plain (unstrided, headless) :class:`CircularCNN`."""
    import torch

    a, last = x, len(net.weights) - 1
    for layer, w in enumerate(net.weights):
        z = previous_conv(w, a, net.convention)
        if net.has_bias:
            z = z + net.biases[layer].view(-1, *([1] * net.ndim_spatial))
        a = z if layer == last or net.activation == "identity" else torch.relu(z)
    return a


def time_step(forward, net, x, repeats: int) -> float:
    """Best wall time of ``forward`` + backward of a mean-square loss (after a warm-up)."""
    def step():
        net.zero_grad()
        forward(x).square().mean().backward()

    step()
    return best_time(step, repeats)[0]


def compare(n: int, spatial, channels, dtype, repeats: int) -> dict:
    """Time the engine and :func:`previous_forward` on one network and check they agree."""
    import torch

    from cbn.numerics.network import CircularCNN

    net = CircularCNN(channels, spatial, dtype=dtype, seed=0)
    x = torch.randn((n, channels[0], *spatial), generator=torch.Generator().manual_seed(1),
                    dtype=torch.float64).to(dtype)
    with torch.no_grad():
        new, old = net(x), previous_forward(net, x)
        rel = float((new - old).abs().max() / old.abs().max())
    del new, old

    def previous(v):
        return previous_forward(net, v)

    with malloc_policy(retain=False):
        t_old = time_step(previous, net, x, repeats)
    with malloc_policy(retain=True):
        t_new = time_step(net, net, x, repeats)
        t_old_retained = time_step(previous, net, x, repeats)
    return {"seconds": t_new, "previous_seconds": t_old,
            "previous_retained_seconds": t_old_retained, "max_rel_difference": rel}


def run(quick: bool) -> BenchResult:
    import torch

    n, spatial, channels, repeats = SIZES[quick]
    res = compare(n, spatial, channels, torch.float32, repeats)
    flops = engine_flops(n, channels, spatial)
    start = time.perf_counter()
    peak = matmul_flops_per_second()
    t_peak = time.perf_counter() - start
    t, t_old = res["seconds"], res["previous_seconds"]
    ok = res["max_rel_difference"] <= AGREEMENT_RTOL["float32"]
    return BenchResult(
        name="cpu_throughput",
        job=f"float32 forward + backward, {spatial[0]}x{spatial[1]}, {channels[1]} channels, "
            f"depth {len(channels) - 1}, batch {n} ({flops / 1e9:.1f} GFLOP), best of "
            f"{repeats}",
        baseline="the previous engine route (rfftn, permutes, complex bmm) in the same process, "
                 "default memory policy",
        seconds=t, baseline_seconds=t_old,
        agreement=f"max |new - previous| / max |previous| = {res['max_rel_difference']:.1e} "
                  f"({'within' if ok else 'ABOVE'} {AGREEMENT_RTOL['float32']:g}); engine "
                  f"{flops / t / 1e9:.1f} GFLOP/s = {flops / t / peak:.1%} of the measured "
                  f"matmul rate {peak / 1e9:.1f} GFLOP/s (previous route "
                  f"{flops / t_old / peak:.1%}); the previous route with freed memory kept "
                  f"{res['previous_retained_seconds']:.2f} s",
        detail={"gflop": flops / 1e9, "engine_gflops": flops / t / 1e9,
                "previous_gflops": flops / t_old / 1e9, "matmul_gflops": peak / 1e9,
                "previous_retained_seconds": res["previous_retained_seconds"],
                "matmul_fraction": flops / t / peak, "matmul_seconds": t_peak,
                "max_rel_difference": res["max_rel_difference"], "agrees": ok,
                "threads": torch.get_num_threads()},
        machine=machine_note())
