"""The ``cbn`` command line: dispatches to one module per subcommand in :mod:`figures.commands`.

Bad input ends with a one-line message on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from numerics.inputs import InputError

#: Subcommand modules, in the order ``cbn --help`` lists them.
COMMANDS: tuple[str, ...] = ("linear", "check", "targets", "figures", "reproduce", "convex", "fit",
                             "analyze", "inspect")

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage dump)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Options every computing command takes: ``--json``, ``--out``, ``--seed``."""
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--out", default=None, help="folder for output files")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def print_json(obj: dict) -> None:
    """Print ``obj`` as JSON (NaN/inf are not valid JSON and are written as null)."""
    print(json.dumps(obj, indent=2, default=_jsonable, allow_nan=False))


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (InputError, ValueError, FileNotFoundError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"{args._prog}: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"{args._prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
