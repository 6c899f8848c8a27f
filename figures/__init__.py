"""Figure recipes, the reproduction report and the ``cbn`` command line."""

# cbn namespace guard: this folder is installed as cbn.figures only. Imported under another
# name (the repository root on sys.path) it would be a second copy of the code, with
# its own registries and exception classes.
if __name__ != "cbn.figures":
    raise ImportError(f"import cbn.figures, not {__name__}: the folder figures/ is "
                      "installed as cbn.figures (pip install -e . from the repository root)")


#: nothing is re-exported here: import the modules (``cbn.figures.<module>``)
__all__: list[str] = []
