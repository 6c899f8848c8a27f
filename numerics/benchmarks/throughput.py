"""Forward + backward of the engine's CircularCNN against this machine's own matmul rate.

The engine's FLOPs are counted (FFTs at 2.5 n log2 n per real transform of length n, complex
products at 8 real FLOPs per multiply-add) and divided by the time; the baseline is the FLOP/s
of one large float32 matrix product measured in the same run, so the ratio is the fraction
of what this machine's BLAS achieves (a ratio below 1: "baseline" is the faster one here).
"""

from __future__ import annotations

import math
import time

from cbn.numerics.benchmarks.result import BenchResult, best_time, machine_note

#: quick / full: (batch, grid, channels per layer)
SIZES = {True: (64, (28, 28), [1] + [32] * 8), False: (1024, (28, 28), [1] + [32] * 8)}


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


def run(quick: bool) -> BenchResult:
    import torch

    from cbn.numerics.network import CircularCNN

    n, spatial, channels = SIZES[quick]
    net = CircularCNN(channels, spatial, dtype=torch.float32, seed=0)
    x = torch.randn((n, 1, *spatial), dtype=torch.float32)
    net(x).sum().backward()  # warm-up

    def step():
        net.zero_grad()
        net(x).square().mean().backward()

    t, _ = best_time(step, 3)
    flops = engine_flops(n, channels, spatial)
    start = time.perf_counter()
    peak = matmul_flops_per_second()
    t_peak = time.perf_counter() - start
    # the baseline time is what this machine's matmul rate would need for the same FLOPs
    return BenchResult(
        name="cpu_throughput",
        job=f"float32 forward + backward, {spatial[0]}x{spatial[1]}, {channels[1]} channels, "
            f"depth {len(channels) - 1}, batch {n} ({flops / 1e9:.1f} GFLOP)",
        baseline=f"the same FLOPs at this machine's float32 matmul rate ({peak / 1e9:.1f} "
                 f"GFLOP/s, {torch.get_num_threads()} threads)",
        seconds=t, baseline_seconds=flops / peak,
        agreement=f"engine {flops / t / 1e9:.1f} GFLOP/s = {flops / t / peak:.1%} of the "
                  f"measured matmul rate",
        detail={"gflop": flops / 1e9, "engine_gflops": flops / t / 1e9,
                "matmul_gflops": peak / 1e9, "matmul_seconds": t_peak,
                "threads": torch.get_num_threads()},
        machine=machine_note())
