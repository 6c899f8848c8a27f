"""Exact and symbolic side of cbn-toolkit: expansions, exact DFTs, claims. Imports nothing of
ours (layering: theory <- numerics <- figures)."""

# cbn namespace guard: this folder is installed as cbn.theory only. Imported under another
# name (the repository root on sys.path) it would be a second copy of the code, with
# its own registries and exception classes.
if __name__ != "cbn.theory":
    raise ImportError(f"import cbn.theory, not {__name__}: the folder theory/ is "
                      "installed as cbn.theory (pip install -e . from the repository root)")


#: nothing is re-exported here: import the modules (``cbn.theory.<module>``)
__all__: list[str] = []
