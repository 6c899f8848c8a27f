"""Every registered claim, run as a test (quick mode by default, full mode behind -m full)."""

from __future__ import annotations

import numpy as np
import pytest

import numerics.checks.fourier as fourier_checks
import numerics.checks.linear as linear_checks
from theory.claims import KINDS, Claim, all_claims, resolve_check, run_claim, select_claims

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


def test_unexpected_pass_of_a_finding_is_not_ok(monkeypatch):
    finding = Claim("x.finding", "s", "src", "inequality", "p", "c",
                    "numerics.checks.linear:check_fully_connected", expected="fail",
                    finding="we thought it fails")
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
