"""``cbn convex DATA.npz --program ...``: depth-2 convex programs on data."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from cbn.figures.cli import add_common_options, print_json, write_json_file
from cbn.numerics.convex.interpolation import METHODS, interpolate
from cbn.numerics.convex.margin import max_margin
from cbn.numerics.convex.relu2 import BIAS_MODES, relu2_circular, relu2_fc
from cbn.numerics.convex.solver import SOLVERS, ConvexSolveError, InfeasibleDataError
from cbn.numerics.inputs import Data, InputError, load_data

PROGRAMS: tuple[str, ...] = ("interpolate", "margin", "relu2", "relu2-circular")
EXIT_SOLVER_FAILED = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help=".npz with X (N, c_in, *spatial) and Y or labels")
    parser.add_argument("--program", choices=PROGRAMS, required=True)
    parser.add_argument(
        "--solver", default="auto", type=str.upper, choices=["AUTO", *SOLVERS],
        help="AUTO (default: Clarabel for small problems without a PSD cone, else SCS), "
             "SCS or CLARABEL",
    )
    parser.add_argument("--convention", choices=["scaled", "plain"], default="scaled")
    parser.add_argument("--method", choices=METHODS, default="closed-form",
                        help="interpolate only: closed form with dual certificate, or cvxpy")
    parser.add_argument("--beta", type=float, default=None,
                        help="relu2 programs: weight decay > 0 (default: minimal-norm "
                             "interpolation of the data)")
    parser.add_argument("--bias", choices=BIAS_MODES, default="none",
                        help="relu2: neuron biases (none, penalized, free = unpenalized plus "
                             "a free output bias)")
    parser.add_argument("--max-patterns", type=int, default=4096,
                        help="relu2 programs: enumerate arrangement patterns exactly up to "
                             "this many cells, else sample (value then an upper bound)")
    parser.add_argument("--samples", type=int, default=2000,
                        help="relu2 programs: sampled directions when not exact")
    add_common_options(parser)


def _targets(data: Data, program: str) -> np.ndarray:
    if program == "interpolate":
        if data.Y is None or data.Y.ndim != data.X.ndim:
            raise InputError("--program interpolate needs Y of shape (N, c_out, *spatial)")
        return data.Y
    if program == "margin":
        labels = data.labels if data.labels is not None else data.Y
        if labels is None or labels.ndim != 1:
            raise InputError("--program margin needs labels (N,) with values -1 or +1")
        if not np.all(np.isin(labels, (-1.0, 1.0))):
            raise InputError("--program margin: labels must be -1 or +1")
        if data.X.shape[1] != 1:
            raise InputError(f"--program margin is single-channel; X has {data.X.shape[1]}")
        return labels
    y = data.Y if data.Y is not None and data.Y.ndim == 1 else data.labels
    if y is None:
        raise InputError(f"--program {program} needs one target per sample: Y (N,) or labels")
    return y


def _solve(args: argparse.Namespace, data: Data, y: np.ndarray) -> dict:
    common = {"program": args.program, "data": str(args.data), "solver_requested": args.solver}
    if args.program == "interpolate":
        res = interpolate(data.X, y, args.convention, args.method, args.solver)
        return {**common, "value": res.value, "bound": res.bound, "convention": args.convention,
                "method": args.method, "weights_norm_sq": res.weights_norm_sq,
                "cbn_rank": int(res.rank_per_frequency.sum()),
                "rank_per_frequency": res.rank_per_frequency.tolist(),
                "record": res.record.to_dict()}
    if args.program == "margin":
        res = max_margin(data.X, y, args.solver)
        return {**common, "value": res.value, "bound": "exact",
                "objective": "||F beta||_1 (F unitary DFT) s.t. y_n <x_n, beta> >= 1",
                "beta": res.beta.tolist(), "fourier_abs": res.fourier_abs.tolist(),
                "record": res.record.to_dict()}
    patterns = {"max_patterns": args.max_patterns, "n_samples": args.samples, "seed": args.seed}
    if args.program == "relu2":
        res = relu2_fc(data.X, y, args.beta, args.bias, args.solver, **patterns)
        extra = {"bias": args.bias}
    else:
        res = relu2_circular(data.X, y, args.beta, args.convention, args.solver, **patterns)
        extra = {"convention": args.convention}
    return {**common, **extra, "value": res.value, "bound": res.bound, "beta": args.beta,
            "mode": "interpolation" if args.beta is None else "regularized",
            "exact_patterns": res.exact_patterns, "n_patterns": res.n_patterns,
            "cell_bound": res.cell_bound, "n_neurons": res.n_neurons,
            "network_objective": res.network_objective, "fit_loss": res.fit_loss,
            "penalty": res.penalty, "record": res.record.to_dict()}


def _check_args(args: argparse.Namespace) -> None:
    if args.beta is not None and not args.beta > 0:
        raise InputError(f"--beta must be > 0, got {args.beta}")
    if args.max_patterns < 1 or args.samples < 1:
        raise InputError("--max-patterns and --samples must be >= 1")


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    data = load_data(args.data)
    y = _targets(data, args.program)
    try:
        report = _solve(args, data, y)
    except InfeasibleDataError as exc:  # the data admit no solution: bad input, exit 2
        raise InputError(str(exc)) from None
    except ConvexSolveError as exc:
        print(f"cbn convex: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_SOLVER_FAILED
    record = report["record"]
    report.update(status=record["status"], solver=record["solver"])
    if args.out:
        write_json_file(args.out, "convex.json", report)
    if args.json:
        print_json(report)
    else:
        _print_summary(report)
    return 0


def _print_summary(report: dict) -> None:
    record = report["record"]
    print(f"program {report['program']} on {report['data']}: value = {report['value']:.12g} "
          f"({report['bound'].upper()})")
    print(f"solver {record['solver']}, status {record['status']}, "
          f"solve {record['solve_seconds']:.3g} s, primal residual "
          f"{record['primal_residual']:.2e}")
    cert = {k: v for k, v in record["certificate"].items() if k != "kind"}
    print(f"certificate ({record['certificate'].get('kind', '')}): "
          + ", ".join(f"{k} = {v:.3e}" if isinstance(v, float) else f"{k} = {v}"
                      for k, v in cert.items()))
    if "rank_per_frequency" in report:
        print(f"CBN rank of the solution = {report['cbn_rank']}; rank per frequency (FFT order):")
        print(np.array(report["rank_per_frequency"]))
    if "exact_patterns" in report:
        kind = "exact (enumerated)" if report["exact_patterns"] else "sampled: UPPER bound"
        print(f"patterns: {report['n_patterns']} ({kind}, cell bound {report['cell_bound']}); "
              f"rebuilt network: {report['n_neurons']} neurons, objective "
              f"{report['network_objective']:.12g}")
