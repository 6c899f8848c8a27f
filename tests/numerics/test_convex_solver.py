"""The solver policy: named solvers, status records, and clear errors on any non-optimal status."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

import cbn.numerics.convex.solver as policy
from cbn.numerics.convex.solver import (
    ConvexSolveError,
    InfeasibleDataError,
    choose_solver,
    solve,
    solver_settings,
)


def _least_norm(n: int = 3):
    x = cp.Variable(n)
    return cp.Problem(cp.Minimize(cp.norm(x, 2)), [cp.sum(x) == 1])


@pytest.mark.parametrize("solver", ["SCS", "CLARABEL"])
def test_record_of_an_optimal_solve(solver):
    record = solve(_least_norm(), "least-norm", solver)
    assert record.solver == solver and record.status == "optimal"
    assert record.problem == "least-norm"
    # min ||x|| s.t. sum x = 1 is 1/sqrt(3); both solvers run at tolerances <= 1e-9, and the
    # value error of SCS/Clarabel is of that order on an O(1) problem.
    assert record.value == pytest.approx(3**-0.5, abs=1e-8)
    assert record.primal_residual < 1e-8  # same tolerances
    assert record.solve_seconds >= 0 and record.compile_seconds >= 0
    assert record.certificate["kind"]
    assert record.settings == solver_settings(solver)


def test_scs_tolerance_meets_the_policy():
    settings = solver_settings("SCS")
    assert settings["eps_abs"] <= 1e-8 and settings["eps_rel"] <= 1e-8


def test_scs_certificate_reports_gap():
    cert = solve(_least_norm(), "least-norm", "SCS").certificate
    # SCS stops when the gap is <= eps_abs + eps_rel * |objective| ~ 2e-9 here.
    assert abs(cert["primal_objective"] - cert["dual_objective"]) <= 1e-8
    assert cert["gap"] <= 1e-8


def test_auto_picks_clarabel_for_small_cones_and_scs_for_nuclear_norms():
    assert choose_solver(_least_norm(), "AUTO") == "CLARABEL"
    A = cp.Variable((2, 2))
    nuclear = cp.Problem(cp.Minimize(cp.normNuc(A)), [A[0, 0] == 1])
    assert choose_solver(nuclear, "auto") == "SCS"
    assert choose_solver(nuclear, "clarabel") == "CLARABEL"


def test_unknown_solver_is_refused():
    with pytest.raises(ValueError, match="unknown solver 'MOSEK'"):
        solve(_least_norm(), "least-norm", "MOSEK")


@pytest.mark.parametrize("solver", ["SCS", "CLARABEL"])
def test_infeasible_problem_raises_clear_error(solver):
    x = cp.Variable()
    problem = cp.Problem(cp.Minimize(x), [x >= 1, x <= 0])
    with pytest.raises(ConvexSolveError, match=rf"toy: solver {solver} returned status "
                                                r"'infeasible', not 'optimal'"):
        solve(problem, "toy", solver)
    problem = cp.Problem(cp.Minimize(x), [x >= 1, x <= 0])
    with pytest.raises(InfeasibleDataError, match="toy: data are contradictory"):
        solve(problem, "toy", solver, infeasible_message="data are contradictory")


def test_unbounded_problem_raises():
    x = cp.Variable()
    with pytest.raises(ConvexSolveError, match="unbounded"):
        solve(cp.Problem(cp.Minimize(x)), "toy", "CLARABEL")


def test_iteration_limit_is_an_error_not_an_inaccurate_value(monkeypatch):
    # Five SCS iterations cannot reach 1e-9 on this problem: the status is not 'optimal'
    # (SCS reports an inaccurate or limit status), and the policy must refuse to give a value.
    monkeypatch.setattr(policy, "SCS_MAX_ITERS", 5)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((20, 10))
    x = cp.Variable(10)
    problem = cp.Problem(cp.Minimize(cp.norm(A @ x - 1, 1) + cp.norm(x, 2)))
    with pytest.raises(ConvexSolveError, match=r"lasso: solver SCS returned status '.*', not "
                                               r"'optimal'; no value is reported"):
        solve(problem, "lasso", "SCS")
