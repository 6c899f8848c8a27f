"""The default ReLU search on the 1-D bottleneck teacher (``-m full``; the default sweep took
7535 s of CPU, the construction's about 20 minutes, on 2 cores): ``cbn fit bottleneck`` with
the default start (the weight-decay path with revival and the padded shallower run) finds, from
random starts that read only the samples, networks that fit every depth, whose deepest middle
layers keep exactly the teacher's frequencies ``m = 0, +-1``, with norms within 2% of the
perturbed construction's at every depth and the slope ``R0 = 3`` within 0.3 (measured by the
same ``cbn fit`` commands: ratios 0.101, 0.982, 0.994, 0.984, 0.986 and ``R0_fit`` 2.892).
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
def test_default_search_matches_the_perturbed_construction(store, capsys):
    found = _sweep(capsys, store / "default")
    reference = _sweep(capsys, store / "construction", "--seeds", "1", "--init",
                       "construction", "--start-noise", "0.03", "--max-iter", "60000",
                       "--inner-iter", "2000", "--set", "plateau_rtol=0")
    # both are upper bounds; the goal is the found one at most 2% above the reference
    ratios = np.array(found["norm"]) / np.array(reference["norm"])
    assert np.all(ratios <= 1.02), ratios
    assert abs(found["R0_fit"] - 3) <= 0.3, found["R0_fit"]


@pytest.mark.full
def test_the_path_needs_revival_on_the_teacher():
    # depth 8, seed 2: without revival two of the three path attempts end at a residual of 2e-2
    # with channels switched off and the third keeps more structure; the search then ends at
    # 53.5. With revival the same start fits at 34.7 (measured; the perturbed construction
    # reaches 33.9). 1.2 leaves room for round-off chaos on another machine, not for the
    # difference itself. Measured with 200 L-BFGS steps per augmented-Lagrangian step, which
    # the test keeps: the path, not the polish, is what it checks.
    target = get_target("bottleneck", **PARAMS)
    X = target.sample(12, 0)
    Y = target.evaluate(X)
    arch = Architecture.uniform(8, 8)
    measured = SearchSettings(inner_iter=200)
    revived = min_norm_fit(X, Y, arch, Start.path(2), measured)
    plain = min_norm_fit(X, Y, arch, Start.path(2),
                         measured.with_values({"path_revive_rtol": 0.0}))
    assert revived.residual_rel <= 1e-6 and plain.residual_rel <= 1e-6
    assert plain.norm_sq > 1.2 * revived.norm_sq
    assert all(stage["revived"] == 0 for stage in plain.settings["path"])
