"""The JSON schema of ``cbn fit --json`` (README), pinned key by key on a real small sweep.

The key sets are written out here, not read from :class:`cbn.numerics.sweep.SweepSummary`:
renaming, adding or dropping a field of the summary must fail this test (and then change the
README and every consumer of the JSON together).
"""

from __future__ import annotations

import json

from cbn.figures.cli import main

TOP = ["target", "description", "linear_detected", "spatial", "channels", "activation",
       "convention", "width", "n_samples", "seeds", "depths", "norm", "residual",
       "residual_rtol", "runs", "exact", "construction_norm", "init", "start_noise", "solver",
       "R0_exact", "R1_exact", "R2_exact", "R0_lower_bound", "R0_lower_bound_detail",
       "R0_upper_bound", "R0_fit", "R0_integer", "R1_fit", "R2_fit", "R0_interval",
       "R1_interval", "fit", "truncation_bias", "excluded_depths", "diverged_depths",
       "padded_bound", "deepest", "flags", "notes", "hints", "bound", "store"]
DEEPEST = ["depth", "key", "layer_counts", "split", "bottleneck_inequality"]
INEQUALITY = ["bound_total", "norm_sq", "slack", "rank_term", "log_pdet_term",
              "jacobian_ranks", "bound"]
BOUND = ["norm", "exact", "construction_norm", "padded_bound", "R0_fit", "R1_fit",
         "R0_interval", "R0_lower_bound", "R0_upper_bound"]
FIT = ["depths", "norms", "R0_free", "R1_free", "R2_free", "residuals_free", "R0_interval",
       "R0_resolved", "R0_source", "R0", "R1", "R2", "R1_interval", "residuals",
       "correction_powers", "method"]
RUN = ["seed", "norm_sq", "residual_max_abs", "residual_rel", "converged", "key"]
STORE = ["folder", "reused", "computed", "recomputed_corrupt", "seconds"]


def test_fit_json_keys_and_their_order(tmp_path, capsys):
    # three depths of a linear target: the depth fit exists, so ``fit`` has its keys
    code = main(["fit", "derivative", "--param", "spatial=[8]", "--samples", "8", "--width",
                 "2", "--workers", "1", "--quiet", "--depths", "2,3,4", "--seeds", "1",
                 "--store", str(tmp_path / "s"), "--json"])
    assert code == 0
    s = json.loads(capsys.readouterr().out)
    assert list(s) == TOP
    assert list(s["deepest"]) == DEEPEST
    assert list(s["deepest"]["bottleneck_inequality"]) == INEQUALITY
    assert list(s["bound"]) == BOUND
    assert list(s["fit"]) == FIT
    assert [list(r) for runs in s["runs"] for r in runs] == [RUN] * 3
    assert list(s["store"]) == STORE
