"""The summary of a sweep as a typed value: :class:`SweepSummary` and its parts.

:func:`cbn.numerics.sweep.summarize` returns a :class:`SweepSummary`; its :meth:`to_dict` is the
JSON of ``cbn fit --json`` and ``cbn analyze``'s ``summary.json`` (README), key for key, so the
field names and their order are those of the JSON (hence the ``R0_...`` names). Lists are per
depth, in the order of ``depths``. Every number carries its bound label in ``bound`` (or, for
the deepest network's inequality, in its own ``bound``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["BottleneckInequality", "DeepestNetwork", "RunSummary", "StoreUse", "SweepSummary"]


@dataclass(frozen=True)
class RunSummary:
    """One run of the sweep (one seed at one depth): its norm (an UPPER bound on ``R(f; Omega,
    L)`` when it fits), its residuals, the engine's ``converged`` and its store key."""

    seed: int
    norm_sq: float
    residual_max_abs: float
    residual_rel: float
    converged: bool | None
    key: str


@dataclass(frozen=True)
class BottleneckInequality:
    """The bottleneck inequality on one network at one constant input (paper_notes/theory.md
    section 4): ``bound_total`` is a LOWER bound on the network's ``norm_sq``; ``slack`` is
    ``norm_sq - bound_total``; ``jacobian_ranks`` are the per-frequency ranks ``k_m``, in FFT
    order, flattened."""

    bound_total: float
    norm_sq: float
    slack: float
    rank_term: float
    log_pdet_term: float
    jacobian_ranks: list[int]
    bound: str = "lower bound on this network's norm"


@dataclass(frozen=True)
class DeepestNetwork:
    """The CBN picture of the best network at the deepest depth whose search did not diverge.

    ``layer_counts``: per layer (1-based ``layer``), the per-frequency ``counts`` of singular
    values above ``split``, their ``total``, ``max_dev_kept`` (``max |s - 1|`` of those) and
    ``max_dropped`` (largest of the others), as :func:`cbn.numerics.sweep.evidence.layer_counts`
    gives them.
    """

    depth: int
    key: str
    layer_counts: list[dict[str, Any]]
    split: float
    bottleneck_inequality: BottleneckInequality


@dataclass(frozen=True)
class StoreUse:
    """Where a sweep's records are and how many were reused or computed (``cbn fit`` adds it)."""

    folder: str
    reused: int
    computed: int
    recomputed_corrupt: int
    seconds: float


@dataclass(frozen=True)
class SweepSummary:
    """Best run per depth, depth fit, bounds, flags and the CBN picture of the deepest network.

    Sizes and setup: ``target``, ``description``, ``linear_detected`` (the target declared no
    multipliers and was found linear), ``spatial``, ``channels`` ``[c_in, c_out]``,
    ``activation``, ``convention``, ``width``, ``n_samples``, ``seeds``, ``init``,
    ``start_noise``, ``solver`` (:meth:`cbn.numerics.search.SearchSettings.to_dict`).
    Per depth: ``norm`` (best norm that fits: UPPER bound; where no seed fits, the norm of
    the run of least residual, flagged and left out of the depth fit), ``residual`` (its max abs
    residual), ``runs`` (every seed), ``exact`` (closed form, linear networks only),
    ``construction_norm`` (the target's explicit network: UPPER bound; None where there is
    none), ``padded_bound`` (a shallower best network padded to the depth: UPPER bound).
    ``R0_exact``/``R1_exact``/``R2_exact``: the expansion (EXACT, linear networks only);
    ``R0_lower_bound`` (+ ``_detail``) and ``R0_upper_bound``; ``R0_fit``, ``R0_integer``,
    ``R1_fit``, ``R2_fit``, ``R0_interval``, ``R1_interval``, ``fit``
    (:meth:`cbn.numerics.fitting.DepthFit.to_dict`), ``truncation_bias``: the depth fit (None
    with fewer than 3 kept depths); ``excluded_depths`` (left out of the fit) and
    ``diverged_depths``. ``flags`` (optimisation failures with their evidence), ``notes``,
    ``hints``, ``bound`` (the label of every value). ``store`` (None unless set): where the
    records are, see :class:`StoreUse`.
    """

    target: str
    description: str
    linear_detected: bool
    spatial: list[int]
    channels: list[int]
    activation: str
    convention: str
    width: int
    n_samples: int
    seeds: int
    depths: list[int]
    norm: list[float]
    residual: list[float]
    residual_rtol: float
    runs: list[list[RunSummary]]
    exact: list[float] | None
    construction_norm: list[float | None] | None
    init: str
    start_noise: float
    solver: dict[str, Any]
    R0_exact: float | None
    R1_exact: float | None
    R2_exact: float | None
    R0_lower_bound: int | None
    R0_lower_bound_detail: dict[str, Any] | None
    R0_upper_bound: int | None
    R0_fit: float | None
    R0_integer: int | None
    R1_fit: float | None
    R2_fit: float | None
    R0_interval: list[float] | None
    R1_interval: list[float] | None
    fit: dict[str, Any] | None
    truncation_bias: dict[str, Any] | None
    excluded_depths: list[int]
    diverged_depths: list[int]
    padded_bound: list[float | None]
    deepest: DeepestNetwork
    flags: list[str]
    notes: list[str]
    hints: list[str]
    bound: dict[str, str]
    store: StoreUse | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``cbn fit --json`` (a deep copy; ``store`` only when set)."""
        out = asdict(self)
        if self.store is None:
            del out["store"]
        return out
