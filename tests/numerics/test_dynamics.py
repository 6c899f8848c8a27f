"""Unit tests of cbn.numerics.dynamics: models against dense oracles and finite differences, data
sets that realise a correlation, the aligned start, the closed-form sigmoids."""

from __future__ import annotations

import numpy as np
import pytest

from cbn.numerics.dynamics.data import (
    cosine_part,
    dataset_correlations,
    realise_dataset,
    structured_correlation,
    unitary_dft,
)
from cbn.numerics.dynamics.flow import gradient_flow, half_times, mode_strengths
from cbn.numerics.dynamics.init import aligned_cnn_start, aligned_fc_start, random_start
from cbn.numerics.dynamics.models import CircularCNN, FullyConnected
from cbn.numerics.dynamics.predictions import (
    cnn_dominant_rates,
    frequency_fractions,
    saxe_curve,
    saxe_half_time,
)
from cbn.numerics.fourier import circular_conv, dense_operator

#: FFT vs dense sums of O(1) Gaussian entries over d <= 64 pixels: round-off ~1e-15 * d.
ORACLE_ATOL = 1e-12
#: Central differences with h = 1e-6: cancellation error ~ eps_mach |L| / h = 2e-10 |L| (|L| is
#: O(100) for these random nets) and truncation h^2 |L'''| / 6 ~ 1e-12 * O(100). Tolerance:
#: FD_RTOL * max(1, |L|), ten times the cancellation estimate.
FD_RTOL = 2e-9

GRIDS = [((6,), "plain", None), ((6,), "scaled", 3), ((4, 5), "plain", 2), ((4, 4), "scaled", None)]


def _random_cnn(spatial, convention, kernel, seed=0, channels=2, n_out=3):
    model = CircularCNN(spatial, channels, n_out, kernel, convention)
    return model, random_start(model, 1.0, seed)


@pytest.mark.parametrize("spatial,convention,kernel", GRIDS)
def test_total_map_matches_dense_circulant(spatial, convention, kernel):
    model, theta = _random_cnn(spatial, convention, kernel)
    filters, readout = model.unpack(theta)
    expected = np.zeros((model.n_out, model.d))
    for c in range(model.channels):
        dense = dense_operator(filters[c][None, None], convention)  # (d, d): x -> w_c * x
        expected += readout[:, c].reshape(model.n_out, model.d) @ dense
    assert np.max(np.abs(model.total_map(theta) - expected)) < ORACLE_ATOL


@pytest.mark.parametrize("spatial,convention,kernel", GRIDS)
def test_forward_on_data_matches_total_map(spatial, convention, kernel):
    model, theta = _random_cnn(spatial, convention, kernel, seed=1)
    filters, readout = model.unpack(theta)
    x = np.random.default_rng(2).standard_normal((5, 1, *spatial))
    hidden = circular_conv(filters[:, None], x, convention)  # (N, C, *sp)
    y = np.einsum("ncp,ocp->no", hidden.reshape(5, model.channels, -1),
                  readout.reshape(model.n_out, model.channels, -1))
    assert np.max(np.abs(y - x.reshape(5, -1) @ model.total_map(theta).T)) < ORACLE_ATOL


def _finite_difference(fun, theta, h=1e-6):
    grad = np.zeros_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        grad[i] = (fun(theta + e) - fun(theta - e)) / (2 * h)
    return grad


@pytest.mark.parametrize("spatial,convention,kernel", GRIDS)
def test_cnn_gradient_matches_finite_differences(spatial, convention, kernel):
    model, theta = _random_cnn(spatial, convention, kernel, seed=3)
    rng = np.random.default_rng(4)
    sigma_yx = rng.standard_normal((model.n_out, model.d))
    b = rng.standard_normal((model.d, model.d))
    sigma_xx = b @ b.T / model.d  # a non-white input covariance
    loss, grad = model.loss_and_grad(theta, sigma_yx, sigma_xx)
    fd = _finite_difference(lambda t: model.loss_and_grad(t, sigma_yx, sigma_xx)[0], theta)
    filters_fd, _ = model.unpack(fd)
    filters_fd = filters_fd * model.support_mask()  # only the support is trainable
    fd = np.concatenate([filters_fd.ravel(), fd[model.channels * model.d:]])
    assert np.max(np.abs(grad - fd)) < FD_RTOL * max(1.0, abs(loss))
    assert np.all(model.unpack(grad)[0][:, ~model.support_mask()] == 0)


def test_fc_gradient_matches_finite_differences():
    model = FullyConnected(5, 3, 2)
    theta = random_start(model, 1.0, 5)
    rng = np.random.default_rng(6)
    sigma_yx = rng.standard_normal((2, 5))
    loss, grad = model.loss_and_grad(theta, sigma_yx)
    fd = _finite_difference(lambda t: model.loss_and_grad(t, sigma_yx)[0], theta)
    assert np.max(np.abs(grad - fd)) < FD_RTOL * max(1.0, abs(loss))


def test_correlation_loss_equals_data_loss_up_to_constant():
    sp = (6,)
    corr = structured_correlation(sp, [2.0, 0.5], [cosine_part(sp, [(1,)]),
                                                   cosine_part(sp, [(2,)], phases=[0.4])])
    x, y = realise_dataset(corr, 40, seed=7)
    model = CircularCNN(sp, 2, corr.n_out, None, "plain")
    sxx, syx = dataset_correlations(x, y)
    diffs = []
    for seed in (0, 1):
        theta = random_start(model, 0.7, seed)
        pred = x.reshape(40, -1) @ model.total_map(theta).T
        data_loss = 0.5 * np.mean(np.sum((pred - y) ** 2, axis=1))
        diffs.append(data_loss - model.loss_and_grad(theta, syx, sxx)[0])
    # the constant is 1/(2N) sum ||y||^2, independent of theta; round-off ~1e-15 * N
    assert abs(diffs[0] - diffs[1]) < 1e-12
    assert abs(diffs[0] - 0.5 * np.mean(np.sum(y ** 2, axis=1))) < 1e-12


def test_realised_dataset_is_white_and_has_the_correlation():
    sp = (4, 4)
    corr = structured_correlation(sp, [1.0, 3.0], [cosine_part(sp, [(1, 0)]),
                                                   cosine_part(sp, [(1, 1)])], n_out=4)
    x, y = realise_dataset(corr, 50, seed=1)
    sxx, syx = dataset_correlations(x, y)
    # QR of a 50x16 Gaussian: orthonormality to ~1e-15 * 50
    assert np.max(np.abs(sxx - np.eye(16))) < 1e-12
    assert np.max(np.abs(syx - corr.sigma_yx)) < 1e-12


def test_cosine_part_spectrum_by_hand():
    # weights (1, 0.6, 0.3) on distinct non-self-conjugate pairs: |phi~(+-j_k)| = w_k / sqrt(2 *
    # 1.45) (1.45 = 1 + 0.36 + 0.09), every other bin 0
    phi = cosine_part((16,), [(1,), (3,), (5,)], [1.0, 0.6, 0.3], [0.2, 1.0, 2.0])
    spec = np.abs(unitary_dft(phi, (16,)))
    expected = np.zeros(16)
    for j, w in zip((1, 3, 5), (1.0, 0.6, 0.3)):
        expected[j] = expected[16 - j] = w / np.sqrt(2 * 1.45)
    assert np.max(np.abs(spec - expected)) < 1e-14  # FFT of 16 unit-scale cosines


def test_cosines_on_one_pair_with_quadrature_phases_are_orthonormal():
    a = cosine_part((8, 8), [(1, 2)])
    b = cosine_part((8, 8), [(1, 2)], phases=[np.pi / 2])
    assert abs(a @ b) < 1e-14 and abs(a @ a - 1) < 1e-14  # sums of 64 O(1/8) products


def test_non_orthonormal_parts_are_rejected():
    sp = (8,)
    with pytest.raises(ValueError, match="orthonormal"):
        structured_correlation(sp, [1.0, 1.0], [cosine_part(sp, [(1,)]),
                                                cosine_part(sp, [(1,), (2,)])])


@pytest.mark.parametrize("spatial,convention", [((8, 8), "plain"), ((10,), "scaled")])
def test_aligned_start_is_balanced_and_starts_every_active_frequency_at_g_eps2(spatial,
                                                                                convention):
    nd = len(spatial)
    parts = [cosine_part(spatial, [(1,) * nd, (2,) + (0,) * (nd - 1)], [1.0, 0.5]),
             cosine_part(spatial, [(3,) + (1,) * (nd - 1)], phases=[0.3])]
    corr = structured_correlation(spatial, [2.0, 1.0], parts, n_out=3)
    model = CircularCNN(spatial, 3, 3, None, convention)
    eps = 0.1
    theta = aligned_cnn_start(model, corr, eps)
    filters, readout = model.unpack(theta)
    wt = np.abs(unitary_dft(filters.reshape(3, -1), spatial)) ** 2
    rt = np.abs(unitary_dft(readout.reshape(9, -1), spatial)) ** 2
    active = np.linalg.norm(unitary_dft(corr.sigma_yx, spatial), axis=0) > 1e-12
    # balanced: equal unitary norms of filter and readout at every frequency (eps^2 or 0)
    assert np.allclose(wt.sum(0), eps ** 2 * active, atol=1e-15)
    assert np.allclose(rt.sum(0), eps ** 2 * active, atol=1e-15)
    # learned fraction beta_m = g eps^2 / |sigma_m| on the active set, along the target
    target_norm = np.linalg.norm(unitary_dft(corr.sigma_yx, spatial), axis=0)
    beta = frequency_fractions(model.total_map(theta), corr.sigma_yx, spatial)
    expected = model.gain * eps ** 2 / target_norm[active]
    assert np.max(np.abs(beta[active] / expected - 1)) < 1e-12


def test_gain_is_kappa_sqrt_d():
    assert CircularCNN((8, 8), 1, 1, None, "plain").gain == pytest.approx(8.0, rel=1e-15)
    assert CircularCNN((16,), 1, 1, None, "plain").gain == pytest.approx(4.0, rel=1e-15)
    assert CircularCNN((16,), 1, 1, None, "scaled").gain == pytest.approx(1.0, rel=1e-15)


def test_saxe_curve_solves_the_logistic_equation_and_half_time():
    s, rate, a0 = 2.0, 3.0, 1e-3
    t = np.linspace(0, 5, 2001)
    a = saxe_curve(t, s, rate, a0)
    assert a[0] == pytest.approx(a0, rel=1e-14)
    # a' = rate a (1 - a / s): compare a centred difference (h = 2.5e-3, error ~ h^2 a''' ~ 1e-4
    # relative to the O(rate s) derivative scale) with the right-hand side
    lhs = (a[2:] - a[:-2]) / (t[2] - t[0])
    rhs = rate * a[1:-1] * (1 - a[1:-1] / s)
    assert np.max(np.abs(lhs - rhs)) < 1e-4 * rate * s
    th = saxe_half_time(s, rate, a0)
    assert saxe_curve(np.array([th]), s, rate, a0)[0] == pytest.approx(s / 2, rel=1e-13)


def test_fc_flow_from_aligned_start_follows_saxe():
    sp = (8,)
    corr = structured_correlation(sp, [1.5], [cosine_part(sp, [(2,)])], n_out=2)
    model = FullyConnected(8, 2, 2)
    eps = 0.05
    flow = gradient_flow(model, corr.sigma_yx, aligned_fc_start(model, corr, eps), 6.0)
    t = np.linspace(0, 6.0, 50)
    a = mode_strengths(flow.total_maps(t), corr.outputs, corr.parts)[:, 0]
    # integrator rtol 1e-10 on O(1) weights
    assert np.max(np.abs(a - saxe_curve(t, 1.5, 3.0, eps ** 2))) < 1e-8


def test_wrong_rate_is_detected():
    """The half-time comparison can fail: a 5% wrong gain gives a ~5% half-time error."""
    sp = (8, 8)
    corr = structured_correlation(sp, [1.0], [cosine_part(sp, [(1, 1)])])
    model = CircularCNN(sp, 1, 1, None, "plain")
    eps = 0.01
    theta0 = aligned_cnn_start(model, corr, eps)
    a0 = mode_strengths(model.total_map(theta0), corr.outputs, corr.parts)[0]
    rate = cnn_dominant_rates(corr, model.gain)[0]
    flow = gradient_flow(model, corr.sigma_yx, theta0, 2 * saxe_half_time(1.0, rate, a0))
    measured = half_times(flow, corr.outputs, corr.parts, corr.strengths)[0]
    right = saxe_half_time(1.0, rate, a0)
    wrong = saxe_half_time(1.0, 1.05 * rate, a0)
    assert abs(measured / right - 1) < 1e-8  # integrator accuracy
    assert abs(measured / wrong - 1) > 0.04


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="kernel_size"):
        CircularCNN((8,), 1, 1, 9)
    with pytest.raises(ValueError, match="convention"):
        CircularCNN((8,), 1, 1, None, "weird")
    model = CircularCNN((8,), 1, 1, 3)
    with pytest.raises(ValueError, match="full-size kernel"):
        aligned_cnn_start(model, structured_correlation((8,), [1.0], [cosine_part((8,), [(1,)])]),
                          0.1)


def test_training_on_a_realised_data_set_gives_the_predicted_half_times():
    """Full-batch flow on sampled data (Sigma_xx = X^T X / N from the samples) = theory."""
    sp = (8,)
    corr = structured_correlation(sp, [2.0, 1.0], [cosine_part(sp, [(1,)]),
                                                   cosine_part(sp, [(3,)], phases=[0.5])])
    x, y = realise_dataset(corr, 30, seed=3)
    sxx, syx = dataset_correlations(x, y)
    model = CircularCNN(sp, 2, corr.n_out, None, "scaled")
    theta0 = aligned_cnn_start(model, corr, 0.02)
    a0 = mode_strengths(model.total_map(theta0), corr.outputs, corr.parts)
    rates = cnn_dominant_rates(corr, model.gain)
    predicted = np.array([saxe_half_time(s, r, a) for s, r, a in zip(corr.strengths, rates, a0)])
    flow = gradient_flow(model, syx, theta0, 2 * predicted.max(), sigma_xx=sxx)
    measured = half_times(flow, corr.outputs, corr.parts, corr.strengths)
    # data whiteness holds to ~1e-15 and the integrator to rtol 1e-10
    assert np.max(np.abs(measured / predicted - 1)) < 1e-8
