"""Network-level survival of the kept set under stride-``s`` down-sampling inside the bottleneck.

Target: the linear low-pass ``P_K x`` (1-D, frequencies ``|m|_inf <= K``), represented by a
one-channel ReLU net through the non-negative representation ``g = P_K x + B``
(paper_notes/theory.md section 4). With a stride (:class:`cbn.numerics.network.CircularCNN`:
first layer on the input grid, then ``a(s p)``, middle layers on the coarse grid, zero-insertion
up-sampling before the last layer) the representation survives iff no two kept frequencies fold
together (paper_notes/theory.md section 1, :func:`cbn.numerics.fourier.survives_downsampling`).

:func:`strided_lowpass_fit` builds the net from the factorisation (multipliers 1 on the kept
set, ``s`` on it in the strided last layer, which undoes the ``1/s`` of the folding) and refines
it by :func:`cbn.numerics.search.min_norm_fit`; its norm is an UPPER bound on the cost. The
prediction: the strided net's middle layers keep exactly the folded image of the kept set, one
singular value near 1 each (above :data:`cbn.numerics.spectra.NEAR_ONE_SPLIT`), the rest near 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cbn.numerics.fourier import filters_from_multipliers, folding_groups, frequency_degrees
from cbn.numerics.network import CircularCNN
from cbn.numerics.search import Architecture, SearchSettings, Start, min_norm_fit
from cbn.numerics.spectra import NEAR_ONE_SPLIT, near_one_counts, weight_spectra
from cbn.numerics.targets import get_target

__all__ = ["lowpass_keep", "folded_keep", "strided_lowpass_construction", "StridedFit",
           "strided_lowpass_fit"]


def lowpass_keep(d: int, K: int) -> np.ndarray:
    """Kept set ``|m|_inf <= K`` of the 1-D low-pass on ``d`` pixels, bool shape (d,)."""
    return frequency_degrees((d,))["linf"] <= K


def folded_keep(keep: np.ndarray, stride: int | None) -> np.ndarray:
    """Image of the 1-D kept set on the coarse grid of ``stride`` (None: the set itself)."""
    d = keep.shape[0]
    coarse = np.zeros(d // (stride or 1), dtype=bool)
    coarse[np.unique(folding_groups((d,), stride or 1)[keep][:, 0])] = True
    return coarse


def _multiplier(keep: np.ndarray, value: float) -> np.ndarray:
    """Multiplier ``value * 1[keep]`` of a one-channel layer, shape (d, 1, 1)."""
    return (value * keep.astype(float)).astype(np.complex128).reshape(-1, 1, 1)


def strided_lowpass_construction(X: np.ndarray, K: int, depth: int,
                                 stride: int | None) -> CircularCNN:
    """One-channel ReLU net computing ``P_K x`` exactly on ``X`` (N, 1, d) through
    ``g = P_K x + B >= 0`` (``B = max |P_K X| + 1``), with ``stride`` after the first layer
    (None: no stride); ``B`` is subtracted in the last layer, after the last ReLU."""
    d = X.shape[-1]
    keep = lowpass_keep(d, K)
    B = float(np.max(np.abs(get_target("lowpass", spatial=(d,), K=K).evaluate(X)))) + 1.0
    first = filters_from_multipliers(_multiplier(keep, 1.0))
    middle = filters_from_multipliers(_multiplier(folded_keep(keep, stride), 1.0))
    last = filters_from_multipliers(_multiplier(keep, 1.0 if stride is None else stride))
    filters = [first] + [middle] * (depth - 2) + [last]
    # the shift B leaves in the last layer (no ReLU after it): the constant B survives the
    # stride (multiplier s at m = 0 undoes the 1/s of the zero-insertion), so z_L = P_K x
    biases = [np.array([B])] + [np.zeros(1)] * (depth - 2) + [np.array([-B])]
    return CircularCNN.from_numpy(filters, biases, stride=stride)


@dataclass(frozen=True)
class StridedFit:
    """A refined (strided or unstrided) low-pass net and its middle-layer spectra.

    Attributes
    ----------
    stride : the stride (None: unstrided); coarse_grid : pixels of the middle layers
    coarse_keep : folded kept set, bool shape (coarse_grid,)
    construction_norm_sq, norm_sq : ``||theta||^2`` before and after the refinement (UPPER
        bounds on the cost of ``P_K x`` on the samples)
    residual_rel, stop_reason : of the refinement
    middle_match : per middle layer, whether its count of singular values above the split is
        exactly ``1[coarse_keep]``
    max_dev_kept, max_dropped : over middle layers, max ``|s - 1|`` above the split and the
        largest value below it
    spectra : singular values per layer, shape (grid of the layer,) each (one channel)
    """

    stride: int | None
    coarse_grid: int
    coarse_keep: np.ndarray
    construction_norm_sq: float
    norm_sq: float
    residual_rel: float
    stop_reason: str
    middle_match: tuple[bool, ...]
    max_dev_kept: float
    max_dropped: float
    spectra: tuple[np.ndarray, ...]


def strided_lowpass_fit(X: np.ndarray, K: int, depth: int, stride: int | None,
                        settings: SearchSettings) -> StridedFit:
    """Build :func:`strided_lowpass_construction` and refine it by minimal-norm search on
    ``(X, P_K X)``; report the middle layers' spectra against the folded kept set."""
    d = X.shape[-1]
    keep = lowpass_keep(d, K)
    Y = get_target("lowpass", spatial=(d,), K=K).evaluate(X)
    init = strided_lowpass_construction(X, K, depth, stride)
    with torch.no_grad():
        init_norm = float(init.parameter_norm_sq())
    res = min_norm_fit(X, Y, Architecture.uniform(depth, 1), Start.given(init), settings)
    spectra = weight_spectra(res.filters)
    ckeep = folded_keep(keep, stride)
    mids = [near_one_counts(s, NEAR_ONE_SPLIT) for s in spectra[1:-1]]
    return StridedFit(
        stride=stride, coarse_grid=int(ckeep.shape[0]), coarse_keep=ckeep,
        construction_norm_sq=init_norm, norm_sq=float(res.norm_sq),
        residual_rel=float(res.residual_rel), stop_reason=res.message,
        middle_match=tuple(bool(np.array_equal(c["counts"], ckeep.astype(int))) for c in mids),
        max_dev_kept=float(max(c["max_dev_kept"] for c in mids)),
        max_dropped=float(max(c["max_dropped"] for c in mids)),
        spectra=tuple(s[..., 0] for s in spectra))
