"""Every setting of the minimal-norm search, with its default and the reason for it.

:class:`SearchSettings` is the only home of the search's defaults: the engine, the sweep, the
store key and the command line (``cbn fit --set key=value``) all read them from here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch

from cbn.numerics.inputs import InputError

#: Floating-point types a search can run in (float64 wherever a claim is checked).
DTYPES = {"float64": torch.float64, "float32": torch.float32}
#: Random-start schemes of :class:`cbn.numerics.network.CircularCNN` (None: chosen per network).
INIT_SCHEMES = (None, "gaussian", "orthogonal")


@dataclass(frozen=True)
class SearchSettings:
    """Settings of :func:`cbn.numerics.search.min_norm_fit` (frozen, validated on construction).

    Attributes
    ----------
    max_iter : L-BFGS iteration budget per run (phases 1 and 2 together).
    tol : a run converges when ``max|f(X) - Y| / max|Y| <= tol`` and the last inner L-BFGS
        run stopped on its own (``max|grad| <= gtol``, or no descent direction left in
        float64) or the norm settled (:attr:`norm_settled_rtol`).
    gtol : gradient tolerance of each inner L-BFGS run.
    inner_iter : L-BFGS iterations per augmented-Lagrangian step and per phase-1 chunk; None
        is 200 for linear networks and 2000 for ReLU networks. The penalty grows whenever a
        step leaves the residual above a quarter of the last one, so a ReLU subproblem cut off
        at 200 iterations drives it to its cap within a few steps, and L-BFGS then crawls in
        the ill-conditioned Lagrangian. On the 1-D bottleneck target (d = 8, 12 samples,
        width 8; path starts, seeds 0 and 2) 2000 gave 25.95 and 25.67 at depth 5 against 28.01
        and 27.42 at 200, and 28.37 against 30.81 at depth 6 from a padded depth-5 network, in
        the same 20000 iterations; on relu_lowpass (depth 6) both gave 23.50.
    mu0 : initial penalty as a multiple of ``||theta||^2 / n_constraints`` after phase 1.
    history_size : L-BFGS memory; None is 20 for compressed linear fits (there the two-loop
        recursion, not the tiny network, dominates an iteration: 3 ms against 10 ms at 50 on
        the issue-3 benchmark) and 50 otherwise (on ReLU fits 20 needs up to 4x the iterations).
    init_scheme : random starts of :class:`cbn.numerics.network.CircularCNN`; None is
        'orthogonal' for linear networks (multipliers with equal singular values keep deep
        products well conditioned: phase 1 of the benchmark takes 300-400 iterations instead
        of 1600) and 'gaussian' for ReLU networks (no measured gain there).
    compress_linear : for linear networks, let the objective see the exact compression of
        :func:`cbn.numerics.compress.compress_linear_data` (``c_in`` or ``2 c_in`` samples instead
        of ``N``); stopping rules and the record always use all of ``(X, Y)``. Random starts
        of square linear networks are also oriented (:mod:`cbn.numerics.search.orientation`).
    restore : when the augmented Lagrangian stops without converging and above ``tol``,
        restore feasibility by Gauss-Newton steps (:mod:`cbn.numerics.search.restoration`); the
        same steps finish a phase 1 that stalls above :attr:`phase1_tol`.
    restarts : runs per search: the first from the start, the others from random networks
        seeded ``start.seed + r``.
    restart_until_fit : stop the restarts at the first run that fits the data (the ladder's
        random rungs: a start that fits is all they need); otherwise every restart runs.
    device : torch device of the search.
    dtype : floating-point type, ``"float64"`` (default) or ``"float32"``.
    include_bias : count biases in the minimised norm (paper_notes/theory.md default).
    residual_rtol : a run fits the data when ``||f(X) - Y||_F / ||Y||_F <= residual_rtol``;
        the best run is the fitting one of least norm (else the one of least residual).
    mu_growth_cap : largest growth of the penalty over its start; beyond it L-BFGS loses
        accuracy to the conditioning ``mu ||J||^2`` and the multiplier update does the rest.
    phase1_tol : phase 1 (residual only) must reach this ``max|residual| / max|Y|``, else the
        start is declared infeasible: a network that cannot fit the data to 1e-4 has dead
        units or too few channels, and the penalty phase would only trade norm for residual.
    cg_iters : conjugate-gradient passes for the least-squares multipliers of phase 2.
    cg_ridge : Tikhonov term of the multiplier system, relative to the Rayleigh quotient of its
        right-hand side (a scale of ``J J^T``), used when the plain solve blows up. The
        constraints of a fit are often highly redundant (a ReLU net affine on its samples: 10
        independent directions among 128 constraints); CG on the singular ``J J^T`` can then
        grow round-off in its null space without bound (multipliers of 1e12 at a warm start,
        whose first step threw the norm to 1e12). With the term, directions with singular
        values below ~1e-5 of the scale are damped, the rest solved to ~1e-10 relative.
    multiplier_blowup : a multiplier estimate counts as blown up when ``||lam|| sqrt(scale) >
        multiplier_blowup ||grad ||theta||^2||``: a solution carried by singular values above
        1e-3 of the scale stays below it. Only then is the ridge used, so fits whose plain
        solve is sane are unchanged.
    norm_settled_rtol : relative change of the norm over one outer step below which it counts
        as settled (L-BFGS hits its inner cap at ReLU kinks although the optimum is reached).
    restore_max_constraints, restore_max_entries : the restoration forms the constraint
        Jacobian explicitly, so it runs only up to this many constraint values
        (``N c_out prod(spatial)``) and Jacobian entries (float64: 8 bytes each).
    restore_steps : Gauss-Newton steps of the restoration.
    restore_blowup : growth of the residual over its start at which the restoration's steps
        count as diverging (the best network seen is kept either way).
    plateau_rtol, plateau_steps : stop phase 2 (status ``stalled``, then the restoration makes
        the fit exact) once it is within ``phase1_tol`` of the data and, over the last
        ``plateau_steps`` outer iterations, the norm fell by at most ``plateau_rtol`` relative
        and the residual less than tenfold. At ReLU
        kinks L-BFGS crawls: on the 1-D relu_lowpass fits the norm then falls by ~1e-5
        relative per 10 outer steps for thousands of iterations (three quarters of a run's
        time) while the residual hovers at 1e-6 above ``tol``. 0 turns the rule off.
    path_lam_start, path_lam_end, path_stages, path_stage_iter : the weight-decay path of a
        ``"path"`` start (:mod:`cbn.numerics.search.path`): ``path_stages`` values of ``lam``
        from ``path_lam_start`` down to ``path_lam_end`` (geometric), ``path_stage_iter`` L-BFGS
        iterations each, on ``||f(X) - Y||^2 / ||Y||^2 + lam ||theta||^2``. The start 1e-2
        sits below the collapse scale ``1 / ||theta||^2`` of the fitting networks of the
        benchmark targets (norms 25-100) and chooses the structure; a start of 1e-3 already
        keeps every frequency in the middle layers of the 1-D bottleneck target. The end 1e-4
        leaves residuals of 1e-3 to 1e-2.
    path_lam_floor, path_end_rtol : a path that ends above ``path_end_rtol`` (relative
        residual) goes on by the same ratio per stage until a stage ends below it, down to
        ``path_lam_floor`` at most. On the 1-D bottleneck target path ends below 1e-3 were
        finished by the augmented Lagrangian and ends at 2e-3 to 1e-2 were not; going further
        than needed only lets the norm grow.
    path_revive_rtol, path_revive_scale : between stages, hidden channels carrying less than
        ``path_revive_rtol`` of their layer's largest are redrawn with filters of
        ``path_revive_scale`` times the live ones (:mod:`cbn.numerics.search.revival`); 0
        turns revival off. The redrawn channel adds ``scale**2 = rtol`` of a live one, so a
        channel that does not grow is redrawn again (a new direction) at the next stage.
    path_attempts : attempts of the path, from ``path_lam_start`` divided by ``sqrt(10)`` each
        time; the end of least norm that did not collapse and ends near the data is kept
        (:mod:`cbn.numerics.search.path`).
    """

    max_iter: int = 20000
    tol: float = 1e-10
    gtol: float = 1e-10
    inner_iter: int | None = None
    mu0: float = 1e3
    history_size: int | None = None
    init_scheme: str | None = None
    compress_linear: bool = True
    restore: bool = True
    restarts: int = 1
    restart_until_fit: bool = False
    device: str = "cpu"
    dtype: str = "float64"
    include_bias: bool = True
    residual_rtol: float = 1e-6
    mu_growth_cap: float = 1e5
    phase1_tol: float = 1e-4
    cg_iters: int = 200
    cg_ridge: float = 1e-10
    multiplier_blowup: float = 1e3
    norm_settled_rtol: float = 1e-9
    restore_max_constraints: int = 4096
    restore_max_entries: int = 2 * 10**7
    restore_steps: int = 30
    restore_blowup: float = 1e3
    plateau_rtol: float = 1e-5
    plateau_steps: int = 10
    path_lam_start: float = 1e-2
    path_lam_end: float = 1e-4
    path_stages: int = 6
    path_stage_iter: int = 300
    path_lam_floor: float = 1e-8
    path_end_rtol: float = 1e-3
    path_attempts: int = 3
    path_revive_rtol: float = 1e-2
    path_revive_scale: float = 0.1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            kind = f.type.split(" | ")[0]
            if value is None and "None" in f.type:
                continue
            if kind == "bool" and not isinstance(value, bool):
                raise InputError(f"setting {f.name} must be true or false, got {value!r}")
            if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise InputError(f"setting {f.name} must be an integer, got {value!r}")
            if kind == "float":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise InputError(f"setting {f.name} must be a number, got {value!r}")
                if not math.isfinite(value) or value < 0:
                    raise InputError(f"setting {f.name} must be finite and >= 0, got {value!r}")
                object.__setattr__(self, f.name, float(value))
            if kind == "str" and not isinstance(value, str):
                raise InputError(f"setting {f.name} must be a string, got {value!r}")
        positive = ("max_iter", "restarts", "mu0", "residual_rtol",
                    "mu_growth_cap", "restore_max_constraints", "restore_max_entries",
                    "path_lam_start", "path_lam_end", "path_stages", "path_stage_iter",
                    "path_lam_floor", "path_end_rtol",
                    "path_attempts", "plateau_steps")
        for name in positive:
            if not getattr(self, name) > 0:
                raise InputError(f"setting {name} must be > 0, got {getattr(self, name)!r}")
        for name in ("cg_iters", "restore_steps"):
            if getattr(self, name) < 0:
                raise InputError(f"setting {name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("history_size", "inner_iter"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise InputError(f"setting {name} must be >= 1 or null, got "
                                 f"{getattr(self, name)!r}")
        if self.init_scheme not in INIT_SCHEMES:
            raise InputError(f"setting init_scheme must be one of {INIT_SCHEMES}, got "
                             f"{self.init_scheme!r}")
        if self.dtype not in DTYPES:
            raise InputError(f"setting dtype must be one of {tuple(DTYPES)}, got {self.dtype!r}")

    @property
    def torch_dtype(self) -> torch.dtype:
        """:attr:`dtype` as a torch dtype."""
        return DTYPES[self.dtype]

    def to_dict(self) -> dict[str, Any]:
        """Every field as a JSON-able value (the inverse of :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SearchSettings:
        """Settings from a (partial) dict; missing fields keep their defaults.

        Raises
        ------
        InputError
            On an unknown key (the message lists the valid ones) or an invalid value.
        """
        unknown = sorted(set(values) - set(cls.keys()))
        if unknown:
            raise InputError(f"unknown search setting(s) {', '.join(unknown)}; valid keys: "
                             f"{', '.join(cls.keys())}")
        return cls(**values)

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """Names of every field, in declaration order."""
        return tuple(f.name for f in fields(cls))

    def with_values(self, values: dict[str, Any]) -> SearchSettings:
        """A copy with ``values`` replaced (validated like :meth:`from_dict`)."""
        return SearchSettings.from_dict({**self.to_dict(), **values})
