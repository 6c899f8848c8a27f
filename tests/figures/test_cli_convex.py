"""`cbn convex`: JSON contract, every program, one-line errors, nothing half-written."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from cbn.figures.cli import main
from cbn.numerics.fourier import circular_conv, multipliers_from_filters
from cbn.numerics.linear import representation_cost


@pytest.fixture
def interp_file(tmp_path, rng):
    W = rng.standard_normal((2, 3, 4, 3))
    X = rng.standard_normal((5, 3, 4, 3))  # N >= c_in: the generating filter is recovered
    path = tmp_path / "interp.npz"
    np.savez(path, X=X, Y=circular_conv(W, X), W=W)
    return path


@pytest.fixture
def scalar_file(tmp_path, rng):
    path = tmp_path / "scalar.npz"
    X = rng.standard_normal((6, 1, 3))
    np.savez(path, X=X, Y=rng.standard_normal(6), labels=np.sign(X[:, 0, 0] + X[:, 0, 1]))
    return path


def _run_json(args, capsys) -> dict:
    assert main(["convex", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_interpolate_json(interp_file, capsys):
    out = _run_json([str(interp_file), "--program", "interpolate"], capsys)
    for key in ("program", "value", "status", "solver", "rank_per_frequency", "bound", "record"):
        assert key in out
    assert out["status"] == "optimal" and out["solver"] == "closed-form"
    assert out["bound"] == "exact"
    W = np.load(interp_file)["W"]
    expected = representation_cost(multipliers_from_filters(W), 2)
    assert out["value"] == pytest.approx(expected, rel=1e-10)  # round-off of FFT + SVD
    assert np.array(out["rank_per_frequency"]).shape == (4, 3)


def test_interpolate_cvxpy_route_names_its_solver(interp_file, capsys):
    out = _run_json([str(interp_file), "--program", "interpolate", "--method", "cvxpy",
                     "--solver", "scs"], capsys)
    assert out["solver"] == "SCS" and out["record"]["settings"]["eps_abs"] <= 1e-8


def test_margin_json(scalar_file, capsys):
    out = _run_json([str(scalar_file), "--program", "margin", "--solver", "clarabel"], capsys)
    assert out["solver"] == "CLARABEL" and out["status"] == "optimal"
    assert out["record"]["certificate"]["certified_gap"] < 1e-6 * out["value"]


@pytest.mark.parametrize("program", ["relu2", "relu2-circular"])
def test_relu_programs_json(scalar_file, capsys, program):
    out = _run_json([str(scalar_file), "--program", program, "--beta", "0.1"], capsys)
    assert out["exact_patterns"] is True and out["bound"] == "exact"
    assert out["network_objective"] == pytest.approx(out["value"], rel=1e-7)  # solver tol.
    out = _run_json([str(scalar_file), "--program", program, "--beta", "0.1",
                     "--max-patterns", "1", "--samples", "5"], capsys)
    assert out["exact_patterns"] is False and out["bound"] == "upper bound"


def test_table_output_and_out_folder(interp_file, tmp_path, capsys):
    out_dir = tmp_path / "res"
    assert main(["convex", str(interp_file), "--program", "interpolate", "--out",
                 str(out_dir)]) == 0
    text = capsys.readouterr().out
    assert "EXACT" in text and "certificate" in text
    assert json.loads((out_dir / "convex.json").read_text())["program"] == "interpolate"


def _save(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "arrays,program,needle",
    [
        (None, "interpolate", "file not found"),
        ({"X": np.ones((3, 2, 4)), "Y": np.ones((2, 2, 4))}, "interpolate", "does not match"),
        ({"X": np.full((3, 1, 4), np.nan), "Y": np.ones((3, 1, 4))}, "interpolate", "NaN"),
        ({"Y": np.ones((3, 1, 4))}, "interpolate", "no array 'X'"),
        ({"X": np.ones((3, 1, 4))}, "relu2", "'Y' or 'labels'"),
        ({"X": np.eye(4)[:, None, :].repeat(2, 0),
          "Y": np.arange(32.0).reshape(8, 1, 4)}, "interpolate", "no linear CNN interpolates"),
        ({"X": np.concatenate([np.eye(4), -np.eye(4)])[:, None, :],
          "labels": np.ones(8)}, "margin", "not linearly separable"),
        ({"X": np.ones((3, 1, 4)), "labels": np.array([1.0, 0.0, 1.0])}, "margin", "-1 or +1"),
        ({"X": np.ones((3, 2, 4)), "labels": np.array([1.0, -1.0, 1.0])}, "margin",
         "single-channel"),
        ({"X": np.ones((3, 1, 4)), "Y": np.ones((3, 1, 4))}, "relu2", "one target per sample"),
    ],
)
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, arrays, program, needle):
    path = tmp_path / "bad.npz"
    if arrays is not None:
        _save(path, **arrays)
    out_dir = tmp_path / "out"
    code = main(["convex", str(path), "--program", program, "--out", str(out_dir)])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err and len(err.strip().splitlines()) == 1
    assert not out_dir.exists()


def test_bad_beta_is_refused(scalar_file, capsys):
    assert main(["convex", str(scalar_file), "--program", "relu2", "--beta", "-1"]) == 2
    assert "--beta must be > 0" in capsys.readouterr().err


def test_solver_failure_exits_1_with_one_line(scalar_file, capsys, monkeypatch):
    import cbn.numerics.convex.solver as policy

    monkeypatch.setattr(policy, "SCS_MAX_ITERS", 2)  # cannot converge: status not optimal
    code = main(["convex", str(scalar_file), "--program", "relu2", "--beta", "0.1",
                 "--solver", "scs"])
    err = capsys.readouterr().err
    assert code == 1
    assert "solver SCS returned status" in err and len(err.strip().splitlines()) == 1


def test_subprocess_has_no_traceback(tmp_path):
    path = _save(tmp_path / "bad.npz", X=np.ones((3, 1, 4)), Y=np.ones((2, 1, 4)))
    proc = subprocess.run([sys.executable, "-m", "cbn.figures.cli", "convex", str(path),
                           "--program", "interpolate"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
