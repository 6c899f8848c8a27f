"""Claims of paper_notes/theory.md sections 3 (depth 2 on data) and 5 (shallow ReLU convex
programs)."""

from __future__ import annotations

from cbn.theory.claims import Claim

_S3 = "paper_notes/theory.md section 3 (L = 2 is convex; our derivation of the closed form)"
_S5 = "paper_notes/theory.md section 5; Pilanci & Ergen 2020"

CLAIMS = [
    Claim("convex.interpolation_closed_form",
          r"$\min \sum_m \|A(m)\|_*$ s.t. $A(m)X(m) = Y(m)$ is attained by "
          r"$A(m) = Y(m)X(m)^+$ for every feasible instance (also rank-deficient $X(m)$), and "
          r"real depth-2 filters fitting the data have $\|\theta\|^2 = 2\sum_m\|A(m)\|_*$",
          _S3, "exact identity",
          "random data from random filters: (N, c_in, c_out, grid) = (3,4,2,6), (6,2,3,4x3), "
          "(1,3,3,5) [+ (8,16,16,64), (5,5,5,6x6) in full]; halved cvxpy program with SCS at "
          "eps 1e-9 where small",
          "closed form vs SCS <= 1e-7 relative (two solves at 1e-9); rebuilt fit and norm "
          "<= 1e-10 (round-off)",
          "cbn.numerics.checks.convex:check_interpolation_closed_form"),
    Claim("convex.relu2_rebuild",
          "the two-layer ReLU network rebuilt from the convex solution (exact arrangement "
          "patterns) attains the convex optimum; fully connected and circular",
          _S5, "exact identity",
          "N = 8 points in R^2 (biases none/penalized/free, beta = 0.1) and N = 6 signals on "
          "Z_4 (circular, both conventions, beta = 0.05), Clarabel at 1e-9 [+ interpolation "
          "and beta = 1 in full]",
          "|network objective - value| / value <= 1e-7, |fit_loss + penalty - value| / value "
          "<= 1e-7 (the reported parts add up) and all patterns exact",
          "cbn.numerics.checks.convex:check_relu2_rebuild"),
    Claim("convex.savarese_1d",
          r"scalar inputs, free biases, cost $\frac12\sum(w_j^2 + \alpha_j^2)$: the minimal "
          r"cost of interpolating data equals $\min_f \max(\int|f''|, |f'(-\infty) + "
          r"f'(+\infty)|)$ over interpolants (Savarese et al. 2019)",
          "Savarese et al. 2019; paper_notes/theory.md section 5", "exact identity",
          "4 [20] data sets of 5-8 points, alternately random and almost linear (where the "
          "end-slope term decides); convex interpolation program (Clarabel) vs an LP over the "
          "end slopes of the linear spline (HiGHS)",
          "relative difference <= 1e-6 (equality-constrained solve at 1e-9)",
          "cbn.numerics.checks.convex:check_savarese"),
    Claim("convex.circular_group_norm_factor",
          r"circular two-layer ReLU network (unit-norm circular filter, linear readout), "
          r"scaled convention: the convex group norm is $(\beta/\sqrt d)\sum_i \|F v_i\|_1$",
          "paper_notes/theory.md section 5 (our derivation)", "exact identity",
          "N = 6 signals on Z_4, Z_6 [+ Z_8, Z_3 x Z_3]; beta = 0.05; program with the "
          "d^{-1/2} factor vs the scaled network's optimum (convex program with factor 1, "
          "rebuilt and attained; the tests show training never goes below it)",
          "relative difference <= 1e-7",
          "cbn.numerics.checks.convex:check_circular_factor",
          expected="fail",
          finding="For f(x) = sum_j alpha_j relu(<a_j, u_j * x>) with a scaled convolution "
                  "the neuron's minimal cost is kappa sum_m ||F v(m)||_2 with kappa = 1 "
                  "(F v = F a conj(F u), Cauchy-Schwarz with sum |F u|^2 = 1); the factor "
                  "d^{-1/2} of paper_notes/theory.md belongs to the plain convention. With "
                  "d^{-1/2} the "
                  "program's value lies below every scaled network's objective (48-66% "
                  "lower on Z_4, Z_6, Z_8, Z_3 x Z_3 at beta = 0.05).",
          # pinned: the worst relative difference, 0.58236 (Z_4, Z_6) and 0.65627 (+ Z_8,
          # Z_3 x Z_3); two Clarabel solves at 1e-9 move it by ~1e-7, so +-1e-5 is margin
          finding_band={"quick": (0.58235, 0.58237), "full": (0.65626, 0.65628)}),
]
