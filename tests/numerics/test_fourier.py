"""FFT convolutions against dense circulant matrices; multipliers, Parseval, bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cbn.numerics.fourier import (
    centred_labels,
    circular_conv,
    dense_operator,
    downsample,
    filters_from_multipliers,
    fold_spectrum,
    folding_groups,
    frequency_degrees,
    frequency_multiplicity,
    frequency_table,
    half_frequency_mask,
    multipliers_from_filters,
    parameter_norm_sq,
    parseval_norm_sq,
    self_conjugate_mask,
    survives_downsampling,
)

# Round-off of an FFT of length d is ~ eps * log2(d) * ||x||; 1e-12 absolute on O(1) data leaves
# three orders of margin over what is seen (~1e-15) and still catches any indexing error (O(1)).
FFT_ATOL = 1e-12

SPATIALS = [(1,), (2,), (5,), (6,), (8,), (3, 3), (4, 6), (5, 2), (1, 4)]


@pytest.mark.parametrize("spatial", SPATIALS)
@pytest.mark.parametrize("convention", ["scaled", "plain"])
def test_fft_conv_equals_dense_circulant(spatial, convention, rng):
    W = rng.standard_normal((3, 2, *spatial))
    x = rng.standard_normal((4, 2, *spatial))
    y = circular_conv(W, x, convention).reshape(4, -1)
    D = dense_operator(W, convention)
    assert D.shape == (3 * np.prod(spatial), 2 * np.prod(spatial))
    np.testing.assert_allclose(y, x.reshape(4, -1) @ D.T, atol=FFT_ATOL, rtol=0)


def test_dense_operator_matches_definition_by_hand():
    # d = 3, one channel, W = [1, 2, 3], x = [1, 0, 0]: (W * x)(p) = W(p) / sqrt(3).
    W = np.array([[[1.0, 2.0, 3.0]]])
    D = dense_operator(W, "scaled")
    np.testing.assert_allclose(D[:, 0], np.array([1.0, 2.0, 3.0]) / np.sqrt(3), atol=1e-15)
    # Shift by one: x = delta_1 gives W(p - 1) = [3, 1, 2].
    np.testing.assert_allclose(D[:, 1], np.array([3.0, 1.0, 2.0]) / np.sqrt(3), atol=1e-15)


@pytest.mark.parametrize("spatial", [(6,), (7,), (4, 5)])
@pytest.mark.parametrize("convention", ["scaled", "plain"])
def test_multiplier_acts_on_dft(spatial, convention, rng):
    W = rng.standard_normal((2, 3, *spatial))
    x = rng.standard_normal((3, *spatial))
    axes = tuple(range(1, 1 + len(spatial)))
    yhat = np.fft.fftn(circular_conv(W, x, convention), axes=axes)
    M = multipliers_from_filters(W, convention)
    xhat = np.fft.fftn(x, axes=axes)
    expected = np.einsum("...ij,j...->i...", M, xhat)
    np.testing.assert_allclose(yhat, expected, atol=1e-11)


@pytest.mark.parametrize("spatial", SPATIALS)
@pytest.mark.parametrize("convention", ["scaled", "plain"])
def test_parseval_and_roundtrip(spatial, convention, rng):
    W = rng.standard_normal((2, 3, *spatial))
    M = multipliers_from_filters(W, convention)
    assert np.isclose(parseval_norm_sq(M, convention), parameter_norm_sq(W), rtol=1e-13)
    back = filters_from_multipliers(M, convention)
    assert np.isrealobj(back)
    np.testing.assert_allclose(back, W, atol=1e-13)


def test_real_filter_multipliers_are_conjugate_symmetric(rng):
    M = multipliers_from_filters(rng.standard_normal((1, 1, 6)))[:, 0, 0]
    for m in range(6):
        assert np.isclose(M[(-m) % 6], np.conj(M[m]), atol=1e-14)
    assert abs(M[0].imag) < 1e-15 and abs(M[3].imag) < 1e-15  # self-conjugate blocks are real


def test_inverse_rejects_non_conjugate_symmetric(rng):
    M = multipliers_from_filters(rng.standard_normal((2, 2, 6)))
    M[1] += 0.5j
    with pytest.raises(ValueError, match="not conjugate-symmetric"):
        filters_from_multipliers(M)


@pytest.mark.parametrize("spatial", [(1,), (2,), (5,), (6,), (4, 6), (3, 5), (2, 2)])
def test_frequency_bookkeeping_counts(spatial):
    d = int(np.prod(spatial))
    selfc = self_conjugate_mask(spatial)
    # Self-conjugate frequencies: 2 per even axis (0 and d/2), 1 per odd axis.
    assert selfc.sum() == np.prod([2 if n % 2 == 0 else 1 for n in spatial])
    half = half_frequency_mask(spatial)
    assert half.sum() == (d + selfc.sum()) // 2
    assert frequency_multiplicity(spatial).sum() == d
    lab = centred_labels(spatial)
    for ax, n in enumerate(spatial):
        assert np.all(lab[..., ax] > -n / 2) and np.all(lab[..., ax] <= n / 2)
    assert len(frequency_table(spatial)) == d


def test_degrees_2d():
    deg = frequency_degrees((6, 6))
    lab = centred_labels((6, 6))
    assert tuple(lab[5, 2]) == (-1, 2)
    assert deg["l1"][5, 2] == 3 and deg["linf"][5, 2] == 2
    assert tuple(lab[3, 3]) == (3, 3) and self_conjugate_mask((6, 6))[3, 3]


@pytest.mark.parametrize("spatial,stride", [((8,), 2), ((12,), 3), ((6, 4), 2)])
def test_downsampling_folds_frequencies(spatial, stride, rng):
    x = rng.standard_normal((2, *spatial))
    axes = tuple(range(1, 1 + len(spatial)))
    direct = np.fft.fftn(downsample(x, stride, len(spatial)), axes=axes)
    folded = fold_spectrum(np.fft.fftn(x, axes=axes), stride, len(spatial))
    np.testing.assert_allclose(direct, folded, atol=FFT_ATOL)


def test_survival_of_downsampling():
    # d = 8, stride 2: frequency m folds onto m mod 4. {0, 1, 7} -> {0, 1, 3}: no collision.
    support = np.zeros(8, dtype=bool)
    support[[0, 1, 7]] = True
    assert survives_downsampling(support, 2)
    support[5] = True  # 5 mod 4 = 1 collides with 1
    assert not survives_downsampling(support, 2)
    assert folding_groups((8,), 2)[5, 0] == 1
    # A signal supported on {0, 1, 7} is recovered from its down-sampled DFT.
    rng = np.random.default_rng(0)
    xhat = np.zeros(8, complex)
    xhat[0] = rng.standard_normal()
    xhat[1] = rng.standard_normal() + 1j * rng.standard_normal()
    xhat[7] = np.conj(xhat[1])
    x = np.fft.ifft(xhat).real
    small = np.fft.fft(downsample(x, 2, 1))
    np.testing.assert_allclose(2 * small[[0, 1, 3]], xhat[[0, 1, 7]], atol=1e-14)


def test_bad_stride():
    with pytest.raises(ValueError, match="divide"):
        downsample(np.zeros((1, 6)), 4, 1)


@settings(max_examples=40, deadline=None)
@given(
    spatial=st.lists(st.integers(1, 7), min_size=1, max_size=2).map(tuple),
    c_out=st.integers(1, 3),
    c_in=st.integers(1, 3),
    convention=st.sampled_from(["scaled", "plain"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_conv_dense_roundtrip(spatial, c_out, c_in, convention, seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((c_out, c_in, *spatial))
    x = rng.standard_normal((c_in, *spatial))
    y = circular_conv(W, x, convention)
    assert y.shape == (c_out, *spatial)
    np.testing.assert_allclose(
        y.reshape(-1), dense_operator(W, convention) @ x.reshape(-1), atol=FFT_ATOL
    )
    M = multipliers_from_filters(W, convention)
    assert M.shape == (*spatial, c_out, c_in)
    np.testing.assert_allclose(filters_from_multipliers(M, convention), W, atol=1e-13)
