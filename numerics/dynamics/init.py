"""Small initialisations of the two models: aligned balanced (Saxe's special start) or random.

* Aligned balanced CNN start at weight scale ``eps``: at every frequency ``m`` where the target
  column ``sigma_m`` is nonzero, ``w~_c(m) = eps v_c`` and ``r~[:, c](m) = eps v_c conj(rho_m)``
  with ``rho_m = sigma_m / |sigma_m|`` and ``v`` a fixed unit vector over channels; elsewhere 0.
  Unitary norms of filter and readout are equal (balanced) and every active frequency starts at
  strength ``b0 = g eps^2`` along its target. The filter is real (``sigma_{-m} = conj sigma_m``).
  With ``all_frequencies=True`` the filter gets ``w~_c(m) = eps v_c`` at EVERY frequency, i.e.
  ``w_c = eps v_c sqrt(d) delta_0``: a one-pixel filter, valid for every kernel size (inactive
  frequencies then have readout 0 and stay at strength 0 when the kernel is full size).
* Aligned balanced fully-connected start: ``W1 = eps O V``, ``W2 = eps U O^T`` (``O`` orthonormal
  columns), so every part starts at strength ``eps^2``.
* Random: i.i.d. ``N(0, scale^2)`` entries (filters only on the kernel support).
"""

from __future__ import annotations

import numpy as np

from cbn.numerics.dynamics.data import Correlation
from cbn.numerics.dynamics.models import CircularCNN, FullyConnected
from cbn.numerics.dynamics.predictions import frequency_targets

#: Frequencies whose target column is below this fraction of the largest are treated as empty
#: (left at 0): measured correlations carry FFT round-off ~1e-16 relative on empty bins.
ACTIVE_RTOL = 1e-12


def aligned_cnn_start(model: CircularCNN, corr: Correlation, eps: float,
                      all_frequencies: bool = False) -> np.ndarray:
    """Aligned balanced start; every active frequency begins at strength ``g eps^2``.

    ``all_frequencies=False`` needs a full-size kernel; ``True`` (one-pixel filter) works for
    every kernel size.
    """
    if not (model.support_mask().all() or all_frequencies):
        raise ValueError("the aligned start on the active frequencies needs a full-size kernel; "
                         "use all_frequencies=True for a smaller kernel")
    target = frequency_targets(corr.sigma_yx, model.spatial)  # (*sp, O)
    norms = np.linalg.norm(target, axis=-1)
    active = norms > ACTIVE_RTOL * norms.max()
    rho = np.where(active[..., None], target / np.where(active, norms, 1.0)[..., None], 0.0)
    v = np.ones(model.channels) / np.sqrt(model.channels)
    nsp = len(model.spatial)
    axes = tuple(range(1, 1 + nsp))
    d = model.d
    # unitary coefficients -> real signals: x = F^* x~ = sqrt(d) ifftn(x~)
    if all_frequencies:  # w~ = eps v at every m  <=>  w = eps v sqrt(d) at pixel 0
        filters = np.zeros((model.channels, *model.spatial))
        filters[(slice(None), *([0] * nsp))] = eps * v * np.sqrt(d)
    else:
        w_tilde = eps * v[:, None] * active.reshape(1, -1)  # (C, d)
        filters = np.real(np.fft.ifftn(w_tilde.reshape(model.channels, *model.spatial),
                                       axes=axes)) * np.sqrt(d)
    r_tilde = eps * np.conj(np.moveaxis(rho, -1, 0))  # (O, *sp)
    readout_o = np.real(np.fft.ifftn(r_tilde, axes=axes)) * np.sqrt(d)  # (O, *sp)
    readout = readout_o[:, None] * v.reshape(1, -1, *([1] * nsp))
    return model.pack(filters, readout)


def aligned_fc_start(model: FullyConnected, corr: Correlation, eps: float,
                     seed: int = 0) -> np.ndarray:
    """Aligned balanced start of ``W2 W1``; every part begins at strength ``eps^2``."""
    r = len(corr.strengths)
    if model.hidden < r:
        raise ValueError(f"hidden width {model.hidden} < number of parts {r}")
    o, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((model.hidden, r)))
    return model.pack(eps * o @ corr.parts, eps * corr.outputs @ o.T)


def random_start(model: CircularCNN | FullyConnected, scale: float, seed: int = 0) -> np.ndarray:
    """I.i.d. Gaussian start of standard deviation ``scale`` (filters only on the support)."""
    theta = scale * np.random.default_rng(seed).standard_normal(model.n_params)
    if isinstance(model, CircularCNN):
        filters, readout = model.unpack(theta)
        filters = filters * model.support_mask()
        theta = model.pack(filters, readout)
    return theta
