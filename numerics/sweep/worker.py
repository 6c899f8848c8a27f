"""One run of a sweep: :func:`run_min_norm`, the function executors call per configuration.

It rebuilds the target and the samples from the configuration, builds the start (random, the
weight-decay path, a ladder rung's padded network, or the target's construction, optionally
perturbed), runs :func:`cbn.numerics.search.min_norm_fit`, and retries from random starts when
a fitting warm start ended higher than it began (the guard, :mod:`cbn.numerics.guards`). A path
run with a shallower rung of its seed also starts from that rung padded where it is cheapest
and keeps the better. Module-level and picklable, so that local processes and Dask workers can
run it.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from cbn.numerics.guards import above
from cbn.numerics.search import (
    Architecture,
    MinNormResult,
    SearchSettings,
    Start,
    Status,
    best_run,
    min_norm_fit,
)
from cbn.numerics.starts import (
    cheapest_padding,
    construction_network,
    pad_to_depth,
    perturbed_network,
)
from cbn.numerics.store import StoredRecord
from cbn.numerics.sweep.evidence import UPPER
from cbn.numerics.sweep.spec import target_from_config
from cbn.numerics.weights import Network

__all__ = ["result_from_record", "run_min_norm"]


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
            result, tried, guard, kept_start = _run_min_norm(config)
    finally:
        torch.set_num_threads(threads)
    record = {k: v for k, v in result.to_dict().items() if k not in ("filters", "biases")}
    record["bound"] = UPPER
    record["start"] = kept_start
    if guard is not None:
        record["guard"] = {**guard, "kept_norm_sq": result.norm_sq}
    if len(tried) > 1 or config.get("start_attempts", 1) > 1 or guard is not None or \
            config.get("init") == "path":
        record["start_attempts"] = tried
    return record, Network(result.filters, result.biases).to_arrays()


def result_from_record(stored: StoredRecord) -> MinNormResult:
    """The :class:`cbn.numerics.search.MinNormResult` of a stored run of :func:`run_min_norm`
    (its record and arrays; the inverse of what :func:`run_min_norm` stores).

    ``bound`` is the record's label (:data:`cbn.numerics.sweep.evidence.UPPER`); what the
    result has no field for (the guard, the start attempts) stays in ``stored.record``.
    """
    record = stored.record
    net = Network.from_arrays(stored.arrays)
    known = {f.name for f in fields(MinNormResult)} - {"filters", "biases", "status", "message"}
    return MinNormResult(filters=net.filters, biases=net.biases, status=Status(record["status"]),
                         message=record["stop_reason"],
                         **{k: v for k, v in record.items() if k in known})


def _run_min_norm(config: dict) -> tuple:
    """The fit(s) of :func:`run_min_norm`: ``(kept result, every attempt, guard, the kept
    result's start)``.

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
    init = rung = None
    if config.get("ladder_from") is not None:
        rung = _rung_network(config)
    if config.get("init") == "construction":
        from cbn.numerics.network import CircularCNN

        net = construction_network(target, depth, config["width"], X)
        init = CircularCNN.from_numpy(net.filters, net.biases, activation=config["activation"],
                                      convention=config["convention"])
    elif config.get("init") == "ladder" and rung is not None:
        init = pad_to_depth(rung, depth, X)
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
    elif config.get("init") == "path":
        start = Start.path(config["seed"])
    else:
        attempts = int(config.get("start_attempts", 1))
        start = Start.random(config["seed"] * attempts)
        if attempts > 1:
            settings = settings.with_values({"restarts": attempts, "restart_until_fit": True})
    results = [min_norm_fit(X, Y, architecture, start, settings)]
    starts = [start.kind]
    if config.get("init") == "path" and rung is not None:
        padded = cheapest_padding(rung, depth, X)
        results.append(min_norm_fit(X, Y, architecture,
                                    Start.given(padded, config["seed"], kind="ladder"), settings))
        starts.append(f"depth-{config['ladder_from']['depth']} run padded")
    tried = [{**t, "start": kind if r == 0 else "random"}
             for result, kind in zip(results, starts) for r, t in enumerate(result.restarts)]
    guard = None
    if above(tried[0]["norm_sq"], bound):
        # the search ended above its own fitting start: retry from random starts
        retries = int(config.get("guard_attempts", 1))
        retry = settings.with_values({"restarts": retries, "restart_until_fit": False})
        results.append(min_norm_fit(X, Y, architecture,
                                    Start.random(-(config["seed"] + 1) * retries), retry))
        starts.append("random (guard)")
        tried += [{**t, "start": "random (guard)"} for t in results[-1].restarts]
        guard = {"start_norm_sq": bound, "failed_norm_sq": tried[0]["norm_sq"],
                 "retries": retries, "bound": "upper bound: the run's start fits the data"}
    best = best_run(results, rtol)
    # by identity: results are dataclasses of arrays, whose == is not a plain truth value
    return best, tried, guard, next(s for r, s in zip(results, starts) if r is best)


def _rung_network(config: dict):
    """The shallower rung ``config["ladder_from"]`` as a :class:`CircularCNN`."""
    from cbn.numerics.network import CircularCNN

    prev = config["ladder_from"]
    # a bias-free run stores zero biases; rebuilding them would give the start biases that the
    # fit (bias=False) does not expect
    biases = prev["biases"] if config["bias"] else None
    return CircularCNN.from_numpy(
        [np.asarray(f) for f in prev["filters"]],
        None if biases is None else [np.asarray(b) for b in biases],
        activation=config["activation"], convention=config["convention"])
