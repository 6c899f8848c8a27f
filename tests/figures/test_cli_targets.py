"""``cbn targets``: listing, JSON, entry-point targets, bad input; the README example runs."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cbn.figures.cli import main
from cbn.numerics.targets.base import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "cbn_example_targets"


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def clean_registry():
    saved = dict(REGISTRY)
    yield
    REGISTRY.clear()
    REGISTRY.update(saved)


def test_lists_builtins_with_labelled_bounds():
    code, out, _ = run_cli("targets")
    assert code == 0
    assert "R0 exact" in out and "UPPER bound" in out
    for name in ("lowpass", "newton_force", "bottleneck", "shape_pattern_ae", "mnist0_ae"):
        assert re.search(rf"^{name}\s", out, re.M), name


def test_json_rows():
    code, out, _ = run_cli("targets", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)["targets"]}
    assert rows["lowpass"]["expected_cbn_rank"] == 5  # |m| <= 2 on Z_16
    assert rows["lowpass"]["linear"] is True
    assert rows["shape_pattern_ae"]["r0_upper_bound"] == 9  # 5 shape + 4 pattern frequencies
    assert rows["fourier_modulus"]["output_shape"] == ["n", 2]
    assert rows["fourier_modulus"]["symmetry"] == "invariant"


def test_entry_point_target_appears_in_process(monkeypatch):
    monkeypatch.syspath_prepend(str(FIXTURE))
    code, out, _ = run_cli("targets", "--json")
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)["targets"]}
    row = rows["example_moving_average"]
    assert row["source"] == "entry point cbn_example_targets:make_moving_average"
    assert row["expected_cbn_rank"] == 10
    # A broken entry point of an installed package is reported in its row, not a crash ...
    assert "failed to load" in rows["example_broken"]["error"]
    # ... and asked for by name it is bad input: one line, exit 2.
    code, out, err = run_cli("targets", "example_broken")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "entry point 'example_broken' (cbn_example_targets:no_such_factory) failed" in err
    sys.modules.pop("cbn_example_targets", None)


def test_entry_point_target_in_a_fresh_process(tmp_path):
    """A separate interpreter with the package on its path: listed and validated by name."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FIXTURE), str(ROOT)]))
    proc = subprocess.run(
        [sys.executable, "-m", "cbn.figures.cli", "targets", "example_moving_average", "--validate",
         "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)["targets"][0]
    assert row["valid"] is True and row["c_in"] == 1 and row["spatial"] == [10]


def test_bad_spec_one_line_exit_2():
    code, out, err = run_cli("targets", "no_such_target")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "unknown target 'no_such_target'" in err


def test_validate_rejects_a_bad_user_file(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text(
        "import numpy as np\n"
        "from cbn.numerics.targets import Target\n"
        "class Bad(Target):\n"
        "    name = 'bad'\n"
        "    spatial = (8,)\n"
        "    def evaluate(self, X):\n"
        "        return X * np.arange(8)\n"
    )
    code, out, err = run_cli("targets", f"{path}:Bad", "--validate", "--out", str(tmp_path / "o"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "declared equivariant but is not" in err
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_out_writes_json(tmp_path):
    code, _, _ = run_cli("targets", "lowpass", "laplacian", "--out", str(tmp_path))
    assert code == 0
    rows = json.loads((tmp_path / "targets.json").read_text())["targets"]
    assert [r["name"] for r in rows] == ["lowpass", "laplacian"]


def readme_python_block() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Add your own target", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs(clean_registry, tmp_path, monkeypatch):
    code = readme_python_block()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    assert out.getvalue().strip() == "15"
    # ... and the command line form it documents.
    REGISTRY.pop("my_smoothing")
    (tmp_path / "my_targets.py").write_text(code)
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):  # the file prints 15 when imported
        rc, _, err = run_cli("targets", "my_targets.py:Smoothing", "--validate", "--json")
    assert rc == 0, err

