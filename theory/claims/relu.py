"""Claims of paper_notes/theory.md sections 2 and 4: ReLU circular CNNs, bounds and structure."""

from __future__ import annotations

from cbn.theory.claims import Claim

_SRC = "paper_notes/theory.md section 4 (our derivation, after [WJ24] and [J23])"
_NETS = ("random ReLU CNNs with biases: depths 2-6, widths 1-4, grids 4, 5, 6, 3x3, 2x4, "
         "alternating conventions, seed fixed; a random constant input each")

CLAIMS = [
    Claim("relu.constant_input_blocks",
          r"at a constant input the Jacobian is block-diagonal in frequency, "
          r"$J_m = M_L(m) D_{L-1} \cdots D_1 M_1(m)$; at a generic input it is not", _SRC,
          "exact identity", _NETS + "; central differences (step 1e-6) vs the formula; quick: "
          "20 nets", "off-diagonal ratio and block error <= 1e-7 at constant inputs; median "
          "off-diagonal ratio > 0.05 at generic inputs",
          "cbn.numerics.checks.relu:check_constant_input_blocks"),
    Claim("relu.schatten_lower_bound",
          r"$\|\theta\|^2 \ge L\sum_m \|J_m(x)\|_{S_{2/L}}^{2/L}$ for every network and "
          "constant input x, with equality for balanced linear networks", _SRC, "inequality",
          _NETS + "; quick: 100 nets; equality cases: cbn.numerics.linear.minimal_norm_weights of "
          "random 3x2 targets on 6, 5, 3x4, depths 1-5, both conventions (quick: 6, full: 30)",
          "min (norm - bound)/norm >= -1e-12 on the random nets and max |norm - bound|/norm "
          "<= 1e-12 on the equality cases (round-off; a wrong exponent is off by > 1e-2)",
          "cbn.numerics.checks.relu:check_schatten_bound"),
    Claim("relu.bottleneck_inequality",
          r"$\|\theta\|^2 \ge \sum_m [k_m L + 2\log|J_m|_+ + \sum_l(\sum_{i\le k_m}(s_i-1)^2 + "
          r"\sum_{i>k_m} s_i^2)]$, with equality for linear networks whose kept singular "
          r"values are 1", _SRC, "inequality", _NETS + "; quick: 100 nets; equality cases: "
          "cbn.numerics.checks.relu.bottleneck_equality_nets (orthogonal frames, kept values 1, "
          "dropped values in (0.1, 0.9), ranks 0-3 per frequency; quick: 6, full: 30)",
          "min (norm - bound)/norm >= -1e-12 on the random nets and max |norm - bound|/norm "
          "<= 1e-12 on the equality cases (round-off)",
          "cbn.numerics.checks.relu:check_bottleneck_inequality"),
    Claim("relu.fully_connected",
          "d = 1: a circular CNN is exactly a fully-connected network, and its constant-input "
          "Jacobian is W_L D_{L-1} ... D_1 "
          "W_1", "paper_notes/theory.md section 2; [J23]", "exact identity",
          "10 random ReLU nets with biases evaluated on 7 inputs, both conventions",
          "max abs difference <= 1e-12", "cbn.numerics.checks.relu:check_fully_connected_network"),
    Claim("relu.construction_upper_bound",
          r"if $f = h\circ g$ with $g \ge 0$ kept on subspaces $V_m$, layers with multiplier "
          r"$P_{V_m}$ are the identity on $g$ and cost $\sum_m \dim V_m$ each, so "
          r"$R_0 \le \sum_m \dim V_m$; with the constant-input ranks, "
          r"$\sum_m \mathrm{rank} J_m \le R_0 \le \sum_m \dim V_m$", _SRC, "inequality",
          "built-in target 'bottleneck' (d = 8, |m| <= 1 kept, 2 representation channels: "
          "sum dim V_m = 6); Target.construction of bottleneck at depths 4, 5, 7 (full: up to "
          "16) on 10 samples (full: 40); Jacobian ranks by central differences at the constant "
          "inputs of cbn.numerics.sweep.constant_inputs",
          "construction output equals f to 1e-12 relative, norm slope per layer equals "
          "sum dim V_m to 1e-9, and the Jacobian lower bound equals it (both 6: the bounds "
          "meet, R0 = 6)",
          "cbn.numerics.checks.relu:check_construction_upper_bound"),
]
