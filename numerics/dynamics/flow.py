"""Gradient flow ``theta' = -grad L(theta) / tau`` integrated by an adaptive ODE solver.

The flow is integrated with SciPy's DOP853 (8th-order Runge-Kutta with dense output) at the
stated ``rtol``/``atol``; measurements between grid points use the dense output, so half-times
are found by root-finding on the continuous trajectory, not read off a grid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from cbn.numerics.dynamics.models import CircularCNN, FullyConnected

#: Default integrator tolerances. The quantities checked are half-times to 2% and power-law
#: exponents to 0.02; rtol 1e-10 keeps the integration error ~8 orders below both, and
#: atol 1e-16 is far below the smallest weights used (eps >= 1e-6, so weights >= ~1e-6).
RTOL = 1e-10
ATOL = 1e-16


@dataclass
class Flow:
    """An integrated gradient flow.

    Attributes
    ----------
    model : the model
    t_max : end time
    solution : dense-output callable ``t -> theta`` (shape (P,) or (P, len(t)))
    n_rhs : number of gradient evaluations
    settings : integrator, rtol, atol, tau
    """

    model: CircularCNN | FullyConnected
    t_max: float
    solution: Callable[[np.ndarray], np.ndarray]
    n_rhs: int
    settings: dict = field(default_factory=dict)

    def thetas(self, t: np.ndarray) -> np.ndarray:
        """Parameters at times ``t``, shape (len(t), P)."""
        return np.asarray(self.solution(np.asarray(t, float))).T

    def total_maps(self, t: np.ndarray) -> np.ndarray:
        """End-to-end maps at times ``t``, shape (len(t), n_out, d)."""
        return self.model.total_map(self.thetas(t))


def gradient_flow(model: CircularCNN | FullyConnected, sigma_yx: np.ndarray,
                  theta0: np.ndarray, t_max: float, sigma_xx: np.ndarray | None = None,
                  tau: float = 1.0, rtol: float = RTOL, atol: float = ATOL) -> Flow:
    """Integrate the gradient flow of ``model`` on the correlations from ``theta0`` to ``t_max``.

    Raises
    ------
    RuntimeError
        If the integrator does not reach ``t_max``.
    """
    count = [0]

    def rhs(_t: float, theta: np.ndarray) -> np.ndarray:
        count[0] += 1
        return -model.loss_and_grad(theta, sigma_yx, sigma_xx)[1] / tau

    sol = solve_ivp(rhs, (0.0, t_max), np.asarray(theta0, float), method="DOP853",
                    rtol=rtol, atol=atol, dense_output=True)
    if not sol.success:
        raise RuntimeError(f"gradient-flow integration failed: {sol.message}")
    return Flow(model, t_max, sol.sol, count[0],
                {"integrator": "scipy DOP853", "rtol": rtol, "atol": atol, "tau": tau})


def mode_strengths(total_maps: np.ndarray, outputs: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """``a_alpha = u_alpha^T W phi_alpha`` of maps ``(..., n_out, d)``; returns ``(..., r)``."""
    return np.einsum("or,...od,rd->...r", outputs, total_maps, parts)


def crossing_time(func: Callable[[float], float], level: float, grid: np.ndarray,
                  values: np.ndarray) -> float:
    """First time where ``func`` crosses ``level`` upwards (NaN if it never does on ``grid``).

    ``values = func(grid)`` brackets the crossing, which Brent's method then refines to
    ``1e-12`` relative accuracy in ``t``. NaN too when ``func`` starts above ``level``.
    """
    above = np.flatnonzero(np.asarray(values) - level >= 0)
    if above.size == 0 or above[0] == 0:
        return float("nan")
    i = above[0]
    return float(brentq(lambda t: func(t) - level, grid[i - 1], grid[i], rtol=1e-12))


def half_times(flow: Flow, outputs: np.ndarray, parts: np.ndarray, strengths: np.ndarray,
               n_grid: int = 400) -> np.ndarray:
    """Measured times at which each ``a_alpha`` first reaches ``s_alpha / 2`` (NaN if never).

    Parameters
    ----------
    flow : integrated flow
    outputs : (n_out, r) directions ``u_alpha``; parts : (r, d); strengths : (r,)
    n_grid : bracketing grid on ``[0, t_max]``
    """
    grid = np.linspace(0.0, flow.t_max, n_grid + 1)
    values = mode_strengths(flow.total_maps(grid), outputs, parts)  # (T, r)
    out = []
    for k, s in enumerate(strengths):
        def strength(t: float, k: int = k) -> float:
            maps = flow.total_maps(np.array([t]))[0]
            return float(outputs[:, k] @ maps @ parts[k])
        out.append(crossing_time(strength, s / 2, grid, values[:, k]))
    return np.array(out)
