"""Convex programs: the solver policy, depth-2 linear CNN interpolation, max-margin and
two-layer ReLU programs (paper_notes/theory.md sections 3, 5 and 7)."""

#: the package's modules (``from package import *`` imports them)
__all__ = ["arrangements", "interpolation", "margin", "relu2", "solver"]
