"""The ``cbn`` command line: dispatches to one module per subcommand in :mod:`cbn.figures.commands`.

Exit status: 0 success; 2 usage errors and bad input (one line on stderr, never a traceback);
1 a failure inside the toolkit or of the machine (one line; ``cbn --debug COMMAND ...`` shows the
traceback); 130 interrupted. Only the chosen command's module is imported, so ``cbn --help`` and
``cbn --version`` load no numerical library.

The folders a command will write (``--out``, or the command's default output folder, and
``--store``) are checked before any work by :func:`check_output_paths`, so a bad path costs
nothing and creates nothing. A write that fails later (disk full, permissions changed, folder
removed) ends with one line and exit status 1; store records finished before it are kept.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import traceback
from collections.abc import Sequence

from cbn.figures.files import json_text, write_json_file  # noqa: F401 (used by commands)
from cbn.numerics.inputs import InputError
from cbn.numerics.memory import retain_freed_memory
from cbn.numerics.paths import check_writable_folder
from cbn.numerics.store import StoreWriteError, check_store_folder, package_version

#: Subcommands with their one-line help, in the order ``cbn --help`` lists them.
COMMANDS: dict[str, str] = {
    "linear": "closed-form representation cost R(A;L), R0/R1/R2 and CBN rank of a linear filter",
    "check": "run the claim checks of the theory and write report.md / report.json",
    "targets": "list registered targets (built-in, entry points) with shapes and known properties",
    "figures": "regenerate figures (all, or the named ones) through the result store",
    "reproduce": "the main job: every claim check, every figure, one report (report.md)",
    "convex": "depth-2 convex programs on data: linear CNN interpolation, max-margin, "
              "two-layer ReLU (fully connected or circular)",
    "fit": "minimal-norm fits across depths and the fit of L*R0 + R1 (+ R2/L), with bounds",
    "analyze": "sweep, fits, bounds and CBN plots of one target, written to one report folder",
    "keep": "frequencies a ridge-trained ReLU net keeps as the weight decay rises, from a "
            "random start",
    "inspect": "CBN picture of a plain PyTorch CNN: weight spectra, Jacobian bounds, "
               "activation energy",
    "bench": "performance benchmarks: ratios against baselines timed in the same run",
    "notes": "rewrite the measured sections of paper_notes/ from a cbn check report",
}

EXIT_FAILED = 1
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
    """Print ``obj`` as JSON (:func:`cbn.figures.files.json_text`: NaN/inf as null) on the
    command's real stdout (see ``_json_stream``)."""
    print(json_text(obj), file=_json_stream or sys.stdout, flush=True)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``cbn`` parser; only ``command``'s module is imported and given its arguments."""
    parser = OneLineParser(
        prog="cbn",
        description="Verify the Convolution Bottleneck theory of circular CNNs numerically.",
    )
    parser.add_argument("--version", action="version",
                        version=f"cbn-toolkit {package_version()}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of a failure (anywhere on the line)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for name, text in COMMANDS.items():
        p = sub.add_parser(name, help=text, description=text)
        if name == command:
            module = importlib.import_module(f"cbn.figures.commands.{name}")
            module.add_arguments(p)
            p.set_defaults(_run=module.run, _prog=f"cbn {name}",
                           _default_out=getattr(module, "default_out", None))
    return parser


def check_output_paths(args: argparse.Namespace) -> None:
    """Check every folder this invocation will write, before any work; create nothing.

    ``args.out`` is resolved first: a command module may define ``default_out(args)``, the
    folder it writes when ``--out`` is not given (None: it writes nothing then), and the
    resolved value is stored back in ``args.out``. Then ``--out`` must be usable as an output
    folder (:func:`cbn.numerics.paths.check_writable_folder`) and ``--store`` as a result store
    (:func:`cbn.numerics.store.check_store_folder`); each failure is an :class:`InputError`.
    """
    if getattr(args, "out", None) is None and args._default_out is not None:
        args.out = args._default_out(args)
    if getattr(args, "out", None) is not None:
        check_writable_folder(args.out, "--out")
    if getattr(args, "store", None) is not None:
        check_store_folder(args.store, "--store")


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    global _json_stream
    if argv is None:  # run as the program: large CPU tensors reuse freed memory
        retain_freed_memory()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command if command in COMMANDS else None).parse_args(argv)
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: leave signals to the caller
        previous = None
    _json_stream = sys.stdout
    diverted = (contextlib.redirect_stdout(sys.stderr) if getattr(args, "json", False)
                else contextlib.nullcontext())
    try:
        with diverted:
            check_output_paths(args)
            return int(args._run(args) or 0)
    except Terminated:
        print(f"{args._prog}: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print(f"{args._prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if debug:
            traceback.print_exc()
        return _fail(args, exc)
    finally:
        _json_stream = None
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _fail(args: argparse.Namespace, exc: Exception) -> int:
    """One line on stderr for ``exc`` and the exit status it deserves."""
    if isinstance(exc, InputError):
        message, status = str(exc), EXIT_BAD_INPUT
    elif isinstance(exc, StoreWriteError):
        message, status = str(exc), EXIT_FAILED
    elif isinstance(exc, OSError):  # an output folder or file that failed during the work
        where = f" {exc.filename}" if exc.filename else ""
        message = (f"cannot write{where}: {exc.strerror or exc}; check the output folder "
                   f"and rerun (finished store records are reused)")
        status = EXIT_FAILED
    else:
        message = (f"internal error: {type(exc).__name__}: {exc} (a bug of the toolkit; "
                   f"rerun with --debug for the traceback and report it)")
        status = EXIT_FAILED
    print(f"{args._prog}: error: {(message or type(exc).__name__).splitlines()[0]}",
          file=sys.stderr)
    return status


if __name__ == "__main__":
    # run the imported module's main, whose stdout stream the commands' print_json shares
    # (``python -m cbn.figures.cli`` runs this file as a second module, ``__main__``)
    from cbn.figures import cli

    sys.exit(cli.main())
