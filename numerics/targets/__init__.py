"""Targets: functions a circular CNN should represent, their domains and what theory knows.

Public API (stable, used by ``cbn fit`` / ``cbn analyze`` / ``cbn targets``):
:class:`Target`, :func:`get_target`, :func:`register_target`, :func:`list_targets`,
:func:`validate_target`. Importing this package registers the built-in targets of
:mod:`cbn.numerics.targets.linear`, :mod:`cbn.numerics.targets.nonlinear` and
:mod:`cbn.numerics.targets.relu_lowpass`.
"""

from cbn.numerics.targets import linear as _linear  # noqa: F401  (registers built-ins)
from cbn.numerics.targets import nonlinear as _nonlinear  # noqa: F401  (registers built-ins)
from cbn.numerics.targets import relu_lowpass as _relu_lowpass  # noqa: F401  (registers built-ins)
from cbn.numerics.targets.base import (
    SYMMETRIES,
    Factorization,
    Target,
    factorization_defects,
    register_target,
    validate_target,
)
from cbn.numerics.targets.linear import LinearTarget
from cbn.numerics.targets.loading import ENTRY_POINT_GROUP, get_target, list_targets

__all__ = [
    "ENTRY_POINT_GROUP",
    "SYMMETRIES",
    "Factorization",
    "LinearTarget",
    "Target",
    "factorization_defects",
    "get_target",
    "list_targets",
    "register_target",
    "validate_target",
]
