"""Built-in linear translation-equivariant targets (paper_notes/theory.md section 3).

Each is a :class:`LinearTarget`: an operator given by its multipliers ``A(m)`` (shape
``(*spatial, c_out, c_in)``, ``(f(x))^(m) = A(m) x^(m)``). Theory is exact for them:
``R(A; L) = L sum_m sum_i s_i(A(m))^{2/L}`` (scaled) and the CBN rank ``R0 = sum_m rank A(m)``
(conjugate pairs counted twice), which :meth:`LinearTarget.expected_cbn_rank` returns.
Evaluation applies the real filters of the operator by FFT circular convolution.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cbn.numerics.fourier import (
    Convention,
    check_convention,
    circular_conv,
    filters_from_multipliers,
    frequency_degrees,
    half_frequency_mask,
    negated_frequencies,
    self_conjugate_mask,
)
from cbn.numerics.linear import RANK_RTOL, ranks_per_frequency
from cbn.numerics.targets.base import Target, register_target


def _angles(spatial: Sequence[int]) -> list[np.ndarray]:
    """``omega_i(m) = 2 pi m_i / d_i`` on the frequency grid (one array of shape spatial each)."""
    grids = np.meshgrid(*[np.arange(n) for n in spatial], indexing="ij")
    return [2 * np.pi * g / n for g, n in zip(grids, spatial)]


def check_spatial(spatial: Sequence[int]) -> tuple[int, ...]:
    out = tuple(int(s) for s in spatial)
    if len(out) not in (1, 2) or min(out) < 1:
        raise ValueError(f"spatial must be 1 or 2 positive sizes, got {tuple(spatial)}")
    return out


class LinearTarget(Target):
    """A linear translation-equivariant operator. Theory (exact): ``R(A;L) = L sum_m sum_i
    s_i(A(m))^{2/L}`` and CBN rank ``R0 = sum_m rank A(m)``.

    Parameters
    ----------
    name : registry name
    multipliers : complex array, shape ``(*spatial, c_out, c_in)``, conjugate-symmetric
    """

    def __init__(self, name: str, multipliers: np.ndarray, what: str = ""):
        multipliers = np.asarray(multipliers, dtype=np.complex128)
        self.name = name
        self.spatial = tuple(int(s) for s in multipliers.shape[:-2])
        self.c_out, self.c_in = (int(c) for c in multipliers.shape[-2:])
        self._multipliers = multipliers
        # Raises if the multipliers describe no real operator; the filters are reused.
        self._filters = filters_from_multipliers(multipliers, "scaled")
        self._what = what

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return circular_conv(self._filters, np.asarray(X, dtype=np.float64), "scaled")

    def linear_multipliers(self, convention: Convention = "scaled") -> np.ndarray:
        check_convention(convention)
        return self._multipliers.copy()

    def expected_cbn_rank(self) -> int:
        return int(ranks_per_frequency(self._multipliers, RANK_RTOL).sum())

    def description(self) -> str:
        rank = self.expected_cbn_rank()
        return (f"{self._what} Linear: R(A;L) = L sum_m sum_i s_i(A(m))^(2/L) exactly; "
                f"CBN rank R0 = sum_m rank A(m) = {rank}.").strip()


def _scalar(spatial: tuple[int, ...], values: np.ndarray, channels: int = 1) -> np.ndarray:
    """Multipliers ``values[m] * I_channels``, shape ``(*spatial, channels, channels)``."""
    return values[..., None, None] * np.eye(channels)


@register_target("identity")
def identity(spatial: Sequence[int] = (16,), channels: int = 1) -> LinearTarget:
    """``f(x) = x``: ``A(m) = I`` at every frequency, CBN rank ``channels * d`` (every frequency
    is needed)."""
    sp = check_spatial(spatial)
    return LinearTarget("identity", _scalar(sp, np.ones(sp), channels),
                        f"Identity on {channels} channel(s): every frequency kept.")


@register_target("shift")
def shift(
    spatial: Sequence[int] = (16,), offset: Sequence[int] | None = None, channels: int = 1
) -> LinearTarget:
    """``f(x)(p) = x(p - t)``: ``A(m) = exp(-2 pi i <m, t>/d) I``, CBN rank ``channels * d``."""
    sp = check_spatial(spatial)
    t = tuple(offset) if offset is not None else tuple(3 for _ in sp)
    if len(t) != len(sp):
        raise ValueError(f"offset {t} needs one entry per spatial axis {sp}")
    phase = sum(w * ti for w, ti in zip(_angles(sp), t))
    return LinearTarget("shift", _scalar(sp, np.exp(-1j * phase), channels),
                        f"Circular shift by {t}: every frequency kept, all singular values 1.")


def _band(name: str, sp, low: int, high: int, degree: str, channels: int, what: str):
    if degree not in ("linf", "l1"):
        raise ValueError(f"degree must be 'linf' or 'l1', got {degree!r}")
    deg = frequency_degrees(sp)[degree]
    keep = ((deg >= low) & (deg <= high)).astype(float)
    return LinearTarget(name, _scalar(sp, keep, channels), what)


@register_target("lowpass")
def lowpass(
    spatial: Sequence[int] = (16,), K: int = 2, degree: str = "linf", channels: int = 1
) -> LinearTarget:
    """Orthogonal projection on frequencies of degree ``|m| <= K`` (``degree`` 'linf' or 'l1'):
    CBN rank ``channels * #{m : |m| <= K}`` (``(2K+1)^k`` for 'linf' when ``2K < d_i``)."""
    sp = check_spatial(spatial)
    return _band("lowpass", sp, 0, K, degree, channels,
                 f"Low-pass keeping |m|_{degree} <= {K}: only those frequencies needed.")


@register_target("lowpass_2d")
def lowpass_2d(spatial: Sequence[int] = (8, 8), K: int = 1) -> LinearTarget:
    """2-D low-pass keeping ``|m|_inf <= K``: CBN rank ``(2K+1)^2``."""
    target = lowpass(spatial, K)
    target.name = "lowpass_2d"
    return target


@register_target("bandpass")
def bandpass(
    spatial: Sequence[int] = (16,), K_low: int = 2, K_high: int = 4, degree: str = "linf",
    channels: int = 1,
) -> LinearTarget:
    """Orthogonal projection on ``K_low <= |m| <= K_high``: CBN rank ``channels`` times the number
    of frequencies in the band (the constant frequency is not needed when ``K_low > 0``)."""
    sp = check_spatial(spatial)
    return _band("bandpass", sp, K_low, K_high, degree, channels,
                 f"Band-pass keeping {K_low} <= |m|_{degree} <= {K_high}.")


@register_target("derivative")
def derivative(spatial: Sequence[int] = (16,), axis: int = 0) -> LinearTarget:
    """Central difference ``(x(p + e) - x(p - e)) / 2`` along ``axis``: ``A(m) = i sin(omega)``,
    zero at ``m_axis in {0, d/2}``, so CBN rank ``d - (d / d_axis) * #{0, d_axis/2}``."""
    sp = check_spatial(spatial)
    values = 1j * np.sin(_angles(sp)[axis])
    # sin(pi) is 1.2e-16, not 0: set the zeros the definition has exactly (self-conjugate along
    # the axis), so that the multiplier is real there and the rank is right.
    grid = np.meshgrid(*[np.arange(n) for n in sp], indexing="ij")[axis]
    values[(2 * grid) % sp[axis] == 0] = 0.0
    return LinearTarget("derivative", _scalar(sp, values),
                        f"Central difference along axis {axis}: kills m_axis = 0 and Nyquist.")


@register_target("laplacian")
def laplacian(spatial: Sequence[int] = (8, 8)) -> LinearTarget:
    """Discrete Laplacian ``sum_i x(p + e_i) + x(p - e_i) - 2 x(p)``:
    ``A(m) = -4 sum_i sin^2(omega_i / 2)``, zero only at ``m = 0``: CBN rank ``d - 1``."""
    sp = check_spatial(spatial)
    values = -4.0 * sum(np.sin(w / 2) ** 2 for w in _angles(sp))
    return LinearTarget("laplacian", _scalar(sp, values),
                        "Discrete Laplacian: every frequency but the constant one.")


def newton_multipliers(spatial: Sequence[int]) -> np.ndarray:
    """Multipliers ``(*spatial, k, 1)`` of the Newtonian force field ``F = -grad_+ Phi``.

    ``Phi`` solves ``Delta Phi = rho - mean(rho)`` with the discrete (2k+1)-point Laplacian
    ``Delta = div_- grad_+`` (forward differences ``grad_+``, backward ``div_-``); so
    ``div_- F = mean(rho) - rho`` exactly (Gauss's law, ``4 pi G = 1``).
    ``F_i^(m) = -(exp(i omega_i) - 1) / lambda(m) rho^(m)`` with
    ``lambda(m) = -4 sum_i sin^2(omega_i / 2)``, and ``0`` at ``m = 0``.
    """
    sp = check_spatial(spatial)
    ang = _angles(sp)
    lam = -4.0 * sum(np.sin(w / 2) ** 2 for w in ang)
    lam_safe = np.where(lam == 0, 1.0, lam)
    cols = [np.where(lam == 0, 0.0, -(np.exp(1j * w) - 1) / lam_safe) for w in ang]
    return np.stack(cols, axis=-1)[..., None]


@register_target("newton_force")
def newton_force(spatial: Sequence[int] = (16, 16)) -> LinearTarget:
    """Newtonian force field of a periodic mass density (1 -> k channels, the gradient of the
    Poisson kernel): every non-constant frequency has a rank-1 block, CBN rank ``d - 1``."""
    return LinearTarget("newton_force", newton_multipliers(spatial),
                        "Newtonian force field F = -grad Phi, Delta Phi = rho - mean(rho).")


def _conjugate_fill(blocks: np.ndarray, spatial: tuple[int, ...]) -> np.ndarray:
    """Complete multipliers given on :func:`half_frequency_mask`: ``A(-m) = conj A(m)``."""
    half = half_frequency_mask(spatial)
    other = np.conj(negated_frequencies(blocks, len(spatial)))
    return np.where(half[..., None, None], blocks, other)


@register_target("random_ranks")
def random_ranks(
    spatial: Sequence[int] = (8,),
    c_out: int = 3,
    c_in: int = 3,
    ranks: np.ndarray | None = None,
    seed: int = 0,
) -> LinearTarget:
    """Random operator whose block at ``m`` has the prescribed rank ``ranks[m]`` (default
    ``max(0, 3 - |m|_inf)``, capped by the channels): CBN rank ``sum_m ranks[m]``.

    Blocks are ``U(m) V(m)^H`` with Gaussian factors (real at self-conjugate ``m``), and
    ``A(-m) = conj A(m)``; ``ranks`` must satisfy ``ranks[-m] = ranks[m]``.
    """
    sp = check_spatial(spatial)
    if ranks is None:
        ranks = np.minimum(np.maximum(0, 3 - frequency_degrees(sp)["linf"]), min(c_out, c_in))
    ranks = np.asarray(ranks, dtype=int)
    if ranks.shape != sp:
        raise ValueError(f"ranks must have shape {sp}, got {ranks.shape}")
    if not np.array_equal(ranks, negated_frequencies(ranks, len(sp))):
        raise ValueError("ranks must satisfy ranks[-m] = ranks[m] (a real operator)")
    if ranks.min() < 0 or ranks.max() > min(c_out, c_in):
        raise ValueError(f"ranks must lie in [0, {min(c_out, c_in)}]")
    rng = np.random.default_rng(seed)
    selfc = self_conjugate_mask(sp)
    blocks = np.zeros((*sp, c_out, c_in), dtype=np.complex128)
    for idx in zip(*np.nonzero(half_frequency_mask(sp))):
        r = int(ranks[idx])
        u = rng.standard_normal((c_out, r))
        v = rng.standard_normal((c_in, r))
        if not selfc[idx]:
            u = u + 1j * rng.standard_normal((c_out, r))
            v = v + 1j * rng.standard_normal((c_in, r))
        blocks[idx] = u @ np.conj(v).T
    return LinearTarget("random_ranks", _conjugate_fill(blocks, sp),
                        "Random operator with prescribed per-frequency ranks.")


@register_target("mixing")
def mixing(
    spatial: Sequence[int] = (8,), c_out: int = 3, c_in: int = 4, rank: int = 2, seed: int = 0
) -> LinearTarget:
    """Pointwise channel mixing ``f(x)(p) = C x(p)`` with a random ``C`` of rank ``rank``:
    ``A(m) = C`` at every frequency, CBN rank ``d * rank``."""
    sp = check_spatial(spatial)
    if not 0 <= rank <= min(c_out, c_in):
        raise ValueError(f"rank must lie in [0, {min(c_out, c_in)}], got {rank}")
    rng = np.random.default_rng(seed)
    C = rng.standard_normal((c_out, rank)) @ rng.standard_normal((rank, c_in))
    return LinearTarget("mixing", np.broadcast_to(C, (*sp, c_out, c_in)),
                        f"Pointwise channel mixing by a rank-{rank} matrix.")
