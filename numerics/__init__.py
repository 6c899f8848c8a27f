"""Floating-point side of cbn-toolkit: Fourier algebra, closed forms, programs, engines.

Importing this package sets ``OMP_WAIT_POLICY=PASSIVE`` unless the environment already sets
it: OpenMP threads that wait (torch's intra-op pool between parallel regions) then sleep
instead of spinning. On a machine shared with other jobs, spinning threads burn the cores
those jobs need and slow everything down several-fold. The OpenMP runtime reads the variable
once, when torch is first imported, so this package must be imported before torch (the
``cbn`` command and the test suite do so).
"""

import os

# cbn namespace guard: this folder is installed as cbn.numerics only. Imported under another
# name (the repository root on sys.path) it would be a second copy of the code, with
# its own registries and exception classes.
if __name__ != "cbn.numerics":
    raise ImportError(f"import cbn.numerics, not {__name__}: the folder numerics/ is "
                      "installed as cbn.numerics (pip install -e . from the repository root)")

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


#: nothing is re-exported here: import the modules (``cbn.numerics.<module>``)
__all__: list[str] = []
