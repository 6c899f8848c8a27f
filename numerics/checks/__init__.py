"""Check functions of the claims registry (``theory.claims``): ``check(mode) -> CheckResult``."""
