"""Every figure recipe runs in tiny mode: PNGs written and non-empty, expected panels present.

"Panels present" is checked on what each plot reads: the record/arrays entries every panel
draws from (a missing entry means a missing panel), plus the PNG header (a real image of
plausible size for its number of panels).
"""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest

import cbn.figures.recipe_runner as runner
from cbn.figures.recipes import RECIPES
from cbn.numerics.store import ResultStore

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path) -> tuple[int, int]:
    head = open(path, "rb").read(24)
    assert head[:8] == PNG_MAGIC, f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def _panels_linear_cost_depth(rec, arr):
    assert len(rec["closed"]) == len(rec["closed_depths"]) and rec["trained"]
    return 2


def _panels_cbn_spectra(rec, arr):
    for p in ("1d", "2d"):
        L = rec[p]["depth"]
        assert all(f"{p}_sv{l}" in arr for l in range(L))
        assert arr[f"{p}_keep"].shape == tuple(rec[p]["spatial"])
        assert len(rec[p]["middle_layers"]) == L - 2
        assert rec[p]["predicted_kept_labels"]  # labels by type and degree
        # the deepest net shown is the lower-norm fit of the two starts (ladder, factorisation)
        fits = [r for r in (rec[p]["ladder"][-1], rec[p]["factorisation_start"])
                if r["residual_rel"] <= 1e-6]
        if fits:
            assert rec[p]["deepest"]["norm_sq"] == min(r["norm_sq"] for r in fits)
    assert "constant" in rec["1d"]["predicted_kept_labels"][0]
    return 3


def _panels_bottleneck_slack(rec, arr):
    for p in ("1d", "2d"):
        rows = rec[p]["rows"]
        assert len(rows) >= 2
        assert all(len(r["kept_dev"]) == r["depth"] for r in rows)
        assert rec[p]["bounds"]["bottleneck_bound"] == "lower"
    return 3


def _panels_activation_energy(rec, arr):
    for run in ("large", "small"):
        n = len(rec["runs"][run]["off_support"])
        assert n >= 1 and all(f"{run}_E{l}" in arr for l in range(n))
    return 3


def _panels_gunasekar_sparsity(rec, arr):
    assert "convex_fabs" in arr and rec["convex_status"] == "optimal"
    assert all(f"fabs_L{r['depth']}" in arr for r in rec["runs"])
    return 2


def _panels_downsampling(rec, arr):
    for name in ("strided", "unstrided"):
        assert all(f"{name}_sv{l}" in arr for l in range(rec["depth"]))
    assert arr["strided_sv1"].shape[0] == rec["d"] // rec["nets"]["strided"]["stride"]
    return 3


def _panels_tasks(rec, arr):
    for name in ("digit0_ae", "shape_pattern_ae", "force_density", "newton_force"):
        assert f"{name}_top" in arr and name in rec["tasks"]
    for name in ("digit0_ae", "shape_pattern_ae", "force_density"):
        task = rec["tasks"][name]
        assert len(arr[f"{name}_lams"]) == len(task["stages"]) == len(task["middle_kept_total"])
        assert np.all(np.diff(arr[f"{name}_lams"]) > 0)  # lam rises along the path
        assert task["bound"].startswith("upper")
    assert arr["shape_pattern_ae_predicted"].sum() == 6  # {0, +-1} and {0, +-4, 8}
    return 3  # panels side by side (two rows of three)


def _panels_dynamics_stages(rec, arr):
    for key in ("cnn", "fc"):
        assert len(rec["result"][f"{key}_times"]) == len(rec["result"][f"{key}_measured"])
        assert len(rec["summary"][key]["measured_half_times"]) == len(rec["result"]["strengths"])
    return 2


def _panels_mnist_classifier(rec, arr):
    n_conv = len(rec["layers"])
    assert n_conv == 3 and all(f"top{l}" in arr for l in range(n_conv))
    assert all(lay["kept"] == sum(lay["by_type"].values()) for lay in rec["layers"])
    # the head trains: training accuracy above chance (0.1) by more than the 0.03 standard
    # error of a chance-level score on 100 images; held-out accuracy is reported, not pinned
    assert rec["train_accuracy"] >= rec["chance"] + 0.06
    # the net learns (measured 0.99 train, 0.80 held out; the former depth-4 width-4 150-step
    # config reached 0.20 / 0.15): the bands sit ~4 binomial standard errors (0.04 at p = 0.8
    # on 100 images) below the measured values and far above any failed training
    assert rec["train_accuracy"] >= 0.9
    assert rec["test_accuracy"] >= 0.65
    assert rec["settings"]["batch_size"] == 50 and rec["stop_reason"].startswith("steps")
    lr = rec["learning_rate"]
    assert lr["rule"] == "probe" and lr["lr"] == 0.5 * lr["largest_stable"]
    return n_conv


PANELS = {name[len("_panels_"):]: fn for name, fn in globals().items()
          if name.startswith("_panels_")}

#: Tiny-mode verdicts, pinned (a change is a new result, not a pass): whether the numbers agree
#: and the evidence the verdict line must state. ``tasks`` disagrees in tiny mode: its three
#: 40-iteration stages do not reach a stage that fits and keeps only the factorisation's
#: frequencies.
TINY_VERDICTS = {
    "linear_cost_depth": (True, r"relative gaps .* \(criterion: in \[-1e-6, 1e-4\]\); "
                                r"R0 = 6 = CBN rank"),
    "cbn_spectra": (True, r"1d \(L=\d+\): (\d+) of \1 layers .* keep exactly the predicted"),
    "gunasekar_sparsity": (True, r"non-increasing: True\); L=2: .* cosine with the exact "
                                 r"direction 0\.9\d\d"),
    "downsampling": (True, r"kept set survives folding True; strided middle layers keep "
                           r"exactly the folded set: (\d+)/\1"),
    "tasks": (False, r"shape x pattern: a fitting stage \(residual <= 0\.1\) keeps only the "
                     r"factorisation's frequencies: False \(stages \[\] of 3"),
    # the classifier learns (accuracies pinned below) but weight decay has barely acted: tau < 1
    "mnist_classifier": (None, r"kept frequencies per conv layer \[64, 64, 64\] .* "
                               r"bottleneck \(every middle layer below both ends\): None; "
                               r"weight-decay time 2 lam lr steps = 0\.0\d+ "),
    "dynamics_stages": (True, r"stage order CNN \[1, 0\] \(predicted \[1, 0\]\), FC \[0, 1\] "
                              r"\(predicted \[0, 1\]\); inverted: True"),
}
#: Verdicts being redefined (they may become inconclusive, None): only what is stable, a bool
#: or None and a line that states measured numbers.
UNPINNED = {"bottleneck_slack": r"\d+\.\d+", "activation_energy": r"\d+\.\d+"}


def test_every_recipe_has_a_verdict_criterion():
    assert not set(TINY_VERDICTS) & set(UNPINNED)
    missing = [name for name in RECIPES if name not in TINY_VERDICTS and name not in UNPINNED]
    assert not missing, f"pin the tiny-mode verdict of {missing}"


def test_every_recipe_has_a_panel_check():
    missing = [name for name in RECIPES if name not in PANELS]
    assert not missing, f"add a panel check for {missing}"


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_tiny(name, tmp_path):
    store = ResultStore(tmp_path / "store")
    result = runner.run_recipe(name, "tiny", tmp_path / "out", "cpu", store)
    assert result.images
    module = runner.recipe_module(name)
    stored = store.load({"recipe": name, "config": module.config("tiny"), "device_kind": "cpu"},
                        sources=runner.figure_sources())
    assert stored is not None
    n_panels = PANELS[name](stored.record, stored.arrays)
    for path in result.images:
        width, height = _png_size(path)
        # subplots() gives each panel >= 4 inches at 110 dpi: ~440 px per panel side by side.
        assert width >= 400 * n_panels and height >= 300
    assert isinstance(result.verdict, str)
    if name in TINY_VERDICTS:
        agrees, evidence = TINY_VERDICTS[name]
        assert result.agrees is agrees, result.verdict
        assert re.search(evidence, result.verdict), result.verdict
    else:
        assert result.agrees is None or isinstance(result.agrees, bool)
        assert re.search(UNPINNED[name], result.verdict), result.verdict
    assert module.TITLE and module.CAPTION
    for mode in ("tiny", "quick", "full"):
        assert module.config(mode)  # every mode is configured


def test_frequency_labels_name_type_and_degree():
    from cbn.figures.recipes._common import frequency_label

    assert frequency_label((8,), (0,)) == "m=0 constant deg 0"
    assert frequency_label((8,), (1,)) == "m=±1 pair deg 1"
    assert frequency_label((8,), (4,)) == "m=4 Nyquist deg 4"
    assert frequency_label((6, 6), (1, 5)) == "m=±(1,-1) pair |m|1=2 |m|inf=1"
    assert frequency_label((6, 6), (3, 0)).startswith("m=(3,0) Nyquist")


def test_off_support_fraction_ignores_the_constant_frequency():
    from cbn.numerics.activation_bottleneck import off_support_share as off_support_fraction

    keep = np.array([True, True, False, False, False, False, False, True])
    energy = np.zeros((8, 1))
    energy[0] = 100.0  # constant: excluded
    energy[1] = energy[7] = 1.0  # kept pair
    energy[3] = energy[5] = 0.5  # dropped pair
    assert off_support_fraction(energy, keep) == pytest.approx(1.0 / 3.0, rel=1e-15)


def test_factorisation_network_is_exact_and_costs_kept_plus_d():
    from cbn.figures.recipes._common import relu_lowpass_data
    from cbn.numerics.spectra import forward

    target, X, Y = relu_lowpass_data((8,), 1, 5, seed=3)
    keep = target.keep
    for depth in (2, 3, 5):
        net = target.construction(depth, 1, X)
        filters, biases = net.filters, net.biases
        # exact construction: only float64 FFT round-off (~1e-16 relative) remains
        assert np.max(np.abs(forward(filters, biases, X)[-1] - Y)) < 1e-12
    net = target.construction(2, 1, X)
    filters, biases = net.filters, net.biases
    # scaled convention: ||P_K||^2 = #kept = 3 multipliers of modulus 1, ||I||^2 = d = 8
    norm = sum(float(np.sum(f**2)) for f in filters) + sum(float(np.sum(b**2)) for b in biases)
    assert norm == pytest.approx(3 + 8, rel=1e-12)
    assert int(keep.sum()) == 3
