"""Claims of paper_notes/theory.md section 3: linear CNNs, exact results."""

from __future__ import annotations

from cbn.theory.claims import Claim

_SRC = ("paper_notes/theory.md section 3 (our derivation; [WJ24] for linear CNNs; Gunasekar et al. "
        "2018)")

CLAIMS = [
    Claim("linear.closed_form",
          r"$R(A;L) = L\sum_m\sum_i s_i(A(m))^{2/L}$ (plain: times $1/d$), attained by balanced "
          r"real filters", _SRC, "exact identity",
          "random Gaussian targets 2x2 on 6, 3x2 on 5, 2x3 on 4x4; depths 1,2,3,6; both "
          "conventions; construction of cbn.numerics.linear.minimal_norm_weights",
          "relative representation and norm errors <= 1e-10; filters exactly real",
          "cbn.numerics.checks.linear:check_closed_form"),
    Claim("linear.no_network_beats",
          r"every linear CNN representing $A$ has $\|\theta\|^2 \ge R(A;L)$", _SRC,
          "inequality", "200 random real linear CNNs (depths 1-6, widths 1-3, grids 4, 5, 3x3, "
          "2x4, alternating conventions)", "min (norm - R)/R >= -1e-12 (round-off)",
          "cbn.numerics.checks.linear:check_no_network_beats"),
    Claim("linear.balanced",
          r"optimal weights are balanced: $s_i(M_l(m)) = s_i(A(m))^{1/L}$", _SRC,
          "exact identity", "construction at depths 2 and 4 on the closed-form targets",
          "max deviation <= 1e-10", "cbn.numerics.checks.linear:check_balanced"),
    Claim("linear.depth_two_nuclear", r"$R(A;2) = 2\sum_m \|A(m)\|_*$ (convex)", _SRC,
          "exact identity", "2x3 channels on d=4; nuclear norm of each block from its SDP "
          "(SCS, eps 1e-9)", "relative difference <= 1e-6 (SCS accuracy)",
          "cbn.numerics.checks.linear:check_depth_two_nuclear"),
    Claim("linear.fully_connected",
          r"$d=1$: $R(A;L) = L\sum_i s_i(A)^{2/L}$, the fully-connected cost of [J23]",
          "[J23]; "
          "paper_notes/theory.md sections 2-3", "exact identity", "5 random 4x3 matrices, depths "
          "1, 2, 5, 12", "max relative error <= 1e-13",
          "cbn.numerics.checks.linear:check_fully_connected"),
    Claim("linear.exact_ground_truth",
          "exact cyclotomic DFT ranks and 30-digit costs of integer filters equal the float64 "
          "closed form", "our derivation (exact arithmetic in Q(zeta_n))", "exact identity",
          "two integer filters (2x2 on 6, 2x1 on 2x3), depths 1, 2, 3, 10, both conventions",
          "ranks equal; relative cost error <= 1e-12",
          "cbn.numerics.checks.linear:check_exact_ground_truth"),
    Claim("linear.expansion",
          r"$R(A;L) = L R_0 + R_1 + R_2/L + O(L^{-2})$ with $R_0 = \sum_m \mathrm{rank} A(m)$, "
          r"$R_1 = 2\sum_m \log|A(m)|_+$, $R_2 = 2\sum (\log s)^2$ (coefficients from sympy)",
          _SRC, "asymptotic scaling", "a 3x3 target of rank 1 at every frequency of d=6 (CBN "
          "rank 6); remainder at L = 16..256; log-log slope by least squares",
          "R0 == 6 and |slope + 2| < 0.1", "cbn.numerics.checks.linear:check_expansion"),
    Claim("linear.rescaling",
          r"$R_0(cA) = R_0(A)$ and $R(cA; L) = c^{2/L} R(A; L)$ for every $c > 0$ (the rank "
          r"rule is scale-free)", _SRC, "exact identity",
          "exactly rank-deficient targets (3x3 on 6 through 1 channel, 4x3 on 3x4 through 2; "
          "full: also 5x5 on 16 through 3, 2x4 on 5x5 through 1); c = 1e-12, 1e-6, 1e6, 1e12; "
          "depths 1, 2, 3, 8, 32; both conventions",
          "R0 and every per-frequency rank unchanged; relative cost error <= 1e-12 (round-off)",
          "cbn.numerics.checks.linear:check_rescaling"),
]
