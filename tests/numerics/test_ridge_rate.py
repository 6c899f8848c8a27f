"""The ridge protocol's learning rate: the sharpness estimate, the stability rule and the
measured largest stable rate (:mod:`cbn.numerics.search.rate`)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cbn.numerics.fourier import dense_operator
from cbn.numerics.inputs import InputError
from cbn.numerics.network import CircularCNN
from cbn.numerics.search import (
    Architecture,
    RidgeSettings,
    Start,
    largest_stable_lr,
    ridge_fit,
    sharpness,
)


def _quadratic(lam: float):
    """Depth 1, linear, no bias: the objective is a quadratic in the filter with Hessian
    ``2 Phi^T Phi / N + 2 lam I``, ``Phi`` built column by column from the dense oracle."""
    rng = np.random.default_rng(0)
    grid = (5,)
    X = rng.standard_normal((6, 2, *grid))
    Y = rng.standard_normal((6, 1, *grid))
    cols = []
    for k in range(10):
        e = np.zeros(10)
        e[k] = 1.0
        op = dense_operator(e.reshape(1, 2, *grid))
        cols.append(np.concatenate([op @ x.reshape(-1) for x in X]))
    phi = np.stack(cols, axis=1)
    top = np.linalg.eigvalsh(2 * phi.T @ phi / 6 + 2 * lam * np.eye(10))[-1]
    net = CircularCNN([2, 1], grid, activation="identity", bias=False, seed=0)
    return net, torch.as_tensor(X), torch.as_tensor(Y), top


def test_sharpness_is_the_top_hessian_eigenvalue_of_a_quadratic():
    net, X, Y, top = _quadratic(0.1)
    est = sharpness(net, X, Y, 0.1, iters=2000, rtol=1e-13)
    # the gap to the next eigenvalue is 24% (2.875 vs 3.796): power iteration converges to
    # round-off long before 2000 products; 1e-9 leaves room for the float64 HVPs (~1e-15)
    assert est == pytest.approx(top, rel=1e-9)


def test_largest_stable_rate_brackets_two_over_sharpness_on_a_quadratic():
    net, X, Y, top = _quadratic(0.1)
    before = [p.detach().clone() for p in net.parameters()]
    rate = largest_stable_lr(net, X, Y, 0.1, lr0=0.1, steps=50, bisections=8)
    # GD on a quadratic is stable iff lr < 2 / lambda_max: the bracket must contain it, and
    # 8 geometric bisections make it 2^(1/256) = 1.0027 wide
    assert rate.largest_stable <= 2 / top <= rate.smallest_unstable
    assert rate.smallest_unstable / rate.largest_stable <= 2 ** (1 / 256) * (1 + 1e-12)
    assert all(torch.equal(p, b) for p, b in zip(net.parameters(), before))  # probes copy
    assert {ok for _, ok in rate.probes} == {True, False}


def test_stability_rule_on_a_deep_multichannel_relu_net():
    """Depth 6, 8 channels, biases, random start: the rule's rate is c / sharpness, lies below
    the measured largest stable rate, and the run at it decreases the objective."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((16, 1, 8))
    Y = np.maximum(X, 0) - np.roll(X, 1, axis=-1)
    settings = RidgeSettings(lam=1e-3, lr=None, steps=60, probe_steps=30, probe_bisections=2,
                             progress=False)
    res = ridge_fit(X, Y, Architecture.uniform(6, 8), settings, Start.random(2))
    rate = res.settings["learning_rate"]
    assert rate["rule"] == "stability" and rate["factor"] == 1.0
    assert rate["lr"] == pytest.approx(1.0 / rate["sharpness"], rel=1e-15)
    # the rule keeps a margin of 2 below the quadratic limit 2 / sharpness: it must be stable
    assert rate["lr"] <= rate["largest_stable"] < rate["smallest_unstable"]
    tail = res.settings["objective_tail"]
    assert all(math.isfinite(v) for v in tail) and all(b <= a for a, b in zip(tail, tail[1:]))
    assert res.status.value == "steps"


def test_given_rate_computes_nothing_extra():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((4, 1, 6))
    res = ridge_fit(X, X, Architecture.uniform(2, 2), RidgeSettings(0.0, 0.01, 3,
                                                                     progress=False))
    assert res.settings["learning_rate"] == {
        "lr": 0.01, "rule": "given", "sharpness": None, "factor": None,
        "largest_stable": None, "smallest_unstable": None, "probe_steps": 0, "probes": ()}


@pytest.mark.parametrize("kw", [{"lr_factor": 2.0}, {"lr_factor": 0.0}, {"probe_steps": -1},
                                {"lr": -1.0}, {"sharpness_iters": 0}])
def test_bad_rate_settings_are_one_line_errors(kw):
    args = {"lam": 0.1, "lr": None, "steps": 10, **kw}
    with pytest.raises(InputError) as err:
        RidgeSettings(**args)
    assert "\n" not in str(err.value)
