"""The registered ``relu_lowpass`` target of the CBN figures and ``Target.construction``."""

from __future__ import annotations

import numpy as np
import pytest

from cbn.figures.cli import main
from cbn.numerics.starts import construction_network
from cbn.numerics.targets import Target, get_target, list_targets, validate_target


def test_registered_validated_and_listed(capsys):
    target = get_target("relu_lowpass", spatial=(4, 4), K=1)
    validate_target(target)
    X = target.sample(7, 2)
    assert X.shape == (7, 1, 4, 4) and target.evaluate(X).shape == (7, 1, 4, 4)
    assert target.r0_upper_bound() == 9  # (2K+1)^2 frequencies |m|_inf <= 1
    assert "relu_lowpass" in list_targets()
    assert main(["targets"]) == 0
    assert "relu_lowpass" in capsys.readouterr().out


def test_samples_are_the_figures_gaussian_inputs():
    """Bit-identical to the Gaussian draws the cbn_spectra figure has always used."""
    target = get_target("relu_lowpass", spatial=(8,), K=1)
    X = target.sample(12, 0)
    assert np.array_equal(X, np.random.default_rng(0).standard_normal((12, 1, 8)))
    lowpass = get_target("lowpass", spatial=(8,), K=1)
    assert np.array_equal(target.evaluate(X), np.maximum(lowpass.evaluate(X), 0.0))


@pytest.mark.parametrize("spatial,K", [((8,), 1), ((4, 4), 1), ((16,), 2)])
def test_construction_fits_the_samples_and_costs_kept_plus_d_at_depth_2(spatial, K):
    target = get_target("relu_lowpass", spatial=spatial, K=K)
    X = target.sample(9, 1)
    Y = target.evaluate(X)
    d, kept = int(np.prod(spatial)), target.r0_upper_bound()
    norms = []
    for depth in (2, 3, 4, 6):
        net = target.construction(depth, 3, X)
        assert net.depth == depth and set(net.widths) == {3}
        # exact construction: float64 FFT round-off only
        assert np.max(np.abs(net(X) - Y)) <= 1e-12 * np.max(np.abs(Y))
        norms.append(net.norm_sq())
    # scaled convention: ||P_K||^2 = #kept, ||I||^2 = d; each added P_K layer costs #kept
    assert norms[0] == pytest.approx(kept + d, rel=1e-12)
    assert norms[3] - norms[2] == pytest.approx(2 * kept, rel=1e-9)
    with pytest.raises(ValueError, match="needs the samples"):
        target.construction(3, 1)
    with pytest.raises(ValueError, match="depth >= 2"):
        target.construction(1, 1, X)


def test_target_construction_default_and_bottleneck():
    class Plain(Target):
        name = "plain"

    assert Plain().construction(4, 8) is None
    with pytest.raises(ValueError, match="no explicit"):
        construction_network(Plain(), 4, 8)
    target = get_target("bottleneck", spatial=[8], K=1, c_rep=2)
    X = target.sample(6, 0)
    net = target.construction(5, 6)
    assert np.max(np.abs(net(X) - target.evaluate(X))) <= 1e-12 * np.max(np.abs(target.evaluate(X)))
    with pytest.raises(ValueError, match="width 3 < 4"):
        target.construction(5, 3)
