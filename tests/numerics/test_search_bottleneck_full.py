"""The default ReLU search on the 1-D bottleneck teacher (``-m full``, about 20 minutes each on
2 cores): ``cbn fit bottleneck`` with the default start (the weight-decay path with revival and
the padded shallower run) finds, from random starts that read only the samples, networks that
fit every depth and whose deepest middle layers keep exactly the teacher's frequencies
``m = 0, +-1``. What it does not yet reach is the second test's goal: norms within 2% of the
perturbed construction's at every depth and the slope ``R0 = 3``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cbn.figures.cli import main
from cbn.numerics.search import Architecture, SearchSettings, Start, min_norm_fit
from cbn.numerics.starts import construction_network
from cbn.numerics.targets import get_target

PARAMS = {"spatial": [8], "K": 1, "c_rep": 1, "c_in": 1, "c_out": 1, "hidden": 4}
COMMON = [*(a for k, v in PARAMS.items() for a in ("--param", f"{k}={json.dumps(v)}")),
          "--depths", "5,6,8,10,12", "--samples", "12", "--width", "8", "--workers", "2",
          "--quiet", "--json"]
#: The teacher keeps one representation channel on m = 0, 1, 7 of the 8-grid.
KEPT = [1, 1, 0, 0, 0, 0, 0, 1]


def _sweep(capsys, store, *extra: str) -> dict:
    assert main(["fit", "bottleneck", *COMMON, "--store", str(store), *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One store for the module: the second test reuses the first test's default sweep."""
    return tmp_path_factory.mktemp("bottleneck")


@pytest.mark.full
def test_default_search_finds_the_teachers_bottleneck(store, capsys):
    s = _sweep(capsys, store / "default")
    assert s["init"] == "path"
    # every depth fits the samples (the search's criterion, residual_rel <= 1e-6)
    assert not any("no seed fits" in f for f in s["flags"])
    # each norm is an upper bound at most the explicit construction's (itself an upper bound,
    # computed from the teacher's weights, not by the search)
    target = get_target("bottleneck", **PARAMS)
    X = target.sample(12, 0)
    for L, norm in zip(s["depths"], s["norm"]):
        assert norm <= construction_network(target, L, 8, X).norm_sq()
    # the deepest network: the layers where the construction has its projectors (3 .. L-2)
    # keep exactly the teacher's frequencies (a singular value above 0.5 at m = 0, +-1 and
    # nowhere else; the measured run kept them in layers 2 .. L-1)
    layers = s["deepest"]["layer_counts"]
    assert len(layers) == 12
    for layer in layers[2:-2]:
        assert [min(c, 1) for c in layer["counts"]] == KEPT, layer


@pytest.mark.full
@pytest.mark.xfail(strict=True, reason="measured 2-7% above the perturbed construction at "
                   "depths 6-12 (README, Starts): the goal is not reached yet")
def test_default_search_matches_the_perturbed_construction(store, capsys):
    found = _sweep(capsys, store / "default")
    reference = _sweep(capsys, store / "construction", "--seeds", "1", "--init",
                       "construction", "--start-noise", "0.03", "--max-iter", "60000",
                       "--inner-iter", "2000", "--set", "plateau_rtol=0")
    ratios = np.array(found["norm"]) / np.array(reference["norm"])
    assert np.all(ratios <= 1.02), ratios
    assert abs(found["R0_fit"] - 3) <= 0.3, found["R0_fit"]


@pytest.mark.full
def test_the_path_needs_revival_on_the_teacher():
    # depth 8, seed 2: without revival two of the three path attempts end at a residual of 2e-2
    # with channels switched off and the third keeps more structure; the search then ends at
    # 53.5. With revival the same start fits at 34.7 (measured; the perturbed construction
    # reaches 33.9). 1.2 leaves room for round-off chaos on another machine, not for the
    # difference itself.
    target = get_target("bottleneck", **PARAMS)
    X = target.sample(12, 0)
    Y = target.evaluate(X)
    arch = Architecture.uniform(8, 8)
    revived = min_norm_fit(X, Y, arch, Start.path(2))
    plain = min_norm_fit(X, Y, arch, Start.path(2), SearchSettings(path_revive_rtol=0.0))
    assert revived.residual_rel <= 1e-6 and plain.residual_rel <= 1e-6
    assert plain.norm_sq > 1.2 * revived.norm_sq
    assert all(stage["revived"] == 0 for stage in plain.settings["path"])
