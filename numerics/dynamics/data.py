"""Input-output correlations with prescribed structure, data sets that realise them, real data.

Conventions
-----------
* Signals are single-channel on ``spatial`` (``d`` pixels), flattened in C order.
* ``Sigma_yx = U diag(s) V`` with ``U`` (n_out, r) orthonormal columns, strengths ``s`` (r,)
  and the *structural parts* ``phi_alpha`` = rows of ``V`` (r, d), orthonormal.
* ``phi~ = F phi`` is the **unitary** DFT (``numpy.fft.fftn(phi) / sqrt(d)``), so
  ``sum_m |phi~(m)|^2 = 1`` for a unit part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cbn.numerics.data import load_digits, make_mnist1d

#: Orthonormality tolerance for parts and output directions: they are built by QR/SVD or from
#: exactly orthogonal cosines, whose Gram matrices deviate from I by ~1e-15 * d; 1e-10 flags any
#: genuinely non-orthogonal input while leaving five orders of margin.
ORTHONORMAL_ATOL = 1e-10


def unitary_dft(signal: np.ndarray, spatial: Sequence[int]) -> np.ndarray:
    """Unitary DFT of signals shaped ``(..., d)``; returns complex ``(..., *spatial)``."""
    signal = np.asarray(signal)
    spatial = tuple(spatial)
    arr = signal.reshape(*signal.shape[:-1], *spatial)
    axes = tuple(range(arr.ndim - len(spatial), arr.ndim))
    return np.fft.fftn(arr, axes=axes) / np.sqrt(float(np.prod(spatial)))


def cosine_part(spatial: Sequence[int], frequencies: Sequence[Sequence[int]],
                weights: Sequence[float] | None = None,
                phases: Sequence[float] | None = None) -> np.ndarray:
    """Unit-norm real signal ``sum_k weights_k cos(2 pi <j_k, p / n> + phases_k)``, shape (d,).

    Distinct, non-conjugate frequencies give orthogonal cosines, so for a non-self-conjugate
    ``j_k`` the unitary DFT has ``|phi~(+-j_k)| = weights_k / sqrt(2 sum_l weights_l^2)``
    (self-conjugate ``j_k`` with ``phase 0``: ``weights_k / sqrt(sum ...)`` on one bin).
    """
    spatial = tuple(spatial)
    grids = np.meshgrid(*[np.arange(n) for n in spatial], indexing="ij")
    weights = np.ones(len(frequencies)) if weights is None else np.asarray(weights, float)
    phases = np.zeros(len(frequencies)) if phases is None else np.asarray(phases, float)
    phi = np.zeros(spatial)
    for j, w, ph in zip(frequencies, weights, phases):
        if len(j) != len(spatial):
            raise ValueError(f"frequency {tuple(j)} does not match grid {spatial}")
        angle = sum(2 * np.pi * ji * g / n for ji, g, n in zip(j, grids, spatial))
        phi = phi + w * np.cos(angle + ph)
    norm = np.linalg.norm(phi)
    if norm == 0:
        raise ValueError("the cosine part is identically zero")
    return (phi / norm).ravel()


@dataclass(frozen=True)
class Correlation:
    """``Sigma_yx = U diag(s) V`` on a grid.

    Attributes
    ----------
    spatial : grid shape
    strengths : (r,) positive strengths ``s_alpha``
    outputs : (n_out, r) orthonormal output directions ``u_alpha``
    parts : (r, d) orthonormal structural parts ``phi_alpha``
    """

    spatial: tuple[int, ...]
    strengths: np.ndarray
    outputs: np.ndarray
    parts: np.ndarray

    def __post_init__(self) -> None:
        r = len(self.strengths)
        d = int(np.prod(self.spatial))
        if self.outputs.shape[1] != r or self.parts.shape != (r, d):
            raise ValueError(f"need outputs (n_out, {r}) and parts ({r}, {d})")
        if np.any(np.asarray(self.strengths) <= 0):
            raise ValueError("strengths must be positive")
        for name, mat in (("outputs", self.outputs.T), ("parts", self.parts)):
            defect = np.max(np.abs(mat @ mat.T - np.eye(r))) if r else 0.0
            if defect > ORTHONORMAL_ATOL:
                raise ValueError(f"{name} are not orthonormal (Gram defect {defect:.1e})")

    @property
    def sigma_yx(self) -> np.ndarray:
        """``Sigma_yx``, shape (n_out, d)."""
        return (self.outputs * self.strengths) @ self.parts

    @property
    def part_spectra(self) -> np.ndarray:
        """``|phi~_alpha(m)|``, shape (r, *spatial)."""
        return np.abs(unitary_dft(self.parts, self.spatial))

    @property
    def n_out(self) -> int:
        return int(self.outputs.shape[0])


def structured_correlation(spatial: Sequence[int], strengths: Sequence[float],
                           parts: Sequence[np.ndarray], n_out: int | None = None,
                           seed: int = 0) -> Correlation:
    """Correlation with the given strengths and parts; random orthonormal output directions.

    Parameters
    ----------
    spatial : grid shape
    strengths : (r,) strengths
    parts : r orthonormal signals of shape (d,) (e.g. from :func:`cosine_part`)
    n_out : output dimension (default r)
    seed : seed of the random output directions
    """
    r = len(strengths)
    n_out = r if n_out is None else n_out
    if n_out < r:
        raise ValueError(f"n_out ({n_out}) must be >= the number of parts ({r})")
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n_out, r)))
    return Correlation(tuple(spatial), np.asarray(strengths, float), q,
                       np.asarray(np.stack(parts), float))


def correlation_from_matrix(sigma_yx: np.ndarray, spatial: Sequence[int],
                            rtol: float = 1e-10) -> Correlation:
    """Structure of a measured ``Sigma_yx`` (n_out, d) by SVD; strengths below ``rtol * s_max``
    are dropped (their directions carry no signal)."""
    u, s, vt = np.linalg.svd(np.asarray(sigma_yx, float), full_matrices=False)
    keep = s > rtol * s[0]
    return Correlation(tuple(spatial), s[keep], u[:, keep], vt[keep])


def realise_dataset(corr: Correlation, n_samples: int, seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
    """A data set with exactly white inputs and ``Y^T X / N = Sigma_yx``.

    Returns
    -------
    x : (N, 1, *spatial) inputs with ``X^T X / N = I`` (flattened)
    y : (N, n_out) targets ``y_i = Sigma_yx x_i``
    """
    d = int(np.prod(corr.spatial))
    if n_samples < d:
        raise ValueError(f"need n_samples >= d = {d} for white inputs, got {n_samples}")
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n_samples, d)))
    x = np.sqrt(n_samples) * q
    y = x @ corr.sigma_yx.T
    return x.reshape(n_samples, 1, *corr.spatial), y


def dataset_correlations(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(Sigma_xx, Sigma_yx) = (X^T X / N, Y^T X / N)`` of a data set x (N, ...), y (N, n_out)."""
    xf = np.asarray(x, float).reshape(len(x), -1)
    n = len(xf)
    return xf.T @ xf / n, np.asarray(y, float).T @ xf / n


def whitened_label_correlation(x: np.ndarray, labels: np.ndarray, spatial: Sequence[int],
                                rtol: float = 1e-10) -> tuple[Correlation, dict]:
    """Measured ``Sigma_yx`` of a labelled data set after centring and ZCA whitening.

    Inputs ``x`` (N, d) are centred and whitened with the pseudo-inverse square root of their
    covariance (eigenvalues below ``rtol * max`` dropped, e.g. constant pixels); targets are the
    centred one-hot labels. Whitening makes the white-input flow of
    :mod:`cbn.numerics.dynamics.models` the flow on the measured ``Sigma_yx``.

    Returns
    -------
    corr : the correlation on ``spatial``
    info : ``{"n_samples", "input_rank"}``
    """
    x = np.asarray(x, float)
    x = x - x.mean(axis=0)
    labels = np.asarray(labels, int)
    y = np.eye(int(labels.max()) + 1)[labels]
    y = y - y.mean(axis=0)
    evals, evecs = np.linalg.eigh(x.T @ x / len(x))
    keep = evals > rtol * evals.max()
    whiten = (evecs[:, keep] / np.sqrt(evals[keep])) @ evecs[:, keep].T
    _, sigma_yx = dataset_correlations(x @ whiten, y)
    return correlation_from_matrix(sigma_yx, spatial), {
        "n_samples": int(len(x)), "input_rank": int(keep.sum())}


def digits_correlation() -> tuple[Correlation, dict]:
    """:func:`whitened_label_correlation` of scikit-learn's 8x8 digits (1797 images, offline)."""
    data = load_digits()
    corr, info = whitened_label_correlation(data.X.reshape(len(data.X), -1), data.y, (8, 8))
    return corr, {"name": "sklearn digits 8x8", **info}


def mnist1d_correlation(num_samples: int = 5000, seed: int = 42) -> tuple[Correlation, dict]:
    """:func:`whitened_label_correlation` of MNIST-1D's training split (length 40), generated
    offline by :func:`cbn.numerics.data.make_mnist1d` (defaults: the standard 4000 training
    signals)."""
    data = make_mnist1d("train", num_samples, seed)
    x = data.X[:, 0]
    corr, info = whitened_label_correlation(x, data.y, (x.shape[1],))
    return corr, {"name": f"MNIST-1D train split (num_samples={num_samples}, seed={seed})",
                  **info}
