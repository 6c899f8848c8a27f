"""``cbn fit TARGET --depths 2,3,4,6,8 --seeds 3 ...``: minimal-norm sweep across depths and the
fit of ``L R0 + R1 (+ R2/L)``, with bounds and consistency flags.

Runs are stored in ``--store`` (default ``./cbn-results``) keyed by their full configuration:
a second call reuses them, an interrupted call resumes. The depths run in increasing order
(:func:`cbn.numerics.sweep.execute_ladder`): by default a linear fit warm-starts each seed's
run from its previous depth's network (``--init ladder``), and a ReLU fit runs the
weight-decay path from a random network and also the previous depth's network padded where it
is cheapest, keeping the better (``--init path``); ``--init random`` starts every run at random.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from cbn.figures.cli import add_common_options, print_json, write_json_file
from cbn.numerics.executor import make_executor
from cbn.numerics.inputs import InputError, check_depths, load_filter
from cbn.numerics.search import KINDS, SearchSettings, Start
from cbn.numerics.starts import construction_network
from cbn.numerics.store import DEFAULT_STORE, ResultStore
from cbn.numerics.sweep import (
    StoreUse,
    SweepSpec,
    SweepSummary,
    execute_sweep,
    summarize,
    target_from_config,
)
from cbn.numerics.targets import validate_target


def _depths(text: str) -> list[int]:
    try:
        depths = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--depths must be integers like 2,3,4,6,8, got {text!r}") from None
    return depths


def key_value(flag: str):
    """Parser of ``KEY=VALUE`` (the value as JSON, else the string itself) for ``flag``."""
    def parse(text: str) -> tuple[str, object]:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"{flag} must look like KEY=VALUE, got {text!r}")
        try:
            return key, json.loads(value)
        except json.JSONDecodeError:
            return key, value
    return parse


#: Named flags for search settings: flag destination -> SearchSettings field.
NAMED_SETTINGS = {"max_iter": "max_iter", "inner_iter": "inner_iter",
                  "residual_rtol": "residual_rtol"}


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments shared by ``cbn fit`` and ``cbn analyze``."""
    parser.add_argument("target", nargs="?", default=None,
                        help="registered target name, entry point or module:function")
    parser.add_argument("--filter", default=None,
                        help="linear target from a filter .npy (c_out, c_in, *spatial)")
    parser.add_argument("--param", type=key_value("--param"), action="append", default=[],
                        metavar="KEY=VALUE", help="target parameter (JSON value), repeatable")
    parser.add_argument("--depths", type=_depths, default=[2, 3, 4, 6, 8],
                        help="comma-separated depths (default 2,3,4,6,8)")
    parser.add_argument("--seeds", type=int, default=3, help="initialisations per depth")
    parser.add_argument("--activation", choices=["relu", "identity"], default=None,
                        help="default: identity for linear targets, relu otherwise")
    parser.add_argument("--width", type=int, default=8, help="hidden width (default 8)")
    parser.add_argument("--samples", type=int, default=128, help="data points (default 128)")
    parser.add_argument("--convention", choices=["scaled", "plain"], default="scaled")
    parser.add_argument("--no-bias", action="store_true", help="ReLU networks without biases")
    defaults = SearchSettings()
    parser.add_argument("--max-iter", type=int, default=None,
                        help=f"L-BFGS iteration budget per run (default {defaults.max_iter})")
    parser.add_argument("--inner-iter", type=int, default=None,
                        help="L-BFGS iterations per augmented-Lagrangian step (default 200 "
                             "for linear networks, 2000 for ReLU networks)")
    parser.add_argument("--residual-rtol", type=float, default=None,
                        help=f"a run fits the data when ||f(X)-Y||/||Y|| <= this (default "
                             f"{defaults.residual_rtol:g})")
    parser.add_argument("--set", type=key_value("--set"), action="append", default=[],
                        dest="settings", metavar="KEY=VALUE",
                        help="any search setting (JSON value, else a string), repeatable; "
                             "applied after the named flags. Keys: "
                             + ", ".join(SearchSettings.keys()))
    parser.add_argument("--store", default=DEFAULT_STORE,
                        help=f"result store folder (default ./{DEFAULT_STORE})")
    parser.add_argument("--scheduler", default=None,
                        help="Dask scheduler address (default: local processes)")
    parser.add_argument("--workers", type=int, default=None,
                        help="local processes (default: all available cores)")
    parser.add_argument("--init", choices=list(KINDS), default=None,
                        help="ladder (default for linear fits): run the depths in increasing "
                             "order, each seed's run starting from its previous depth's network "
                             "padded with a data projector (exact on the samples); path "
                             "(default for ReLU fits): every run from a seeded random network "
                             "moved along a weight-decay path (lam 1e-2 -> 1e-4, on until "
                             "within 1e-3 of the data; three starts, the least norm kept; dead "
                             "channels revived between stages; --set path_lam_start=...) that "
                             "lets the norm choose the kept frequencies, and also from the seed's "
                             "previous depth's network padded where it is cheapest, keeping "
                             "the better; random: every run from a seeded random network; "
                             "construction: from the target's explicit construction "
                             "(bottleneck targets, depths >= 4)")
    parser.add_argument("--ladder-restarts", type=int, default=3,
                        help="ladder: random starts tried in turn until one fits the data, "
                             "where a ladder starts (smallest depth) (default 3)")
    parser.add_argument("--start-noise", type=float, default=0.0,
                        help="construction/ladder starts: perturb every filter entry by this "
                             "fraction of its layer's rms (seeded by the run's seed; default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_common_options(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_sweep_arguments(parser)


def settings_from_args(args: argparse.Namespace) -> SearchSettings:
    """The search settings of the named flags, then of every ``--set KEY=VALUE``.

    Raises
    ------
    InputError
        On an unknown key (the message lists the valid ones) or an invalid value.
    """
    named = {field: getattr(args, dest) for dest, field in NAMED_SETTINGS.items()
             if getattr(args, dest) is not None}
    for field, value in named.items():  # each named flag's error names its flag
        try:
            SearchSettings.from_dict({field: value})
        except InputError as exc:
            raise InputError(f"--{field.replace('_', '-')}: {exc}") from None
    try:
        return SearchSettings.from_dict({**named, **dict(args.settings)})
    except InputError as exc:
        raise InputError(f"--set: {exc}") from None


def start_from_args(args: argparse.Namespace, activation: str) -> Start:
    """The sweep's start of ``--init`` (default: ``"ladder"`` for a linear fit, ``"path"`` for
    a ReLU fit) and ``--start-noise`` (validated by :class:`Start`)."""
    init = args.init or ("ladder" if activation == "identity" else "path")
    try:
        return Start(init, noise=args.start_noise)
    except InputError as exc:
        raise InputError(f"--init {init} --start-noise {args.start_noise:g}: {exc}") \
            from None


def spec_from_args(args: argparse.Namespace) -> SweepSpec:
    """Validate the arguments (before anything is written) and build the sweep."""
    if (args.target is None) == (args.filter is None):
        raise InputError("give exactly one of TARGET or --filter FILTER.npy")
    depths = check_depths(args.depths)
    for name in ("seeds", "width", "samples", "ladder_restarts"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1")
    if args.workers is not None and args.workers < 1:
        raise InputError("--workers must be >= 1")
    settings = settings_from_args(args)
    if args.filter is not None:
        if args.param:
            raise InputError("--param applies to named targets, not to --filter")
        target = {"filter": load_filter(args.filter).tolist(), "convention": args.convention}
    else:
        target = {"spec": args.target, "params": dict(args.param)}
    try:
        built = target_from_config(target)
    except (TypeError, ValueError) as exc:
        raise InputError(f"cannot build target: {exc}") from None
    validate_target(built)
    linear = built.linear_multipliers(args.convention) is not None
    if args.init == "construction":
        X = built.sample(args.samples, args.seed)  # the samples of the sweep (SweepSpec.data)
        for L in depths:  # the target's rules (e.g. bottleneck: depth >= 4, width >= 4)
            try:
                construction_network(built, L, args.width, X)
            except ValueError as exc:
                raise InputError(f"--init construction: {exc}") from None
    activation = args.activation or ("identity" if linear else "relu")
    if activation == "identity" and not linear:
        raise InputError(f"target {built.name} is not linear: use --activation relu")
    start = start_from_args(args, activation)
    if built.symmetry != "equivariant" or getattr(built, "pooled", False):
        raise InputError(f"target {built.name} has pooled outputs; cbn fit needs an "
                         f"equivariant target with per-pixel outputs")
    return SweepSpec(
        target=target, depths=depths, seeds=args.seeds, n_samples=args.samples,
        sample_seed=args.seed, width=args.width, activation=activation,
        convention=args.convention, bias=activation == "relu" and not args.no_bias,
        settings=settings, start=start, ladder_restarts=args.ladder_restarts,
    )


def run_sweep(args: argparse.Namespace) -> SweepSummary:
    """Run (or reuse) the sweep described by ``args`` and return its summary, with ``store``
    (where the records are, how many were reused) set."""
    spec = spec_from_args(args)
    store = ResultStore(args.store)
    with make_executor(args.scheduler, args.workers) as executor:
        report = execute_sweep(spec, store, executor, progress=not args.quiet)
    return replace(summarize(spec, report.records), store=StoreUse(
        folder=str(store.root), reused=report.reused, computed=report.computed,
        recomputed_corrupt=report.recomputed_corrupt, seconds=report.seconds))


def run(args: argparse.Namespace) -> int:
    summary = run_sweep(args).to_dict()
    if args.out:
        write_json_file(args.out, "fit.json", summary)
    if args.json:
        print_json(summary)
    else:
        print_summary(summary)
    return 0


def _fmt(v, spec=".6g") -> str:
    return "n/a" if v is None else format(v, spec)


#: Relative spread of the fitting seeds' norms above which the table lists every seed: the
#: search stops at max|residual| <= 1e-10 max|Y|, so seeds that reach the same minimum agree
#: to ~1e-9 relative; 1e-6 is a different minimum (or an unfinished run), not round-off.
SPREAD_LISTED = 1e-6


def seed_spread(runs: list[dict], rtol: float) -> tuple[int, float | None]:
    """Number of runs that fit the data (``residual_rel <= rtol``) and the relative spread
    ``(max - min) / min`` of their norms (None with fewer than two fitting runs)."""
    norms = [r["norm_sq"] for r in runs if r["residual_rel"] <= rtol]
    if len(norms) < 2:
        return len(norms), None
    return len(norms), (max(norms) - min(norms)) / min(norms)


def _seed_lines(runs: list[dict], rtol: float) -> list[str]:
    """One line per seed: norm, residual, and whether it fits the data."""
    return [f"{'':>8}seed {r['seed']}: norm {r['norm_sq']:.10g}, residual_rel "
            f"{r['residual_rel']:.1e}" + ("" if r["residual_rel"] <= rtol else
                                          f"  DOES NOT FIT (> {rtol:g}; not used)")
            for r in runs]


def print_summary(s: dict, file=None) -> None:
    """Human-readable table of a sweep summary (``SweepSummary.to_dict()`` with ``store``: the
    JSON of ``cbn fit --json``), every value with its bound label."""
    file = file or sys.stdout
    p = lambda *a: print(*a, file=file)  # noqa: E731
    p(f"target {s['target']}: {s['channels'][0]}->{s['channels'][1]} channels on "
      f"{tuple(s['spatial'])}, {s['activation']} network, width {s['width']}, "
      f"{s['n_samples']} samples, {s['seeds']} seed(s), {s['convention']} convention")
    p(f"store {s['store']['folder']}: {s['store']['reused']} run(s) reused, "
      f"{s['store']['computed']} computed ({s['store']['seconds']:.1f} s)")
    rtol = s["residual_rtol"]
    p(f"{'depth':>6} {'best norm (UPPER bound)':>24} {'residual max':>13} {'exact':>14} "
      f"{'seeds fit':>9} {'spread':>8}")
    exact = s["exact"] or [None] * len(s["depths"])
    construction = s["construction_norm"] or [None] * len(s["depths"])
    if s["construction_norm"] is not None:
        p("(construction: norm of the explicit network of the target's factorisation, an "
          "UPPER bound)")
    for L, n, r, e, c, runs in zip(s["depths"], s["norm"], s["residual"], exact, construction,
                                   s["runs"]):
        fits, spread = seed_spread(runs, rtol)
        extra = "" if c is None else f"   construction {c:.10g}"
        p(f"{L:>6} {n:>24.10g} {r:>13.2e} {_fmt(e, '14.10g'):>14} "
          f"{f'{fits}/{len(runs)}':>9} {_fmt(spread, '8.1e'):>8}{extra}")
        if fits < len(runs) or (spread is not None and spread > SPREAD_LISTED):
            for line in _seed_lines(runs, rtol):
                p(line)
    p(f"(seeds fit: runs with residual_rel <= {rtol:g}, the only ones a best norm is taken "
      f"from; spread: (max - min) / min of their norms; every seed is listed where one does "
      f"not fit or the spread exceeds {SPREAD_LISTED:g})")
    iv = s["R0_interval"]
    loo = "no leave-one-out range" if not iv else f"leave-one-out [{_fmt(iv[0])}, {_fmt(iv[1])}]"
    fit = s.get("fit") or {}
    resolved = "not resolved" if s["R0_integer"] is None else f"integer {s['R0_integer']:d}"
    r1 = "" if s["R1_fit"] is None else f"   R1_fit = {_fmt(s['R1_fit'])}" + (
        f" (R0 fixed at the exact {fit['R0']})" if fit.get("R0_source") == "exact" else "")
    p(f"R0_fit = {_fmt(s['R0_fit'])} ({resolved}; {loo}){r1}   (fits of UPPER bounds)")
    if s["R0_exact"] is not None:
        p(f"exact: R0 = {s['R0_exact']:.6g}  R1 = {s['R1_exact']:.6g}  R2 = {s['R2_exact']:.6g}")
    if s.get("linear_detected"):
        p("(the target declares no multipliers; it was found linear and shift-equivariant "
          "numerically and its multipliers read off its impulse responses: the closed form is "
          "EXACT for it)")
    p(f"R0 LOWER bound = {_fmt(s['R0_lower_bound'], 'd')}   "
      f"R0 UPPER bound = {_fmt(s['R0_upper_bound'], 'd')}")
    for flag in s["flags"]:
        p(f"FLAG: {flag}")
    for note in s.get("notes", []):
        p(f"NOTE: {note}")
    for hint in s.get("hints", []):
        p(f"HINT: {hint}")
