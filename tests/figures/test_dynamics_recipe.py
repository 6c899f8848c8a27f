"""The learning-curve plot writes a PNG, from a result whose curves match their predictions."""

from __future__ import annotations

import numpy as np

from cbn.figures.recipes.dynamics import plot_learning_curves
from cbn.numerics.dynamics.experiments import inversion_example, learning_curves


def test_learning_curves_plot(tmp_path):
    result = learning_curves(inversion_example(), n_times=60)
    assert np.asarray(result["cnn_measured"]).shape == (60, 2)
    # both parts of this example are exactly one sigmoid (equal |phi~| on their pairs), so the
    # curves agree to the integrator's accuracy (rtol 1e-10 on O(1) strengths)
    for key in ("cnn", "fc"):
        diff = np.asarray(result[f"{key}_measured"]) - np.asarray(result[f"{key}_predicted"])
        assert np.max(np.abs(diff)) < 1e-7
    assert result["cnn_times"][-1] < result["fc_times"][-1]  # the plain 8x8 CNN is faster
    power = np.asarray(result["cnn_kernel_power"])
    assert power.shape == (60, 8, 8)
    # the learned kernel lives on the parts' pairs: (1,0),(0,1),(1,1),(2,1) and (3,2), +- each
    support = np.zeros((8, 8), dtype=bool)
    for j in [(1, 0), (0, 1), (1, 1), (2, 1), (3, 2)]:
        support[j] = support[(-j[0]) % 8, (-j[1]) % 8] = True
    assert np.all(power[:, ~support] < 1e-20)  # exactly 0 up to FFT round-off of eps-size weights
    assert np.all(power[-1, support] > 0.1 * power[-1].max())
    path = plot_learning_curves(result, tmp_path / "curves.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
