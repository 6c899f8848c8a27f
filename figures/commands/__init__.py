"""One module per ``cbn`` subcommand: ``NAME``, ``HELP``, ``add_arguments``, ``run(args)``."""
