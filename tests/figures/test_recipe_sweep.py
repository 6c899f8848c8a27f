"""The figures get their networks from the sweep API: the ``cbn_spectra`` ladder is the one
``cbn fit`` runs with the same sizes, budgets and seeds (issue 15: no private ladder in
figures/)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cbn.figures.cli import main
from cbn.figures.recipes import cbn_spectra
from cbn.figures.recipes._common import min_norm_ladder, sweep_spec
from cbn.numerics.search import Start
from cbn.numerics.store import ResultStore
from cbn.numerics.weights import Network


def test_figure_ladder_is_the_ladder_of_cbn_fit(tmp_path, capsys):
    cfg = cbn_spectra.config("tiny")["1d"]
    ladder = min_norm_ladder(cfg)
    code = main(["fit", "relu_lowpass", "--param", f"spatial={cfg['spatial']}", "--param",
                 f"K={cfg['K']}", "--samples", str(cfg["samples"]), "--seed", str(cfg["seed"]),
                 "--width", str(cfg["width"]),
                 "--depths", ",".join(map(str, cfg["depths"])), "--seeds", "1",
                 "--init", "ladder", "--ladder-restarts", "1", "--max-iter", str(cfg["max_iter"]),
                 "--inner-iter", str(cfg["inner_iter"]), "--workers", "1", "--quiet",
                 "--store", str(tmp_path / "s"), "--json"])
    assert code == 0
    s = json.loads(capsys.readouterr().out)
    assert [r.depth for r in ladder] == s["depths"] == cfg["depths"]
    # the same runs in the same order on one thread: equal to the last bit, not to a tolerance
    assert [r.norm_sq for r in ladder] == [runs[0]["norm_sq"] for runs in s["runs"]]
    assert [r.residual_rel for r in ladder] == [runs[0]["residual_rel"] for runs in s["runs"]]
    deepest = ResultStore(tmp_path / "s").load_key(s["runs"][-1][0]["key"])
    mine, theirs = ladder[-1], Network.from_arrays(deepest.arrays)
    for a, b in zip([*mine.filters, *mine.biases], [*theirs.filters, *theirs.biases]):
        np.testing.assert_array_equal(a, b)
    assert ladder[-1].status.value == deepest.record["status"]


def test_figure_sweep_refuses_a_seed_the_engine_does_not_use():
    cfg = {**cbn_spectra.config("tiny")["1d"], "seed": 1}
    with pytest.raises(ValueError, match="seed must be 0"):
        sweep_spec(cfg, Start("ladder"), cfg["depths"])
