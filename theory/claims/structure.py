"""Claims on the structure of trained networks: the CBN in the weights, Fourier sparsity."""

from __future__ import annotations

from cbn.theory.claims import Claim

CLAIMS = [
    Claim("structure.cbn_weights_linear",
          r"a near-minimal-norm deep linear CNN has, in its middle layers and at every "
          r"frequency $m$, $\mathrm{rank}\,A(m)$ singular values near 1 and the rest near 0 "
          "(the CBN in the weights)",
          "paper_notes/theory.md sections 3-4 (balanced optimum; [WJ24] bottleneck structure)",
          "empirical prediction",
          "low-pass target (|m| <= 1 kept, multiplier 1) on d = 8, 1 channel, scaled; 16 "
          "Gaussian inputs; depth 6, widths 2; cbn.numerics.search.min_norm_fit from a random "
          "start (seed 0, one restart); full: d = 16, |m| <= 2, depth 10",
          "residual <= 1e-8, norm within [-1e-8, 1e-4] of the closed form, and in every middle "
          "layer the per-frequency count of singular values > 0.5 equals rank A(m), kept ones "
          "within 0.05 of 1, dropped ones below 0.05",
          "cbn.numerics.checks.structure:check_cbn_weights_linear"),
    Claim("structure.gunasekar_sparsity",
          r"gradient descent on separable data with the logistic loss makes the predictor of a "
          r"depth-$L$ single-channel linear CNN Fourier-sparse, more so as $L$ grows; at $L=2$ "
          r"its direction approaches the $\ell_1$-of-DFT max-margin solution",
          "Gunasekar, Lee, Soudry, Srebro 2018; "
          "paper_notes/theory.md section 3", "empirical prediction",
          "10 Gaussian inputs in R^16 labelled by a frequency-3 cosine teacher (seed 0); "
          "full-batch GD, lr 2.0, 1500 steps, init scale 0.1; depths 1, 2, 3 (full: 1-4); "
          "effective support (sum|b^|)^2 / sum|b^|^2; max-margin by cbn.numerics.convex (Clarabel)",
          "every run separates the data, effective support strictly decreasing in L, "
          "cos(L = 2 predictor, Fourier-l1 max-margin) > 0.9 and > its cosine with the l2 "
          "max-margin; oracles: the support metric gives d, 2, 1, 4 on a delta, one pair, a "
          "constant and two pairs (to 1e-12), the l1 value equals ||F beta||_1 summed over all "
          "frequencies and its certified gap is <= 1e-6 relative (solver tolerance)",
          "cbn.numerics.checks.structure:check_gunasekar_sparsity"),
]
