"""Exact and symbolic side of cbn-toolkit: expansions, exact DFTs, claims. Imports nothing of
ours (layering: theory <- numerics <- figures)."""
