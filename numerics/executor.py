"""Executors for independent runs: in-process, local processes, or a Dask distributed cluster.

All executors share one method, :meth:`map_unordered`, which yields ``(index, result)`` pairs as
runs finish, so the caller can store each result as soon as it exists. The function must be a
module-level (picklable) callable and must be deterministic in its payload: results then do not
depend on the executor. On ``KeyboardInterrupt`` (or any error) pending runs are cancelled.

Worker processes run single-threaded math (``OMP_NUM_THREADS=1`` and ``torch.set_num_threads(1)``)
so that ``workers`` processes use ``workers`` cores.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from cbn.numerics.inputs import InputError


def available_cores() -> int:
    """Cores this process may use (CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


#: ``prctl`` option asking Linux to signal a process when its parent dies.
_PR_SET_PDEATHSIG = 1


def _worker_init() -> None:
    """Worker start-up: ignore SIGINT (the parent handles Ctrl-C), end with the parent (Linux:
    SIGTERM when it dies, however it dies), stdout onto stderr (what user code prints must not
    reach the parent's stdout, which may carry JSON), single-threaded math."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # torch is a dependency; this only guards odd environments
        pass


class SerialExecutor:
    """Runs everything in the calling process, in order (deterministic, no start-up cost)."""

    name = "serial"

    def map_unordered(
        self, fn: Callable[[Any], Any], payloads: Iterable[Any]
    ) -> Iterator[tuple[int, Any]]:
        for i, payload in enumerate(payloads):
            yield i, fn(payload)

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _call_indexed(task: tuple[Callable[[Any], Any], int, Any]) -> tuple[int, Any]:
    fn, index, payload = task
    return index, fn(payload)


class LocalExecutor(SerialExecutor):
    """A pool of ``workers`` local processes (``spawn`` start method, single-threaded each).

    Workers ignore SIGINT: Ctrl-C reaches the calling process only, which then terminates the
    pool (runs in flight are lost, finished ones were already yielded), so an interrupt prints
    no worker tracebacks and does not wait for long runs to end.

    Parameters
    ----------
    workers : number of processes; default :func:`available_cores`
    """

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = available_cores() if workers is None else int(workers)
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        self._pool = None

    def map_unordered(self, fn, payloads):
        tasks = [(fn, i, p) for i, p in enumerate(payloads)]
        if not tasks:
            return
        if self._pool is None:
            self._pool = multiprocessing.get_context("spawn").Pool(
                min(self.workers, len(tasks)), initializer=_worker_init
            )
        ok = False
        try:
            yield from self._pool.imap_unordered(_call_indexed, tasks)
            ok = True
        finally:
            if not ok:  # interrupted, failed, or abandoned by the caller: stop the workers now
                self._pool.terminate()
                self._pool.join()
                self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None


class DaskExecutor(SerialExecutor):
    """Runs on a Dask distributed cluster.

    Parameters
    ----------
    scheduler : address such as ``"tcp://127.0.0.1:8786"``, or an existing
        ``distributed.Client`` (then it is not closed by :meth:`close`).
    timeout : seconds to wait for the scheduler before giving up
    """

    name = "dask"

    def __init__(self, scheduler, timeout: float = 10.0) -> None:
        from distributed import Client

        if isinstance(scheduler, Client):
            self.client, self._owned = scheduler, False
        else:
            try:
                self.client = Client(scheduler, timeout=f"{timeout}s")
            except (OSError, TimeoutError) as exc:
                raise InputError(f"cannot reach Dask scheduler {scheduler}: {exc}; check the "
                                 f"address (tcp://HOST:8786) and that the scheduler runs") from None
            self._owned = True

    def map_unordered(self, fn, payloads):
        from distributed import as_completed

        payloads = list(payloads)
        # pure=False: every payload is its own task even if two payloads are equal.
        futures = [self.client.submit(fn, p, pure=False) for p in payloads]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                yield index[fut.key], fut.result()
        finally:
            self.client.cancel([f for f in futures if not f.done()])

    def close(self) -> None:
        if self._owned:
            self.client.close()


def make_executor(scheduler=None, workers: int | None = None) -> SerialExecutor:
    """Dask when ``scheduler`` is given, else local processes (serial when ``workers == 1``)."""
    if scheduler is not None:
        return DaskExecutor(scheduler)
    if workers == 1:
        return SerialExecutor()
    return LocalExecutor(workers)
