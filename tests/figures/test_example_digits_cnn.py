"""The README's worked example: a plain PyTorch CNN trained on the digits, then inspected
(few training steps here: this checks that the example runs end to end as written)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import torch

from cbn.figures.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "figures" / "examples" / "digits_cnn.py"


def test_digits_example_trains_and_inspects(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    spec = importlib.util.spec_from_file_location("digits_cnn_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.save(module.train(steps=5).state_dict(), "digits_cnn.pt")
    code = main(["inspect", "digits_cnn.pt", "--arch", f"{EXAMPLE}:architecture", "--grid",
                 "8x8", "--dataset", "digits", "--samples", "100", "--json", "--out", "out"])
    out, err = capsys.readouterr()
    assert code == 0, err
    s = json.loads(out[out.index("{"):])  # the training prints its accuracy first
    assert [l["kernel"] for l in s["layers"]] == [[3, 3]] * 3 and s["head"] == [10, 16]
    assert len(s["activation_energy"]) == 3
    assert (tmp_path / "out" / "activation_energy.png").exists()
