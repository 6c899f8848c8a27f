"""Executors: serial, local processes and a real Dask LocalCluster give identical results."""

from __future__ import annotations

import numpy as np
import pytest

from cbn.numerics.executor import (
    DaskExecutor,
    LocalExecutor,
    SerialExecutor,
    available_cores,
    make_executor,
)
from cbn.numerics.inputs import InputError


def seeded_work(payload: dict) -> dict:
    """Deterministic float64 work: a seeded random matrix and its singular values."""
    rng = np.random.default_rng(payload["seed"])
    a = rng.standard_normal((20, 20))
    return {"seed": payload["seed"], "sv": np.linalg.svd(a, compute_uv=False).tolist()}


PAYLOADS = [{"seed": s} for s in range(6)]


def _collect(executor) -> list:
    out = [None] * len(PAYLOADS)
    with executor:
        for i, res in executor.map_unordered(seeded_work, PAYLOADS):
            assert out[i] is None
            out[i] = res
    return out


def test_serial_and_local_processes_agree():
    serial = _collect(SerialExecutor())
    assert [r["seed"] for r in serial] == list(range(6))
    assert _collect(LocalExecutor(workers=2)) == serial  # bitwise: same code, same seeds


def test_dask_local_cluster_agrees_with_local():
    distributed = pytest.importorskip("distributed")
    serial = _collect(SerialExecutor())
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        assert _collect(DaskExecutor(cluster.scheduler_address)) == serial
        with distributed.Client(cluster) as client:
            assert _collect(DaskExecutor(client)) == serial


def test_make_executor_and_bad_scheduler():
    assert isinstance(make_executor(workers=1), SerialExecutor)
    assert isinstance(make_executor(), LocalExecutor)
    assert make_executor().workers == available_cores()
    with pytest.raises(ValueError, match="workers"):
        LocalExecutor(workers=0)
    with pytest.raises(InputError, match="cannot reach Dask scheduler"):
        DaskExecutor("tcp://127.0.0.1:1", timeout=1)
