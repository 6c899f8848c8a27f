"""The activation-bottleneck compute: energy per frequency, off-support share, stability rule."""

from __future__ import annotations

import numpy as np
import pytest

from cbn.numerics.activation_bottleneck import (
    RateProtocol,
    RateRun,
    bottleneck_share,
    compare_rates,
    is_stable,
    off_support_share,
)
from cbn.numerics.inputs import InputError
from cbn.numerics.spectra import frequency_energy
from cbn.numerics.targets import get_target


def _signal_on(freqs: list[int], d: int, n: int, rng) -> np.ndarray:
    """Batch (n, 1, d) of real signals with random cosines/sines at the given frequencies."""
    p = np.arange(d)
    a = np.zeros((n, 1, d))
    for k in freqs:
        c, s = rng.standard_normal((2, n, 1))
        a += c[..., None] * np.cos(2 * np.pi * k * p / d) + s[..., None] * np.sin(
            2 * np.pi * k * p / d)
    return a


def test_energy_of_a_signal_on_known_frequencies_has_exactly_that_support(rng):
    d = 12
    a = _signal_on([0, 2, 5], d, 7, rng)
    per_freq = frequency_energy(a)[..., 0]
    support = np.zeros(d, bool)
    support[[0, 2, d - 2, 5, d - 5]] = True  # conjugate pairs appear on both sides
    # FFT round-off on O(10) values: ~1e-13 absolute; off-support energies are squares of it
    assert per_freq[~support].max() < 1e-24
    assert per_freq[support].min() > 1e-3


def test_energy_parseval_against_direct_sums(rng):
    """sum_m E(m, c) equals sum_x sum_p a(x)(p)_c^2 (computed without FFTs), and each pair
    {m, -m} carries equal energy: the half spectrum without the doubling would be off."""
    a = rng.standard_normal((5, 3, 10))
    E = frequency_energy(a)
    np.testing.assert_allclose(E.sum(axis=0), np.sum(a ** 2, axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(E[1:5], E[-1:-5:-1], rtol=1e-12)
    # direct DFT energy at m = 3 by an explicit sum over pixels (no FFT)
    p = np.arange(10)
    coef = np.einsum("ncp,p->nc", a, np.exp(-2j * np.pi * 3 * p / 10))
    np.testing.assert_allclose(E[3], np.sum(np.abs(coef) ** 2, axis=0) / 10, rtol=1e-12)


def test_energy_parseval_in_2d(rng):
    a = rng.standard_normal((4, 2, 6, 5))
    E = frequency_energy(a)
    assert E.shape == (6, 5, 2)
    np.testing.assert_allclose(E.sum(axis=(0, 1)), np.sum(a ** 2, axis=(0, 2, 3)), rtol=1e-12)


def test_off_support_share_counts_both_members_of_a_pair():
    d = 8
    keep = np.zeros(d, bool)
    keep[[0, 1, d - 1]] = True
    E = np.zeros(d)
    E[0] = 50.0  # constant: excluded
    E[1] = E[d - 1] = 1.0
    E[3] = E[d - 3] = 2.0
    assert off_support_share(E, keep) == pytest.approx(4.0 / 6.0, rel=1e-15)
    assert off_support_share(np.stack([E, E], axis=-1), keep) == pytest.approx(4.0 / 6.0)
    assert off_support_share(np.r_[1.0, np.zeros(d - 1)], keep) == 0.0


def test_off_support_share_rejects_bad_input():
    keep = np.ones(8, bool)
    with pytest.raises(InputError, match="does not match"):
        off_support_share(np.ones(6), keep)
    keep[0] = False
    with pytest.raises(InputError, match="constant frequency"):
        off_support_share(np.ones(8), keep)


def test_bottleneck_share_skips_the_first_hidden_layer():
    assert bottleneck_share([0.9, 0.2, 0.4]) == pytest.approx(0.3)
    assert bottleneck_share([0.7]) == 0.7


def _run(objective: float, decreasing: bool = True) -> RateRun:
    return RateRun(0.1, 10, 0, objective, 0.1, 1.0, decreasing, (0.1,), ())


def test_stability_rule():
    ref = _run(1.0)
    assert is_stable(_run(1.05), ref, 0.1)
    assert not is_stable(_run(1.2), ref, 0.1)  # a worse basin
    assert not is_stable(_run(0.9, decreasing=False), ref, 0.1)  # oscillating
    assert not is_stable(_run(float("inf")), ref, 0.1)  # diverged


def test_protocol_rejects_bad_rates():
    with pytest.raises(InputError, match="lr_small < lr_upper"):
        RateProtocol(depth=3, width=2, lam=0.01, time=1.0, lr_small=0.1, lr_upper=0.05,
                     bisections=1, seeds=(0,))


def test_compare_rates_at_equal_time_brackets_the_edge():
    """Tiny run: every rate trains for the same time, the bisection's last stable probe is the
    reported rate, an unstable upper bracket is recorded, and the shares are in [0, 1]."""
    target = get_target("relu_lowpass", spatial=(6,), K=1)
    X = target.sample(6, 0)
    p = RateProtocol(depth=3, width=2, lam=0.01, time=1.5, lr_small=0.01, lr_upper=5.0,
                     bisections=2, seeds=(0, 1))
    c = compare_rates(X, target.evaluate(X), target.keep, p)
    assert c.probes[0] == (5.0, False)  # lr 5 diverges
    stable = [lr for lr, ok in c.probes if ok]
    assert c.lr_stable == (max(stable) if stable else p.lr_small)
    for run in c.small + c.large:
        assert run.steps == round(p.time / run.lr)
        assert all(0.0 <= s <= 1.0 for s in run.shares) and len(run.shares) == p.depth - 1
    assert c.ratios.shape == (2,)
