"""What defines a sweep: :class:`SweepSpec`, its target pinned to content, and the data hash.

A sweep's target is a JSON-able configuration (a registered name, ``module:function``, a file
target, or a user filter); :func:`pin_target` fixes a file target to its content so that the
store key follows edits, not moves, and :func:`target_from_config` rebuilds the target where a
run executes (a Dask worker included). :meth:`SweepSpec.run_configs` gives one configuration
per (depth, seed), which is what the store keys (:mod:`cbn.numerics.store`).
"""

from __future__ import annotations

import hashlib
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from cbn.numerics.fourier import multipliers_from_filters
from cbn.numerics.inputs import InputError
from cbn.numerics.search import SearchSettings, Start
from cbn.numerics.store import LOCATION
from cbn.numerics.targets import LinearTarget, Target, get_target
from cbn.numerics.targets.detect import with_detected_linearity

__all__ = ["SweepSpec", "data_sha256", "pin_target", "target_from_config"]

def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pin_target(target: dict) -> dict:
    """The target configuration with a file target pinned to its content.

    ``{"spec": "path/to/file.py:attr", ...}`` becomes ``{"spec": "file.py:attr",
    "source_sha256": <SHA-256 of the file>, "location": "/absolute/path/to/file.py", ...}``:
    the store key (which leaves out ``location``, :mod:`cbn.numerics.store`) then changes when the
    file is edited and not when it moves, and a relative and an absolute path give the same
    key. Other targets (and an already pinned one) are returned unchanged.

    Raises
    ------
    InputError
        If the file does not exist.
    """
    where, sep, attr = target.get("spec", "").rpartition(":")
    if "location" in target or not sep or not where.endswith(".py"):
        return dict(target)
    path = Path(where).expanduser().resolve()
    if not path.is_file():
        raise InputError(f"target file not found: {where}")
    return {**target, "spec": f"{path.name}:{attr}", "source_sha256": _file_sha256(path),
            LOCATION: str(path)}


def target_from_config(target: dict) -> Target:
    """Build the target of a run configuration: ``{"spec": ..., "params": {...}}`` (a registered
    name, entry point, ``module:function`` or a file target, pinned or not: :func:`pin_target`)
    or ``{"filter": nested list, "convention": ...}`` (the linear operator ``x -> W * x`` of a
    filter, paper_notes/theory.md section 3). A target that declares no multipliers but is linear
    and
    shift-equivariant to round-off comes back as a
    :class:`cbn.numerics.targets.detect.DetectedLinearTarget` with its exact multipliers.

    Raises
    ------
    InputError
        If a pinned file is missing or changed on the machine that builds the target (a Dask
        worker must see the file at the same absolute path).
    """
    if "filter" in target:
        filters = np.asarray(target["filter"], dtype=float)
        name = "filter:" + hashlib.sha256(filters.tobytes()).hexdigest()[:12]
        mult = multipliers_from_filters(filters, target["convention"])
        return LinearTarget(name, mult, "Linear operator of a user filter.")
    params = target.get("params", {})
    if LOCATION not in target:
        # a user target that is linear without declaring it gets its exact multipliers
        return with_detected_linearity(get_target(target["spec"], **params))
    path, host = Path(target[LOCATION]), socket.gethostname()
    if not path.is_file():
        raise InputError(f"target file {path} is not visible on host {host} (the process "
                         f"building the target, e.g. a Dask worker): put it in a folder every "
                         f"worker sees at the same absolute path")
    if _file_sha256(path) != target["source_sha256"]:
        raise InputError(f"target file {path} on host {host} differs from the one the sweep "
                         f"was started with (SHA-256 {target['source_sha256'][:12]}...): "
                         f"was it edited during the run?")
    built = get_target(f"{path}:{target['spec'].rpartition(':')[2]}", **params)
    built.name = target["spec"]
    return with_detected_linearity(built)


def data_sha256(X: np.ndarray, Y: np.ndarray) -> str:
    """SHA-256 of the sampled data: shapes and float64 bytes of ``X`` and ``Y`` (the inputs
    and the target's values on them, which are all a fit sees of the target)."""
    digest = hashlib.sha256()
    for a in (X, Y):
        a = np.ascontiguousarray(a, dtype=np.float64)
        digest.update(repr(a.shape).encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class SweepSpec:
    """Everything that defines a sweep (all of it enters every run's store key).

    ``settings``: the search's settings (:class:`cbn.numerics.search.SearchSettings`), whole in
    every run's key; ``settings.residual_rtol`` says when a run fits the data
    (``||f_theta(X) - Y|| / ||Y|| <= residual_rtol``; the engine's own ``converged`` also asks
    for a tiny KKT gradient, which runs at the minimum to 1e-12 often miss).
    ``start`` (:class:`cbn.numerics.search.Start`, its kind and noise): ``"ladder"`` (default: the
    depths run in increasing order and depth ``L`` starts from the same seed's depth-``L_prev``
    network padded by ``cbn.numerics.starts.pad_to_depth`` with the data projector, exact on the
    samples; see :func:`execute_ladder`), ``"random"`` (every run from a seeded random network)
    or ``"construction"`` (start from :func:`cbn.numerics.starts.construction_network`; the seed
    then only matters through the noise). ``start.noise`` is the relative size of a seeded
    Gaussian perturbation of a construction or ladder start's filters (see
    :func:`cbn.numerics.starts.perturb_filters`; 0: none). A start with exact zeros (the
    construction's dropped frequencies, its zero-padded channels) sits on a set that gradients
    cannot leave: the perturbation lets the search use them, so what stays near 0 was dropped by
    the search.
    ``ladder_restarts``: random starts a ladder run that starts at random (the smallest depth,
    or a depth with no shallower run of the same seed that fits) tries in turn until one fits
    the data (a start that does not fit would spoil every deeper rung); the first that fits is
    kept, else the one of least residual.
    """

    target: dict
    depths: list[int]
    seeds: int = 3
    n_samples: int = 128
    sample_seed: int = 0
    width: int = 8
    activation: str = "relu"
    convention: str = "scaled"
    bias: bool = True
    settings: SearchSettings = field(default_factory=SearchSettings)
    start: Start = field(default_factory=lambda: Start("ladder"))
    ladder_restarts: int = 3

    def __post_init__(self) -> None:
        if self.ladder_restarts < 1:
            raise ValueError(f"ladder_restarts must be >= 1, got {self.ladder_restarts}")
        if self.start.network is not None:
            raise ValueError("a sweep's start is a kind and a noise; each run builds its "
                             "network")
        object.__setattr__(self, "target", pin_target(self.target))

    @property
    def init(self) -> str:
        """The start's kind (``start.kind``)."""
        return self.start.kind

    @property
    def residual_rtol(self) -> float:
        """When a run fits the data (``settings.residual_rtol``)."""
        return self.settings.residual_rtol

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """The samples every run fits: ``X`` ``(n_samples, c_in, *spatial)`` drawn by the
        target's sampler with ``sample_seed`` and ``Y = target(X)``."""
        target = target_from_config(self.target)
        X = target.sample(self.n_samples, self.sample_seed)
        return X, target.evaluate(X)

    def run_configs(self) -> list[dict]:
        """One configuration per (depth, seed), depth-major.

        For ``init="ladder"`` these are the configurations of runs that start at random (what
        :func:`execute_ladder` submits at the smallest depth); the deeper rungs add their start
        (``ladder_from``) and ``start_attempts = 1`` in :func:`execute_ladder`.
        """
        base = {k: v for k, v in asdict(self).items()
                if k not in ("depths", "seeds", "ladder_restarts", "start")}
        base["init"], base["start_noise"] = self.start.kind, self.start.noise
        # the data enter the key by content: a target whose code changed outside this package
        # (a user's module, an installed entry point) gets new records
        base["data_sha256"] = data_sha256(*self.data())
        # which runs count as fitting the data (also in settings; read by execute_ladder)
        base["residual_rtol"] = self.residual_rtol
        if self.init == "ladder":
            base["start_attempts"] = self.ladder_restarts
        return [
            {"kind": "min_norm_fit", **base, "depth": int(L), "seed": int(s)}
            for L in self.depths
            for s in range(self.seeds)
        ]

