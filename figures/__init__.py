"""Figure recipes, the reproduction report and the ``cbn`` command line."""
