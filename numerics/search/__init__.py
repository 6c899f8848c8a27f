"""The minimal-norm search as small modules over typed values.

:class:`SearchSettings` (every default, with its reason), :class:`Start` (where a run starts),
:class:`Architecture` (the fitted network's shape), :class:`Status` (why a run stopped) and
:class:`MinNormResult` (the record) are the values; :func:`min_norm_fit` (augmented Lagrangian
+ L-BFGS, :mod:`cbn.numerics.search.fit`) and :func:`ridge_fit` (gradient descent with an explicit
penalty, :mod:`cbn.numerics.search.ridge`) are the two protocols.
"""

from cbn.numerics.search.fit import min_norm_fit
from cbn.numerics.search.result import Architecture, MinNormResult, best_run
from cbn.numerics.search.ridge import RidgeSettings, ridge_fit
from cbn.numerics.search.settings import SearchSettings
from cbn.numerics.search.start import KINDS, Start
from cbn.numerics.search.status import Status

__all__ = [
    "KINDS",
    "Architecture",
    "MinNormResult",
    "RidgeSettings",
    "SearchSettings",
    "Start",
    "Status",
    "best_run",
    "min_norm_fit",
    "ridge_fit",
]
