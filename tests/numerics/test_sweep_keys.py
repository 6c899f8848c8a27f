"""Store keys of file targets: the key follows the file's content and the sampled data, not the
path by which the file was named."""

from __future__ import annotations

import os
import shutil

import pytest

from cbn.numerics.inputs import InputError
from cbn.numerics.search import Start
from cbn.numerics.store import ResultStore
from cbn.numerics.sweep import SweepSpec, execute_sweep, target_from_config

SOURCE = '''
import numpy as np
from cbn.numerics.targets import Target


class Blur(Target):
    c_in, c_out, spatial, symmetry = 1, 1, (4,), "equivariant"

    def evaluate(self, x):
        return (np.roll(x, 1, -1) + 2 * x + np.roll(x, -1, -1)) / {divisor}
'''


def _spec(spec: str) -> SweepSpec:
    # depth 2 only, one seed, a linear network on 4 samples: a sub-second run
    return SweepSpec(target={"spec": spec, "params": {}}, depths=[2], seeds=1, n_samples=4,
                     width=2, activation="identity", bias=False, start=Start("random"))


def _run(spec: str, store: ResultStore):
    return execute_sweep(_spec(spec), store, progress=False)


def test_edited_target_is_recomputed_moved_one_reused(tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    path = first / "t.py"
    path.write_text(SOURCE.format(divisor=4))
    store = ResultStore(tmp_path / "store")
    rep = _run(f"{path}:Blur", store)
    assert (rep.computed, rep.reused) == (1, 0)
    old_norm = rep.records[0].record["norm_sq"]

    # a relative path to the same file is the same computation
    monkeypatch.chdir(first)
    rep = _run("t.py:Blur", store)
    assert (rep.computed, rep.reused) == (0, 1)

    # the same spec string naming another function: recomputed, a different norm
    path.write_text(SOURCE.format(divisor=40))
    rep = _run("t.py:Blur", store)
    assert (rep.computed, rep.reused) == (1, 0)
    # the depth-2 cost 2 sum_m |a(m)| is linear in the target's scale; 1e-6: both runs fit to
    # the engine's tolerance and sit at the closed form to ~1e-10
    assert rep.records[0].record["norm_sq"] == pytest.approx(old_norm / 10, rel=1e-6)

    # moved to another folder, unchanged: reused
    shutil.move(path, second / "t.py")
    os.chdir(second)
    rep = _run("t.py:Blur", store)
    assert (rep.computed, rep.reused) == (0, 1)
    assert len(store.keys()) == 2


def test_data_enter_the_key(tmp_path):
    """A registered target sampled with another seed (same spec string) is another run."""
    store = ResultStore(tmp_path)
    spec = _spec("derivative")
    a = spec.run_configs()[0]
    b = SweepSpec(**{**spec.__dict__, "sample_seed": 1}).run_configs()[0]
    assert a["data_sha256"] != b["data_sha256"]
    execute_sweep(spec, store, progress=False)
    assert store.load(a) is not None and store.load(b) is None


def test_a_worker_that_cannot_see_the_file_says_so(tmp_path):
    path = tmp_path / "t.py"
    path.write_text(SOURCE.format(divisor=4))
    pinned = _spec(f"{path}:Blur").target
    assert pinned["spec"] == "t.py:Blur" and pinned["location"] == str(path.resolve())
    path.write_text(SOURCE.format(divisor=5))
    with pytest.raises(InputError, match="differs from the one the sweep was started with"):
        target_from_config(pinned)
    path.unlink()
    with pytest.raises(InputError, match="not visible on host .* Dask worker"):
        target_from_config(pinned)
