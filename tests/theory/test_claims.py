"""Every registered claim, run as a test (quick mode by default, full mode behind -m full)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import cbn.numerics.checks.fourier as fourier_checks
import cbn.numerics.checks.linear as linear_checks
from cbn.theory.claims import KINDS, Claim, all_claims, resolve_check, run_claim, select_claims

CLAIMS = all_claims()
IDS = [c.id for c in CLAIMS]


def _explain(record: dict) -> str:
    return (f"{record['id']}: predicted {record['predicted']}, measured {record['measured']}, "
            f"tolerance {record['tolerance']}, details {record['details']}")


@pytest.mark.parametrize("claim", CLAIMS, ids=IDS)
def test_claim_quick(claim):
    """Asserted claims pass; recorded findings (expected == 'fail') must still fail."""
    record = run_claim(claim, "quick")
    assert record["ok"], _explain(record)
    assert record["passed"] == (claim.expected == "pass")


@pytest.mark.full
@pytest.mark.parametrize("claim", CLAIMS, ids=IDS)
def test_claim_full(claim):
    record = run_claim(claim, "full")
    assert record["ok"], _explain(record)


def test_registry_is_well_formed():
    assert len(set(IDS)) == len(IDS)
    for claim in CLAIMS:
        assert claim.kind in KINDS
        assert callable(resolve_check(claim))
        assert claim.statement and claim.source and claim.protocol and claim.criterion
        assert claim.id.split(".")[0] in claim.check


def test_expected_failure_needs_a_finding():
    with pytest.raises(ValueError, match="needs its finding"):
        Claim("x.y", "s", "src", "inequality", "p", "c", "m:f", expected="fail")


def test_expected_failure_needs_its_size_pinned():
    with pytest.raises(ValueError, match="finding_band"):
        Claim("x.y", "s", "src", "inequality", "p", "c", "m:f", expected="fail", finding="f")
    with pytest.raises(ValueError, match="low <= high"):
        Claim("x.y", "s", "src", "inequality", "p", "c", "m:f", expected="fail", finding="f",
              finding_band={"quick": (2.0, 1.0)})


@pytest.mark.parametrize("claim", [c for c in CLAIMS if c.expected == "fail"],
                         ids=[c.id for c in CLAIMS if c.expected == "fail"])
def test_finding_of_another_size_is_not_ok(claim, monkeypatch):
    """A recorded finding fails with its pinned size; the same failure shifted out of the band
    is FINDING CHANGED, which fails the run like a failing asserted claim."""
    record = run_claim(claim, "quick")
    low, high = claim.finding_band["quick"]
    assert record["verdict"] == "FINDING" and low <= record["finding_size"] <= high
    true = resolve_check(claim)

    def shifted(mode):
        result = true(mode)
        size = result.details.get("finding_size", result.measured)
        result.details["finding_size"] = 2 * size  # a finding twice as large
        return result

    module, _, name = claim.check.partition(":")
    monkeypatch.setattr(importlib.import_module(module), name, shifted)
    changed = run_claim(claim, "quick")
    assert not changed["passed"] and changed["verdict"] == "FINDING CHANGED"
    assert not changed["ok"]


def test_unexpected_pass_of_a_finding_is_not_ok(monkeypatch):
    finding = Claim("x.finding", "s", "src", "inequality", "p", "c",
                    "cbn.numerics.checks.linear:check_fully_connected", expected="fail",
                    finding="we thought it fails", finding_band={"quick": (0.0, 1.0)})
    record = run_claim(finding, "quick")
    assert record["passed"] and record["verdict"] == "UNEXPECTED PASS" and not record["ok"]


def test_select_claims():
    assert [c.id for c in select_claims("linear.*")] == [i for i in IDS if i.startswith("linear.")]
    with pytest.raises(ValueError, match="no claim id matches"):
        select_claims("no.such.claim")


def test_perturbed_cost_formula_makes_check_fail(monkeypatch):
    """Checks can fail: a closed form off by 0.1% is caught."""
    true_cost = linear_checks.representation_cost
    monkeypatch.setattr(linear_checks, "representation_cost",
                        lambda *a, **k: 1.001 * true_cost(*a, **k))
    claim = next(c for c in CLAIMS if c.id == "linear.closed_form")
    assert not run_claim(claim, "quick")["passed"]


def test_perturbed_convention_makes_check_fail(monkeypatch):
    """Using the plain multiplier where the scaled one is meant is caught."""
    true = fourier_checks.multipliers_from_filters
    monkeypatch.setattr(fourier_checks, "multipliers_from_filters",
                        lambda W, convention="scaled": true(W, "plain"))
    claim = next(c for c in CLAIMS if c.id == "fourier.multiplier")
    record = run_claim(claim, "quick")
    assert not record["passed"] and record["measured"] > 1e-3


def test_crashing_check_is_a_failed_record(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("solver exploded")

    monkeypatch.setattr(linear_checks, "representation_cost", boom)
    claim = next(c for c in CLAIMS if c.id == "linear.depth_two_nuclear")
    record = run_claim(claim, "quick")
    assert record["passed"] is False and "solver exploded" in record["details"]["error"]


def test_expansion_check_detects_wrong_rank(monkeypatch):
    monkeypatch.setattr(linear_checks, "expansion_terms",
                        lambda A, *a, **k: tuple(np.array([1.0, 1.0, 1.0])))
    claim = next(c for c in CLAIMS if c.id == "linear.expansion")
    assert not run_claim(claim, "quick")["passed"]


# ------------------------------------------------------------------------------------------------
# Planted bugs (each survived the suite once): the claim that guards the formula must now fail.
# ------------------------------------------------------------------------------------------------


def _fails(claim_id: str) -> bool:
    return not run_claim(next(c for c in CLAIMS if c.id == claim_id), "quick")["passed"]


def test_planted_absolute_rank_threshold_fails_rescaling(monkeypatch):
    import cbn.numerics.linear as linear

    def absolute(multipliers, rtol=linear.RANK_RTOL):
        sv = linear.singular_values(multipliers)
        return np.where(sv > rtol, sv, 0.0)  # the bug: not relative to s_max

    monkeypatch.setattr(linear, "kept_singular_values", absolute)
    assert _fails("linear.rescaling")


def test_planted_bottleneck_bound_without_dropped_term_fails(monkeypatch):
    import dataclasses

    import cbn.numerics.checks.relu as relu_checks

    true = relu_checks.bottleneck_terms

    def lowered(*args, **kwargs):
        t = true(*args, **kwargs)
        return dataclasses.replace(t, total=t.total - sum(t.dropped),
                                   slack=t.slack + sum(t.dropped))

    monkeypatch.setattr(relu_checks, "bottleneck_terms", lowered)
    assert _fails("relu.bottleneck_inequality")


@pytest.mark.parametrize("exponent", [lambda L: 1 / L, lambda L: 2 / (L + 1),
                                      lambda L: 2.2 / L], ids=["1/L", "2/(L+1)", "2.2/L"])
def test_planted_wrong_schatten_exponent_fails(monkeypatch, exponent):
    import cbn.numerics.checks.relu as relu_checks
    from cbn.numerics.linear import kept_singular_values

    def wrong(jac, depth, convention="scaled", rtol=1e-8):
        sv = kept_singular_values(jac, rtol)
        factor = 1.0 if convention == "scaled" else 1.0 / np.prod(jac.shape[:-2])
        return factor * depth * float(np.sum(sv[sv > 0] ** exponent(depth)))

    monkeypatch.setattr(relu_checks, "schatten_lower_bound", wrong)
    assert _fails("relu.schatten_lower_bound")


def test_planted_circular_penalty_off_by_sqrt_d_fails(monkeypatch):
    import cbn.numerics.convex.relu2 as relu2

    true = relu2.fourier_group_norm
    monkeypatch.setattr(relu2, "fourier_group_norm",
                        lambda v, spatial: true(v, spatial) * np.sqrt(np.prod(spatial)))
    assert _fails("convex.relu2_rebuild")


def test_planted_r0_lower_bound_counting_frequencies_fails(monkeypatch):
    import cbn.numerics.sweep.evidence as sweep

    true = sweep.ranks_per_frequency
    # summing these counts the frequencies of nonzero rank instead of summing the ranks
    monkeypatch.setattr(sweep, "ranks_per_frequency",
                        lambda *a, **k: (true(*a, **k) > 0).astype(int))
    assert _fails("relu.construction_upper_bound")


def test_planted_square_root_support_metric_fails(monkeypatch):
    import cbn.numerics.checks.structure as structure_checks
    import cbn.numerics.implicit_bias as implicit_bias

    true = implicit_bias.fourier_sparsity

    def rooted(beta):
        eff, top2 = true(beta)
        return float(np.sqrt(eff)), top2  # same order in depth, wrong size

    monkeypatch.setattr(implicit_bias, "fourier_sparsity", rooted)
    monkeypatch.setattr(structure_checks, "fourier_sparsity", rooted)
    assert _fails("structure.gunasekar_sparsity")


@pytest.mark.parametrize("weights", [lambda w: np.ones_like(w), lambda w: 3 - w],
                         ids=["all-one", "swapped"])
def test_planted_wrong_pair_weight_fails_gunasekar(monkeypatch, weights):
    """A wrong pair weight moves the L = 2 cosine by 4e-7 only (0.9606638 vs 0.9606642): the
    all-frequency oracle of the l1 value is what catches it (50% off)."""
    import cbn.numerics.convex.margin as margin

    true = margin.unitary_dft_rows

    def wrong(spatial):
        re, im, w = true(spatial)
        return re, im, weights(w)

    monkeypatch.setattr(margin, "unitary_dft_rows", wrong)
    assert _fails("structure.gunasekar_sparsity")


def test_planted_shared_scale_factor_fails_the_dense_check(monkeypatch):
    """The dense reference once applied the same scale factor as the FFT path it checks; the
    oracle now writes d^{-1/2} itself, so a wrong shared factor (d^{-1} here) is caught."""
    import cbn.numerics.fourier as fourier

    monkeypatch.setattr(fourier, "scale_factor", lambda spatial, convention="scaled":
                        1.0 / float(np.prod(spatial)) if convention == "scaled" else 1.0)
    assert _fails("fourier.fft_equals_dense") and _fails("fourier.multiplier")
