"""Exact cyclotomic DFTs: entries agree with numpy's FFT, ranks are exact."""

from __future__ import annotations

import numpy as np
import sympy as sp

from cbn.theory.exact_dft import exact_dft, exact_ranks, exact_squared_singular_values


def test_exact_dft_entries_match_numpy():
    filters = [[[[1, -2, 0], [3, 0, 1]]]]  # (1, 1, 2, 3)
    field, blocks, n = exact_dft(filters, (2, 3))
    assert n == 6
    numeric = np.fft.fftn(np.array(filters, float), axes=(2, 3))[0, 0]
    for m, block in blocks.items():
        value = complex(sp.N(field.to_sympy(block.to_list()[0][0]), 30))
        assert abs(value - numeric[m]) < 1e-13


def test_exact_rank_of_outer_product_filter():
    # W_ij(p) = u_i v_j h(p): every block is rank 1 where h^(m) != 0, and 0 where h^(m) = 0.
    u, v, h = [1, 2], [1, -1, 3], [1, 0, 1, 0]  # h^ = [2, 0, 2, 0]
    filters = [[[ui * vj * hp for hp in h] for vj in v] for ui in u]
    assert exact_ranks(filters, (4,)) == {(0,): 1, (1,): 0, (2,): 1, (3,): 0}


def test_squared_singular_values_of_scalar_filter():
    # One channel: lambda(m) = |h^(m)|^2; h = [1, 1] on d = 2: h^ = [2, 0].
    lams = exact_squared_singular_values([[[1, 1]]], (2,), digits=30)
    assert abs(float(lams[(0,)][0]) - 4.0) < 1e-25 and lams[(1,)] == []
