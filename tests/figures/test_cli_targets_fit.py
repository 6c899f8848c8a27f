"""The entry-point target of the installed test package runs through ``cbn fit`` and
``cbn analyze`` (issue 6, second item)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "cbn_example_targets"


def test_entry_point_target_runs_through_fit_and_analyze(tmp_path):
    """The installed package's target, by name, in fresh processes: ``cbn fit`` then
    ``cbn analyze`` (which reuses the stored runs). Tiny settings: this checks the plumbing;
    the numbers themselves are tested by the sweep's own tests."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FIXTURE), str(ROOT)]),
               OMP_NUM_THREADS="1")
    common = ["example_moving_average", "--depths", "1,2", "--seeds", "1", "--samples", "8",
              "--max-iter", "200", "--store", str(tmp_path / "store"), "--workers", "1",
              "--quiet"]
    fit = subprocess.run([sys.executable, "-m", "cbn.figures.cli", "fit", *common, "--json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert fit.returncode == 0, fit.stderr
    summary = json.loads(fit.stdout)
    assert summary["target"] == "example_moving_average"
    assert summary["R0_exact"] == 10  # sum_m rank A(m), every frequency kept on Z_10
    # Depth 1: 8 samples x 10 pixels = 80 equations for 10 filter entries, so the fit is the
    # filter itself, ||W||^2 = 10 * 3 * (1/3)^2 (scaled). Runs stop at a relative residual of
    # 1e-6 (cbn fit's default) and the system is well conditioned, so 1e-6 relative.
    assert abs(summary["norm"][0] - 10 / 3) <= 1e-6 * 10 / 3
    out = tmp_path / "report"
    analyze = subprocess.run(
        [sys.executable, "-m", "cbn.figures.cli", "analyze", *common, "--out", str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert analyze.returncode == 0, analyze.stderr
    assert json.loads((out / "summary.json").read_text())["target"] == "example_moving_average"
    assert (out / "report.md").exists()
