"""Check functions of the claims registry (``cbn.theory.claims``):
``check(mode) -> CheckResult``."""

#: the package's modules (``from package import *`` imports them)
__all__ = ["convex", "dynamics", "fourier", "linear", "relu", "structure"]
