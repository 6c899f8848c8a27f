"""Output folders and stores are input too: bad ones fail before any work, creating nothing;
a store that fails during a sweep keeps what was finished and the rerun resumes from it."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cbn.figures.cli import main
from cbn.numerics.store import ResultStore

EXAMPLES = Path(__file__).resolve().parents[2] / "figures" / "examples"
EXAMPLE_FILTER = str(EXAMPLES / "lowpass_1d.npy")
#: a sweep of a linear target small enough to run in seconds (derivative on d = 4)
SWEEP = ["derivative", "--param", "spatial=[4]", "--depths", "2", "--seeds", "1",
         "--samples", "4", "--width", "2", "--workers", "1", "--quiet"]

#: every command that writes, with arguments that make it do real work when its paths are good
WRITING_COMMANDS = {
    "linear": ["linear", EXAMPLE_FILTER, "--depth", "2"],
    "targets": ["targets", "identity"],
    "convex": ["convex", "data.npz", "--program", "interpolate"],
    "check": ["check", "--quick", "--only", "fourier.parseval*"],
    "fit": ["fit", *SWEEP],
    "analyze": ["analyze", *SWEEP],
    "figures": ["figures", "dynamics_stages", "--tiny"],
    "reproduce": ["reproduce", "--tiny"],
    "inspect": ["inspect", f"{EXAMPLES / 'digits_cnn.py'}:architecture", "--grid", "8x8"],
    "bench": ["bench", "--quick", "--only", "linear_closed_form"],
}
STORE_COMMANDS = ("fit", "analyze", "figures", "reproduce")


def _unwritable_folder() -> Path:
    """A folder this process cannot create files in, whoever runs the tests (root included:
    sysfs refuses new files to root, where permission bits would not)."""
    candidate = Path("/sys/cbn-test-unwritable")
    if Path("/sys").is_dir():
        try:
            candidate.mkdir()
        except OSError:
            return candidate
        candidate.rmdir()
    pytest.skip("no folder here refuses new files to this user")


def _bad_path(kind: str, tmp_path: Path) -> Path:
    if kind == "existing file":
        path = tmp_path / "outfile"
        path.write_text("keep me\n")
        return path
    if kind == "path under a file":
        (tmp_path / "outfile").write_text("keep me\n")
        return tmp_path / "outfile" / "sub"
    return _unwritable_folder() / "sub"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else b""
            for p in sorted(root.rglob("*"))}


CASES = [(name, option, kind)
         for name in WRITING_COMMANDS
         for option in (("--out", "--store") if name in STORE_COMMANDS else ("--out",))
         for kind in ("existing file", "path under a file", "unwritable folder")]


@pytest.mark.parametrize(("command", "option", "kind"), CASES)
def test_bad_output_path_one_line_exit_2_nothing_created(tmp_path, monkeypatch, capsys,
                                                         command, option, kind):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "data.npz", X=np.eye(4)[:, None, :], Y=np.eye(4)[:, None, :])
    path = _bad_path(kind, tmp_path)
    before = _tree(tmp_path)
    code = main([*WRITING_COMMANDS[command], option, str(path)])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(path) in err and f"cbn {command}: error: {option}" in err
    assert _tree(tmp_path) == before  # no default store, no default --out, the file untouched
    assert kind == "existing file" or not os.path.lexists(path)


def test_store_that_is_not_a_store_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "my-project"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a record\n")
    code = main(["fit", *SWEEP, "--store", str(folder)])
    err = capsys.readouterr().err
    assert code == 2 and "not a result store" in err and "notes.txt" in err
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my-project"]


def test_existing_store_and_new_nested_out_are_accepted(tmp_path, capsys):
    store = tmp_path / "store"
    assert main(["fit", *SWEEP, "--store", str(store)]) == 0
    capsys.readouterr()
    out = tmp_path / "a" / "b" / "c"
    assert main(["fit", *SWEEP, "--store", str(store), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["store"]["reused"] == 1 and (out / "fit.json").is_file()


def test_bad_out_from_a_real_process_has_no_traceback(tmp_path):
    (tmp_path / "outfile").write_text("keep me\n")
    proc = subprocess.run([sys.executable, "-m", "cbn.figures.cli", *WRITING_COMMANDS["linear"],
                           "--out", "outfile/sub"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert "outfile, which is a file" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outfile"]


# -- a store that fails in the middle of a sweep ---------------------------------------------

#: 3 depths x 2 seeds of a ladder: 6 runs, serial, so the records arrive one by one
MIDRUN = ["derivative", "--param", "spatial=[8]", "--depths", "2,3,4", "--seeds", "2",
          "--samples", "8", "--width", "2", "--workers", "1", "--quiet"]


@contextlib.contextmanager
def writes_fail_after(monkeypatch, saves: int):
    """From the ``saves + 1``-th record on, every file write of this process fails in the
    kernel: RLIMIT_FSIZE = 0 makes ``write`` return EFBIG (SIGXFSZ ignored), for root too.
    It stands in for a full disk, which a test cannot make safely; the limit is lifted on exit.
    """
    done = {"n": 0}
    original = ResultStore._write
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def write(self, *a, **k):
        if done["n"] == saves:
            resource.setrlimit(resource.RLIMIT_FSIZE, (0, hard))
        done["n"] += 1
        return original(self, *a, **k)

    monkeypatch.setattr(ResultStore, "_write", write)
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
        monkeypatch.undo()


def test_store_failing_mid_sweep_keeps_finished_records_and_resumes(tmp_path, monkeypatch,
                                                                   capsys):
    store = tmp_path / "store"
    with writes_fail_after(monkeypatch, saves=3):
        code = main(["fit", *MIDRUN, "--store", str(store)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "3 finished record(s)" in err and "rerun the same command to resume" in err
    kept = ResultStore(store)
    assert len(kept.keys()) == 3  # the failed 4th record left no JSON
    for key in kept.keys():
        assert kept.load_key(key) is not None  # complete, checksums verified
    assert not list(store.glob("*.tmp")) and not (store / "corrupt").exists()

    assert main(["fit", *MIDRUN, "--store", str(store), "--json"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    assert resumed["store"]["reused"] == 3 and resumed["store"]["computed"] == 3
    assert main(["fit", *MIDRUN, "--store", str(tmp_path / "clean"), "--json"]) == 0
    clean = json.loads(capsys.readouterr().out)
    assert clean["store"]["computed"] == 6
    assert resumed["norm"] == clean["norm"] and resumed["residual"] == clean["residual"]


def test_store_folder_removed_mid_sweep_is_reported_not_recreated(tmp_path, monkeypatch,
                                                                 capsys):
    store = tmp_path / "store"
    original = ResultStore.save
    done = {"n": 0}

    def save(self, *a, **k):
        stored = original(self, *a, **k)
        done["n"] += 1
        if done["n"] == 2:  # the user deletes the store between two records
            for p in store.iterdir():
                p.unlink()
            store.rmdir()
        return stored

    monkeypatch.setattr(ResultStore, "save", save)
    code = main(["fit", *MIDRUN, "--store", str(store)])
    err = capsys.readouterr().err
    assert code == 1 and "cannot write a record to the store" in err
    assert len(err.strip().splitlines()) == 1
    assert not store.exists()  # not recreated half-empty


def test_out_folder_failing_between_figures_keeps_store_records(tmp_path, monkeypatch,
                                                                capsys):
    import cbn.figures.commands.figures as figures_command

    out, store = tmp_path / "out", tmp_path / "store"
    original = figures_command.run_recipe
    done = {"n": 0}

    def run_recipe(*a, **k):
        if done["n"] == 1:  # the output folder becomes a file after the first figure
            for p in out.iterdir():
                p.unlink()
            out.rmdir()
            out.write_text("in the way\n")
        done["n"] += 1
        return original(*a, **k)

    monkeypatch.setattr(figures_command, "run_recipe", run_recipe)
    names = ["dynamics_stages", "downsampling"]
    code = main(["figures", *names, "--tiny", "--out", str(out), "--store", str(store)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1].startswith("cbn figures: error: cannot write")
    assert "rerun" in err[-1] and "Traceback" not in "".join(err)
    monkeypatch.undo()
    out.unlink()
    assert main(["figures", *names, "--tiny", "--out", str(out), "--store", str(store),
                 "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["from_store"] for r in results["figures"]] == [True, True]  # both were kept
