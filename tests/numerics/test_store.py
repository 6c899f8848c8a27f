"""The result store: keys, atomic records, corruption detection, kill-and-resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from cbn.numerics import store as store_module
from cbn.numerics.store import ResultStore, config_key

CONFIG = {"target": {"spec": "lowpass"}, "depth": 3, "seed": 1, "solver": {"lr": 0.1}}


def test_key_depends_on_every_field_version_and_code(monkeypatch):
    k = config_key(CONFIG)
    assert k == config_key(json.loads(json.dumps(CONFIG)))  # order/serialisation independent
    for change in ({"depth": 4}, {"seed": 2}, {"solver": {"lr": 0.2}}, {"extra": None}):
        assert config_key({**CONFIG, **change}) != k
    monkeypatch.setattr(store_module, "package_version", lambda: "9.9.9")
    k2 = config_key(CONFIG)
    assert k2 != k
    monkeypatch.setattr(store_module, "code_fingerprint", lambda: "0" * 64)
    assert config_key(CONFIG) not in (k, k2)


def test_roundtrip(tmp_path):
    store = ResultStore(tmp_path / "s")
    assert store.load(CONFIG) is None
    arrays = {"filter_0": np.arange(6.0).reshape(1, 2, 3), "bias_0": np.array([0.5])}
    store.save(CONFIG, {"norm_sq": 1.25, "bound": "upper"}, arrays)
    rec = ResultStore(tmp_path / "s").load(CONFIG)
    assert rec.record == {"norm_sq": 1.25, "bound": "upper"}
    assert rec.config == CONFIG
    np.testing.assert_array_equal(rec.arrays["filter_0"], arrays["filter_0"])
    assert not list((tmp_path / "s").glob("*.tmp"))


@pytest.mark.parametrize("damage", ["truncate_json", "truncate_npz", "flip_json", "delete_npz",
                                    "swap_npz"])
def test_corrupt_record_is_detected_and_moved_aside(tmp_path, damage):
    store = ResultStore(tmp_path)
    store.save(CONFIG, {"norm_sq": 1.25}, {"a": np.ones(100)})
    other = {**CONFIG, "seed": 7}
    store.save(other, {"norm_sq": 2.0}, {"a": np.zeros(100)})
    json_path, npz_path = store.paths(config_key(CONFIG))
    if damage == "truncate_json":
        json_path.write_bytes(json_path.read_bytes()[:40])
    elif damage == "truncate_npz":
        npz_path.write_bytes(npz_path.read_bytes()[:-30])
    elif damage == "flip_json":
        json_path.write_text(json_path.read_text().replace("1.25", "1.5"))
    elif damage == "delete_npz":
        npz_path.unlink()
    else:
        npz_path.write_bytes(store.paths(config_key(other))[1].read_bytes())
    assert store.load(CONFIG) is None
    assert store.corrupt_keys == [config_key(CONFIG)]
    assert not json_path.exists()
    assert any((tmp_path / "corrupt").glob("*.reason"))
    assert store.load(other).record == {"norm_sq": 2.0}  # neighbours untouched
    store.save(CONFIG, {"norm_sq": 1.25}, {"a": np.ones(100)})  # recomputed
    assert store.load(CONFIG).record == {"norm_sq": 1.25}


SCRIPT = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from cbn.numerics.store import ResultStore
    from cbn.numerics.sweep import execute

    def slow_run(config):
        time.sleep(0.1)
        rng = np.random.default_rng(config["seed"])
        w = rng.standard_normal((3, 3, 8))
        return {"norm_sq": float(np.sum(w ** 2)), "seed": config["seed"]}, {"filter_0": w}

    configs = [{"kind": "test", "seed": s} for s in range(12)]
    rep = execute(configs, ResultStore(sys.argv[1]), fn=slow_run, progress=False)
    print(rep.reused, rep.computed, rep.recomputed_corrupt)
    """
)


def _run_script(store_dir: Path, script: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(script), str(store_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_records(store_dir: Path, count: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120  # generous: only guards against a hung subprocess
    while len(list(store_dir.glob("*.json"))) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "subprocess made no progress"
        time.sleep(0.02)


@pytest.mark.parametrize("sig", [signal.SIGKILL])
def test_kill_half_way_then_resume_gives_identical_records(tmp_path, sig):
    script = tmp_path / "sweep_script.py"
    script.write_text(SCRIPT)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    proc = _run_script(killed, script)
    _wait_for_records(killed, 5, proc)
    proc.send_signal(sig)
    proc.communicate()
    done = len(list(killed.glob("*.json")))
    assert 5 <= done < 12
    assert not any(killed.glob("*.tmp")) or sig == signal.SIGKILL
    resumed = _run_script(killed, script)
    out, err = resumed.communicate()
    assert resumed.returncode == 0, err
    reused, computed, corrupt = map(int, out.split())
    assert (reused, computed) == (done, 12 - done) and corrupt == 0
    fresh = _run_script(clean, script)
    fresh.communicate()
    store_a, store_b = ResultStore(killed), ResultStore(clean)
    for s in range(12):
        cfg = {"kind": "test", "seed": s}
        a, b = store_a.load(cfg), store_b.load(cfg)
        assert a.record == b.record
        np.testing.assert_array_equal(a.arrays["filter_0"], b.arrays["filter_0"])


def test_load_by_key_verifies_too(tmp_path):
    store = ResultStore(tmp_path)
    saved = store.save(CONFIG, {"norm_sq": 1.0}, {"a": np.ones(3)})
    assert store.load_key(saved.key).record == {"norm_sq": 1.0}
    assert store.load_key("0" * 64) is None
    json_path, _ = store.paths(saved.key)
    json_path.write_text(json_path.read_text()[:-20])
    assert store.load_key(saved.key) is None and store.corrupt_keys == [saved.key]


def test_a_record_of_other_code_is_left_in_place_not_quarantined(tmp_path, monkeypatch):
    store = ResultStore(tmp_path)
    monkeypatch.setattr(store_module, "code_fingerprint", lambda: "0" * 64)
    old = store.save(CONFIG, {"norm_sq": 1.0}, {"a": np.ones(3)})
    monkeypatch.undo()  # the code changed: this installation's fingerprint again
    assert store.load(CONFIG) is None  # another key: a miss
    assert store.load_key(old.key) is None  # intact but of other code: not used ...
    assert store.corrupt_keys == [] and store.paths(old.key)[0].exists()  # ... nor moved
    assert not (tmp_path / "corrupt").exists()
    # the same record claiming this installation's code no longer matches its key: corrupt
    json_path = store.paths(old.key)[0]
    body = json.loads(json_path.read_text())
    body["code_fingerprint"] = store_module.code_fingerprint()
    del body["payload_sha256"]
    body["payload_sha256"] = store_module._sha256(store_module.canonical_json(body).encode())
    json_path.write_text(json.dumps(body))
    assert store.load_key(old.key) is None and store.corrupt_keys == [old.key]


def test_sources_enter_the_key_and_are_verified(tmp_path):
    assert config_key(CONFIG, sources="a" * 64) not in (config_key(CONFIG), config_key(CONFIG, "b"))
    store = ResultStore(tmp_path)
    store.save(CONFIG, {"norm_sq": 1.0}, {"a": np.ones(3)}, sources="a" * 64)
    assert store.load(CONFIG) is None and store.load(CONFIG, sources="b" * 64) is None
    assert store.load(CONFIG, sources="a" * 64).record == {"norm_sq": 1.0}
    assert not store.corrupt_keys


KEY_SCRIPT = "from cbn.numerics.store import config_key; print(config_key({'depth': 3}))"


def _key_in_copy(tree: Path) -> str:
    """The key of a fixed configuration as computed by the sources copied into ``tree``."""
    out = subprocess.run([sys.executable, "-c", KEY_SCRIPT], cwd=tree, check=True, text=True,
                         capture_output=True, env={**os.environ, "PYTHONPATH": str(tree)})
    return out.stdout.strip()


def test_numerics_keys_fingerprint_theory_and_numerics_wherever_installed(tmp_path):
    from cbn import numerics, theory

    copies = [tmp_path / "a", tmp_path / "b"]
    for tree in copies:
        for package in (numerics, theory):
            folder = Path(package.__file__).parent
            shutil.copytree(folder, tree / "cbn" / folder.name,
                            ignore=shutil.ignore_patterns("__pycache__"))
    assert _key_in_copy(copies[0]) == _key_in_copy(copies[1])  # independent of the folder
    before = _key_in_copy(copies[0])
    with open(copies[0] / "cbn" / "theory" / "expansion.py", "a") as fh:
        fh.write("\n# an edit of theory/\n")
    edited_theory = _key_in_copy(copies[0])
    assert edited_theory != before
    with open(copies[0] / "cbn" / "numerics" / "fourier.py", "a") as fh:
        fh.write("\n# an edit of numerics/\n")
    assert _key_in_copy(copies[0]) not in (before, edited_theory)
