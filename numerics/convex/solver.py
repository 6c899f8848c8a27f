"""The solver policy of every convex program in the toolkit (paper_notes/theory.md section 7).

One place decides how a cvxpy problem is solved and what a solve reports:

* the solver is always named in the record: ``"SCS"`` (``eps_abs = eps_rel = 1e-9``) or
  ``"CLARABEL"`` (gap and feasibility ``1e-9``); ``"AUTO"`` (default) picks Clarabel for small
  problems without a semidefinite cone and SCS otherwise;
* every solve returns a :class:`SolveRecord` (value, status, solver, compile and solve times,
  primal residual, a certificate);
* any status other than ``optimal`` raises :class:`ConvexSolveError` naming the problem, the
  solver and its status. ``optimal_inaccurate`` is an error too: never a silently inaccurate
  answer.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np

SOLVERS: tuple[str, ...] = ("SCS", "CLARABEL")
#: ``"AUTO"`` picks Clarabel for small problems without semidefinite cones, SCS otherwise.
DEFAULT_SOLVER = "AUTO"
#: Largest number of scalar variables for which ``AUTO`` picks Clarabel (interior point: exact
#: to ~1e-9 in well under a second at that size on the programs here). Problems with a PSD cone
#: (nuclear norms) always go to SCS: Clarabel takes 80 s on one complex 32x32 nuclear norm.
AUTO_CLARABEL_MAX_VARIABLES = 20_000

#: SCS stopping tolerance (absolute and relative). paper_notes/theory.md section 7 asks for <= 1e-8;
# 1e-9 keeps the
#: objective error below 1e-8 on the programs here, where the objective is O(1) to O(100).
SCS_EPS = 1e-9
#: SCS iteration cap: enough for 1e-9 on every program of the test-suite; hitting it returns
#: ``optimal_inaccurate`` (or worse), which the policy turns into an error.
SCS_MAX_ITERS = 200_000
#: Clarabel's gap and feasibility tolerances (its defaults are 1e-8; 1e-10 ends in
#: 'optimal_inaccurate' on the ReLU programs, 1e-9 converges).
CLARABEL_TOL = 1e-9


class ConvexSolveError(RuntimeError):
    """A convex program did not reach status ``optimal`` (one-line message)."""


class InfeasibleDataError(ConvexSolveError, ValueError):
    """The data admit no feasible point (e.g. no interpolant, not separable).

    A ``ValueError`` too, so the command line reports it as bad input (exit 2).
    """


@dataclass
class SolveRecord:
    """What one solve produced.

    Attributes
    ----------
    problem : name of the program (e.g. ``"interpolate"``)
    solver : ``"SCS"``, ``"CLARABEL"`` or ``"closed-form"``
    status : ``"optimal"`` (anything else raises before a record is returned)
    value : optimal objective value
    compile_seconds, solve_seconds : cvxpy compilation and solver time
    primal_residual : largest constraint violation at the returned point (absolute)
    certificate : how optimality is certified, e.g. ``{"kind": "duality gap", "gap": 1e-12,
        "dual_value": ...}``
    settings : solver options used
    """

    problem: str
    solver: str
    status: str
    value: float
    compile_seconds: float
    solve_seconds: float
    primal_residual: float
    certificate: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_solver(solver: str) -> str:
    """Upper-cased solver name if it is ``AUTO`` or one of :data:`SOLVERS`, else ``ValueError``."""
    name = str(solver).upper()
    if name not in (*SOLVERS, "AUTO"):
        raise ValueError(f"unknown solver {solver!r}: use AUTO, {', '.join(SOLVERS)}")
    return name


def choose_solver(problem: cp.Problem, solver: str = DEFAULT_SOLVER) -> str:
    """The named solver, or for ``AUTO``: Clarabel on small problems without a PSD cone."""
    name = check_solver(solver)
    if name != "AUTO":
        return name
    small = problem.size_metrics.num_scalar_variables <= AUTO_CLARABEL_MAX_VARIABLES
    has_psd = any(issubclass(a, (cp.normNuc, cp.lambda_max)) for a in problem.atoms())
    return "CLARABEL" if small and not has_psd else "SCS"


def solver_settings(solver: str) -> dict[str, Any]:
    """The options passed to ``cvxpy.Problem.solve`` for ``solver`` (policy in one place)."""
    name = check_solver(solver)
    if name not in SOLVERS:
        raise ValueError(f"solver_settings needs a concrete solver, got {solver!r}")
    if name == "SCS":
        return {"eps_abs": SCS_EPS, "eps_rel": SCS_EPS, "max_iters": SCS_MAX_ITERS}
    return {"tol_gap_abs": CLARABEL_TOL, "tol_gap_rel": CLARABEL_TOL, "tol_feas": CLARABEL_TOL}


def max_violation(constraints: list[cp.Constraint]) -> float:
    """Largest absolute constraint violation of the current cvxpy values (0 if none)."""
    worst = 0.0
    for con in constraints:
        worst = max(worst, float(np.max(np.atleast_1d(con.violation()), initial=0.0)))
    return worst


def _solver_certificate(problem: cp.Problem, solver: str) -> dict[str, Any]:
    """The solver's own optimality report: SCS returns primal/dual objectives and the gap."""
    extra = problem.solver_stats.extra_stats
    if solver == "SCS" and isinstance(extra, dict) and "info" in extra:
        info = extra["info"]
        return {
            "kind": "solver duality gap (SCS)",
            "primal_objective": float(info["pobj"]),
            "dual_objective": float(info["dobj"]),
            "gap": float(info["gap"]),
            "dual_residual": float(info["res_dual"]),
        }
    return {"kind": "interior-point convergence (Clarabel: relative gap and feasibility "
                    f"<= {CLARABEL_TOL:g})"}


def solve(problem: cp.Problem, name: str, solver: str = DEFAULT_SOLVER,
          infeasible_message: str | None = None) -> SolveRecord:
    """Solve ``problem`` under the policy and return its :class:`SolveRecord`.

    Parameters
    ----------
    problem : the cvxpy problem
    name : program name used in records and error messages
    solver : ``"SCS"``, ``"CLARABEL"`` or ``"AUTO"`` (:func:`choose_solver`)
    infeasible_message : if given, an infeasible status raises :class:`InfeasibleDataError`
        with this message (a statement about the user's data) instead of a solver error

    Raises
    ------
    ConvexSolveError
        If the status is not ``optimal`` (including ``optimal_inaccurate``), or the solver fails.
    """
    solver = choose_solver(problem, solver)
    settings = solver_settings(solver)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # cvxpy warns on inaccurate solutions; the status check below turns them into errors.
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            problem.solve(solver=solver, **settings)
    except cp.error.SolverError as exc:
        raise ConvexSolveError(
            f"{name}: solver {solver} failed ({str(exc).splitlines()[0]})"
        ) from None
    wall = time.perf_counter() - start
    status = problem.status
    if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE) and infeasible_message:
        raise InfeasibleDataError(f"{name}: {infeasible_message} (solver {solver}: {status})")
    if status != cp.OPTIMAL:
        other = "CLARABEL" if solver == "SCS" else "SCS"
        raise ConvexSolveError(
            f"{name}: solver {solver} returned status {status!r}, not 'optimal'; no value is "
            f"reported (try --solver {other} or rescale the data)"
        )
    stats = problem.solver_stats
    solve_seconds = float(stats.solve_time) if stats.solve_time is not None else float("nan")
    compile_seconds = float(problem.compilation_time or 0.0)
    if not np.isfinite(solve_seconds):
        solve_seconds = wall - compile_seconds
    return SolveRecord(
        problem=name,
        solver=solver,
        status=status,
        value=float(problem.value),
        compile_seconds=compile_seconds,
        solve_seconds=solve_seconds,
        primal_residual=max_violation(problem.constraints),
        certificate=_solver_certificate(problem, solver),
        settings=settings,
    )
