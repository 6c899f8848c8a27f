"""Per-layer, per-frequency spectra of a circular CNN given as NumPy filters and biases.

The functions take the network as ``filters`` (list of ``L`` arrays, layer ``l`` of shape
``(c_l, c_{l-1}, *spatial)``) and ``biases`` (list of ``L`` arrays of shape ``(c_l,)``, or None for
a bias-free network), so they apply alike to constructed networks
(:func:`cbn.numerics.linear.minimal_norm_weights`) and trained ones (``CircularCNN.to_numpy()``).

The CBN picture (paper_notes/theory.md section 4): inside the bottleneck each frequency block
``M_l(m)`` has
``k_m`` singular values near 1 and the others near 0, and the activations are supported on the
kept frequencies.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cbn.numerics.fourier import (
    FREQUENCY_TYPES,
    Convention,
    frequency_degrees,
    frequency_types,
)
from cbn.numerics.linear import singular_values
from cbn.numerics.weights import Network

#: Default split between "kept" and "dropped" singular values of a trained layer. Inside the
#: bottleneck the kept ones are near 1 and the dropped ones are O(L^{-1/2})
# (paper_notes/theory.md section 4); 0.5
#: lies between the two for every depth we fit (L^{-1/2} <= 0.5 for L >= 4).
NEAR_ONE_SPLIT = 0.5


def forward(
    filters: Sequence[np.ndarray],
    biases: Sequence[np.ndarray | None] | None,
    X: np.ndarray,
    activation: str = "relu",
    convention: Convention = "scaled",
) -> list[np.ndarray]:
    """Every layer's output on a batch (:meth:`cbn.numerics.weights.Network.layer_outputs`).

    Parameters
    ----------
    X : array, shape (N, c_0, *spatial)

    Returns
    -------
    list of ``L`` arrays: hidden activations ``a_1 .. a_{L-1}`` (after the nonlinearity), then
    the network output ``z_L``; entry ``l`` has shape ``(N, c_{l+1}, *spatial)``.
    """
    return Network(filters, biases, activation, convention).layer_outputs(X)


def layer_multipliers(
    filters: Sequence[np.ndarray], convention: Convention = "scaled"
) -> list[np.ndarray]:
    """Multipliers ``M_l(m)`` of every layer, each of shape ``(*spatial, c_l, c_{l-1})``."""
    return Network(filters, convention=convention).multipliers()


def weight_spectra(
    filters: Sequence[np.ndarray], convention: Convention = "scaled"
) -> list[np.ndarray]:
    """Singular values of every layer's multipliers.

    Returns
    -------
    list of ``L`` arrays of shape ``(*spatial, min(c_l, c_{l-1}))``, descending per frequency.
    """
    return [singular_values(m) for m in layer_multipliers(filters, convention)]


def effective_ranks(spectrum: np.ndarray, rtol: float) -> np.ndarray:
    """Per-frequency rank of one layer: count of ``s > rtol * max s`` (max over the layer).

    Parameters
    ----------
    spectrum : array, shape (*spatial, r), from :func:`weight_spectra`
    rtol : relative threshold (for trained networks use a loose one such as 1e-2 and say so)
    """
    smax = float(spectrum.max()) if spectrum.size else 0.0
    return np.count_nonzero(spectrum > rtol * smax, axis=-1)


def near_one_counts(spectrum: np.ndarray, split: float = NEAR_ONE_SPLIT) -> dict:
    """Per-frequency count of singular values above ``split`` and how close they are to 1.

    Returns
    -------
    dict with ``counts`` (int array, shape spatial), ``max_dev_kept`` (max |s - 1| over the
    counted values, NaN if none), ``max_dropped`` (largest value at or below ``split``, 0 if none)
    and ``split``.
    """
    kept = spectrum > split
    return {
        "counts": np.count_nonzero(kept, axis=-1),
        "max_dev_kept": float(np.max(np.abs(spectrum[kept] - 1.0))) if kept.any() else np.nan,
        "max_dropped": float(spectrum[~kept].max()) if (~kept).any() else 0.0,
        "split": split,
    }


def activation_energy(
    filters: Sequence[np.ndarray],
    biases: Sequence[np.ndarray | None] | None,
    X: np.ndarray,
    activation: str = "relu",
    convention: Convention = "scaled",
) -> list[np.ndarray]:
    """Energy of every layer's output per frequency and channel over a data set.

    ``E_l(m, c) = (1/d) sum_x |a_l(x)^(m)_c|^2`` (unnormalised DFT), so that by Parseval
    ``sum_m E_l(m, c) = sum_x sum_p a_l(x)(p)_c^2``.

    Returns
    -------
    list of ``L`` arrays of shape ``(*spatial, c_l)`` (layer order as in :func:`forward`).
    """
    return [frequency_energy(a) for a in forward(filters, biases, X, activation, convention)]


def frequency_energy(a: np.ndarray) -> np.ndarray:
    """``E(m, c) = (1/d) sum_x |a(x)^(m)_c|^2`` of a batch ``a`` ``(N, c, *spatial)``.

    Returns
    -------
    array ``(*spatial, c)``; by Parseval ``sum_m E(m, c) = sum_x sum_p a(x)(p)_c^2``.
    """
    nsp = a.ndim - 2
    axes = tuple(range(2, 2 + nsp))
    d = float(np.prod(a.shape[2:]))
    power = np.sum(np.abs(np.fft.fftn(a, axes=axes)) ** 2, axis=0) / d  # (c, *spatial)
    return np.moveaxis(power, 0, -1)


def counts_by_type_and_degree(counts: np.ndarray) -> dict:
    """Sum per-frequency counts (shape ``spatial``) by frequency type and by degree.

    Every frequency of the grid is summed, so a conjugate pair counts twice.

    Returns
    -------
    dict: ``by_type`` {'constant', 'Nyquist', 'pair'} -> count; ``by_degree`` {'l1', 'linf'}
    -> list of counts at degree 0, 1, ... (``|m|_1`` and ``|m|_inf`` of the centred labels;
    equal in 1-D).
    """
    spatial = counts.shape
    types = frequency_types(spatial)
    by_degree = {}
    for key, deg in frequency_degrees(spatial).items():
        by_degree[key] = np.bincount(deg.ravel(), weights=counts.ravel(),
                                     minlength=int(deg.max()) + 1).astype(int).tolist()
    return {"by_type": {t: int(counts[types == t].sum()) for t in FREQUENCY_TYPES},
            "by_degree": by_degree}
