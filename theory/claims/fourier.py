"""Claims of paper_notes/theory.md section 1: signals, circular convolutions, frequencies."""

from __future__ import annotations

from cbn.theory.claims import Claim

_SRC = "paper_notes/theory.md section 1 (standard Fourier algebra; Sedghi, Gupta, Long 2019)"
_PROTOCOL = ("random Gaussian filters (3x2 channels) and signals, 1-D and 2-D grids of odd and "
             "even sizes (quick: 6, 5, 4x6), both conventions, float64, seed fixed")
_TOL = "max error <= 1e-12 (FFT round-off on O(1) data is ~1e-15)"

CLAIMS = [
    Claim("fourier.multiplier", r"$(W * x)^\wedge(m) = M(m)\,\hat x(m)$ with "
          r"$M(m) = d^{-1/2}\hat W(m)$ (scaled) or $\hat W(m)$ (plain)", _SRC,
          "exact identity", _PROTOCOL + "; conv summed pixel by pixel from the definition, "
          "with the convention factor written in the check", _TOL,
          "cbn.numerics.checks.fourier:check_multiplier"),
    Claim("fourier.fft_equals_dense", "the FFT convolution and the dense (doubly block) "
          "circulant operator both equal the convolution summed pixel by pixel from its "
          "definition", _SRC, "exact identity", _PROTOCOL + "; the oracle writes the factor "
          "d^{-1/2} (scaled) itself instead of sharing cbn.numerics.fourier.scale_factor",
          _TOL, "cbn.numerics.checks.fourier:check_fft_equals_dense"),
    Claim("fourier.parseval", r"$\|W\|_F^2 = \sum_m \|M(m)\|_F^2$ (scaled), "
          r"$\frac1d \sum_m \|M(m)\|_F^2$ (plain)", _SRC, "exact identity", _PROTOCOL,
          "max relative error <= 1e-12", "cbn.numerics.checks.fourier:check_parseval"),
    Claim("fourier.conjugate_pairs", r"real filters: $M(-m) = \overline{M(m)}$, self-conjugate "
          "blocks are real, a conjugate pair has equal singular values", _SRC,
          "exact identity", _PROTOCOL, _TOL, "cbn.numerics.checks.fourier:check_conjugate_pairs"),
    Claim("fourier.downsampling_folding", r"$(S_s x)^\wedge(k) = s^{-k}\sum_j \hat x(k + j d/s)$",
          _SRC, "exact identity", "random signals on 8 (s=2), 6x4 (s=2); full adds 12 (s=3), "
          "9x6 (s=3), 16x8 (s=4)", _TOL, "cbn.numerics.checks.fourier:check_downsampling_folding"),
]
