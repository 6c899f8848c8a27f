"""``cbn inspect``: model sources, outputs, agreement with ``cbn analyze``, bad models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cbn.figures.cli import main
from cbn.numerics.spectra import weight_spectra
from cbn.numerics.store import ResultStore
from cbn.numerics.sweep import target_from_config
from cbn.numerics.torch_import import export_network
from cbn.numerics.weights import Network

MODELS = '''
import torch
from torch import nn

def circ(c_in, c_out, k=3, **kw):
    return nn.Conv2d(c_in, c_out, k, padding=k // 2, padding_mode="circular", **kw)

def small():
    torch.manual_seed(0)
    return nn.Sequential(circ(1, 4), nn.ReLU(), circ(4, 4, stride=2), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))

def zeros_padding():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU())

def dilated():
    return nn.Sequential(circ(1, 4, dilation=2), nn.ReLU())

def grouped():
    return nn.Sequential(circ(1, 4), circ(4, 4, groups=2))

def batchnorm():
    return nn.Sequential(circ(1, 4), nn.BatchNorm2d(4), nn.ReLU())

def not_a_model():
    return 3
'''


@pytest.fixture
def models(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models.py").write_text(MODELS)
    return "models.py"


def _run(capsys, *args):
    code = main(["inspect", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_inspect_writes_its_folder_and_labels_every_bound(models, tmp_path, capsys):
    code, out, err = _run(capsys, f"{models}:small", "--grid", "8x8", "--dataset", "digits",
                          "--samples", "50", "--json", "--out", "rep")
    assert code == 0, err
    s = json.loads(out)
    names = sorted(p.name for p in (tmp_path / "rep").iterdir())
    assert names == ["activation_energy.png", "inspect.json", "report.md", "spectra.npz",
                     "weight_spectra.png"]
    for png in (tmp_path / "rep").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert s["conversion_deviation"] <= 1e-12 and s["n_samples"] == 50
    assert [l["stride"] for l in s["layers"]] == [1, 2] and "folded" in s["layers"][1]
    assert s["lower_bound"] <= s["weight_norm_sq"] <= s["norm_sq"]
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "LOWER bound" in report and "UPPER bound" in report
    arrays = np.load(tmp_path / "rep" / "spectra.npz")
    assert sorted(arrays.files) == ["layer1", "layer2", "layer2_folded"]
    assert arrays["layer2_folded"].shape[:2] == (4, 4)
    assert not list(tmp_path.glob(".rep.*"))  # temporary folder removed


def test_state_dict_with_arch_and_full_model_files_agree(models, tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("user_models", tmp_path / models)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.small()
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    torch.save(model, tmp_path / "full.pt")
    results = []
    for args in (["weights.pt", "--arch", f"{models}:small"], ["full.pt"],
                 [f"{models}:small"]):
        code, out, err = _run(capsys, *args, "--grid", "8x8", "--json", "--out", "o")
        assert code == 0, err
        results.append(json.loads(out))
    for r in results[1:]:
        assert r["layers"] == results[0]["layers"] and r["norm_sq"] == results[0]["norm_sq"]


def test_inspect_reports_what_analyze_reports(tmp_path, capsys, monkeypatch):
    """An engine network (the deepest best net of a ``cbn analyze`` sweep), exported to plain
    torch modules and saved with torch.save: ``cbn inspect`` gives the same per-frequency
    counts, extremes and spectra as ``cbn analyze`` reports and plots for it, and the same
    constant-input Jacobian ranks at the same constant input (the data mean)."""
    monkeypatch.chdir(tmp_path)
    base = ["derivative", "--param", "spatial=[8]", "--samples", "8", "--width", "2",
            "--workers", "1", "--quiet", "--depths", "2,3,4", "--seeds", "1",
            "--store", "store"]
    assert main(["analyze", *base, "--out", "analyze"]) == 0
    capsys.readouterr()
    summary = json.loads((tmp_path / "analyze" / "summary.json").read_text())
    deepest = summary["deepest"]
    net = Network.from_arrays(ResultStore("store").load_key(deepest["key"]).arrays)
    filters, biases = net.filters, net.biases
    torch.save(export_network(filters, biases, summary["activation"], summary["convention"]),
               tmp_path / "engine.pt")
    X = target_from_config({"spec": "derivative", "params": {"spatial": [8]}}).sample(8, 0)
    np.savez(tmp_path / "X.npz", X=X)
    code, out, err = _run(capsys, "engine.pt", "--grid", "8", "--data", "X.npz", "--json",
                          "--out", "inspect")
    assert code == 0, err
    s = json.loads(out)
    assert s["threshold"] == deepest["split"]
    for ours, theirs in zip(s["layers"], deepest["layer_counts"], strict=True):
        assert ours["counts"] == theirs["counts"] and ours["total"] == theirs["total"]
        # the same singular values from two FFT routes (scaled vs plain filters): round-off
        assert ours["max_dev_kept"] == pytest.approx(theirs["max_dev_kept"], abs=1e-12)
        assert ours["max_dropped"] == pytest.approx(theirs["max_dropped"], abs=1e-12)
    spectra = np.load(tmp_path / "inspect" / "spectra.npz")
    for l, ref in enumerate(weight_spectra(filters, summary["convention"])):
        np.testing.assert_allclose(spectra[f"layer{l + 1}"], ref, rtol=0, atol=1e-12)
    assert s["jacobian"][0]["ranks"] == deepest["bottleneck_inequality"]["jacobian_ranks"]


@pytest.mark.parametrize("args,needle", [
    (["models.py:zeros_padding", "--grid", "8x8"], "padding_mode='zeros'"),
    (["models.py:dilated", "--grid", "8x8"], "dilation"),
    (["models.py:grouped", "--grid", "8x8"], "groups=2"),
    (["models.py:batchnorm", "--grid", "8x8"], "unsupported layer '1' (BatchNorm2d)"),
    (["models.py:small", "--grid", "8"], "grid 8 is 1-D"),
    (["models.py:small", "--grid", "7x7"], "not to the grid / stride"),
    (["models.py:small", "--grid", "2x2"], "larger than its input grid"),
    (["models.py:small", "--grid", "16x16", "--dataset", "digits"], "grid 8x8"),
    (["models.py:small", "--grid", "8x8", "--threshold", "0"], "--threshold"),
    (["models.py:small", "--grid", "8x8", "--threshold", "1", "--rtol", "0.1"], "not allowed"),
    (["models.py:not_a_model", "--grid", "8x8"], "not an nn.Module"),
    (["models.py:missing", "--grid", "8x8"], "no attribute 'missing'"),
    (["nothing_here", "--grid", "8x8"], "model not found"),
    (["models.py:small", "--grid", "8y8"], "--grid"),
])
def test_bad_models_one_line_exit_2_nothing_written(models, tmp_path, capsys, args, needle):
    before = sorted(p.name for p in tmp_path.iterdir())
    try:
        code, _, err = _run(capsys, *args, "--out", "out")
    except SystemExit as exc:  # argparse-level errors exit from the parser
        code, err = exc.code, capsys.readouterr().err
    assert code == 2
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
    after = sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__")
    assert after == before  # nothing written, not even a temporary folder


def test_state_dict_needs_its_architecture(models, tmp_path, capsys):
    torch.save({"0.weight": torch.zeros(4, 1, 3, 3)}, tmp_path / "sd.pt")
    code, _, err = _run(capsys, "sd.pt", "--grid", "8x8", "--out", "out")
    assert code == 2 and "--arch" in err and not (tmp_path / "out").exists()
    code, _, err = _run(capsys, "sd.pt", "--arch", "models.py:small", "--grid", "8x8",
                        "--out", "out")
    assert code == 2 and "does not fit" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_relative_threshold_counts_against_each_layers_largest(models, tmp_path, capsys):
    code, out, err = _run(capsys, f"{models}:small", "--grid", "8x8", "--rtol", "0.25",
                          "--json", "--out", "rel")
    assert code == 0, err
    s = json.loads(out)
    spectra = np.load(tmp_path / "rel" / "spectra.npz")
    for i, layer in enumerate(s["layers"]):
        sv = spectra[f"layer{i + 1}"]
        assert layer["threshold"] == pytest.approx(0.25 * sv.max(), rel=1e-15)
        assert layer["counts"] == np.count_nonzero(sv > 0.25 * sv.max(), axis=-1).tolist()
    code, _, err = _run(capsys, f"{models}:small", "--grid", "8x8", "--rtol", "1.5")
    assert code == 2 and "--rtol" in err
