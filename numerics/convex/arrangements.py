"""Hyperplane-arrangement patterns ``D = diag(1[Z g >= 0])`` of a data matrix (Pilanci & Ergen).

The patterns of the central arrangement ``{g : z_n . g = 0}`` in ``R^p`` are the sign vectors of
its open cells. Exact enumeration walks the rays of the arrangement (intersections of ``r - 1``
hyperplanes, ``r = rank Z``) and, around each ray, every orthant of the hyperplanes through it;
each pattern comes from an explicit point ``g`` (it is realised, not guessed). A central
arrangement of ``N'`` distinct hyperplanes in ``R^r`` has at most
``2 sum_{k<r} C(N'-1, k)`` cells (equality in general position), so finding that many patterns
proves the list complete: only then is ``exact`` True. Otherwise patterns are sampled from
Gaussian ``g`` and ``exact`` is False (the convex value is then an UPPER bound).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from math import comb

import numpy as np

#: Relative tolerance (to the largest |z_n . h|) below which a data point is considered to lie
#: on a ray's hyperplane; data in our programs are O(1), round-off of the SVD is ~1e-15.
ON_HYPERPLANE_RTOL = 1e-10
#: Largest number of candidate (ray, orthant) pairs walked by the exact enumeration.
MAX_EXACT_CANDIDATES = 200_000


@dataclass(frozen=True)
class Patterns:
    """Arrangement patterns of a data matrix.

    Attributes
    ----------
    masks : bool array, shape (P, N): ``masks[i, n] = 1[z_n . g_i >= 0]``; the all-zero
        pattern is dropped (a neuron that is never active contributes nothing)
    exact : True iff the list is provably complete (cell count reaches the upper bound)
    cell_bound : the upper bound ``2 sum_{k<r} C(N'-1, k)`` on the number of cells
    method : 'enumerated' or 'sampled'
    """

    masks: np.ndarray
    exact: bool
    cell_bound: int
    method: str


def _reduced(Z: np.ndarray) -> np.ndarray:
    """Coordinates of the rows of ``Z`` in its row space: ``(N, r)``."""
    _, s, vh = np.linalg.svd(Z, full_matrices=False)
    r = int(np.sum(s > 1e-12 * (s.max() if s.size else 0.0)))
    return Z @ vh[:r].T


def _distinct_hyperplanes(B: np.ndarray) -> np.ndarray:
    """One normal per distinct hyperplane (rows equal up to a nonzero factor merged)."""
    norms = np.linalg.norm(B, axis=1)
    nz = B[norms > 1e-12 * max(float(norms.max(initial=0.0)), 1e-300)]
    unit = nz / np.linalg.norm(nz, axis=1, keepdims=True)
    first = np.argmax(np.abs(unit) > 1e-9, axis=1)
    unit = unit * np.sign(unit[np.arange(len(unit)), first])[:, None]
    keys = np.round(unit, 9)
    _, idx = np.unique(keys, axis=0, return_index=True)
    return nz[np.sort(idx)]


def cell_bound(n_hyperplanes: int, rank: int) -> int:
    """Maximal number of cells of a central arrangement of ``n`` hyperplanes in ``R^rank``."""
    if n_hyperplanes == 0 or rank == 0:
        return 1
    return 2 * sum(comb(n_hyperplanes - 1, k) for k in range(rank))


def _enumerate(B: np.ndarray, H: np.ndarray) -> np.ndarray:
    r = B.shape[1]
    found = []
    if r == 1:
        found = [B[:, 0] >= 0, B[:, 0] <= 0]
        return np.array(found)
    for subset in itertools.combinations(range(len(H)), r - 1):
        Hs = H[list(subset)]
        _, s, vh = np.linalg.svd(Hs)
        if s.min() <= 1e-10 * s.max():
            continue
        ray = vh[-1]
        pinv = np.linalg.pinv(Hs)
        on_ray = B @ ray
        scale = float(np.abs(on_ray).max())
        off = np.abs(on_ray) > ON_HYPERPLANE_RTOL * scale
        for direction in (1.0, -1.0):
            for signs in itertools.product((1.0, -1.0), repeat=r - 1):
                delta = pinv @ np.array(signs)
                move = np.abs(B @ delta)
                ratio = np.abs(on_ray[off]) / np.maximum(move[off], 1e-300)
                eps = 0.5 * float(ratio.min()) if ratio.size else 1.0
                g = direction * ray + eps * delta
                found.append(B @ g >= 0)
    return np.array(found)


def arrangement_patterns(
    Z: np.ndarray,
    max_patterns: int = 4096,
    n_samples: int = 2000,
    rng: np.random.Generator | None = None,
) -> Patterns:
    """Patterns ``1[Z g >= 0]`` of the data matrix ``Z`` (rows = samples).

    Parameters
    ----------
    Z : array, shape (N, p)
    max_patterns : enumerate exactly when the cell bound is at most this; sample otherwise
    n_samples : number of Gaussian directions when sampling
    rng : generator for sampling (default ``numpy.random.default_rng(0)``)
    """
    Z = np.asarray(Z, dtype=np.float64)
    B = _reduced(Z)
    r = B.shape[1]
    if r == 0:  # Z = 0: one cell, every neuron sees 0 (the pattern is all ones, Z v = 0)
        return Patterns(masks=np.ones((1, Z.shape[0]), dtype=bool), exact=True, cell_bound=1,
                        method="enumerated")
    H = _distinct_hyperplanes(B)
    bound = cell_bound(len(H), r)
    candidates = comb(len(H), max(r - 1, 0)) * 2 ** r
    if bound <= max_patterns and candidates <= MAX_EXACT_CANDIDATES:
        masks = np.unique(_enumerate(B, H), axis=0)
        cells = len(masks)
        if cells > bound:
            raise RuntimeError(f"found {cells} arrangement cells, more than the bound {bound}")
        method, exact = "enumerated", cells == bound
    else:
        rng = np.random.default_rng(0) if rng is None else rng
        g = rng.standard_normal((r, n_samples))
        masks = np.unique((B @ g >= 0).T, axis=0)
        method, exact = "sampled", False
    masks = masks[masks.any(axis=1)]
    return Patterns(masks=masks, exact=bool(exact), cell_bound=int(bound), method=method)
