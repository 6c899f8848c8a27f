"""The pooling head in both fits: labels or one-hot targets, head weights in the record and
in the norm, one-line errors on bad shapes."""

from __future__ import annotations

import numpy as np
import pytest

from cbn.numerics.inputs import InputError
from cbn.numerics.search import (
    Architecture,
    RidgeSettings,
    SearchSettings,
    Start,
    min_norm_fit,
    one_hot,
    ridge_fit,
)


def _labelled(n: int = 6, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 1, 6))
    return X, np.arange(n) % classes


def _explicit_norm(res) -> float:
    """sum ||W_l||^2 + sum ||b_l||^2 + ||V||^2 + ||c||^2 from the record's arrays."""
    parts = [res.filters, res.biases, [res.head_weight, res.head_bias]]
    return float(sum(np.sum(np.square(a)) for group in parts for a in group))


def test_min_norm_fit_with_head_interpolates_labels_and_counts_the_head():
    X, y = _labelled()
    arch = Architecture(3, (6, 6), head_classes=3)
    res = min_norm_fit(X, y, arch, Start.random(0), SearchSettings(max_iter=3000))
    # the constraints are one-hot rows: default tol 1e-10 on max|residual|/max|Y| at a
    # converged run; 1e-8 leaves room for a run stopped by restoration instead
    assert res.residual_max_abs <= 1e-8, res.message
    out = res.network()(X)
    np.testing.assert_allclose(out, one_hot(y, 3), rtol=0, atol=1e-8)
    assert res.head_weight.shape == (3, 6) and res.head_bias.shape == (3,)
    head_part = np.sum(res.head_weight**2) + np.sum(res.head_bias**2)
    assert head_part > 1e-3  # the head carries norm: leaving it out would show below
    # the record's norm is computed by torch on the parameters; the explicit sum is numpy on
    # the exported float64 arrays: equal to round-off
    assert res.norm_sq == pytest.approx(_explicit_norm(res), rel=1e-12)
    assert res.to_dict()["head_classes"] == 3
    arrays = res.network().to_arrays()
    assert {"head_weight", "head_bias", "filter_0", "bias_1"} <= set(arrays)


def test_one_hot_targets_equal_label_targets():
    X, y = _labelled()
    arch = Architecture(3, (6, 6), head_classes=3)
    settings = SearchSettings(max_iter=300)
    a = min_norm_fit(X, y, arch, Start.random(1), settings)
    b = min_norm_fit(X, one_hot(y, 3), arch, Start.random(1), settings)
    assert a.norm_sq == b.norm_sq and a.residual_rel == b.residual_rel


def test_ridge_fit_with_head_trains_and_reports_the_head():
    X, y = _labelled(n=12, classes=2, seed=3)
    arch = Architecture.uniform(4, 6, head_classes=2)
    res = ridge_fit(X, y, arch, RidgeSettings(lam=1e-3, lr=None, steps=300, progress=False),
                    Start.random(0))
    first = ridge_fit(X, y, arch, RidgeSettings(lam=1e-3, lr=None, steps=0, progress=False),
                      Start.random(0))
    assert res.loss < 0.5 * first.loss, (first.loss, res.loss)
    assert res.norm_sq == pytest.approx(_explicit_norm(res), rel=1e-12)
    assert res.head_weight.shape == (2, 6)


@pytest.mark.parametrize("Y, arch, what", [
    (np.array([0, 1, 3, 0]), Architecture(2, (2,), head_classes=3), "labels"),
    (np.array([0.0, 1.5, 1, 0]), Architecture(2, (2,), head_classes=3), "labels"),
    (np.zeros((4, 2)), Architecture(2, (2,), head_classes=3), "3-class head"),
    (np.zeros((3,)), Architecture(2, (2,), head_classes=3), "3-class head"),
    (np.zeros((4, 3)), Architecture(2, (2,)), "X must be"),
])
def test_bad_head_targets_are_one_line_errors(Y, arch, what):
    X = np.zeros((4, 1, 6))
    for fit in (lambda: min_norm_fit(X, Y, arch),
                lambda: ridge_fit(X, Y, arch, RidgeSettings(0.1, 0.1, 1, progress=False))):
        with pytest.raises(InputError, match=what) as err:
            fit()
        assert "\n" not in str(err.value)


def test_head_needs_two_layers():
    with pytest.raises(InputError, match="depth >= 2"):
        Architecture(1, (), head_classes=2)
    with pytest.raises(InputError, match="head_classes"):
        Architecture(2, (2,), head_classes=0)
