"""Process and output handling of the ``cbn`` command: user code that prints, ``--json`` on
every command, no options that do nothing, SIGTERM, installed package data and licence."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import psutil
import pytest

from cbn.figures.cli import main

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}

PRINTING = '''
import numpy as np
from cbn.numerics.targets import Target

print(15)


class Loud(Target):
    c_in, c_out, spatial, symmetry = 1, 1, (4,), "equivariant"

    def evaluate(self, x):
        print("evaluating")
        return (x + np.roll(x, -1, -1)) / 2
'''


def _cbn(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cbn.figures.cli", *args], env=ENV,
                          capture_output=True, text=True, **kwargs)


def test_a_target_that_prints_leaves_the_json_stream_clean(tmp_path):
    (tmp_path / "t.py").write_text(PRINTING)
    for workers in ("1", "2"):  # in-process, and two worker processes
        res = _cbn("fit", "t.py:Loud", "--depths", "2", "--seeds", "2", "--samples", "4",
                   "--width", "2", "--workers", workers, "--quiet", "--json",
                   "--store", str(tmp_path / f"store{workers}"), cwd=tmp_path)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["depths"] == [2]  # the whole of stdout is the JSON
        assert "15" in res.stderr and "evaluating" in res.stderr  # diverted, not lost


def test_json_on_check_list_and_reproduce(tmp_path, capsys):
    assert main(["check", "--list", "--json"]) == 0
    claims = json.loads(capsys.readouterr().out)["claims"]
    assert claims and {"id", "kind"} <= set(claims[0])
    code = main(["reproduce", "--tiny", "--json", "--out", str(tmp_path / "out"),
                 "--store", str(tmp_path / "store")])
    report = json.loads(capsys.readouterr().out)
    assert code == (0 if report["passed"] else 1)
    assert Path(report["report"]).exists() and report["figures"] and report["claims"]


@pytest.mark.parametrize("command", [["check"], ["reproduce"], ["figures"],
                                     ["linear", "f.npy", "--depth", "2"]])
def test_seed_is_refused_where_it_does_nothing(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--seed", "1"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --seed" in capsys.readouterr().err


def test_sigterm_ends_the_workers(tmp_path):
    """SIGTERM to the parent alone (what a job scheduler or ``kill`` sends)."""
    store = tmp_path / "store"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cbn.figures.cli", "fit", "derivative", "--param", "spatial=[8]",
         "--samples", "8", "--width", "2", "--workers", "2", "--quiet", "--depths", "2,3,4,6,8",
         "--seeds", "3", "--init", "random", "--store", str(store)],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 300  # only guards against a hung subprocess
    workers: list[psutil.Process] = []
    while len(workers) < 2:  # the pool's two workers are up
        assert proc.poll() is None and time.monotonic() < deadline
        workers = [c for c in parent.children(recursive=True)
                   if "multiprocessing" in " ".join(c.cmdline())]
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1] == "cbn fit: terminated"
    _, alive = psutil.wait_procs(workers, timeout=60)  # generous: a loaded machine
    assert alive == []
    assert not list(store.glob("*.tmp"))


def test_wheel_ships_example_filters_and_licence(tmp_path):
    src = tmp_path / "src"  # a copy: building writes build/ and *.egg-info next to the sources
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    for pkg in ("theory", "numerics", "figures"):
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path / "dist"), str(src)], check=True, env=ENV,
                   capture_output=True)
    names = zipfile.ZipFile(next((tmp_path / "dist").glob("*.whl"))).namelist()
    examples = {p.name for p in (ROOT / "figures" / "examples").glob("*.npy")}
    assert examples and {f"cbn/figures/examples/{n}" for n in examples} <= set(names)
    assert any(n.endswith("/LICENSE") for n in names)
    assert "MIT License" in (ROOT / "LICENSE").read_text()
