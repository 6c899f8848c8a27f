"""Exact and symbolic side of cbn-toolkit: conventions, closed forms, claims. Imports nothing of ours."""
