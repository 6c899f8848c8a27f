"""Learning dynamics of linear circular CNNs vs fully-connected nets (THEORY.md section 6)."""
