"""Diverged runs: a best norm orders of magnitude above an upper bound in hand is reported as
diverged, left out of the depth fit, and never gives an R0. Seeds that fit but end far apart
get a note.

The planted runs are real networks: a fitted linear network with its first layer multiplied by
``t`` and its second divided by ``t`` computes the same function (it still fits the data) while
its norm grows like ``t^2``: exactly what a search that ran away along the rescaling valley
returns."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
from test_sweep import DERIVATIVE  # the same sweep as the closed-form tests

from cbn.figures.commands.fit import print_summary
from cbn.numerics.guards import DIVERGED_RATIO, diverged_depths
from cbn.numerics.store import ResultStore, StoredRecord
from cbn.numerics.sweep import execute_sweep, summarize
from cbn.numerics.sweep.evidence import SEED_SPREAD_RTOL
from cbn.numerics.weights import Network


@pytest.fixture(scope="module")
def derivative_records(tmp_path_factory):
    report = execute_sweep(DERIVATIVE, ResultStore(tmp_path_factory.mktemp("store")),
                           progress=False)
    return report.records


def _rescaled(rec: StoredRecord, t: float) -> StoredRecord:
    """The record's network with layer 0 times ``t`` and layer 1 over ``t`` (same function)."""
    stored = Network.from_arrays(rec.arrays, activation="identity")
    filters, biases = list(stored.filters), stored.biases
    assert all(not np.any(b) for b in biases)  # DERIVATIVE is bias-free: zero biases stored
    filters = [filters[0] * t, filters[1] / t, *filters[2:]]
    X, Y = DERIVATIVE.data()
    out = Network(filters, None, "identity", DERIVATIVE.convention)(X)
    residual_rel = float(np.linalg.norm(out - Y) / np.linalg.norm(Y))
    assert residual_rel <= DERIVATIVE.residual_rtol  # the planted run still fits the data
    arrays = {**rec.arrays, **{f"filter_{i}": f for i, f in enumerate(filters)}}
    norm_sq = Network(filters, None, "identity").norm_sq()
    return StoredRecord(rec.key, rec.config, {**rec.record, "norm_sq": norm_sq,
                                              "residual_rel": residual_rel}, arrays)


def _plant(records, depths, t=1e3):
    return [_rescaled(r, t) if r.config["depth"] in depths else r for r in records]


def test_diverged_depth_is_flagged_and_left_out_of_the_fit(derivative_records):
    s = summarize(DERIVATIVE, _plant(derivative_records, {4})).to_dict()
    exact4 = s["exact"][s["depths"].index(4)]
    assert s["norm"][s["depths"].index(4)] > 1e5 * exact4  # the plant is absurd
    assert s["diverged_depths"] == [4] and s["excluded_depths"] == [4]
    (flag,) = [f for f in s["flags"] if "diverged" in f]
    assert flag.startswith("depth 4: diverged: best norm") and "(closed form)" in flag
    assert s["fit"]["depths"] == [2, 3, 6, 8]
    # the other depths still give the exact CBN rank (the plant would make R0 ~1e6)
    assert s["R0_integer"] == 6 and abs(s["R0_fit"] - 6) < 0.5


def test_too_many_diverged_depths_give_no_r0(derivative_records):
    s = summarize(DERIVATIVE, _plant(derivative_records, {2, 3, 4})).to_dict()
    assert s["diverged_depths"] == [2, 3, 4]
    assert s["R0_fit"] is None and s["R0_integer"] is None and s["fit"] is None
    text = io.StringIO()
    print_summary({**s, "store": {"folder": "-", "reused": 0, "computed": 0, "seconds": 0.0}},
                  file=text)
    out = text.getvalue()
    assert "R0_fit = n/a" in out
    assert sum(line.startswith("FLAG: depth") and "diverged" in line
               for line in out.splitlines()) == 3


def test_deepest_picture_skips_a_diverged_deepest_depth(derivative_records):
    s = summarize(DERIVATIVE, _plant(derivative_records, {8})).to_dict()
    assert s["diverged_depths"] == [8] and s["deepest"]["depth"] == 6


def test_undisturbed_sweep_has_no_divergence(derivative_records):
    s = summarize(DERIVATIVE, derivative_records).to_dict()
    assert s["diverged_depths"] == [] and not [f for f in s["flags"] if "diverged" in f]


def test_diverged_depths_takes_the_least_bound_and_the_ratio_threshold():
    bounds = {"closed form": [10.0, None], "explicit construction": [20.0, 5.0], "none": None}
    # depth 2: least bound 10 (closed form); depth 3: only the construction's 5
    below = diverged_depths([2, 3], [DIVERGED_RATIO * 10.0 * 0.999, 5.0], bounds)
    assert below == []
    (d,) = diverged_depths([2, 3], [DIVERGED_RATIO * 10.0, 5.0], bounds)
    assert (d.depth, d.bound, d.source) == (2, 10.0, "closed form")
    assert d.ratio == pytest.approx(DIVERGED_RATIO)
    (d,) = diverged_depths([2, 3], [1.0, 1e4], bounds)
    assert (d.depth, d.bound, d.source) == (3, 5.0, "explicit construction")


def _second_seed(records, t_at: dict[int, float]):
    """A seed-1 twin of every record, rescaled by ``t_at[depth]`` where given (same function,
    larger norm: a second search that stopped at a worse point)."""
    twins = []
    for r in records:
        w = _rescaled(r, t_at[r.config["depth"]]) if r.config["depth"] in t_at else r
        twins.append(StoredRecord(w.key + "x", {**w.config, "seed": 1}, w.record, w.arrays))
    return twins


def test_a_diverged_seed_does_not_hide_a_good_one(derivative_records):
    """With two seeds per depth the best (least) norm that fits is kept: one diverged seed at a
    depth is not a diverged depth."""
    spec = replace(DERIVATIVE, seeds=2)
    planted = _plant(derivative_records, {4}) + _second_seed(derivative_records, {})
    s = summarize(spec, planted).to_dict()
    assert s["diverged_depths"] == [] and s["R0_integer"] == 6


def _spread_notes(s: dict) -> list[str]:
    return [n for n in s["notes"] if "seeds that fit end" in n]


def test_seeds_that_fit_far_apart_get_a_note(derivative_records):
    spec = replace(DERIVATIVE, seeds=2)
    assert _spread_notes(summarize(spec, derivative_records
                                   + _second_seed(derivative_records, {})).to_dict()) == []
    norm = {r.config["depth"]: r.record["norm_sq"] for r in derivative_records}
    ratios = []
    for t in (1.3, 1.05, 1.02):
        s = summarize(spec, derivative_records
                      + _second_seed(derivative_records, {4: t})).to_dict()
        worse = _rescaled(next(r for r in derivative_records if r.config["depth"] == 4), t)
        ratio = worse.record["norm_sq"] / norm[4]
        ratios.append(ratio)
        if ratio > 1 + SEED_SPREAD_RTOL:
            assert _spread_notes(s) == [
                f"depth 4: the 2 seeds that fit end {ratio - 1:.1%} apart ({norm[4]:.6g} .. "
                f"{worse.record['norm_sq']:.6g}): the search stops in different local minima "
                f"here, so the best norm is an upper bound that more seeds may lower"]
        else:
            assert _spread_notes(s) == [], ratio
    assert ratios[0] > 1 + SEED_SPREAD_RTOL > ratios[-1]  # both branches were taken
    # the best norm and the fit are those of seed 0: the note changes nothing else
    assert s["norm"][s["depths"].index(4)] == norm[4] and s["R0_integer"] == 6


def test_a_seed_that_misses_the_data_does_not_count_as_spread(derivative_records):
    spec = replace(DERIVATIVE, seeds=2)
    missed = [StoredRecord(r.key, r.config, {**r.record, "residual_rel": 1.0}, r.arrays)
              if r.config["depth"] == 4 else r
              for r in _second_seed(derivative_records, {4: 1.3})]
    assert _spread_notes(summarize(spec, derivative_records + missed).to_dict()) == []
