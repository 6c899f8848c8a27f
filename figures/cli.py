"""The ``cbn`` command line: dispatches to one module per subcommand in :mod:`figures.commands`.

Bad input ends with a one-line message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from numerics.inputs import InputError

#: Subcommand modules, in the order ``cbn --help`` lists them.
COMMANDS: tuple[str, ...] = ("linear", "check", "targets", "figures", "reproduce", "convex", "fit",
                             "analyze")

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage dump)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


EXIT_TERMINATED = 143

#: Where :func:`print_json` writes: the command's real stdout. Under ``--json``, :func:`main`
#: sends everything else written to ``sys.stdout`` (a user's target that prints, a library) to
#: stderr, so stdout carries the JSON object only.
_json_stream = None


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that it unwinds like Ctrl-C (executors stop their
    worker processes on the way out)."""


def add_common_options(parser: argparse.ArgumentParser, seed: bool = True) -> None:
    """Options of computing commands: ``--json``, ``--out`` and (where a command uses one)
    ``--seed``."""
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--out", default=None, help="folder for output files")
    if seed:
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def print_json(obj) -> None:
    """Print ``obj`` as JSON on the command's stdout (NaN/inf are not valid JSON: an error)."""
    print(json.dumps(obj, indent=2, default=_jsonable, allow_nan=False),
          file=_json_stream or sys.stdout, flush=True)


def plain_json(obj):
    """``obj`` reduced to JSON types: unknown objects by ``str``, NaN/inf by None."""
    return json.loads(json.dumps(obj, default=str), parse_constant=lambda _: None)


def write_json_file(out_dir: str, name: str, obj: dict) -> Path:
    """Write ``obj`` as ``out_dir/name`` atomically (temporary file, then rename)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f"{name}.tmp"
    tmp.write_text(json.dumps(obj, indent=2, default=_jsonable))
    tmp.replace(out / name)
    return out / name


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="cbn",
        description="Verify the Convolution Bottleneck theory of circular CNNs numerically.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"figures.commands.{name}")
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run, _prog=f"cbn {module.NAME}")
    return parser


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    global _json_stream
    args = build_parser().parse_args(argv)
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: leave signals to the caller
        previous = None
    _json_stream = sys.stdout
    diverted = (contextlib.redirect_stdout(sys.stderr) if getattr(args, "json", False)
                else contextlib.nullcontext())
    try:
        with diverted:
            return int(args._run(args) or 0)
    except (InputError, ValueError, FileNotFoundError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"{args._prog}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Terminated:
        print(f"{args._prog}: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"{args._prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        _json_stream = None
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    # run the imported module's main, whose stdout stream the commands' print_json shares
    # (``python -m figures.cli`` runs this file as a second module, ``__main__``)
    from figures import cli

    sys.exit(cli.main())
