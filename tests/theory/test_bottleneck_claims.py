"""The bottleneck claims' checks can fail and can pass: planted outcomes flip their verdicts."""

from __future__ import annotations

import numpy as np

import cbn.numerics.checks.bottleneck as checks
import cbn.numerics.downsampling as downsampling
from cbn.numerics.activation_bottleneck import RateComparison, RateRun
from cbn.theory.claims import run_claim, select_claims


def _run(lr: float, seed: int, share: float) -> RateRun:
    return RateRun(lr, 10, seed, 1.0, 0.1, 1.0, True, (0.9, share, share), ())


def test_activation_claim_passes_on_a_visible_effect(monkeypatch):
    """Were the large rate to cut the bottleneck share to a third for every seed, the recorded
    finding would turn into UNEXPECTED PASS (the check is not fixed to fail)."""
    def planted(X, Y, keep, protocol, device="cpu", progress=None):
        small = tuple(_run(protocol.lr_small, s, 0.3) for s in protocol.seeds)
        large = tuple(_run(2 * protocol.lr_small, s, 0.1) for s in protocol.seeds)
        return RateComparison(protocol, small, large, ((2 * protocol.lr_small, True),))

    monkeypatch.setattr(checks, "compare_rates", planted)
    record = run_claim(select_claims("bottleneck.activation_large_lr")[0], "quick")
    assert record["passed"] and record["verdict"] == "UNEXPECTED PASS"
    assert np.isclose(record["measured"], 1 / 3)


def test_activation_claim_needs_a_larger_stable_rate(monkeypatch):
    """No rate above the small one stable: the comparison proves nothing and does not pass."""
    def planted(X, Y, keep, protocol, device="cpu", progress=None):
        small = tuple(_run(protocol.lr_small, s, 0.3) for s in protocol.seeds)
        large = tuple(_run(protocol.lr_small, s, 0.1) for s in protocol.seeds)
        return RateComparison(protocol, small, large, ((protocol.lr_upper, False),))

    monkeypatch.setattr(checks, "compare_rates", planted)
    assert not run_claim(select_claims("bottleneck.activation_large_lr")[0], "quick")["passed"]


def test_stride_claim_fails_when_the_folded_set_is_wrong(monkeypatch):
    """The net is built right, but the set the middle layers are compared with misses one
    coarse frequency: the comparison sees the mismatch."""
    true = downsampling.folded_keep
    calls = []

    def wrong(keep, stride):
        calls.append(stride)
        out = true(keep, stride).copy()
        if len(calls) > 1:  # the first call builds the network
            out[np.flatnonzero(out)[-1]] = False
        return out

    monkeypatch.setattr(downsampling, "folded_keep", wrong)
    record = run_claim(select_claims("bottleneck.stride2_survival")[0], "quick")
    assert not record["passed"] and record["verdict"] == "FAIL"
