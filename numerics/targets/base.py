"""The :class:`Target` protocol, known factorisations, and the cheap validation of a target.

A target is a function ``f`` a circular CNN should represent, together with its domain
``Omega`` (a seeded sampler) and what the theory knows about it
(paper_notes/theory.md sections 3 and 4).

Shapes
------
* inputs ``X``: ``(n, c_in, *spatial)``, float64;
* outputs: ``(n, c_out, *spatial)`` for equivariant (and most ``'none'``) targets,
  ``(n, c_out)`` for translation-invariant targets and classifiers (``pooled = True``).

Multipliers follow :mod:`cbn.numerics.fourier`: frequency-first ``(*spatial, c_out, c_in)``, FFT
order.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cbn.numerics.fourier import (
    Convention,
    check_convention,
    conjugate_symmetry_defect,
    filters_from_multipliers,
)
from cbn.numerics.inputs import InputError
from cbn.numerics.weights import Network

SYMMETRIES: tuple[str, ...] = ("equivariant", "invariant", "none")

#: Relative tolerance of :func:`validate_target` (errors relative to ``max |f(X)|``). A user
#: function computed in float32 is equivariant to ~1e-7 relative; a function that is not
#: equivariant misses by O(1) relative. 1e-6 separates the two by orders of magnitude. Built-in
#: targets are held to 1e-12 by the test suite.
VALIDATION_RTOL = 1e-6

#: Number of samples :func:`validate_target` evaluates (cheap: a few forward passes).
VALIDATION_SAMPLES = 4


@dataclass(frozen=True)
class Factorization:
    """A known factorisation ``f = decode o encode`` on ``Omega`` (paper_notes/theory.md section 4,
    upper bound).

    ``g = encode(x)`` is non-negative pixelwise and at every frequency ``m`` its Fourier
    coefficient (a vector over the ``c_rep`` representation channels) lies in the subspace
    ``V_m`` whose orthogonal projector is ``projectors[m]``. A layer with multiplier ``P_{V_m}``
    is then the identity on the representation, so ``R0 <= sum_m dim V_m`` (conjugate pairs
    counted twice, as every frequency of ``G`` has its own projector).

    Attributes
    ----------
    encode : ``(n, c_in, *spatial) -> (n, c_rep, *spatial)``
    decode : ``(n, c_rep, *spatial) ->`` the target's output shape
    projectors : complex array, shape ``(*spatial, c_rep, c_rep)``: Hermitian, idempotent,
        ``P(-m) = conj(P(m))`` (so the projection layer has real filters)
    """

    encode: Callable[[np.ndarray], np.ndarray]
    decode: Callable[[np.ndarray], np.ndarray]
    projectors: np.ndarray

    def dimension(self) -> int:
        """``sum_m dim V_m = sum_m trace P(m)`` (an integer for projectors)."""
        return int(round(float(np.real(np.trace(self.projectors, axis1=-2, axis2=-1)).sum())))


def diagonal_projectors(keep: np.ndarray) -> np.ndarray:
    """Projectors onto coordinate channels: ``P(m) = diag(keep[m])``.

    Parameters
    ----------
    keep : bool array, shape ``(*spatial, c_rep)``: channel ``j`` is kept at frequency ``m``.
        Must satisfy ``keep[-m] = keep[m]`` for the projection to have real filters.

    Returns
    -------
    projectors : complex array, shape ``(*spatial, c_rep, c_rep)``
    """
    keep = np.asarray(keep, dtype=bool)
    eye = np.eye(keep.shape[-1])
    return (keep[..., None] * eye).astype(np.complex128)


class Target:
    """A function a circular CNN should represent, with its domain and what theory says of it.

    Subclasses set ``name``, ``c_in``, ``c_out``, ``spatial``, ``symmetry`` and implement
    :meth:`evaluate`; the other methods have defaults meaning "nothing known". The first
    paragraph of the class docstring is the :meth:`description` (say what theory predicts).

    Attributes
    ----------
    name : registry name
    c_in, c_out : channel counts
    spatial : grid ``(d1,)`` or ``(d1, d2)``
    symmetry : ``'equivariant'`` (``f(shift x) = shift f(x)``), ``'invariant'``
        (``f(shift x) = f(x)``, output ``(n, c_out)``) or ``'none'`` (nothing claimed)
    pooled : output is ``(n, c_out)`` (True for invariant targets and classifiers)
    """

    name: str = ""
    c_in: int = 1
    c_out: int = 1
    spatial: tuple[int, ...] = ()
    symmetry: str = "equivariant"
    pooled: bool = False

    def sample(self, n: int, seed: int) -> np.ndarray:
        """``n`` points of the domain ``Omega``, shape ``(n, c_in, *spatial)``; default: i.i.d.
        standard Gaussian pixels. Deterministic for a given ``seed``."""
        rng = np.random.default_rng(seed)
        return rng.standard_normal((n, self.c_in, *self.spatial))

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """``f(X)``: ``(n, c_in, *spatial) -> (n, c_out, *spatial)`` or ``(n, c_out)``."""
        raise NotImplementedError(f"target {self.name!r} does not implement evaluate")

    def linear_multipliers(self, convention: Convention = "scaled") -> np.ndarray | None:
        """Multipliers ``A(m)``, shape ``(*spatial, c_out, c_in)``, of a linear target, else None.

        ``(f(x))^(m) = A(m) x^(m)``: the multiplier of the *operator* does not depend on the
        convention (paper_notes/theory.md section 1; only the filter realising it does, see
        :meth:`linear_filters`).
        ``convention`` is validated and passed through so that
        ``cbn.numerics.linear.representation_cost(A, L, convention)`` reads naturally.
        """
        check_convention(convention)
        return None

    def linear_filters(self, convention: Convention = "scaled") -> np.ndarray | None:
        """Real filters ``(c_out, c_in, *spatial)`` realising a linear target in ``convention``."""
        mult = self.linear_multipliers(convention)
        return None if mult is None else filters_from_multipliers(mult, convention)

    def factorization(self) -> Factorization | None:
        """A known factorisation through few frequencies (paper_notes/theory.md section 4), or
        None."""
        return None

    def construction(self, depth: int, width: int,
                     X: np.ndarray | None = None) -> Network | None:
        """An explicit network computing the target (an UPPER bound on ``R(f; Omega, L)``:
        paper_notes/theory.md section 4), with ``depth`` layers and hidden layers of ``width``
        channels, or None
        when none is known (the default).

        ``X`` ``(n, c_in, *spatial)``: the samples it must fit, for targets whose domain is
        unbounded (a constant shift that makes a representation non-negative is then taken from
        the samples). Raise ``ValueError`` when a construction exists but not at this depth or
        width.
        """
        return None

    def r0_upper_bound(self) -> int | None:
        """``sum_m dim V_m`` of :meth:`factorization` (an UPPER bound on ``R0``), or None."""
        fac = self.factorization()
        return None if fac is None else fac.dimension()

    def expected_cbn_rank(self) -> int | None:
        """``R0`` where theory gives it exactly (linear targets: ``sum_m rank A(m)``), else None."""
        return None

    def output_shape(self, n: int) -> tuple[int, ...]:
        """Shape of ``evaluate`` on ``n`` samples."""
        if self.pooled or self.symmetry == "invariant":
            return (n, self.c_out)
        return (n, self.c_out, *self.spatial)

    def description(self) -> str:
        """What the target is and what theory predicts (first docstring paragraph, plain text)."""
        doc = inspect.getdoc(type(self)) or ""
        return " ".join(doc.split("\n\n")[0].split()).replace("``", "")

    def summary(self) -> dict:
        """Everything known, as a JSON-able dict (used by ``cbn targets``)."""
        return {
            "name": self.name,
            "c_in": int(self.c_in),
            "c_out": int(self.c_out),
            "spatial": [int(s) for s in self.spatial],
            "symmetry": self.symmetry,
            "output_shape": ["n", *self.output_shape(1)[1:]],
            "linear": self.linear_multipliers() is not None,
            "expected_cbn_rank": self.expected_cbn_rank(),
            "expected_cbn_rank_kind": "exact (closed form)",
            "r0_upper_bound": self.r0_upper_bound(),
            "r0_upper_bound_kind": "upper bound (known factorisation)",
            "description": self.description(),
        }


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def _relative_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.max(np.abs(b))) if b.size else 0.0, np.finfo(float).tiny)
    return float(np.max(np.abs(a - b))) / scale if a.size else 0.0


def _shift(X: np.ndarray, shift: tuple[int, ...]) -> np.ndarray:
    """Circular shift of every sample by ``shift`` pixels (last ``len(shift)`` axes)."""
    k = len(shift)
    return np.roll(X, shift, axis=tuple(range(X.ndim - k, X.ndim)))


def _check_attributes(target) -> str:
    name = getattr(target, "name", None)
    if not isinstance(name, str) or not name:
        raise InputError(f"target {target!r} has no name (set name = '...')")
    label = f"target {name!r}"
    for attr in ("c_in", "c_out"):
        value = getattr(target, attr, None)
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise InputError(f"{label}: {attr} must be a positive integer, got {value!r}")
    spatial = getattr(target, "spatial", None)
    if (
        not isinstance(spatial, tuple)
        or len(spatial) not in (1, 2)
        or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in spatial)
    ):
        raise InputError(
            f"{label}: spatial must be a tuple of 1 or 2 positive integers, got {spatial!r}"
        )
    symmetry = getattr(target, "symmetry", None)
    if symmetry not in SYMMETRIES:
        raise InputError(f"{label}: symmetry must be one of {SYMMETRIES}, got {symmetry!r}")
    for method in ("sample", "evaluate"):
        if not callable(getattr(target, method, None)):
            raise InputError(f"{label}: missing method {method}(...)")
    return label


def expected_output_shape(target, n: int) -> tuple[int, ...]:
    """Output shape of ``target`` on ``n`` samples (works for duck-typed targets too)."""
    if hasattr(target, "output_shape"):
        return tuple(target.output_shape(n))
    if getattr(target, "pooled", False) or target.symmetry == "invariant":
        return (n, target.c_out)
    return (n, target.c_out, *target.spatial)


def _evaluate_checked(target, X: np.ndarray, label: str, what: str) -> np.ndarray:
    try:
        Y = np.asarray(target.evaluate(X))
    except InputError:
        raise
    except Exception as exc:  # a user function may raise anything: report it on one line
        message = f"{label}: evaluate failed on {what}: {type(exc).__name__}: {exc}"
        raise InputError(message.splitlines()[0]) from None
    want = expected_output_shape(target, X.shape[0])
    if Y.shape != want:
        raise InputError(
            f"{label}: evaluate returned shape {Y.shape} on {what}, expected {want} "
            f"(n, c_out{', *spatial' if len(want) > 2 else ''})"
        )
    if np.iscomplexobj(Y):
        raise InputError(f"{label}: evaluate returned complex values; return real float64")
    if not np.all(np.isfinite(Y)):
        raise InputError(f"{label}: evaluate returned NaN or inf on {what}")
    return Y.astype(np.float64, copy=False)


def _sample_checked(target, n: int, seed: int, label: str) -> np.ndarray:
    try:
        return np.asarray(target.sample(n, seed))
    except InputError:
        raise
    except Exception as exc:  # a user sampler may raise anything: report it on one line
        message = f"{label}: sample({n}, seed={seed}) failed: {type(exc).__name__}: {exc}"
        raise InputError(message.splitlines()[0]) from None


def validate_target(target, rtol: float = VALIDATION_RTOL, seed: int = 0) -> None:
    """Cheap checks on a few samples, before any expensive work; raise :class:`InputError`.

    Checks: attributes, sampler shape and determinism, output shape, finite output, batched
    evaluation (one sample alone gives the same row), the declared symmetry under circular
    shifts (one pixel along each axis, and a random shift), and where given the linear
    multipliers and the factorisation against ``evaluate``. Errors are relative to
    ``max |f(X)|``, with tolerance ``rtol``.
    """
    label = _check_attributes(target)
    n = VALIDATION_SAMPLES
    X = _sample_checked(target, n, seed, label)
    want_x = (n, target.c_in, *target.spatial)
    if X.shape != want_x:
        raise InputError(f"{label}: sample({n}, seed) returned shape {X.shape}, expected {want_x}")
    if not np.all(np.isfinite(X)) or np.iscomplexobj(X):
        raise InputError(f"{label}: sample returned non-finite or complex values")
    if not np.array_equal(X, _sample_checked(target, n, seed, label)):
        raise InputError(f"{label}: sample is not deterministic for a fixed seed")
    Y = _evaluate_checked(target, X, label, f"{n} samples")
    one = _evaluate_checked(target, X[:1], label, "one sample")
    if _relative_error(one[0], Y[0]) > rtol:
        raise InputError(f"{label}: evaluate is not batched (one sample alone gives another value)")
    _check_symmetry(target, X, Y, label, rtol)
    _check_multipliers(target, X, Y, label, rtol)
    fac = target.factorization() if hasattr(target, "factorization") else None
    if fac is not None:
        defects = factorization_defects(fac, X, Y)
        if defects["composition"] > rtol:
            raise InputError(f"{label}: factorisation decode(encode(x)) differs from evaluate "
                             f"(relative error {defects['composition']:.1e})")
        if defects["support"] > rtol:
            raise InputError(f"{label}: factorisation representation leaves its subspaces V_m "
                             f"(relative error {defects['support']:.1e})")
        if defects["negativity"] > rtol:
            raise InputError(f"{label}: factorisation representation is negative somewhere "
                             f"(min / max = {-defects['negativity']:.1e})")
        if defects["projector"] > rtol:
            raise InputError(f"{label}: factorisation projectors are not real orthogonal "
                             f"projectors (defect {defects['projector']:.1e})")


def symmetry_shifts(spatial: tuple[int, ...], seed: int = 0) -> list[tuple[int, ...]]:
    """The shifts the symmetry checks use: one pixel along each axis, and a random shift."""
    rng = np.random.default_rng(seed)
    unit = [tuple(int(i == a) for i in range(len(spatial))) for a in range(len(spatial))]
    return unit + [tuple(int(rng.integers(1, s)) if s > 1 else 0 for s in spatial)]


def _check_symmetry(target, X, Y, label: str, rtol: float) -> None:
    if target.symmetry == "none":
        return
    for shift in symmetry_shifts(target.spatial):
        Ys = _evaluate_checked(target, _shift(X, shift), label, f"inputs shifted by {shift}")
        want = Y if target.symmetry == "invariant" else _shift(Y, shift)
        err = _relative_error(Ys, want)
        if err > rtol:
            raise InputError(
                f"{label} is declared {target.symmetry} but is not: shifting the inputs by "
                f"{shift} gives a relative error {err:.1e} > {rtol:.0e}"
            )


def multiplier_defect(multipliers: np.ndarray, X: np.ndarray, Y: np.ndarray) -> float:
    """Relative error between ``Y`` and the linear map with ``multipliers`` applied to ``X``."""
    k = X.ndim - 2
    axes = tuple(range(2, 2 + k))
    xhat = np.moveaxis(np.fft.fftn(X, axes=axes), 1, -1)[..., None]
    yhat = np.moveaxis((multipliers @ xhat)[..., 0], -1, 1)
    return _relative_error(np.real(np.fft.ifftn(yhat, axes=axes)), Y)


def _check_multipliers(target, X, Y, label: str, rtol: float) -> None:
    if not hasattr(target, "linear_multipliers"):
        return
    mult = target.linear_multipliers("scaled")
    if mult is None:
        return
    want = (*target.spatial, target.c_out, target.c_in)
    if np.shape(mult) != want:
        raise InputError(f"{label}: linear_multipliers has shape {np.shape(mult)}, expected {want}")
    if conjugate_symmetry_defect(np.asarray(mult), len(target.spatial)) > rtol:
        raise InputError(f"{label}: linear_multipliers are not conjugate-symmetric "
                         "(M(-m) != conj M(m)): they describe no real operator")
    err = multiplier_defect(np.asarray(mult), X, Y)
    if err > rtol:
        raise InputError(f"{label}: linear_multipliers disagree with evaluate "
                         f"(relative error {err:.1e})")


def factorization_defects(fac: Factorization, X: np.ndarray, Y: np.ndarray) -> dict[str, float]:
    """How far a factorisation is from its claims on samples ``X`` with ``Y = f(X)``.

    Returns
    -------
    dict with relative errors (0 for an exact factorisation):
        ``composition``: ``|decode(encode(X)) - Y| / max|Y|``;
        ``support``: ``|g^ - P g^| / max|g^|`` with ``g = encode(X)``;
        ``negativity``: ``max(0, -min g) / max|g|``;
        ``projector``: ``max`` of ``|P^2 - P|``, ``|P^H - P|`` and ``|P(-m) - conj P(m)|``.
    """
    G = np.asarray(fac.encode(X), dtype=np.float64)
    k = G.ndim - 2
    axes = tuple(range(2, 2 + k))
    ghat = np.moveaxis(np.fft.fftn(G, axes=axes), 1, -1)[..., None]
    P = np.asarray(fac.projectors)
    proj = P @ ghat
    gscale = max(float(np.max(np.abs(G))), np.finfo(float).tiny)
    proj_defect = max(
        float(np.max(np.abs(P @ P - P))),
        float(np.max(np.abs(np.conj(np.swapaxes(P, -1, -2)) - P))),
        conjugate_symmetry_defect(P, k) * float(np.max(np.abs(P))),
    )
    return {
        "composition": _relative_error(np.asarray(fac.decode(G)), Y),
        "support": _relative_error(proj, ghat),
        "negativity": max(0.0, -float(np.min(G))) / gscale,
        "projector": proj_defect,
    }


# ---------------------------------------------------------------------------------------------
# Registry of named targets (built-in ones register on import of cbn.numerics.targets)
# ---------------------------------------------------------------------------------------------

#: name -> factory (a Target subclass or a function returning a Target; keyword parameters)
REGISTRY: dict[str, Callable[..., Target]] = {}


def register_target(name=None):
    """Register a target factory under a name; use as ``@register_target`` or
    ``@register_target("name")``.

    The factory is a :class:`Target` subclass or a function returning a target; it is called
    with the keyword parameters given to :func:`cbn.numerics.targets.get_target`. Without a name,
    the class attribute ``name`` (or the function name) is used. Re-registering a name with a
    different factory is an error.
    """

    def decorate(factory: Callable[..., Target], key: str | None = None) -> Callable[..., Target]:
        key = key or getattr(factory, "name", None) or factory.__name__
        if not isinstance(key, str) or not key:
            raise ValueError(f"cannot register {factory!r}: give a name")
        old = REGISTRY.get(key)
        if old is not None and _qualified(old) != _qualified(factory):
            raise ValueError(f"target name {key!r} is already registered ({old!r})")
        REGISTRY[key] = factory
        return factory

    if callable(name):
        return decorate(name)
    return lambda factory: decorate(factory, name)


def _qualified(factory) -> tuple[str, str]:
    """(module, qualname): a module imported twice re-registers its own factories harmlessly."""
    return getattr(factory, "__module__", ""), getattr(factory, "__qualname__", repr(factory))
