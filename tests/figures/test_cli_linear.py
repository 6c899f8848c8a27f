"""`cbn linear`: JSON contract and one-line errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from cbn.figures.cli import main
from cbn.numerics.fourier import multipliers_from_filters
from cbn.numerics.linear import representation_cost


@pytest.fixture
def filter_file(tmp_path, rng):
    path = tmp_path / "w.npy"
    np.save(path, rng.standard_normal((2, 3, 4, 5)))
    return path


def test_json_keys_and_values(filter_file, capsys):
    code = main(["linear", str(filter_file), "--depth", "2", "--depth", "5", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("convention", "depths", "cost", "R0", "R1", "R2", "cbn_rank",
                "rank_per_frequency", "rank_rtol"):
        assert key in out
    assert out["depths"] == [2, 5] and out["convention"] == "scaled"
    assert np.array(out["rank_per_frequency"]).shape == (4, 5)
    W = np.load(filter_file)
    expected = representation_cost(multipliers_from_filters(W), 5)
    assert np.isclose(out["cost"][1], expected, rtol=1e-14)
    assert out["cbn_rank"] == 40


def test_plain_convention_and_table(filter_file, capsys):
    assert main(["linear", str(filter_file), "--depth", "3", "--convention", "plain"]) == 0
    text = capsys.readouterr().out
    assert "EXACT" in text and "plain" in text


@pytest.mark.parametrize(
    "make,args,needle",
    [
        (None, ["--depth", "2"], "file not found"),
        (np.full((1, 1, 3), np.nan), ["--depth", "2"], "NaN"),
        (np.ones((1, 1, 3), complex), ["--depth", "2"], "complex"),
        (np.ones((3, 3)), ["--depth", "2"], "dimension"),
        (np.ones((1, 1, 3)), ["--depth", "0"], "depth must be >= 1"),
    ],
)
def test_bad_input_one_line(tmp_path, capsys, make, args, needle):
    path = tmp_path / "bad.npy"
    if make is not None:
        np.save(path, make)
    code = main(["linear", str(path), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err


def test_console_script_exits_nonzero_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "cbn.figures.cli", "linear", str(tmp_path / "none.npy"),
         "--depth", "2"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("cbn linear: error: file not found")
    assert "Traceback" not in proc.stderr


def test_out_writes_the_report(filter_file, tmp_path, capsys):
    assert main(["linear", str(filter_file), "--depth", "3", "--out", str(tmp_path / "o")]) == 0
    stored = json.loads((tmp_path / "o" / "linear.json").read_text())
    assert stored["depths"] == [3] and not list((tmp_path / "o").glob("*.tmp"))
