"""The minimal-norm search as small modules over typed values.

:class:`SearchSettings` (every default, with its reason), :class:`Start` (where a run starts),
:class:`Architecture` (the fitted network's shape), :class:`Status` (why a run stopped) and
:class:`MinNormResult` (the record) are the values; :func:`min_norm_fit` (augmented Lagrangian
+ L-BFGS, :mod:`cbn.numerics.search.fit`) and :func:`ridge_fit` (gradient descent with an explicit
penalty, :mod:`cbn.numerics.search.ridge`, its rate chosen by the stability rule of
:mod:`cbn.numerics.search.rate`) are the two protocols; both fit a pooling head
(``Architecture.head_classes``) to labels or one-hot targets.
"""

from cbn.numerics.search.fit import min_norm_fit
from cbn.numerics.search.rate import LearningRate, largest_stable_lr, sharpness
from cbn.numerics.search.result import Architecture, MinNormResult, best_run, one_hot
from cbn.numerics.search.ridge import RidgeSettings, choose_rate, ridge_fit
from cbn.numerics.search.settings import SearchSettings
from cbn.numerics.search.start import KINDS, Start
from cbn.numerics.search.status import Status

__all__ = [
    "KINDS",
    "Architecture",
    "LearningRate",
    "MinNormResult",
    "RidgeSettings",
    "SearchSettings",
    "Start",
    "Status",
    "best_run",
    "choose_rate",
    "largest_stable_lr",
    "min_norm_fit",
    "one_hot",
    "ridge_fit",
    "sharpness",
]
