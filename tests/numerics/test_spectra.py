"""Per-layer weight spectra, near-one counts and activation energies (cbn.numerics.spectra)."""

from __future__ import annotations

import numpy as np
import pytest

from cbn.numerics.fourier import circular_conv, dense_operator, multipliers_from_filters
from cbn.numerics.linear import minimal_norm_weights
from cbn.numerics.spectra import (
    activation_energy,
    effective_ranks,
    forward,
    near_one_counts,
    weight_spectra,
)


def test_forward_matches_dense_oracle():
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((3, 2, 5)), rng.standard_normal((1, 3, 5))
    b1, b2 = rng.standard_normal(3), rng.standard_normal(1)
    X = rng.standard_normal((4, 2, 5))
    out = forward([w1, w2], [b1, b2], X)
    for n in range(4):
        h = np.maximum(dense_operator(w1) @ X[n].reshape(-1) + np.repeat(b1, 5), 0)
        y = dense_operator(w2) @ h + np.repeat(b2, 5)
        # two dense products of O(1) numbers vs FFTs: round-off ~1e-15
        np.testing.assert_allclose(out[0][n].reshape(-1), h, atol=1e-12)
        np.testing.assert_allclose(out[1][n].reshape(-1), y, atol=1e-12)


@pytest.mark.parametrize("convention", ["scaled", "plain"])
def test_balanced_construction_spectra_are_roots_of_target(convention):
    """Balanced weights: s_i(M_l(m)) = s_i(A(m))^{1/L} in every layer
    (paper_notes/theory.md section 3)."""
    rng = np.random.default_rng(1)
    target = rng.standard_normal((2, 2, 6))
    target[1] = 0.5 * target[0]  # rank 1 at every frequency
    mult = multipliers_from_filters(target, convention)
    s_target = np.linalg.svd(mult, compute_uv=False)
    depth = 4
    spectra = weight_spectra(minimal_norm_weights(mult, depth, convention=convention), convention)
    for s in spectra:
        assert s.shape == (6, 1)  # hidden width defaults to the max rank, 1
        # closed-form construction: agreement to round-off of an SVD and a 4th root
        np.testing.assert_allclose(s[:, 0], s_target[:, 0] ** (1 / depth), rtol=1e-10)
    ranks = effective_ranks(spectra[0], 1e-8)
    assert ranks.tolist() == [1] * 6


def test_near_one_counts():
    spectrum = np.array([[1.1, 0.2], [0.9, 0.6], [0.1, 0.0]])
    res = near_one_counts(spectrum, split=0.5)
    assert res["counts"].tolist() == [1, 2, 0]
    assert res["max_dev_kept"] == pytest.approx(0.4)
    assert res["max_dropped"] == pytest.approx(0.2)


def test_activation_energy_parseval_and_support():
    """A low-pass first layer puts the hidden energy on its own frequencies only."""
    rng = np.random.default_rng(2)
    d = 8
    mult = np.zeros((d, 2, 1), dtype=complex)
    mult[0] = [[1.0], [0.5]]
    mult[1] = mult[-1] = [[0.3], [0.2]]
    from cbn.numerics.fourier import filters_from_multipliers

    w1 = filters_from_multipliers(mult)
    w2 = rng.standard_normal((1, 2, d))
    X = rng.standard_normal((5, 1, d))
    energy = activation_energy([w1, w2], None, X, activation="identity")
    h = circular_conv(w1, X)
    # Parseval: energy summed over frequencies equals sum of squares (FFT round-off)
    np.testing.assert_allclose(energy[0].sum(axis=0), np.sum(h**2, axis=(0, 2)), rtol=1e-12)
    off = np.ones(d, bool)
    off[[0, 1, d - 1]] = False
    assert energy[0][off].max() < 1e-20 * energy[0].max() + 1e-25  # exact zeros up to round-off
    assert energy[1].shape == (d, 1)
