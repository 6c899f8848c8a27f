"""Claims on trained ReLU networks inside the bottleneck: activations at a large stable learning
rate, and the kept set under stride-2 down-sampling."""

from __future__ import annotations

from cbn.theory.claims import Claim

CLAIMS = [
    Claim("bottleneck.activation_large_lr",
          "with training that is stable under a large learning rate, the hidden "
          "representations inside the bottleneck are supported on the kept frequencies: at "
          "the largest stable rate their energy off the kept set is a visibly smaller share "
          "than at a small rate",
          "[WJ24], [J23]; paper_notes/theory.md section 4", "empirical prediction",
          "target relu(P_K x), d = 8, K = 1 (3 of 8 frequencies kept), 16 Gaussian inputs; "
          "ReLU circular CNNs with biases, depth 4, 3 channels, full-batch GD on "
          "loss + 0.01 ||theta||^2 (cbn.numerics.search.ridge_fit), from the same random "
          "starts (seeds 0, 1) at lr 0.01 and at the largest stable rate, for equal "
          "gradient-flow time lr x steps = 8. Largest stable rate: geometric bisection "
          "(2 steps) in [0.01, 0.08] over full-time runs; stable = objective finite and "
          "decreasing over its last 6 steps and at most 1.1x the small rate's at equal time, "
          "for every seed. Per hidden layer E_l(m) = (1/d) sum_x sum_c |a_l(x)^(m)_c|^2; "
          "share = off-kept energy / non-constant energy, averaged over hidden layers 2..L-1. "
          "Full: d = 16, K = 2, 32 inputs, depth 6, 6 channels, time 30, lr 0.005, "
          "bracket [0.005, 0.16], 4 bisections, seeds 0-3",
          "largest stable rate >= 1.5x the small one, the small rate stable, and the share "
          "ratio large/small <= 0.5 in geometric mean over seeds with every seed's ratio < 1 "
          "(at least halved: an effect visible on a log axis)",
          "cbn.numerics.checks.bottleneck:check_activation_large_lr", expected="fail",
          finding="below the stability edge gradient descent tracks gradient flow, so at "
                  "equal gradient-flow time the largest stable rate (measured 0.0168, 1.7x "
                  "the small 0.01; 0.028 already leaves the stability rule) ends at the same "
                  "activations: share ratios 0.87 and 1.00 per seed, geometric mean 0.93 in "
                  "quick mode; no visible concentration on the kept frequencies. The "
                  "weight-decay time of these runs is 2 x 0.01 x 8 = 0.16: the penalty has "
                  "barely acted, so this measures the early phase only; near the ridge "
                  "minimiser (decay time >> 1) the statement is not tested here",
          # the finding is "no visible effect": a geometric-mean ratio within 30% of 1;
          # below 0.7 the large rate starts to concentrate, above 1.3 it spreads
          finding_band={"quick": (0.7, 1.3)}),
    Claim("bottleneck.stride2_survival",
          "a network with a stride-2 layer inside the bottleneck keeps exactly the folded "
          "image of the kept set when no two kept frequencies fold together",
          "[WJ24] (the structure survives down-sampling); paper_notes/theory.md sections 1, 4",
          "empirical prediction",
          "target P_K x (1-D low-pass), d = 16, K = 2, 12 Gaussian inputs; one-channel ReLU "
          "net of depth 4 with stride 2 after the first layer (middle layers on the 8-pixel "
          "grid, zero-insertion up-sampling before the last), built from the factorisation "
          "P_K x + B >= 0 and refined by cbn.numerics.search.min_norm_fit (300 L-BFGS "
          "iterations); full: d = 32, K = 3, depth 6, 32 inputs, 2000 iterations",
          "the folding rule says the kept set survives stride 2, every middle layer's count "
          "of singular values above 0.5 equals the folded kept set exactly, dropped values "
          "<= 0.05, and residual <= 1e-4 relative (the net still computes P_K x)",
          "cbn.numerics.checks.bottleneck:check_stride2_survival"),
]
