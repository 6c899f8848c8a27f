"""The ``cbn`` entry point: version, a help that loads no numerical library, exit statuses,
and the one JSON writer."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np

import cbn.figures.commands.linear as linear_command
from cbn.figures.cli import COMMANDS, main
from cbn.figures.files import json_text

EXAMPLE_FILTER = str(Path(__file__).resolve().parents[2] / "figures" / "examples"
                     / "lowpass_1d.npy")
HEAVY = ("torch", "matplotlib", "cvxpy", "scipy", "dask", "sklearn")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cbn.figures.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_version_names_the_installed_distribution():
    proc = _run("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"cbn-toolkit {version('cbn-toolkit')}"


def test_help_lists_every_command_without_importing_heavy_libraries():
    code = ("import sys\nfrom cbn.figures.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == "[]"  # none of the heavy libraries was imported
    for name in COMMANDS:
        assert any(line.split()[:1] == [name] for line in lines), name


def test_internal_error_is_one_line_exit_1_and_debug_shows_the_traceback(monkeypatch,
                                                                         capsys):
    def broken(*a, **k):
        raise RuntimeError("planted bug")

    monkeypatch.setattr(linear_command, "analyze_linear_filter", broken)
    assert main(["linear", EXAMPLE_FILTER, "--depth", "2"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "internal error: RuntimeError: planted bug" in err and "--debug" in err
    assert main(["linear", EXAMPLE_FILTER, "--depth", "2", "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "planted bug" in err


def test_bad_input_stays_exit_2(capsys):
    assert main(["linear", "missing.npy", "--depth", "2"]) == 2
    assert "file not found: missing.npy" in capsys.readouterr().err


def test_json_writer_turns_nan_and_inf_into_null():
    obj = {"a": float("nan"), "b": [np.float64("inf"), -np.inf, 1.5], "c": np.arange(2),
           "d": (np.int64(3), None)}
    assert json.loads(json_text(obj)) == {"a": None, "b": [None, None, 1.5], "c": [0, 1],
                                          "d": [3, None]}
