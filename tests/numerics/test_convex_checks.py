"""The convex claim checks can fail: perturbed ingredients are detected."""

from __future__ import annotations

import cbn.numerics.checks.convex as checks


def test_savarese_check_detects_a_wrong_formula(monkeypatch):
    true_cost = checks.savarese_min_cost
    monkeypatch.setattr(checks, "savarese_min_cost", lambda x, y: true_cost(x, y) * (1 + 1e-4))
    assert not checks.check_savarese("quick").passed


def test_circular_factor_check_passes_when_the_factors_agree(monkeypatch):
    # If the scaled network's cost carried paper_notes/theory.md's factor, the check would pass: it
    # compares
    # the two programs and nothing else.
    original = checks.relu2_circular
    monkeypatch.setattr(checks, "relu2_circular",
                        lambda X, y, beta, convention, solver: original(X, y, beta, "plain",
                                                                        solver))
    assert checks.check_circular_factor("quick").passed


def test_interpolation_check_detects_a_wrong_rebuild(monkeypatch):
    original = checks.interpolate

    def perturbed(X, Y, *args, **kwargs):
        res = original(X, Y, *args, **kwargs)
        res.weights = (res.weights[0] * 1.001, res.weights[1])
        return res

    monkeypatch.setattr(checks, "interpolate", perturbed)
    assert not checks.check_interpolation_closed_form("quick").passed
