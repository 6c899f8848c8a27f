"""Check functions of the claims registry (``cbn.theory.claims``):
``check(mode) -> CheckResult``."""
