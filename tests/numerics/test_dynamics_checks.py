"""The dynamics claim checks: they can fail, and the two findings are what we report.

(tests/theory/test_claims.py runs every registered check in quick mode; here each check is
perturbed to show it fails, and the failing claims are pinned with the size of the failure.)
"""

from __future__ import annotations

import numpy as np

import cbn.numerics.checks.dynamics as checks
import cbn.numerics.dynamics.experiments as experiments
from cbn.numerics.dynamics.predictions import fc_rates


def test_single_pair_check_fails_with_a_5_percent_wrong_rate(monkeypatch):
    true = experiments.cnn_dominant_rates
    monkeypatch.setattr(experiments, "cnn_dominant_rates", lambda c, g: 1.05 * true(c, g))
    result = checks.check_single_pair_half_time("quick")
    # half-time ~ 1/rate: predicted half-times 1/1.05 as long, measured/predicted - 1 = 5% > 2%
    assert not result.passed and abs(result.measured - (1.05 - 1.0)) < 1e-6


def test_stage_order_check_fails_with_fully_connected_rates_for_the_cnn(monkeypatch):
    monkeypatch.setattr(experiments, "cnn_dominant_rates", lambda c, g: fc_rates(c))
    assert not checks.check_stage_order_inversion("quick").passed


def test_dominant_share_check_fails_with_a_wrong_exponent(monkeypatch):
    # e.g. forgetting that the share is a power of b0 = g eps^2, not of eps: exponent 2(1 - rho)
    true = experiments.share_exponents
    monkeypatch.setattr(experiments, "share_exponents", lambda s: 2.0 * true(s))
    assert not checks.check_dominant_share("quick").passed


def test_collision_matters():
    """The naive per-part rate misses the colliding half-times by > 10%; the rule is exact."""
    result = checks.check_collision("quick")
    assert result.passed
    assert result.details["max_rel_error_collision"] < 1e-8  # integrator accuracy
    assert result.details["max_rel_error_naive"] > 0.1


def test_finding_theory_rate_literal_is_off_by_sqrt_n_in_1d():
    """paper_notes/theory.md's '2 n |phi~| s' holds on an n x n grid but not on a 1-D grid of n = 16
    pixels,
    where the true factor is sqrt(16) = 4: predicted half-times are 4 times too short."""
    result = checks.check_theory_rate_literal("quick")
    assert not result.passed
    two_d, one_d = result.details["runs"]
    assert two_d["spatial"] == [8, 8] and two_d["max_rel_error"] < 1e-8
    assert one_d["literal_rate_over_measured_rate"] == 4.0
    assert abs(one_d["max_rel_error"] - 3.0) < 1e-8  # measured / predicted = 4


def test_finding_digits_stage_order_and_dominant_pair_half_times():
    """On whitened digits the dominant-pair score does not order parts 1-3 and its half-times
    are 10-41% off, while the exact frequency-resolved solution matches the simulation."""
    result = checks.check_real_data_stage_order("quick")
    (run,) = result.details["runs"]
    assert not result.passed
    assert run["measured_order_cnn"] != run["predicted_order_cnn"]
    assert min(run["relative_errors_dominant_pair"]) > 0.05
    assert run["max_error_frequency_resolved_over_s"] < checks.RESOLVED_ATOL
    measured = np.array(run["measured_half_times"])
    assert measured.max() / measured.min() < 1.2  # all top-5 parts within 20% of each other


def test_random_start_check_fails_with_a_5_percent_wrong_rate(monkeypatch):
    true = experiments.cnn_dominant_rates
    monkeypatch.setattr(experiments, "cnn_dominant_rates", lambda c, g: 1.05 * true(c, g))
    result = checks.check_random_start("quick")
    # the slope is -2/rate: a 5% wrong rate moves it by 1 - 1/1.05 = 4.8% > 2%
    assert not result.passed and result.details["max_rel_slope_error"] > 0.04
