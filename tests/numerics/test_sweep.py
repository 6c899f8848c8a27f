"""Depth sweeps on linear targets against the closed form; executors and store in a real sweep."""

from __future__ import annotations

import tempfile

import numpy as np
import pytest

from cbn.numerics.executor import DaskExecutor, LocalExecutor, SerialExecutor
from cbn.numerics.search import SearchSettings, Start
from cbn.numerics.store import ResultStore
from cbn.numerics.sweep import SweepSpec, execute, execute_sweep, run_min_norm, summarize

#: derivative on d = 8: A(m) = i sin(2 pi m / 8), singular values in {0, 0.707, 1}: R0 = 6,
#: R1 = 8 log(1/sqrt 2) = -2.7726 (both exact), a well-conditioned target for depths 2..8.
#: Default start: the ladder.
DERIVATIVE = SweepSpec(
    target={"spec": "derivative", "params": {"spatial": [8]}}, depths=[2, 3, 4, 6, 8],
    seeds=1, n_samples=8, width=2, activation="identity", bias=False,
)

#: record fields that are computed (not timings, which the engine also records)
COMPUTED = ("norm_sq", "residual_max_abs", "residual_rel", "loss", "iterations", "converged",
            "stop_reason", "bound")


def _deterministic(record: dict) -> dict:
    return {k: record[k] for k in COMPUTED}


@pytest.fixture(scope="module")
def derivative_sweep(tmp_path_factory):
    store = ResultStore(tmp_path_factory.mktemp("store"))
    report = execute_sweep(DERIVATIVE, store, progress=False)
    return store, report, summarize(DERIVATIVE, report.records).to_dict()


def test_linear_sweep_matches_closed_form_and_expansion(derivative_sweep):
    _, report, s = derivative_sweep
    assert DERIVATIVE.init == "ladder" and s["init"] == "ladder"  # the default start
    assert report.computed == 5 and report.reused == 0
    # the depth-2 run starts the ladder at random; every deeper run starts from the previous
    assert [("ladder_from" in r.config) for r in report.records] == [False] + [True] * 4
    exact_r0, exact_r1 = 6, 8 * np.log(2 ** -0.5)  # by hand, see DERIVATIVE
    assert s["R0_exact"] == pytest.approx(exact_r0) and s["R1_exact"] == pytest.approx(exact_r1)
    # issue criterion: trained norms within 1e-4 (relative) of the closed form
    for norm, exact in zip(s["norm"], s["exact"]):
        assert abs(norm - exact) <= 1e-4 * exact, (norm, exact)
    # issue criterion: R0 rounds to the CBN rank, R1 within 5% of the exact value
    assert round(s["R0_fit"]) == exact_r0 and s["R0_integer"] == exact_r0
    assert abs(s["R1_fit"] - exact_r1) <= 0.05 * abs(exact_r1)
    lo, hi = s["R0_interval"]
    assert lo <= s["R0_fit"] <= hi
    assert s["R0_lower_bound"] == s["R0_upper_bound"] == exact_r0
    assert s["flags"] == [] and s["hints"] == []
    assert s["bound"]["norm"].startswith("upper bound")
    # CBN picture of the deepest linear net: one singular value per kept frequency in every
    # layer (6 frequencies, the two zeros of sin dropped)
    assert [c["total"] for c in s["deepest"]["layer_counts"]] == [6] * 8
    assert s["deepest"]["bottleneck_inequality"]["slack"] >= -1e-9


def conditioned_filter(d: int = 16, c: int = 8, seed: int = 0) -> tuple[np.ndarray, list]:
    """A real ``c -> c`` filter on ``d`` pixels with known multipliers: at ``m`` (and ``-m``)
    rank ``max(0, c - 2|m|)`` with singular values uniform in [0.5, 2] between random unitary
    factors (real at the self-conjugate ``m = 0, d/2``). Returns the filter and the singular
    values per ``m``."""
    from cbn.numerics.fourier import filters_from_multipliers

    rng = np.random.default_rng(seed)
    mult = np.zeros((d, c, c), dtype=complex)
    sv = [None] * d
    def unitary(real: bool) -> np.ndarray:
        z = rng.standard_normal((c, c))
        return np.linalg.qr(z if real else z + 1j * rng.standard_normal((c, c)))[0]

    for m in range(d // 2 + 1):
        real = m in (0, d // 2)
        s = rng.uniform(0.5, 2.0, max(0, c - 2 * min(m, d - m)))
        u, v = unitary(real), unitary(real)
        mult[m] = u[:, :len(s)] @ np.diag(s) @ v[:, :len(s)].conj().T
        sv[m] = s
        if not real:
            mult[d - m], sv[d - m] = np.conj(mult[m]), s
    return filters_from_multipliers(mult, "scaled"), sv


def test_multichannel_linear_ladder_sweep_matches_closed_form():
    """Issue 5, linear targets with 8 channels (random starts missed the data at depths >= 4):
    norms within 1e-4 of the closed form, R0 rounds to the CBN rank, R1 within 5%."""
    filters, sv = conditioned_filter()
    r0 = sum(len(s) for s in sv)  # 8 + 2 (6 + 4 + 2) = 32
    r1 = 2 * sum(np.sum(np.log(s)) for s in sv)  # paper_notes/theory.md section 3, by hand from the
                                                 # drawn values
    spec = SweepSpec(target={"filter": filters.tolist(), "convention": "scaled"},
                     depths=[2, 3, 4, 6, 8], seeds=1, n_samples=16, width=8,
                     activation="identity", bias=False)
    with tempfile.TemporaryDirectory() as folder:
        s = summarize(spec, execute_sweep(spec, ResultStore(folder),
                                          progress=False).records).to_dict()
    assert r0 == 32 and s["R0_exact"] == pytest.approx(r0, abs=1e-9)
    assert s["R1_exact"] == pytest.approx(r1, rel=1e-12)  # closed form = the drawn values
    for norm, exact in zip(s["norm"], s["exact"]):
        assert abs(norm - exact) <= 1e-4 * exact, (norm, exact)
    assert round(s["R0_fit"]) == r0 and s["R0_integer"] == r0
    # a linear target's reported lower bound is its CBN rank: ranks up to 8 per frequency sum
    # to 32 (not the 11 frequencies of nonzero rank)
    assert s["R0_lower_bound"] == r0
    assert abs(s["R1_fit"] - r1) <= 0.05 * abs(r1)
    assert s["flags"] == []
    # the deepest network keeps one singular value near 1 per kept direction in every layer
    assert [c["total"] for c in s["deepest"]["layer_counts"]] == [r0] * 8


def test_second_execution_is_served_from_store(derivative_sweep):
    store, first, summary = derivative_sweep
    again = execute_sweep(DERIVATIVE, store, progress=False)
    assert again.reused == 5 and again.computed == 0
    assert summarize(DERIVATIVE, again.records).to_dict()["norm"] == summary["norm"]


def test_truncated_record_is_recomputed_identically(derivative_sweep, tmp_path):
    store, first, _ = derivative_sweep
    config = first.records[3].config  # depth 6, started from the depth-4 run
    assert config["ladder_from"]["depth"] == 4
    json_path, npz_path = store.paths(first.records[3].key)
    npz_path.write_bytes(npz_path.read_bytes()[:100])
    again = execute([config], store, progress=False)
    assert again.recomputed_corrupt == 1 and again.computed == 1
    rec = again.records[0]
    assert _deterministic(rec.record) == _deterministic(first.records[3].record)
    for k, v in first.records[3].arrays.items():
        np.testing.assert_array_equal(rec.arrays[k], v)


def test_dask_local_and_serial_give_identical_runs(tmp_path):
    distributed = pytest.importorskip("distributed")
    configs = DERIVATIVE.run_configs()[:2]
    results = {}
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        executors = {"serial": SerialExecutor(), "local": LocalExecutor(1),
                     "dask": DaskExecutor(cluster.scheduler_address)}
        for name, ex in executors.items():
            with ex:
                rep = execute(configs, ResultStore(tmp_path / name), ex, progress=False)
            results[name] = rep.records
    for name in ("local", "dask"):
        for a, b in zip(results["serial"], results[name]):
            assert a.key == b.key
            assert _deterministic(a.record) == _deterministic(b.record), name
            for k in a.arrays:
                np.testing.assert_array_equal(a.arrays[k], b.arrays[k])  # bitwise


def test_run_min_norm_is_deterministic():
    config = DERIVATIVE.run_configs()[2]
    (r1, a1), (r2, a2) = run_min_norm(config), run_min_norm(config)
    assert _deterministic(r1) == _deterministic(r2)
    assert all(np.array_equal(a1[k], a2[k]) for k in a1)


def test_r0_lower_bound_sums_ranks_not_frequencies():
    """Targets of rank 2 per kept frequency: the lower bound is sum_m rank J_m, which counting
    the frequencies would halve. A linear target's Jacobian is its operator, so the bound is
    its CBN rank exactly; the ReLU bottleneck target meets its construction's upper bound."""
    from cbn.numerics.linear import ranks_per_frequency
    from cbn.numerics.sweep import target_r0_lower_bound
    from cbn.numerics.targets import get_target

    linear = get_target("lowpass", spatial=[8], K=2, channels=2)
    lower = target_r0_lower_bound(linear, linear.sample(6, 0))
    assert lower["rank_sum"] == linear.expected_cbn_rank() == 10
    assert lower["ranks"] == ranks_per_frequency(linear.linear_multipliers()).tolist()
    relu = get_target("bottleneck", spatial=[8], K=1, c_rep=2)
    assert target_r0_lower_bound(relu, relu.sample(10, 0))["rank_sum"] == 6
    assert relu.r0_upper_bound() == 6


@pytest.mark.parametrize("name,params", [
    ("bottleneck", {}),
    ("bottleneck_2d", {"spatial": [4, 4], "K": 1}),
    ("bottleneck", {"spatial": [10], "K": 2, "c_rep": 2, "c_in": 3, "c_out": 2, "hidden": 5}),
])
@pytest.mark.parametrize("data_seed", [0, 3])
def test_r0_lower_bound_finds_the_full_rank_of_a_bottleneck(name, params, data_seed):
    """The constant-input rank of a bottleneck target is full only where enough hidden ReLUs
    are active; the bound maximises over enough constant inputs to find such a point, so on
    these teachers it meets the construction's upper bound. With 3 inputs every case here
    falls short (``bottleneck`` and the 4x4 ``bottleneck_2d`` on data seed 0: 5 and 9, half)."""
    from cbn.numerics.sweep import target_r0_lower_bound
    from cbn.numerics.targets import get_target

    target = get_target(name, **params)
    lower = target_r0_lower_bound(target, target.sample(12, data_seed))
    assert lower["rank_sum"] == target.r0_upper_bound()


def test_bottleneck_construction_represents_target_with_upper_bound_slope():
    """The explicit network: f exactly, norm growing by sum_m dim V_m per added layer."""
    from cbn.numerics.spectra import forward, near_one_counts, weight_spectra
    from cbn.numerics.starts import construction_network
    from cbn.numerics.targets import get_target

    target = get_target("bottleneck", spatial=[8], K=1, c_rep=2)
    X = target.sample(10, 0)
    Y = target.evaluate(X)
    norms = []
    for depth in (4, 5, 7):
        net = construction_network(target, depth, width=6)
        filters, biases = net.filters, net.biases
        # same arithmetic through FFTs in another order: round-off ~1e-15 relative
        assert np.abs(forward(filters, biases, X)[-1] - Y).max() <= 1e-12 * np.abs(Y).max()
        norms.append(sum(np.sum(w**2) for w in filters) + sum(np.sum(b**2) for b in biases))
    upper = target.r0_upper_bound()
    assert upper == 6  # 2 channels x 3 frequencies |m| <= 1
    # each projection layer costs exactly trace P = 6 (round-off of an FFT of 0/1 multipliers)
    assert norms[1] - norms[0] == pytest.approx(upper, abs=1e-9)
    assert norms[2] - norms[1] == pytest.approx(2 * upper, abs=1e-9)
    middle = near_one_counts(weight_spectra(filters)[3])
    assert middle["counts"].sum() == upper and middle["max_dev_kept"] < 1e-12
    with pytest.raises(ValueError, match="depth >= 4"):
        construction_network(target, 3, 6)
    with pytest.raises(ValueError, match="no explicit"):
        construction_network(get_target("derivative"), 5, 6)


def test_pad_hidden_channels_keeps_function_and_norm():
    from cbn.numerics.spectra import forward
    from cbn.numerics.weights import Network

    rng = np.random.default_rng(3)
    shapes = [(2, 1), (3, 2), (1, 3)]
    filters = [rng.standard_normal((o, i, 6)) for o, i in shapes]
    biases = [rng.standard_normal(o) for o, _ in shapes]
    X = rng.standard_normal((5, 1, 6))
    padded = Network(filters, biases).padded(4)
    pf, pb = list(padded.filters), list(padded.biases)
    assert [f.shape[:2] for f in pf] == [(4, 1), (4, 4), (1, 4)]
    # same arithmetic plus zero channels: equal to round-off of the FFT convolutions
    np.testing.assert_allclose(forward(pf, pb, X)[-1], forward(filters, biases, X)[-1],
                               rtol=0, atol=1e-13)
    norm = sum(np.sum(w**2) for w in filters + biases)
    assert sum(np.sum(w**2) for w in pf + pb) == pytest.approx(norm, rel=1e-15)
    with pytest.raises(ValueError, match="more than width 2"):
        Network(filters, biases).padded(2)


def test_construction_flags_only_where_the_trained_norm_is_above():
    from cbn.numerics.sweep import construction_flags

    flags = construction_flags([4, 5, 6], [30.0, 40.0, 50.0], [None, 39.0, 51.0])
    assert len(flags) == 1 and flags[0].startswith("depth 5: best trained norm 40")
    assert "optimisation failure" in flags[0]
    assert construction_flags([4], [30.0], [30.0]) == []  # equal is not above


def test_perturb_filters_relative_seeded_and_reaches_zeros():
    from cbn.numerics.starts import perturb_filters

    rng = np.random.default_rng(5)
    w = rng.standard_normal((8, 8, 8))
    w[4:] = 0.0  # zero-padded channels, as in a construction
    filters = [w, np.zeros((2, 8, 8))]
    a, b = perturb_filters(filters, 0.3, 1), perturb_filters(filters, 0.3, 1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))  # seeded
    assert not np.array_equal(perturb_filters(filters, 0.3, 2)[0], a[0])
    assert np.all(a[0][4:] != 0.0)  # the zeros move: the start leaves the invariant set
    assert np.array_equal(a[1], filters[1])  # an all-zero layer has rms 0: unchanged
    # ||a - w|| / ||w|| = 0.3 ||Z|| / sqrt(n) with n = 512 entries: chi_512 / sqrt(512) lies
    # in [0.8, 1.2] with probability 1 - 1e-8 (and the seed is fixed)
    rel = np.linalg.norm(a[0] - w) / np.linalg.norm(w)
    assert 0.8 * 0.3 <= rel <= 1.2 * 0.3


def test_start_noise_enters_the_key_and_changes_the_start():
    from dataclasses import replace

    con = SweepSpec(target={"spec": "bottleneck", "params": {
        "spatial": [4], "K": 1, "c_rep": 1, "c_in": 1, "c_out": 1, "hidden": 2}}, depths=[4],
        seeds=1, n_samples=3, width=2, settings=SearchSettings(max_iter=20),
        start=Start("construction"))
    assert con.run_configs()[0]["start_noise"] == 0.0
    noisy = replace(con, start=Start("construction", noise=0.3))
    assert noisy.run_configs()[0]["start_noise"] == 0.3
    with pytest.raises(ValueError, match="start_noise"):
        replace(con, start=Start("construction", noise=-1.0))
    with pytest.raises(ValueError, match="init='random'"):
        replace(con, start=Start("random", noise=0.1))
    plain, _ = run_min_norm(con.run_configs()[0])
    (r1, a1), (r2, a2) = (run_min_norm(noisy.run_configs()[0]) for _ in range(2))
    assert all(np.array_equal(a1[k], a2[k]) for k in a1)  # seeded: bitwise the same
    assert r1["norm_sq"] != plain["norm_sq"]  # the perturbed start reached the engine


#: ReLU target of the issue's second item: ``bottleneck`` on d = 8 with one input, one output and
#: ONE representation channel kept on |m| <= 1 (hidden 4), so R0 <= 3 (construction); the ranks
#: of the target's constant-input Jacobian blocks are [1, 1, 0, 0, 0, 0, 0, 1], sum 3, a LOWER
#: bound on R0 for the target prescribed on an open set around those inputs. 12 samples are not
#: such a set, but here the bound is also the cheapest bottleneck the data leave: a middle
#: representation must be non-negative (frequency 0 kept) and not invariant under any shift
#: (else the outputs would be), so it needs a conjugate pair m = +-1 or +-3 as well: 3 values.
#: With 2 representation channels (bound 6) that argument still gives only 3, and the trained
#: nets there drifted below 6 with depth (README): that target cannot check "between 6 and 6" on
#: finite data. Start: the construction, every filter entry perturbed by 3% of its layer's rms
#: (``start_noise``): unperturbed, its dropped frequencies are exact zeros that no gradient
#: moves, so "the rest near 0" would be inherited, not found. Measured (README): the ladder's
#: nets carry the output's single channel at all 8 frequencies through the deep layers instead
#: (norms 23.55, 27.48, 34.59, 49.45, 63.83 at depths 4, 5, 6, 8, 10: slope 8.6, flagged);
#: depth 4 is pre-asymptotic (the perturbed search keeps extra frequencies there at 21.19, and
#: with it the 3-term fit flags an unresolved R0 of 2.08), so the depths start at 5. Budget:
#: max_iter 60000 (inner 2000); every run then ends with the restoration step. 5 depths for the
#: R2/L term: with 4 the slope is the pre-asymptotic 2.7.
BOTTLENECK = dict(target={"spec": "bottleneck",
                          "params": {"spatial": [8], "K": 1, "c_rep": 1, "c_in": 1, "c_out": 1,
                                     "hidden": 4}},
                  depths=[5, 6, 8, 10, 12], seeds=1, n_samples=12, width=8, activation="relu",
                  bias=True, settings=SearchSettings(max_iter=60000, inner_iter=2000),
                  start=Start("construction", noise=0.03))


@pytest.mark.full
def test_relu_bottleneck_sweep_between_bounds_with_cbn_counts(tmp_path):
    """Issue 5's ReLU bottleneck item: the fitted R0 lies between the constant-input lower bound
    and the construction's upper bound, and the middle layers of the deepest trained network keep
    the construction's frequencies (one singular value near 1 at m = 0, +-1, the rest near 0,
    from a start where the rest were perturbed away from 0). 10 minutes on 2 cores."""
    spec = SweepSpec(**BOTTLENECK)
    with LocalExecutor(2) as ex:
        report = execute_sweep(spec, ResultStore(tmp_path), ex, progress=False)
    s = summarize(spec, report.records).to_dict()
    layers = s["deepest"]["layer_counts"]
    runs = [(r.config["depth"], r.record["norm_sq"], r.record["residual_rel"])
            for r in report.records]
    print(f"\nruns (depth, norm, residual_rel): {sorted(runs)}\nR0_fit={s['R0_fit']} "
          f"interval={s['R0_interval']} R1_fit={s['R1_fit']} "
          f"bounds=[{s['R0_lower_bound']}, {s['R0_upper_bound']}]\ncounts per layer (deepest, "
          f"split 0.5): {[c['counts'] for c in layers]}\nkept |s - 1| <= "
          f"{[c['max_dev_kept'] for c in layers]}\ndropped <= {[c['max_dropped'] for c in layers]}"
          f"\nconstant-input Jacobian ranks of the deepest trained net: "
          f"{s['deepest']['bottleneck_inequality']['jacobian_ranks']}\nflags={s['flags']}")
    assert s["R0_lower_bound"] == 3 and s["R0_upper_bound"] == 3
    # every depth fits the data, norms increase, R0 resolved: nothing flags a failed search
    assert s["flags"] == []
    # fitted slope between the bounds, within 0.25: the ambiguity threshold of cbn.numerics.fitting
    assert s["R0_lower_bound"] - 0.25 <= s["R0_fit"] <= s["R0_upper_bound"] + 0.25
    # CBN picture (paper_notes/theory.md section 4): in every layer but the first and the last, the
    # construction's
    # frequencies |m| <= 1 keep one singular value near 1 and the rest are near 0; "near" is
    # the theory's O(L^{-1/2}) with constant 1 (0.29 at depth 12)
    depth = max(spec.depths)
    keep = [1, 1, 0, 0, 0, 0, 0, 1]
    for layer in layers[1:-1]:
        assert layer["counts"] == keep
        assert layer["max_dev_kept"] <= depth ** -0.5
        assert layer["max_dropped"] <= depth ** -0.5
    assert s["deepest"]["bottleneck_inequality"]["jacobian_ranks"] == keep


def test_ladder_chains_depths_and_resumes(tmp_path):
    from dataclasses import replace

    from cbn.numerics.sweep import execute_ladder

    spec = replace(DERIVATIVE, depths=[2, 3, 4], start=Start("ladder"), n_samples=4,
                   target={"spec": "derivative", "params": {"spatial": [4]}})
    store = ResultStore(tmp_path)
    first = execute_ladder(spec, store, progress=False)
    assert first.computed == 3
    by_depth = {r.config["depth"]: r for r in first.records}
    assert "ladder_from" not in by_depth[2].config
    for L, prev in ((3, 2), (4, 3)):
        start = by_depth[L].config["ladder_from"]
        assert start["depth"] == prev and start["biases"] is None  # a bias-free network
        np.testing.assert_array_equal(np.asarray(start["filters"][0]),
                                      by_depth[prev].arrays["filter_0"])
    s = summarize(spec, first.records).to_dict()
    for norm, exact in zip(s["norm"], s["exact"]):
        assert abs(norm - exact) <= 1e-4 * exact  # issue criterion on linear targets
    again = execute_ladder(spec, store, progress=False)
    assert again.reused == 3 and again.computed == 0


#: a sweep small enough to run many times: derivative on d = 4 (A(m) = i sin(pi m / 2), exact
#: R0 = 2), 4 samples, width 2
SMALL = SweepSpec(target={"spec": "derivative", "params": {"spatial": [4]}}, depths=[2, 3, 4],
                  seeds=1, n_samples=4, width=2, activation="identity", bias=False)


def test_spec_start_values():
    from dataclasses import replace

    assert SMALL.init == "ladder"
    assert replace(SMALL, start=Start(None)).init == "random"  # the historical spelling
    with pytest.raises(ValueError, match="init must be one of"):
        replace(SMALL, start=Start("warm"))
    with pytest.raises(ValueError, match="ladder_restarts"):
        replace(SMALL, ladder_restarts=0)
    # a ladder's random starts carry their attempts and the fitting criterion in their key
    ladder = SMALL.run_configs()[0]
    assert ladder["start_attempts"] == 3 and ladder["residual_rtol"] == SMALL.residual_rtol
    assert "start_attempts" not in replace(SMALL, start=Start("random")).run_configs()[0]


def _mark_runs(monkeypatch, change):
    """Wrap the engine: ``change(depth, seed, from_start, result)`` may edit each result (to
    fake a run that misses the data). Returns the list of calls (depth, engine seed, warm)."""
    import cbn.numerics.search.fit as mn

    real, calls = mn.search_once, []

    def fake(data, architecture, network, seed, settings, path=False):
        res = real(data, architecture, network, seed, settings, path)
        calls.append((architecture.depth, seed, network is not None))
        change(architecture.depth, seed, network is not None, res)
        return res

    monkeypatch.setattr(mn, "search_once", fake)
    return calls


def _miss(res):
    res.residual_rel = 1.0


def test_ladder_base_tries_random_starts_until_one_fits(tmp_path, monkeypatch):
    from dataclasses import replace

    spec = replace(SMALL, depths=[2, 3], seeds=2)
    # engine seeds 0 and 3 miss the data: seed 0 tries 0, 1; seed 1 tries 3, 4 (3 attempts each)
    calls = _mark_runs(monkeypatch, lambda L, seed, warm, res: _miss(res)
                       if (L, seed, warm) in ((2, 0, False), (2, 3, False)) else None)
    report = execute_sweep(spec, ResultStore(tmp_path), progress=False)
    assert calls == [(2, 0, False), (2, 1, False), (2, 3, False), (2, 4, False),
                     (3, 0, True), (3, 1, True)]  # deeper rungs: one warm start each
    base = {r.config["seed"]: r.record for r in report.records if r.config["depth"] == 2}
    assert [a["seed"] for a in base[0]["start_attempts"]] == [0, 1] and base[0]["seed"] == 1
    assert [a["seed"] for a in base[1]["start_attempts"]] == [3, 4] and base[1]["seed"] == 4
    assert base[0]["start_attempts"][0]["residual_rel"] == 1.0
    assert not [f for f in summarize(spec, report.records).to_dict()["flags"] if "fits" in f]


def test_ladder_restarts_from_the_last_fitting_rung_and_flags_misses(tmp_path, monkeypatch):
    """A rung that misses the data is flagged and never used as a start; a rung whose norm is
    below the closed form is flagged too (the flags do not depend on how runs start)."""
    from dataclasses import replace

    def change(L, seed, warm, res):
        if L == 3:
            _miss(res)
        if L == 6:
            res.norm_sq *= 0.5  # a fake result below the exact cost, at the deepest depth

    _mark_runs(monkeypatch, change)
    spec = replace(SMALL, depths=[2, 3, 4, 6])
    report = execute_sweep(spec, ResultStore(tmp_path), progress=False)
    by_depth = {r.config["depth"]: r for r in report.records}
    assert by_depth[4].config["ladder_from"]["depth"] == 2  # depth 3 missed: skipped
    assert by_depth[6].config["ladder_from"]["depth"] == 4
    s = summarize(spec, report.records).to_dict()
    assert any(f.startswith("depth 3: no seed fits") for f in s["flags"])
    # a network that misses the data bounds nothing: the depth is shown, not fitted
    assert 3 in s["excluded_depths"] and 3 not in s["fit"]["depths"]
    assert any(f.startswith("depth 6: norm") and "is below the exact cost" in f
               for f in s["flags"])
    assert any(f.startswith("depth 6: norm") and "is below depth 4's" in f for f in s["flags"])
    # every depth misses the data: each rung starts at random with all its attempts
    calls = _mark_runs(monkeypatch, lambda L, seed, warm, res: _miss(res))
    report = execute_sweep(replace(SMALL, depths=[2, 3], ladder_restarts=2),
                           ResultStore(tmp_path / "none"), progress=False)
    assert calls == [(2, 0, False), (2, 1, False), (3, 0, False), (3, 1, False)]
    assert all("ladder_from" not in r.config for r in report.records)


def test_ladder_from_depth_one_starts_depth_two_at_random(tmp_path):
    """A depth-1 network has no hidden layer (of the sweep's width) to pad after."""
    from dataclasses import replace

    spec = replace(SMALL, depths=[1, 2, 3])
    report = execute_sweep(spec, ResultStore(tmp_path), progress=False)
    starts = {r.config["depth"]: r.config.get("ladder_from", {}).get("depth")
              for r in report.records}
    assert starts == {1: None, 2: None, 3: 2}
    s = summarize(spec, report.records).to_dict()
    for norm, exact in zip(s["norm"], s["exact"]):
        assert abs(norm - exact) <= 1e-4 * exact  # issue criterion on linear targets
