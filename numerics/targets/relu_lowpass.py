"""The target ``relu(P_K x)`` of the CBN figures, and its explicit factorisation network."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cbn.numerics.fourier import filters_from_multipliers, frequency_degrees
from cbn.numerics.targets.base import Target, register_target
from cbn.numerics.targets.linear import check_spatial, lowpass
from cbn.numerics.weights import Network


class ReluLowpass(Target):
    """``relu(P_K x)`` with ``P_K`` the orthogonal low-pass projection on ``|m|_inf <= K``, on
    Gaussian inputs. It factors through those frequencies (``g = P_K x + B >= 0`` on the
    samples), so ``R0 <= #{m : |m|_inf <= K}``, and the CBN picture predicts exactly those
    frequencies kept inside the bottleneck, one singular value near 1 each, the rest near 0.

    The domain is unbounded: the shift ``B`` of :meth:`construction` is taken from the samples.
    """

    def __init__(self, spatial: Sequence[int] = (8,), K: int = 1, name: str = "relu_lowpass"):
        self.name, self.spatial = name, check_spatial(spatial)
        self.c_in = self.c_out = 1
        self.K = int(K)
        self._lowpass = lowpass(self.spatial, self.K)
        self.keep = frequency_degrees(self.spatial)["linf"] <= self.K  # shape spatial

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return np.maximum(self._lowpass.evaluate(X), 0.0)

    def r0_upper_bound(self) -> int:
        """``#{m : |m|_inf <= K}``: the dimension of the factorisation (an UPPER bound)."""
        return int(self.keep.sum())

    def construction(self, depth: int, width: int, X: np.ndarray | None = None) -> Network:
        """One-channel ReLU network computing ``relu(P_K x)`` exactly on ``X``
        (paper_notes/theory.md section 4),
        hidden layers zero-padded to ``width`` channels.

        ``depth = 2``: ``P_K``, then the identity. ``depth >= 3``: ``z_1 = P_K x + B`` with
        ``B = max(0, max(-P_K X))`` so ``relu`` is the identity on the samples, ``depth - 3``
        layers ``P_K`` (the identity on that representation), ``z = P_K a - B = P_K x``,
        ``relu``, identity. Its norm is an UPPER bound on the cost of ``relu(P_K x)`` on ``X``.

        Raises
        ------
        ValueError
            If ``depth < 2``, ``width < 1``, or ``depth >= 3`` without samples ``X``.
        """
        if depth < 2:
            raise ValueError(f"the relu_lowpass construction needs depth >= 2, got {depth}")
        proj = filters_from_multipliers(self.keep.astype(np.complex128)[..., None, None])
        ident = filters_from_multipliers(np.ones((*self.spatial, 1, 1), dtype=np.complex128))
        if depth == 2:
            return Network([proj, ident], [np.zeros(1), np.zeros(1)]).padded(width)
        if X is None:
            raise ValueError("the relu_lowpass construction at depth >= 3 needs the samples X "
                             "(its shift B makes P_K x non-negative on them)")
        B = max(0.0, float(np.max(-self._lowpass.evaluate(X))))
        filters = [proj] * (depth - 1) + [ident]
        biases = [np.array([B])] + [np.zeros(1)] * (depth - 3) + [np.array([-B]), np.zeros(1)]
        return Network(filters, biases).padded(width)


register_target("relu_lowpass")(ReluLowpass)
