"""The strided low-pass construction behind the stride-2 survival claim."""

from __future__ import annotations

import numpy as np
import torch

from cbn.numerics.downsampling import folded_keep, lowpass_keep, strided_lowpass_construction
from cbn.numerics.targets import get_target


def test_folded_keep():
    keep = lowpass_keep(8, 1)  # m = 0, 1, 7
    assert folded_keep(keep, 2).tolist() == [True, True, False, True]
    assert folded_keep(keep, None).tolist() == keep.tolist()


def test_strided_construction_is_exact(rng):
    """The construction computes P_K x on the samples (float64 round-off: 1e-12)."""
    X = rng.standard_normal((5, 1, 16))
    Y = get_target("lowpass", spatial=(16,), K=2).evaluate(X)
    for stride in (2, None):
        net = strided_lowpass_construction(X, 2, 4, stride)
        with torch.no_grad():
            out = net(torch.as_tensor(X, dtype=torch.float64)).numpy()
        np.testing.assert_allclose(out, Y, atol=1e-12 * np.abs(Y).max())
