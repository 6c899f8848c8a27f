"""Learning dynamics of linear circular CNNs vs fully-connected nets
(paper_notes/theory.md section 6)."""

#: the package's modules (``from package import *`` imports them)
__all__ = ["data", "experiments", "flow", "init", "models", "predictions"]
