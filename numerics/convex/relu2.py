"""Two-layer ReLU networks as convex programs (Pilanci & Ergen 2020;
paper_notes/theory.md section 5).

Fully connected (``program="fc"``): ``f(x) = sum_j alpha_j relu(w_j . x + b_j) + c`` with the
objective ``1/2 ||f(X) - y||^2 + (beta/2) sum_j (||w_j||^2 [+ b_j^2] + alpha_j^2)``. With the
patterns ``D_i`` of the arrangement of ``Z = [X, 1]`` (or ``X`` without biases) it equals

    min 1/2 ||sum_i D_i Z (v_i - w_i) [+ c] - y||^2 + beta sum_i (||P v_i|| + ||P w_i||)
    s.t. (2 D_i - I) Z v_i >= 0,  (2 D_i - I) Z w_i >= 0,

``P`` the penalised coordinates. Bias modes: ``"none"``; ``"penalized"`` (the bias is part of
the weight vector and of its norm); ``"free"`` (neuron biases and an output bias ``c`` are not
penalised: the setting of Savarese et al. 2019).

Circular (``program="circular"``, our derivation): ``f(x) = sum_j alpha_j relu(<a_j, u_j * x>)``
with ``u_j`` a full-size circular filter ``c_in -> 1`` of unit norm, ``a_j`` a linear readout on
the grid and the cost ``(beta/2) sum_j (||a_j||^2 + alpha_j^2)``. The neuron is
``relu(<v, x>)`` with ``F v_c(m) = kappa^{-1} F a(m) conj(F u_c(m))`` (``F`` the unitary DFT)
and its minimal cost over factorizations is ``kappa sum_m ||F v(m)||_2`` (Cauchy-Schwarz over
``sum_m ||F u(m)||^2 = 1``), ``kappa = 1`` in the scaled convention and ``d^{-1/2}`` in the
plain one. The program is the one above with that group norm; paper_notes/theory.md's
``(beta / sqrt d) ||F v||_1`` is the plain-convention case.

Exact patterns make the convex optimum equal to the non-convex optimum (enough neurons);
sampled patterns give an **upper bound** (the record says which). The network is rebuilt from
``(v_i, w_i)`` and its objective is evaluated with genuine ReLUs and FFT convolutions.
"""

from __future__ import annotations

from dataclasses import dataclass

import cvxpy as cp
import numpy as np

from cbn.numerics.convex.arrangements import Patterns, arrangement_patterns
from cbn.numerics.convex.margin import unitary_dft_rows
from cbn.numerics.convex.solver import DEFAULT_SOLVER, SolveRecord, solve
from cbn.numerics.fourier import Convention, check_convention, circular_conv

BIAS_MODES: tuple[str, ...] = ("none", "penalized", "free")
#: Neurons whose penalised norm is at most this times the largest one are dropped from the
#: rebuilt network: they are solver round-off (SCS/Clarabel tolerances ~1e-9), and dropping them
#: changes the objective by at most ~1e-12 per neuron on O(1) data.
PRUNE_RTOL = 1e-12


@dataclass
class FCNetwork:
    """Two-layer fully-connected ReLU network ``sum_j alpha_j relu(W_j . x + b_j) + c``.

    Shapes: ``W (m, p)``, ``b (m,)``, ``alpha (m,)``, ``c`` float.
    """

    W: np.ndarray
    b: np.ndarray
    alpha: np.ndarray
    c: float
    bias: str

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Outputs, shape (N,), for inputs ``X`` of shape (N, p)."""
        return np.maximum(X @ self.W.T + self.b, 0.0) @ self.alpha + self.c

    def norm_sq(self) -> float:
        """``sum ||w_j||^2 + alpha_j^2`` (+ ``b_j^2`` when biases are penalised)."""
        extra = float(np.sum(self.b**2)) if self.bias == "penalized" else 0.0
        return float(np.sum(self.W**2) + np.sum(self.alpha**2)) + extra


@dataclass
class CircularNetwork:
    """Two-layer circular ReLU network ``sum_j alpha_j relu(<a_j, u_j * x>)``.

    Shapes: ``u (m, 1, c_in, *spatial)`` (unit-norm filters), ``a (m, *spatial)``,
    ``alpha (m,)``.
    """

    u: np.ndarray
    a: np.ndarray
    alpha: np.ndarray
    convention: str

    def __call__(self, X: np.ndarray) -> np.ndarray:
        """Outputs, shape (N,), for inputs ``X`` of shape (N, c_in, *spatial)."""
        out = np.zeros(X.shape[0])
        for u, a, alpha in zip(self.u, self.a, self.alpha):
            hidden = circular_conv(u, X, self.convention)[:, 0]  # (N, *spatial)
            pre = np.sum(hidden * a, axis=tuple(range(1, hidden.ndim)))
            out += alpha * np.maximum(pre, 0.0)
        return out

    def norm_sq(self) -> float:
        """``sum_j ||a_j||^2 + alpha_j^2`` (the filters ``u_j`` have unit norm, not penalised)."""
        return float(np.sum(self.a**2) + np.sum(self.alpha**2))


@dataclass
class Relu2Result:
    """Solution of a two-layer ReLU convex program.

    Attributes
    ----------
    value : optimum of the convex program (= non-convex optimum when ``exact_patterns``;
        an UPPER bound on it otherwise); in interpolation mode (``beta=None``) the minimal
        cost ``(1/2) sum_j (||w_j||^2 + alpha_j^2)`` of an interpolating network
    bound : 'exact' or 'upper bound'
    exact_patterns, n_patterns, cell_bound : pattern bookkeeping
    network : the rebuilt network (:class:`FCNetwork` or :class:`CircularNetwork`)
    network_objective : its objective evaluated with genuine ReLUs
    fit_loss, penalty : ``1/2 ||f(X) - y||^2`` of the rebuilt network and ``beta`` times the
        group norm at the solution (the group norm alone in interpolation mode)
    n_neurons : neurons of the rebuilt network
    record : :class:`SolveRecord`
    """

    value: float
    bound: str
    exact_patterns: bool
    n_patterns: int
    cell_bound: int
    network: FCNetwork | CircularNetwork
    network_objective: float
    fit_loss: float
    penalty: float
    n_neurons: int
    record: SolveRecord


def _check_beta(beta: float | None) -> None:
    if beta is not None and not beta > 0:
        raise ValueError(f"beta must be > 0 (or None for interpolation), got {beta}")


def _check_targets(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)
    if y.shape[1] != 1:
        raise ValueError(f"two-layer ReLU programs need one output per sample; got {y.shape[1]}")
    return y[:, 0]


def _solve_program(Z, y, patterns: Patterns, penalty_fn, free_bias: bool, beta: float,
                   name: str, solver: str):
    P, p = len(patterns.masks), Z.shape[1]
    D = patterns.masks.astype(float)  # (P, N)
    V = cp.Variable((P, p))
    Wn = cp.Variable((P, p))
    ZV, ZW = V @ Z.T, Wn @ Z.T  # (P, N): z_n . v_i
    pred = cp.sum(cp.multiply(D, ZV - ZW), axis=0)
    c = cp.Variable() if free_bias else None
    if c is not None:
        pred = pred + c
    sgn = 2.0 * D - 1.0
    cons = [cp.multiply(sgn, ZV) >= 0, cp.multiply(sgn, ZW) >= 0]
    if beta is None:  # minimal-norm interpolation
        cons.append(pred == y)
        objective = penalty_fn(V) + penalty_fn(Wn)
        infeasible = "no two-layer ReLU network of this kind interpolates the data"
    else:
        objective = 0.5 * cp.sum_squares(pred - y) + beta * (penalty_fn(V) + penalty_fn(Wn))
        infeasible = None
    record = solve(cp.Problem(cp.Minimize(objective), cons), name, solver, infeasible)
    c_val = float(c.value) if c is not None else 0.0
    return np.asarray(V.value), np.asarray(Wn.value), c_val, record


def relu2_fc(
    X: np.ndarray,
    y: np.ndarray,
    beta: float | None,
    bias: str = "none",
    solver: str = DEFAULT_SOLVER,
    max_patterns: int = 4096,
    n_samples: int = 2000,
    seed: int = 0,
) -> Relu2Result:
    """Convex program of a two-layer fully-connected ReLU network.

    Parameters
    ----------
    X : array, shape (N, p) or (N, c_in, *spatial) (flattened)
    y : array, shape (N,) or (N, 1, ...) with one value per sample
    beta : weight decay ``> 0``; ``None`` solves the minimal-norm interpolation
        ``min sum_i (||P v_i|| + ||P w_i||)`` s.t. ``f(X) = y`` (value = ``R(f; data)`` with the
        1/2-weighted cost ``(1/2) sum_j (||w_j||^2 + alpha_j^2)``)
    bias : 'none', 'penalized' or 'free' (see module docstring)
    max_patterns, n_samples, seed : exact enumeration up to ``max_patterns`` cells, else
        ``n_samples`` sampled directions (value then an upper bound)
    """
    if bias not in BIAS_MODES:
        raise ValueError(f"unknown bias mode {bias!r}: use one of {', '.join(BIAS_MODES)}")
    _check_beta(beta)
    X = np.asarray(X, dtype=np.float64).reshape(np.shape(X)[0], -1)
    y = _check_targets(X, y)
    Z = X if bias == "none" else np.hstack([X, np.ones((X.shape[0], 1))])
    n_pen = X.shape[1] if bias == "free" else Z.shape[1]
    patterns = arrangement_patterns(Z, max_patterns, n_samples, np.random.default_rng(seed))

    def penalty(V):
        return cp.sum(cp.norm(V[:, :n_pen], 2, axis=1))

    V, Wn, c, record = _solve_program(Z, y, patterns, penalty, bias == "free", beta,
                                      "relu2", solver)
    rows, alphas = [], []
    cut = PRUNE_RTOL * max(float(np.abs(V).max()), float(np.abs(Wn).max()))
    for sign, M in ((1.0, V), (-1.0, Wn)):
        for v in M:
            t = np.sqrt(np.linalg.norm(v[:n_pen]))
            if t**2 > cut:
                rows.append(v / t)
                alphas.append(sign * t)
            elif bias == "free" and np.any(v):
                # A zero-weight neuron is a constant relu(b); it belongs to the free output bias.
                c += sign * max(float(v[-1]), 0.0)
    W = np.array(rows).reshape(-1, Z.shape[1])
    net = FCNetwork(W=W[:, : X.shape[1]],
                    b=W[:, -1] if bias != "none" else np.zeros(len(W)),
                    alpha=np.array(alphas), c=c, bias=bias)
    return _result(net, X, y, beta, patterns, record, V, Wn, n_pen)


def _result(net, X, y, beta, patterns, record, V, Wn, n_pen=None, penalty_value=None):
    resid = net(X) - y
    fit = 0.5 * float(resid @ resid)
    if penalty_value is None:
        penalty_value = float(np.linalg.norm(V[:, :n_pen], axis=1).sum()
                              + np.linalg.norm(Wn[:, :n_pen], axis=1).sum())
    if beta is None:
        network_objective = 0.5 * net.norm_sq()
        record.certificate["rebuilt_network_max_fit_error"] = float(np.abs(resid).max())
    else:
        network_objective = fit + 0.5 * beta * net.norm_sq()
        penalty_value *= beta
    record.certificate["rebuilt_network_objective"] = network_objective
    return Relu2Result(
        value=record.value,
        bound="exact" if patterns.exact else "upper bound",
        exact_patterns=patterns.exact,
        n_patterns=len(patterns.masks),
        cell_bound=patterns.cell_bound,
        network=net,
        network_objective=network_objective,
        fit_loss=fit,
        penalty=penalty_value,
        n_neurons=len(net.alpha),
        record=record,
    )


def circular_penalty_factor(spatial, convention: Convention) -> float:
    """``kappa``: 1 (scaled) or ``d^{-1/2}`` (plain); see the module docstring."""
    check_convention(convention)
    return 1.0 if convention == "scaled" else float(np.prod(spatial)) ** -0.5


def fourier_group_norm(v: np.ndarray, spatial) -> float:
    """``sum_m ||F v(m)||_2`` of ``v`` shaped (c_in, *spatial) (norm over channels)."""
    axes = tuple(range(1, v.ndim))
    Fv = np.fft.fftn(v, axes=axes) / np.sqrt(float(np.prod(spatial)))
    return float(np.sum(np.sqrt(np.sum(np.abs(Fv) ** 2, axis=0))))


def _factor_neuron(v: np.ndarray, spatial, convention: Convention):
    """Unit-norm filter ``u`` (1, c_in, *spatial), readout ``a`` and ``alpha > 0`` with
    ``alpha relu(<a, u * x>) = relu(<v, x>)`` and ``(||a||^2 + alpha^2)/2 = kappa ||Fv||``."""
    d = float(np.prod(spatial))
    kappa = circular_penalty_factor(spatial, convention)
    axes = tuple(range(1, v.ndim))
    Fv = np.fft.fftn(v, axes=axes) / np.sqrt(d)  # (c_in, *spatial)
    n = np.sqrt(np.sum(np.abs(Fv) ** 2, axis=0))  # (*spatial)
    total = float(n.sum())
    safe = np.where(n > 0, n, 1.0)
    Fu = np.where(n > 0, np.conj(Fv) / safe * np.sqrt(n / total), 0.0)
    Fa = np.sqrt(n * total) * kappa  # real, even: a is real
    u = np.real(np.fft.ifftn(Fu, axes=axes)) * np.sqrt(d)
    a = np.real(np.fft.ifftn(Fa)) * np.sqrt(d)
    t = np.sqrt(kappa * total)
    return u[None], a / t, t


def relu2_circular(
    X: np.ndarray,
    y: np.ndarray,
    beta: float | None,
    convention: Convention = "scaled",
    solver: str = DEFAULT_SOLVER,
    max_patterns: int = 4096,
    n_samples: int = 2000,
    seed: int = 0,
) -> Relu2Result:
    """Convex program of the two-layer circular ReLU network (module docstring).

    Parameters
    ----------
    X : array, shape (N, c_in, *spatial)
    y : array, shape (N,) or (N, 1, ...)
    beta : weight decay ``> 0``; ``None`` for minimal-norm interpolation (as in :func:`relu2_fc`)
    convention : 'scaled' (``kappa = 1``) or 'plain' (``kappa = d^{-1/2}``)
    """
    _check_beta(beta)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim < 3:
        raise ValueError(f"X must be (N, c_in, *spatial); got shape {X.shape}")
    y = _check_targets(X, y)
    c_in, spatial = X.shape[1], X.shape[2:]
    kappa = circular_penalty_factor(spatial, convention)
    Z = X.reshape(X.shape[0], -1)
    patterns = arrangement_patterns(Z, max_patterns, n_samples, np.random.default_rng(seed))
    re, im, weight = unitary_dft_rows(tuple(spatial))
    d = re.shape[1]

    def penalty(V):
        # Real and imaginary parts of F v_c at the half frequencies, for every pattern i and
        # channel c, flattened to (P * K,) (pattern-major); moduli over (Re, Im) x channels.
        parts = []
        for c in range(c_in):
            Vc = V[:, c * d:(c + 1) * d]
            parts += [cp.vec(Vc @ re.T, order="C"), cp.vec(Vc @ im.T, order="C")]
        moduli = cp.norm(cp.vstack(parts), 2, axis=0)
        return kappa * (np.tile(weight, V.shape[0]) @ moduli)

    V, Wn, _, record = _solve_program(Z, y, patterns, penalty, False, beta,
                                      "relu2-circular", solver)
    us, avs, alphas = [], [], []
    cut = PRUNE_RTOL * max(float(np.abs(V).max()), float(np.abs(Wn).max()))
    for sign, M in ((1.0, V), (-1.0, Wn)):
        for v in M:
            if np.abs(v).max() > cut:
                u, a, t = _factor_neuron(v.reshape(c_in, *spatial), spatial, convention)
                us.append(u)
                avs.append(a)
                alphas.append(sign * t)
    net = CircularNetwork(u=np.array(us).reshape(-1, 1, c_in, *spatial),
                          a=np.array(avs).reshape(-1, *spatial), alpha=np.array(alphas),
                          convention=convention)
    pen = kappa * sum(fourier_group_norm(v.reshape(c_in, *spatial), spatial)
                      for v in (*V, *Wn))
    return _result(net, X, y, beta, patterns, record, V, Wn, penalty_value=pen)
