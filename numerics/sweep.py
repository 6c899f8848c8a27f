"""Depth sweeps: minimal-norm fits at every (depth, seed), best per depth, R0/R1 fit, bounds.

Flow: :class:`SweepSpec` -> one JSON-able run configuration per (depth, seed)
(:func:`run_configs`) -> :func:`execute` runs the missing ones on an executor and stores each as
soon as it finishes (:mod:`cbn.numerics.store`) -> :func:`summarize` keeps the best run per depth,
fits ``L R0 + R1 (+ R2/L)`` (:mod:`cbn.numerics.fitting`) and compares with the bounds.

Bound labels (paper_notes/theory.md section 7): a trained network's norm is an UPPER bound on ``R(f;
Omega, L)``;
closed-form costs of linear targets are EXACT; ranks of constant-input Jacobians of the target
give a LOWER bound on ``R0`` for the target prescribed on an open set around those inputs; a
known factorisation gives an UPPER bound on ``R0``.
"""

from __future__ import annotations

import hashlib
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from cbn.numerics.bounds import LOOSE_RANK_RTOL, bottleneck_terms, jacobian_blocks_fd
from cbn.numerics.diagnosis import diagnose
from cbn.numerics.executor import SerialExecutor
from cbn.numerics.fitting import fit_depth_scaling
from cbn.numerics.fourier import multipliers_from_filters
from cbn.numerics.guards import above, diverged_depths, padded_bounds
from cbn.numerics.inputs import InputError
from cbn.numerics.linear import expansion_terms, ranks_per_frequency, representation_cost
from cbn.numerics.search import Architecture, SearchSettings, Start, best_run, min_norm_fit
from cbn.numerics.spectra import NEAR_ONE_SPLIT, near_one_counts, weight_spectra
from cbn.numerics.starts import construction_network, pad_to_depth, perturbed_network
from cbn.numerics.store import LOCATION, ResultStore, StoredRecord
from cbn.numerics.targets import LinearTarget, Target, get_target
from cbn.numerics.targets.detect import DetectedLinearTarget, with_detected_linearity
from cbn.numerics.weights import Network

UPPER = "upper bound on R(f; Omega, L): norm of a trained network that fits the data"
EXACT = "exact (closed form)"
LOWER_R0 = ("lower bound on R0: sum of ranks of the target's constant-input Jacobian blocks "
            "(valid for the target prescribed on an open set around those inputs)")
UPPER_R0 = "upper bound on R0: dimension of a known factorisation (paper_notes/theory.md section 4)"
FIT = "least-squares estimate from the best norm per depth (themselves upper bounds)"

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


def run_min_norm(config: dict) -> tuple[dict, dict[str, np.ndarray]]:
    """Run one minimal-norm fit described by a configuration from :meth:`SweepSpec.run_configs`.

    ``start_attempts`` (default 1) random starts are tried in turn until one reaches
    ``residual_rel <= settings.residual_rtol``; a warm start (``ladder_from``) or the
    construction starts the search once (see :func:`_run_min_norm`). Module-level and
    deterministic in ``config``: torch and the BLAS/OpenMP pools of numpy run single-threaded
    for the whole run (the padding's SVD, the fit), so the result is bitwise the same on any
    executor (thread count and thread scheduling change float reductions).

    Returns
    -------
    record : ``MinNormResult.to_dict()`` without the weights, plus ``bound`` (and, for a random
        start with ``start_attempts > 1``, a summary of every attempt in ``start_attempts``)
    arrays : ``filter_<l>`` and ``bias_<l>`` for every layer
    """
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            result, tried, guard = _run_min_norm(config)
    finally:
        torch.set_num_threads(threads)
    record = {k: v for k, v in result.to_dict().items() if k not in ("filters", "biases")}
    record["bound"] = UPPER
    if guard is not None:
        record["guard"] = {**guard, "kept_norm_sq": result.norm_sq}
    if len(tried) > 1 or config.get("start_attempts", 1) > 1 or guard is not None:
        record["start_attempts"] = tried
    return record, Network(result.filters, result.biases).to_arrays()


def _run_min_norm(config: dict) -> tuple:
    """The fit(s) of :func:`run_min_norm`: ``(kept result, every attempt, guard)``.

    Every attempt is one run of :func:`cbn.numerics.search.min_norm_fit`'s restart loop; the
    attempts are summaries (``MinNormResult.restarts``). A random start with
    ``start_attempts = A`` runs up to ``A`` restarts until one fits, seeded ``seed * A + a``
    (seeds never share a start; ``A = 1``: the seed itself, with ``settings.restarts`` runs).
    ``guard`` (None unless it fired) records a warm start that fitted the data and a search
    that ended above it by more than ``cbn.numerics.guards.GUARD_RTOL``: the run is then retried
    from ``guard_attempts`` random starts, seeded apart from every seed's own (negative
    seeds ``-1 - (seed * R + a)``, ``a = R - 1 .. 0``), and the least norm that fits is kept.
    """
    import torch

    target = target_from_config(config["target"])
    X = target.sample(config["n_samples"], config["sample_seed"])
    Y = target.evaluate(X)
    depth = config["depth"]
    settings = SearchSettings.from_dict(config["settings"])
    architecture = Architecture.uniform(depth, config["width"], activation=config["activation"],
                                        convention=config["convention"], bias=config["bias"])
    init = None
    if config.get("init") == "construction":
        from cbn.numerics.network import CircularCNN

        net = construction_network(target, depth, config["width"], X)
        init = CircularCNN.from_numpy(net.filters, net.biases, activation=config["activation"],
                                      convention=config["convention"])
    elif config.get("init") == "ladder" and config.get("ladder_from") is not None:
        from cbn.numerics.network import CircularCNN

        prev = config["ladder_from"]
        # a bias-free run stores zero biases; rebuilding them would give the start biases
        # that the fit (bias=False) does not expect
        biases = prev["biases"] if config["bias"] else None
        net = CircularCNN.from_numpy(
            [np.asarray(f) for f in prev["filters"]],
            None if biases is None else [np.asarray(b) for b in biases],
            activation=config["activation"], convention=config["convention"])
        init = pad_to_depth(net, depth, X)
    if init is not None and config.get("start_noise"):
        filters, biases = init.to_numpy()
        init = perturbed_network(filters, biases if config["bias"] else None,
                                 config["start_noise"], config["seed"], config["activation"],
                                 config["convention"])
    rtol = settings.residual_rtol
    # an unperturbed warm start that fits the data is an upper bound in hand (cbn.numerics.guards)
    bound = None
    if init is not None and not config.get("start_noise"):
        with torch.no_grad():
            fits = float(torch.linalg.norm(init(torch.as_tensor(X)) - torch.as_tensor(Y))
                         / max(float(np.linalg.norm(Y)), 1e-300)) <= rtol
        bound = Network.from_torch(init).norm_sq() if fits else None

    if init is not None:
        start = Start.given(init, config["seed"], kind=config["init"])
    else:
        attempts = int(config.get("start_attempts", 1))
        start = Start.random(config["seed"] * attempts)
        if attempts > 1:
            settings = settings.with_values({"restarts": attempts, "restart_until_fit": True})
    results = [min_norm_fit(X, Y, architecture, start, settings)]
    tried = list(results[0].restarts)
    guard = None
    if above(tried[0]["norm_sq"], bound):
        # the search ended above its own fitting start: retry from random starts
        retries = int(config.get("guard_attempts", 1))
        retry = settings.with_values({"restarts": retries, "restart_until_fit": False})
        results.append(min_norm_fit(X, Y, architecture,
                                    Start.random(-(config["seed"] + 1) * retries), retry))
        tried += results[-1].restarts
        guard = {"start_norm_sq": bound, "failed_norm_sq": tried[0]["norm_sq"],
                 "retries": retries, "bound": "upper bound: the run's start fits the data"}
    return best_run(results, rtol), tried, guard


@dataclass
class ExecutionReport:
    """Records of a batch of runs, in configuration order, and where each came from."""

    records: list[StoredRecord]
    reused: int
    computed: int
    recomputed_corrupt: int
    seconds: float


def execute(
    configs: Sequence[dict],
    store: ResultStore,
    executor=None,
    fn: Callable[[dict], tuple[dict, dict]] = run_min_norm,
    progress: bool = True,
) -> ExecutionReport:
    """Run every configuration not yet in ``store`` and store each result when it finishes.

    Finished records are reused; corrupt ones are detected by the store and recomputed. Each
    record is written atomically as soon as its run returns, so an interruption (Ctrl-C, kill)
    loses only the runs in flight and the next call resumes.
    """
    start = time.perf_counter()
    executor = executor or SerialExecutor()
    corrupt_before = len(store.corrupt_keys)
    found = [store.load(c) for c in configs]
    missing = [i for i, rec in enumerate(found) if rec is None]
    bar = tqdm(total=len(configs), initial=len(configs) - len(missing), file=sys.stderr,
               disable=not progress, desc="runs", unit="run")
    try:
        for j, (record, arrays) in executor.map_unordered(fn, [configs[i] for i in missing]):
            found[missing[j]] = store.save(configs[missing[j]], record, arrays)
            bar.update(1)
    finally:
        bar.close()
    return ExecutionReport(
        records=found, reused=len(configs) - len(missing), computed=len(missing),
        recomputed_corrupt=len(store.corrupt_keys) - corrupt_before,
        seconds=time.perf_counter() - start,
    )


def execute_ladder(
    spec: SweepSpec, store: ResultStore, executor=None, progress: bool = True
) -> ExecutionReport:
    """Depth by depth: every seed's run at depth ``L`` starts from its last run that fits.

    Rungs (the requested depths, in increasing order): seed ``s`` at depth ``L`` starts from
    its most recent shallower run of depth >= 2 whose ``residual_rel <= spec.residual_rtol``,
    padded to ``L`` by ``cbn.numerics.starts.pad_to_depth`` with the data projector (exact on the
    samples), tried once (``start_attempts = 1``). Without such a run (the smallest depth, or
    every earlier rung of that seed missed the data) the run starts at random with
    ``spec.ladder_restarts`` starts. The start's weights and the attempts are part of the run
    configuration (hence of its store key), so a ladder resumes and reuses records like any
    sweep.
    """
    if spec.init != "ladder":
        raise ValueError(f"execute_ladder needs init='ladder', got {spec.init!r}")
    start = time.perf_counter()
    records: list[StoredRecord] = []
    reused = computed = corrupt = 0
    fitting: dict[int, StoredRecord] = {}  # seed -> its deepest run so far that fits
    base = {(c["depth"], c["seed"]): c for c in spec.run_configs()}
    for L in sorted(spec.depths):
        configs = []
        for seed in range(spec.seeds):
            config = dict(base[(L, seed)])
            before = fitting.get(seed)
            if before is not None:
                net = Network.from_arrays(before.arrays)
                # a bias-free run stores zero biases: do not pass them on
                biases = net.biases if spec.bias else None
                config["start_attempts"] = 1
                config["guard_attempts"] = spec.ladder_restarts
                config["ladder_from"] = {
                    "depth": before.config["depth"],
                    "filters": [f.tolist() for f in net.filters],
                    "biases": None if biases is None else [b.tolist() for b in biases],
                }
            configs.append(config)
        rep = execute(configs, store, executor, progress=progress)
        records += rep.records
        reused, computed = reused + rep.reused, computed + rep.computed
        corrupt += rep.recomputed_corrupt
        for r in rep.records:
            # a depth-1 network has no hidden layer of the sweep's width (nor a ReLU output)
            # to pad after: depth 2 starts at random
            if r.record["residual_rel"] <= spec.residual_rtol and r.config["depth"] >= 2:
                fitting[r.config["seed"]] = r
    return ExecutionReport(records, reused, computed, corrupt, time.perf_counter() - start)


def execute_sweep(
    spec: SweepSpec, store: ResultStore, executor=None, progress: bool = True
) -> ExecutionReport:
    """Run (or reuse) every run of ``spec``: :func:`execute_ladder` for ``init="ladder"``,
    else :func:`execute` on :meth:`SweepSpec.run_configs`."""
    if spec.init == "ladder":
        return execute_ladder(spec, store, executor, progress)
    return execute(spec.run_configs(), store, executor, progress=progress)


def constant_inputs(X: np.ndarray, count: int = 3, seed: int = 0) -> list[np.ndarray]:
    """Constant inputs (values per channel) at which Jacobian bounds are taken: the data mean
    per channel and ``count - 1`` Gaussian values scaled by the data's per-channel spread."""
    axes = (0,) + tuple(range(2, X.ndim))
    mean, std = X.mean(axis=axes), X.std(axis=axes)
    rng = np.random.default_rng(seed)
    return [mean] + [mean + std * rng.standard_normal(len(mean)) for _ in range(count - 1)]


def target_r0_lower_bound(target: Target, X: np.ndarray) -> dict | None:
    """Max over :func:`constant_inputs` of ``sum_m rank J_m`` of the target (finite differences).

    None for targets that are not translation-equivariant with per-pixel outputs.
    """
    if target.symmetry != "equivariant" or getattr(target, "pooled", False):
        return None
    best = None
    for value in constant_inputs(X):
        blocks, off = jacobian_blocks_fd(target.evaluate, value, target.spatial)
        ranks = ranks_per_frequency(blocks, LOOSE_RANK_RTOL)
        entry = {"value": value.tolist(), "rank_sum": int(ranks.sum()),
                 "ranks": ranks.tolist(), "off_diagonal": off, "rank_rtol": LOOSE_RANK_RTOL,
                 "bound": LOWER_R0}
        if best is None or entry["rank_sum"] > best["rank_sum"]:
            best = entry
    return best


def _layer_counts(filters, convention: str) -> list[dict]:
    """Per layer: per-frequency count of singular values above the split, and its extremes."""
    out = []
    for l, s in enumerate(weight_spectra(filters, convention)):
        c = near_one_counts(s, NEAR_ONE_SPLIT)
        out.append({"layer": l + 1, "counts": c["counts"].tolist(),
                    "total": int(c["counts"].sum()), "max_dev_kept": c["max_dev_kept"],
                    "max_dropped": c["max_dropped"]})
    return out


#: What to try when a sweep on a target with an explicit construction is flagged (measured on
#: the built-in ``bottleneck`` target, README "ReLU targets").
CONSTRUCTION_HINT = ("this target has an explicit construction: --init construction "
                     "--start-noise 0.03 --max-iter 60000 --inner-iter 2000 reached lower norms "
                     "than the ladder on the built-in bottleneck target (README, ReLU targets)")


def construction_flags(depths: Sequence[int], norms: Sequence[float],
                       construction: Sequence[float | None]) -> list[str]:
    """Flags for depths whose best trained norm is above the explicit construction's.

    Both are UPPER bounds on ``R(f; L)``; a trained network costlier than a known network for
    the same function is not at the minimum (an optimisation failure, not a finding).
    """
    return [f"depth {L}: best trained norm {n:.6g} is above the explicit construction's "
            f"{c:.6g}: not at the minimum (optimisation failure)"
            for L, n, c in zip(depths, norms, construction) if c is not None and n > c]


def construction_norms(target: Target, depths: Sequence[int], width: int,
                       X: np.ndarray) -> list[float | None] | None:
    """Per depth the norm of the target's explicit construction (an UPPER bound on
    ``R(f; L)``), None where its depth or width rules it out; None when it has none at all."""
    build = getattr(target, "construction", None)  # duck-typed user targets may lack it
    norms, found = [], False
    for L in depths:
        try:
            net = None if build is None else build(L, width, X)
        except ValueError:  # a construction exists, but not at this depth or width
            norms.append(None)
            found = True
            continue
        found |= net is not None
        norms.append(None if net is None else net.norm_sq())
    return norms if found else None


def _stored_network(record: StoredRecord, spec: SweepSpec) -> Network:
    """The network of a stored run (its arrays, the sweep's activation and convention)."""
    return Network.from_arrays(record.arrays, spec.activation, spec.convention)


def summarize(spec: SweepSpec, records: Sequence[StoredRecord]) -> dict:
    """Best run per depth, depth fit, bounds, flags and the CBN picture of the deepest network.

    Returns
    -------
    dict with the keys of ``cbn fit --json`` (see the README), every value labelled.
    """
    target = target_from_config(spec.target)
    X = target.sample(spec.n_samples, spec.sample_seed)
    by_depth: dict[int, list[StoredRecord]] = {}
    for rec in records:
        by_depth.setdefault(rec.config["depth"], []).append(rec)
    depths = sorted(by_depth)
    best, flags = [], []
    for L in depths:
        runs = by_depth[L]
        ok = [r for r in runs if r.record["residual_rel"] <= spec.residual_rtol]
        if not ok:
            flags.append(f"depth {L}: no seed fits the data to residual_rel <= "
                         f"{spec.residual_rtol:g}; using the smallest residual")
            ok = [min(runs, key=lambda r: r.record["residual_rel"])]
        best.append(min(ok, key=lambda r: r.record["norm_sq"]))
    norms = [r.record["norm_sq"] for r in best]
    residuals = [r.record["residual_max_abs"] for r in best]
    fitting_nets = [_stored_network(r, spec)
                    if r.record["residual_rel"] <= spec.residual_rtol else None for r in best]
    padded = padded_bounds(depths, fitting_nets, X)
    guarded = [f"depth {r.config['depth']} seed {r.config['seed']}: the run ended at "
               f"{g['failed_norm_sq']:.6g}, above its start {g['start_norm_sq']:.6g} (which "
               f"fits the data); retried from {g['retries']} random start(s), kept "
               f"{g['kept_norm_sq']:.6g}"
               for r in records if (g := r.record.get("guard")) is not None]

    mult = target.linear_multipliers(spec.convention)
    linear_net = mult is not None and spec.activation == "identity"
    exact = [representation_cost(mult, L, spec.convention) for L in depths] if linear_net else None
    construction = (construction_norms(target, depths, spec.width, X)
                    if spec.activation == "relu" else None)
    divergences = diverged_depths(depths, norms, {
        "closed form": exact, "explicit construction": construction,
        "shallower best network padded to this depth": [
            None if b is None else b.norm_sq for b in padded]})
    diverged = [d.depth for d in divergences]
    flags += [d.flag() for d in divergences]
    above_padded = [L for L, n, b in zip(depths, norms, padded)
                    if b is not None and above(n, b.norm_sq) and L not in diverged]
    flags += [f"depth {b.depth}: best norm {n:.6g} is above the upper bound {b.norm_sq:.6g} in "
              f"hand (the depth-{b.source_depth} best network padded to depth {b.depth}) by "
              f"{n / b.norm_sq - 1:.2g} relative: not at the minimum (optimisation failure); "
              f"left out of the depth fit"
              for n, b in zip(norms, padded) if b is not None and b.depth in above_padded]
    excluded = sorted(set(diverged) | set(above_padded))
    if mult is not None:
        # the Jacobian of a linear target is A(m) at every input: sum_m rank A(m) bounds R0
        # from below for any network; it is R0 itself for linear networks (closed form).
        r0_exact, r1_exact, r2_exact = expansion_terms(mult, spec.convention)
        r0_lower = int(round(r0_exact))
        r0_upper = r0_lower if linear_net else target.r0_upper_bound()
        lower_info = {"rank_sum": r0_lower, "bound": EXACT if linear_net else LOWER_R0}
    else:
        r0_exact = r1_exact = r2_exact = None
        lower_info = target_r0_lower_bound(target, X)
        r0_lower = None if lower_info is None else lower_info["rank_sum"]
        r0_upper = target.r0_upper_bound()

    out: dict = {
        "target": target.name,
        "description": target.description(),
        "linear_detected": isinstance(target, DetectedLinearTarget),
        "spatial": list(target.spatial),
        "channels": [target.c_in, target.c_out],
        "activation": spec.activation,
        "convention": spec.convention,
        "width": spec.width,
        "n_samples": spec.n_samples,
        "seeds": spec.seeds,
        "depths": depths,
        "norm": norms,
        "residual": residuals,
        "residual_rtol": spec.residual_rtol,
        "runs": [[{"seed": r.config["seed"], "norm_sq": r.record["norm_sq"],
                   "residual_max_abs": r.record["residual_max_abs"],
                   "residual_rel": r.record["residual_rel"],
                   "converged": r.record.get("converged"), "key": r.key}
                  for r in by_depth[L]] for L in depths],
        "exact": exact,
        "construction_norm": construction,
        "init": spec.init,
        "start_noise": spec.start.noise,
        "solver": spec.settings.to_dict(),
        "R0_exact": r0_exact if linear_net else None,
        "R1_exact": r1_exact if linear_net else None,
        "R2_exact": r2_exact if linear_net else None,
        "R0_lower_bound": r0_lower,
        "R0_lower_bound_detail": lower_info,
        "R0_upper_bound": r0_upper,
    }
    kept = [i for i, L in enumerate(depths) if L not in excluded]
    notes = list(guarded)
    if len(kept) >= 3:
        fit_depths, fit_norms = [depths[i] for i in kept], [norms[i] for i in kept]
        fit = fit_depth_scaling(fit_depths, fit_norms,
                                r0_known=int(round(r0_exact)) if linear_net else None)
        diagnosis = diagnose(
            fit, exact=None if exact is None else [exact[i] for i in kept],
            exact_terms=(r0_exact, r1_exact, r2_exact) if linear_net else None,
            cost=(lambda L: representation_cost(mult, L, spec.convention)) if linear_net
            else None,
            r0_lower_bound=r0_lower, r0_upper_bound=r0_upper)
        flags += diagnosis.flags
        notes += diagnosis.notes
        out.update(R0_fit=fit.R0_free, R0_integer=fit.R0 if fit.R0_resolved else None,
                   R1_fit=fit.R1, R2_fit=fit.R2, R0_interval=fit.R0_interval,
                   R1_interval=fit.R1_interval, fit=fit.to_dict(),
                   truncation_bias=diagnosis.truncation_bias)
    else:
        notes.append(f"{len(kept)} depth(s) to fit (at least 3 are needed): no depth fit")
        out.update(R0_fit=None, R0_integer=None, R1_fit=None, R2_fit=None, R0_interval=None,
                   R1_interval=None, fit=None, truncation_bias=None)
    out["excluded_depths"] = excluded
    out["diverged_depths"] = diverged
    out["padded_bound"] = [None if b is None else b.norm_sq for b in padded]
    if construction is not None:
        flags += construction_flags(depths, norms, construction)
    # the CBN picture comes from the deepest depth whose search did not diverge
    shown = max((i for i, L in enumerate(depths) if L not in diverged), default=len(depths) - 1)
    deepest = _stored_network(best[shown], spec)
    value = constant_inputs(X)[0]
    terms = bottleneck_terms(deepest.filters, deepest.biases, value, spec.activation,
                             spec.convention, LOOSE_RANK_RTOL)
    out["deepest"] = {
        "depth": depths[shown],
        "key": best[shown].key,
        "layer_counts": _layer_counts(deepest.filters, spec.convention),
        "split": NEAR_ONE_SPLIT,
        "bottleneck_inequality": {
            "bound_total": terms.total, "norm_sq": terms.norm_sq, "slack": terms.slack,
            "rank_term": terms.rank_term, "log_pdet_term": terms.log_pdet_term,
            "jacobian_ranks": terms.ranks.tolist(), "bound": "lower bound on this network's norm",
        },
    }
    out["flags"] = flags
    out["notes"] = notes
    out["hints"] = ([CONSTRUCTION_HINT] if flags and construction is not None
                    and spec.init != "construction" else [])
    out["bound"] = {
        "norm": UPPER, "exact": EXACT,
        "construction_norm": "upper bound on R(f; L): norm of the explicit construction network",
        "padded_bound": "upper bound on R(f; Omega, L): a shallower best network padded to L",
        "R0_fit": FIT, "R1_fit": FIT, "R0_interval": FIT,
        "R0_lower_bound": EXACT if linear_net else LOWER_R0,
        "R0_upper_bound": EXACT if linear_net else UPPER_R0,
    }
    return out
