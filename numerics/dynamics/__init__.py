"""Learning dynamics of linear circular CNNs vs fully-connected nets
(paper_notes/theory.md section 6)."""
