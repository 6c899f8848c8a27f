"""The ``cbn`` command line: dispatches to one module per subcommand in :mod:`figures.commands`.

Bad input ends with a one-line message on stderr and exit status 2, never a traceback. The
folders a command will write (``--out``, or the command's default output folder, and
``--store``) are checked before any work by :func:`check_output_paths`, so a bad path costs
nothing and creates nothing. A write that fails later (disk full, permissions changed, folder
removed) ends with one line and exit status 1; store records finished before it are kept.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from numerics.inputs import InputError
from numerics.paths import check_writable_folder
from numerics.store import StoreWriteError, check_store_folder

#: Subcommand modules, in the order ``cbn --help`` lists them.
COMMANDS: tuple[str, ...] = ("linear", "check", "targets", "figures", "reproduce", "convex", "fit",
                             "analyze")

EXIT_FAILED = 1
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
        p.set_defaults(_run=module.run, _prog=f"cbn {module.NAME}",
                       _default_out=getattr(module, "default_out", None))
    return parser


def check_output_paths(args: argparse.Namespace) -> None:
    """Check every folder this invocation will write, before any work; create nothing.

    ``args.out`` is resolved first: a command module may define ``default_out(args)``, the
    folder it writes when ``--out`` is not given (None: it writes nothing then), and the
    resolved value is stored back in ``args.out``. Then ``--out`` must be usable as an output
    folder (:func:`numerics.paths.check_writable_folder`) and ``--store`` as a result store
    (:func:`numerics.store.check_store_folder`); each failure is an :class:`InputError`.
    """
    if getattr(args, "out", None) is None and args._default_out is not None:
        args.out = args._default_out(args)
    if getattr(args, "out", None) is not None:
        check_writable_folder(args.out, "--out")
    if getattr(args, "store", None) is not None:
        check_store_folder(args.store, "--store")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_output_paths(args)
        return int(args._run(args) or 0)
    except (InputError, ValueError, FileNotFoundError) as exc:
        return _fail(args, str(exc) or type(exc).__name__, EXIT_BAD_INPUT)
    except StoreWriteError as exc:
        return _fail(args, str(exc), EXIT_FAILED)
    except OSError as exc:  # an output folder that failed during the work
        where = f" {exc.filename}" if exc.filename else ""
        return _fail(args, f"cannot write{where}: {exc.strerror or exc}; check the output "
                           f"folder and rerun (finished store records are reused)", EXIT_FAILED)
    except KeyboardInterrupt:
        print(f"{args._prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _fail(args: argparse.Namespace, message: str, status: int) -> int:
    print(f"{args._prog}: error: {message.splitlines()[0]}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
