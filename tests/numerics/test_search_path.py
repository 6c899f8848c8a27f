"""The weight-decay path start (cbn.numerics.search.path): the bottleneck of relu(P_K x) found
from a random start (and the plateau stop that ends its crawl), the collapse back-off, and a
user's file target that exposes only ``evaluate`` and ``sample`` giving the built-in's
numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cbn.numerics.inputs import InputError
from cbn.numerics.network import CircularCNN
from cbn.numerics.search import Architecture, SearchSettings, Start, min_norm_fit
from cbn.numerics.search.path import COLLAPSE_RTOL, FIT_RTOL, ridge_path
from cbn.numerics.spectra import near_one_counts, weight_spectra
from cbn.numerics.starts import construction_network
from cbn.numerics.store import ResultStore
from cbn.numerics.sweep import SweepSpec, execute_sweep, summarize
from cbn.numerics.targets import get_target
from cbn.numerics.targets.base import REGISTRY

#: relu(P_1 x) on an 8-grid: the kept frequencies are m = 0, 1, 7 (|m| <= 1 circularly).
KEPT = np.array([True, True, False, False, False, False, False, True])


def _lowpass_data(n: int = 12):
    target = get_target("relu_lowpass", spatial=[8], K=1)
    X = target.sample(n, 0)
    return target, X, target.evaluate(X)


def _kept(filters: list[np.ndarray]) -> list[np.ndarray]:
    """Per middle layer (2 .. L-1) and frequency: a singular value of the multiplier (scaled
    convention) above the project's split 0.5, shape ``(d,)`` each."""
    return [near_one_counts(s)["counts"] > 0 for s in weight_spectra(filters)[1:-1]]


def test_path_start_keeps_exactly_the_lowpass_frequencies_in_the_middle():
    target, X, Y = _lowpass_data()
    depth = 6
    arch = Architecture.uniform(depth, 4)
    found = min_norm_fit(X, Y, arch, Start.path(0))
    # the fit is exact (the search's own criterion) and certifies an upper bound
    assert found.residual_rel <= 1e-6 and found.bound == "upper"
    # below the explicit network of the factorisation: the search found at least as good a
    # network without reading it (the construction is used only here, to check)
    built = construction_network(target, depth, 4, X)
    assert found.norm_sq <= built.norm_sq()
    # every middle layer carries the kept frequencies (singular value ~1 each in the
    # construction) and nothing else: the dropped ones decay to ~1e-2 or below, the kept ones
    # stay near 1, so 0.5 separates them with room on both sides
    for kept in _kept(found.filters)[1:-1]:
        assert np.array_equal(kept, KEPT)
    # the run ended on its own, before the budget: converged, or stalled (no progress, or the
    # plateau rule, whose condition the record's history then shows: norm fell by <=
    # plateau_rtol relative over the last plateau_steps outer iterations)
    defaults = SearchSettings()
    assert found.iterations < defaults.max_iter
    assert found.status.value in ("converged", "stalled")
    if "norm plateaued" in found.message:
        norms = [h[2] for h in found.settings["history"][-defaults.plateau_steps - 1:]]
        assert norms[0] - min(norms) <= defaults.plateau_rtol * norms[-1]
    # the record lists every attempt's stages, each attempt starting sqrt(10) lower
    stages = found.settings["path"]
    assert sorted({s["attempt"] for s in stages}) == list(range(defaults.path_attempts))
    for a in range(defaults.path_attempts):
        mine = [s for s in stages if s["attempt"] == a]
        assert mine[0]["lam"] == pytest.approx(defaults.path_lam_start * 10.0 ** (-a / 2))
        assert mine[-1]["lam"] >= defaults.path_lam_floor * (1 - 1e-9)


def test_a_random_start_without_the_path_does_not_find_it():
    # the contrast that makes the test above mean something: same data, depth and seed
    _, X, Y = _lowpass_data()
    # (measured: the plain start does not even fit the data at this width, phase 1 stalls)
    found = min_norm_fit(X, Y, Architecture.uniform(6, 4), Start.random(0))
    bottleneck = all(np.array_equal(k, KEPT) for k in _kept(found.filters)[1:-1])
    assert not (found.residual_rel <= 1e-6 and bottleneck)


def test_the_path_tries_every_start_and_keeps_the_least_norm_end():
    _, X, Y = _lowpass_data()
    net = CircularCNN([1, 4, 4, 4, 1], (8,), seed=3)
    with torch.no_grad():
        norm0 = float(net.parameter_norm_sq())
    # lam = 1 leaves only the zero network (fitting networks here have norms ~10-20): the
    # first attempts collapse (measured: down to lam 1e-2 on this small start); every attempt
    # starts sqrt(10) lower than the one before
    settings = SearchSettings(path_lam_start=1.0, path_stage_iter=100, path_attempts=8,
                              history_size=50)
    stages = ridge_path(net, torch.as_tensor(X), torch.as_tensor(Y), settings)
    assert sorted({s.attempt for s in stages}) == list(range(settings.path_attempts))
    for a in range(settings.path_attempts):
        first = next(s for s in stages if s.attempt == a)
        assert first.lam == pytest.approx(10.0 ** (-a / 2))
    assert [s for s in stages if s.attempt == 0][-1].norm_sq <= COLLAPSE_RTOL * norm0
    # the network is left at the end of least norm among the attempts that neither collapsed
    # nor ended far from the data
    ends = [[s for s in stages if s.attempt == a][-1] for a in range(settings.path_attempts)]
    good = [e for e in ends if e.norm_sq > COLLAPSE_RTOL * norm0 and e.residual_rel <= FIT_RTOL]
    assert len(good) >= 2  # a choice was made
    with torch.no_grad():
        assert float(net.parameter_norm_sq()) == pytest.approx(min(e.norm_sq for e in good),
                                                               rel=1e-12)


def test_path_start_is_deterministic_and_rejects_a_network_or_noise():
    _, X, Y = _lowpass_data(8)
    settings = SearchSettings(max_iter=400, path_stage_iter=50)
    runs = [min_norm_fit(X, Y, Architecture.uniform(4, 3), Start.path(5), settings)
            for _ in range(2)]
    assert runs[0].norm_sq == runs[1].norm_sq
    assert all(np.array_equal(a, b) for a, b in zip(runs[0].filters, runs[1].filters))
    with pytest.raises(InputError, match="path start has no network"):
        Start("path", network=CircularCNN([1, 2, 1], (8,), seed=0))
    with pytest.raises(InputError, match="init='path' has none"):
        Start("path", noise=0.1)
    with pytest.raises(InputError, match="path_stages must be > 0"):
        SearchSettings(path_stages=0)


WRAPPED = '''
import numpy as np
from cbn.numerics.targets import Target, get_target

_INNER = get_target("relu_lowpass", spatial=[8], K=1)


class Wrapped(Target):
    """relu(P_1 x) seen only through evaluate and sample."""
    c_in, c_out, spatial, symmetry = 1, 1, (8,), "equivariant"

    def sample(self, n, seed):
        return _INNER.sample(n, seed)

    def evaluate(self, x):
        return _INNER.evaluate(x)
'''


def test_a_user_file_target_gets_the_builtin_numbers(tmp_path):
    path = tmp_path / "wrapped.py"
    path.write_text(WRAPPED)
    saved = dict(REGISTRY)
    settings = SearchSettings(max_iter=300, path_stage_iter=40)
    try:
        out = {}
        for name, target in (("user", {"spec": f"{path}:Wrapped", "params": {}}),
                             ("builtin", {"spec": "relu_lowpass",
                                          "params": {"spatial": [8], "K": 1}})):
            spec = SweepSpec(target=target, depths=[3, 4], seeds=1, n_samples=8, width=3,
                             settings=settings, start=Start("path"))
            report = execute_sweep(spec, ResultStore(tmp_path / name), progress=False)
            out[name] = summarize(spec, report.records).to_dict()
    finally:
        REGISTRY.clear()
        REGISTRY.update(saved)
    # the search reads nothing of the target but its samples: the same numbers to round-off
    # (the runs are bitwise deterministic; 1e-12 leaves room for nothing else)
    np.testing.assert_allclose(out["user"]["norm"], out["builtin"]["norm"], rtol=1e-12)


def test_a_path_sweep_also_starts_from_the_padded_shallower_run(tmp_path):
    settings = SearchSettings(max_iter=600, path_stage_iter=40, path_stages=4)
    spec = SweepSpec(target={"spec": "relu_lowpass", "params": {"spatial": [8], "K": 1}},
                     depths=[4, 5], seeds=1, n_samples=8, width=3, settings=settings,
                     start=Start("path"))
    report = execute_sweep(spec, ResultStore(tmp_path), progress=False)
    shallow, deep = (r.record for r in report.records)
    # the smallest depth has no shallower run: the path alone
    assert [t["start"] for t in shallow["start_attempts"]] == ["path"]
    assert shallow["start"] == "path"
    assert shallow["residual_rel"] <= settings.residual_rtol  # a rung to pad
    # the deeper run tried both and kept the fitting one of least norm, and says which
    tried = deep["start_attempts"]
    assert [t["start"] for t in tried] == ["path", "depth-4 run padded"]
    fitting = [t for t in tried if t["residual_rel"] <= settings.residual_rtol]
    kept = min(fitting, key=lambda t: t["norm_sq"]) if fitting else \
        min(tried, key=lambda t: (t["residual_rel"], t["norm_sq"]))
    assert deep["start"] == kept["start"] and deep["norm_sq"] == kept["norm_sq"]
