"""One module per ``cbn`` subcommand: ``add_arguments(parser)``, ``run(args) -> int`` and,
where the command writes a folder when ``--out`` is not given, ``default_out(args)``.

The command names and their one-line help live in :data:`cbn.figures.cli.COMMANDS`, so that
``cbn --help`` lists them without importing any of these modules.
"""

#: the package's modules (``from package import *`` imports them)
__all__ = [
    "analyze", "bench", "check", "convex", "figures", "fit", "inspect", "keep", "linear", "notes",
    "reproduce", "targets"
]
