"""Built-in nonlinear targets (paper_notes/theory.md section 4) and the four tasks of [WJ24]'s
experiments.

Where a target has a known factorisation ``f = decode o encode`` through a non-negative
representation kept on few frequencies/channels, :meth:`Target.factorization` returns it and
``r0_upper_bound() = sum_m dim V_m`` is an UPPER bound on the CBN rank ``R0``.
Domains ``Omega`` are bounded where a factorisation needs a bound (non-negativity of the
representation is guaranteed by a constant shift computed from the bound, not observed).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from cbn.numerics.data import NON_NEGATIVE, SPATIAL, Dataset, load_dataset
from cbn.numerics.fourier import (
    circular_conv,
    filters_from_multipliers,
    frequency_degrees,
    multipliers_from_filters,
)
from cbn.numerics.inputs import InputError
from cbn.numerics.targets.base import Factorization, Target, diagonal_projectors, register_target
from cbn.numerics.targets.linear import check_spatial, newton_multipliers
from cbn.numerics.weights import Network


def _axes(spatial: Sequence[int]) -> tuple[int, ...]:
    return tuple(range(2, 2 + len(spatial)))


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def _bias(b: np.ndarray, k: int) -> np.ndarray:
    """Per-channel bias broadcast over ``k`` spatial axes of an ``(n, c, *spatial)`` array."""
    return b.reshape((1, -1) + (1,) * k)


def _project(G: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Zero every Fourier coefficient of ``G`` (n, c, *spatial) where ``keep`` (*spatial, c)
    is False."""
    axes = _axes(keep.shape[:-1])
    ghat = np.fft.fftn(G, axes=axes) * np.moveaxis(keep, -1, 0)[None]
    return np.real(np.fft.ifftn(ghat, axes=axes))


def identity_factorization(target: Target, decode) -> Factorization:
    """The trivial factorisation through the input itself (valid when inputs are >= 0 on
    ``Omega``): every frequency of every input channel kept, ``R0 <= c_in * d``."""
    keep = np.ones((*target.spatial, target.c_in), dtype=bool)
    return Factorization(lambda X: np.array(X, dtype=np.float64), decode,
                         diagonal_projectors(keep))


def _uniform_cube(target: Target, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1.0, 1.0, (n, target.c_in, *target.spatial))


class Bottleneck(Target):
    """Composition through a representation kept on the frequencies ``|m|_inf <= K`` and
    ``c_rep`` channels: ``f = h o g``, ``g(x) = B + P_K(E relu(W1 * x + b1)) >= 0`` on the cube
    ``[-1, 1]``, ``h(g) = W3 * relu(W2 * (g - B) + b2)``. Theory: ``R0 <= c_rep * #{|m|_inf <= K}``.

    ``B`` is the bound ``|P_K u(p)| <= |K| max|u|`` made explicit, so ``g >= 0`` on ``Omega``.
    """

    def __init__(
        self,
        spatial: Sequence[int] = (16,),
        c_in: int = 2,
        c_out: int = 2,
        hidden: int = 4,
        c_rep: int = 2,
        K: int = 2,
        seed: int = 0,
        name: str = "bottleneck",
    ):
        self.name, self.spatial = name, check_spatial(spatial)
        self.c_in, self.c_out = int(c_in), int(c_out)
        if not 1 <= c_rep <= hidden:
            raise ValueError(f"need 1 <= c_rep <= hidden, got c_rep={c_rep}, hidden={hidden}")
        k, d = len(self.spatial), int(np.prod(self.spatial))
        rng = np.random.default_rng(seed)
        self.W1 = rng.standard_normal((hidden, c_in, *self.spatial)) / np.sqrt(c_in)
        self.b1 = 0.1 * rng.standard_normal(hidden)
        self.E = rng.standard_normal((c_rep, hidden)) / np.sqrt(hidden)
        self.W2 = rng.standard_normal((hidden, c_rep, *self.spatial)) / np.sqrt(c_rep)
        self.b2 = 0.1 * rng.standard_normal(hidden)
        self.W3 = rng.standard_normal((c_out, hidden, *self.spatial)) / np.sqrt(hidden)
        self.freq_mask = frequency_degrees(self.spatial)["linf"] <= K  # shape spatial
        self.keep = np.repeat(self.freq_mask[..., None], c_rep, axis=-1)  # (*spatial, c_rep)
        # |a_j(p)| <= d^{-1/2} sum_{i,q} |W1_ji(q)| + |b1_j| on the cube, then
        # |P_K(E a)_i(p)| <= |K| sum_j |E_ij| max|a_j| (|a^(m)| <= d max|a|, inverse DFT 1/d).
        a_max = np.abs(self.W1).reshape(hidden, -1).sum(axis=1) / np.sqrt(d) + np.abs(self.b1)
        self.B = int(self.freq_mask.sum()) * np.abs(self.E) @ a_max
        # The projection layer as real filters (multiplier mask(m) * E): evaluate's path.
        mult = self.freq_mask[..., None, None] * self.E.astype(np.complex128)
        self.Q = filters_from_multipliers(mult, "scaled")
        self._k = k

    def sample(self, n: int, seed: int) -> np.ndarray:
        """``n`` points uniform in the cube ``[-1, 1]^(c_in x G)``."""
        return _uniform_cube(self, n, seed)

    def _first(self, X: np.ndarray) -> np.ndarray:
        return _relu(circular_conv(self.W1, X) + _bias(self.b1, self._k))

    def encode(self, X: np.ndarray) -> np.ndarray:
        a = np.einsum("rh,nh...->nr...", self.E, self._first(X))
        return _bias(self.B, self._k) + _project(a, self.keep)

    def decode(self, G: np.ndarray) -> np.ndarray:
        # W2 * (g - B) + b2 = W2 * g + (b2 - W2 * B): a conv layer with a per-channel bias.
        z = circular_conv(self.W2, G - _bias(self.B, self._k)) + _bias(self.b2, self._k)
        return circular_conv(self.W3, _relu(z))

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        g = _bias(self.B, self._k) + circular_conv(self.Q, self._first(X))
        return self.decode(g)

    def factorization(self) -> Factorization:
        return Factorization(self.encode, self.decode, diagonal_projectors(self.keep))

    def construction(self, depth: int, width: int, X: np.ndarray | None = None) -> Network:
        """The explicit ReLU network of the factorisation (paper_notes/theory.md section 4); ``X``
        is not needed
        (the shift ``B`` is a bound on the cube).

        ``relu(W1 * x + b1)`` -> ``g = Q * a + B >= 0`` (the representation, kept on ``V_m``)
        -> ``depth - 4`` projection layers with multiplier ``P_{V_m}`` (the identity on ``g``,
        cost ``sum_m dim V_m`` each) -> ``relu(W2 * g + b2 - M2(0) B)`` -> ``W3 * .``. Its norm
        is an UPPER bound on ``R(f; L)`` growing like ``L sum_m dim V_m``. Hidden channels are
        padded with zeros to ``width``.

        Raises
        ------
        ValueError
            If ``depth < 4`` or ``width`` is too small.
        """
        if depth < 4:
            raise ValueError(f"the bottleneck construction needs depth >= 4, got {depth}")
        hidden, c_rep = self.W1.shape[0], self.Q.shape[0]
        if width < max(hidden, c_rep):
            raise ValueError(f"width {width} < {max(hidden, c_rep)} needed by the construction")
        proj = filters_from_multipliers(diagonal_projectors(self.keep), "scaled")
        m2_zero = multipliers_from_filters(self.W2, "scaled")[(0,) * self._k].real
        filters = [self.W1, self.Q, *[proj] * (depth - 4), self.W2, self.W3]
        biases = [self.b1, self.B, *[np.zeros(c_rep)] * (depth - 4),
                  self.b2 - m2_zero @ self.B, np.zeros(self.W3.shape[0])]
        return Network(filters, biases).padded(width)


register_target("bottleneck")(Bottleneck)


@register_target("bottleneck_2d")
def bottleneck_2d(spatial: Sequence[int] = (8, 8), K: int = 1, seed: int = 0) -> Bottleneck:
    """2-D bottleneck composition: ``R0 <= 2 * (2K+1)^2`` (2 representation channels)."""
    return Bottleneck(spatial, K=K, seed=seed, name="bottleneck_2d")


class FourierModulus(Target):
    """Moduli ``|x_j^(m)| / sqrt(d)`` of chosen Fourier coefficients: translation invariant
    (output ``(n, c_out)``). It factors through ``g_j = B_j + P_{S_j} x_j >= 0`` with ``S_j``
    the chosen frequencies of channel ``j`` and their negatives: ``R0 <= sum_j |S_j u {0}|``.
    """

    symmetry = "invariant"
    pooled = True

    def __init__(
        self,
        spatial: Sequence[int] = (16,),
        c_in: int = 1,
        coefficients: Sequence[tuple[int, Sequence[int]]] = ((0, (1,)), (0, (3,))),
        name: str = "fourier_modulus",
    ):
        self.name, self.spatial = name, check_spatial(spatial)
        self.c_in, self.c_out = int(c_in), len(coefficients)
        self.coefficients = [(int(j), tuple(int(v) % n for v, n in zip(m, self.spatial)))
                             for j, m in coefficients]
        for j, m in self.coefficients:
            if not 0 <= j < self.c_in or len(m) != len(self.spatial):
                raise ValueError(f"coefficient (channel {j}, frequency {m}) is not on the grid")
        keep = np.zeros((*self.spatial, self.c_in), dtype=bool)
        for j, m in self.coefficients:
            neg = tuple((-v) % n for v, n in zip(m, self.spatial))
            keep[(*m, j)] = keep[(*neg, j)] = True
        self.support = keep.copy()  # S_j: chosen frequencies and their negatives
        used = keep.any(axis=tuple(range(len(self.spatial))))
        keep[(0,) * len(self.spatial)] |= used  # the constant shift B_j lives at m = 0
        self.keep = keep
        # On the cube |P_S x(p)| <= (1/d) sum_{m in S} |x^(m)| <= |S| max|x| = |S|.
        self.B = self.support.sum(axis=tuple(range(len(self.spatial)))).astype(float)
        self._d = int(np.prod(self.spatial))

    def sample(self, n: int, seed: int) -> np.ndarray:
        """``n`` points uniform in the cube ``[-1, 1]^(c_in x G)``."""
        return _uniform_cube(self, n, seed)

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        xhat = np.fft.fftn(np.asarray(X, dtype=np.float64), axes=_axes(self.spatial))
        cols = [np.abs(xhat[(slice(None), j, *m)]) for j, m in self.coefficients]
        return np.stack(cols, axis=1) / np.sqrt(self._d)

    def encode(self, X: np.ndarray) -> np.ndarray:
        return _bias(self.B, len(self.spatial)) + _project(X, self.support)

    def decode(self, G: np.ndarray) -> np.ndarray:
        ghat = np.fft.fftn(G - _bias(self.B, len(self.spatial)), axes=_axes(self.spatial))
        cols = [np.abs(ghat[(slice(None), j, *m)]) for j, m in self.coefficients]
        return np.stack(cols, axis=1) / np.sqrt(self._d)

    def factorization(self) -> Factorization:
        return Factorization(self.encode, self.decode, diagonal_projectors(self.keep))


register_target("fourier_modulus")(FourierModulus)


class PoolingClassifier(Target):
    """Global-pooling classifier ``logits = V mean_p relu(W1 * x + b1)(p) + c``: translation
    invariant, output ``(n, c_out)``. It factors through the pooled features (frequency 0 only,
    ``hidden`` channels): ``R0 <= hidden``.
    """

    symmetry = "invariant"
    pooled = True

    def __init__(
        self,
        spatial: Sequence[int] = (8, 8),
        c_in: int = 1,
        hidden: int = 4,
        c_out: int = 3,
        seed: int = 0,
        name: str = "pooling_classifier",
    ):
        self.name, self.spatial = name, check_spatial(spatial)
        self.c_in, self.c_out = int(c_in), int(c_out)
        rng = np.random.default_rng(seed)
        self.W1 = rng.standard_normal((hidden, c_in, *self.spatial)) / np.sqrt(c_in)
        self.b1 = 0.1 * rng.standard_normal(hidden)
        self.V = rng.standard_normal((c_out, hidden)) / np.sqrt(hidden)
        self.c = 0.1 * rng.standard_normal(c_out)
        keep = np.zeros((*self.spatial, hidden), dtype=bool)
        keep[(0,) * len(self.spatial)] = True
        self.keep = keep

    def _features(self, X: np.ndarray) -> np.ndarray:
        return _relu(circular_conv(self.W1, X) + _bias(self.b1, len(self.spatial)))

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        pooled = self._features(np.asarray(X, dtype=np.float64)).mean(axis=_axes(self.spatial))
        return pooled @ self.V.T + self.c

    def encode(self, X: np.ndarray) -> np.ndarray:
        return _project(self._features(X), self.keep)

    def decode(self, G: np.ndarray) -> np.ndarray:
        return G[(Ellipsis, *((0,) * len(self.spatial)))] @ self.V.T + self.c

    def factorization(self) -> Factorization:
        return Factorization(self.encode, self.decode, diagonal_projectors(self.keep))


register_target("pooling_classifier")(PoolingClassifier)


class ForceDensity(Target):
    """Newtonian force density ``rho * F(rho)`` with ``F = -grad Phi``, ``Delta Phi = rho -
    mean(rho)`` (the linear target ``newton_force``), for densities ``rho`` uniform in [0, 1]:
    quadratic, so products spread every frequency; no small factorisation is known, only the
    trivial ``R0 <= d`` through the identity on ``rho >= 0``.
    """

    def __init__(self, spatial: Sequence[int] = (16, 16), name: str = "force_density"):
        self.name, self.spatial = name, check_spatial(spatial)
        self.c_in, self.c_out = 1, len(self.spatial)
        self._force = filters_from_multipliers(newton_multipliers(self.spatial), "scaled")

    def sample(self, n: int, seed: int) -> np.ndarray:
        """Densities with pixels uniform in [0, 1]."""
        return np.random.default_rng(seed).uniform(0.0, 1.0, (n, 1, *self.spatial))

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        return X * circular_conv(self._force, X)

    def factorization(self) -> Factorization:
        return identity_factorization(self, self.evaluate)


register_target("force_density")(ForceDensity)


class ShapePattern(Target):
    """Autoencoder (``f(x) = x``) on images ``x = s * shift_t(p)``: a positive shape ``s`` on the
    frequencies ``|m|_inf <= K`` times a positive pattern ``p`` of period ``T`` at a random phase
    ``t``. It factors through the two channels ``(s, shift_t p)`` (decoder: their product), so
    ``R0 <= (2K+1)^k + T^k`` (shape frequencies plus pattern frequencies).

    The encoder finds the phase ``t`` from ``x`` alone (the one for which ``x / shift_t p`` has
    no energy above ``K``), so it is a translation-equivariant map on ``Omega``; this needs
    ``2K + 1 <= d_i / T``.
    """

    def __init__(
        self,
        spatial: Sequence[int] = (32,),
        K: int = 2,
        T: int = 4,
        pattern_seed: int = 0,
        name: str = "shape_pattern_ae",
    ):
        self.name, self.spatial = name, check_spatial(spatial)
        self.c_in = self.c_out = 1
        if any(n % T for n in self.spatial) or any(2 * K + 1 > n // T for n in self.spatial):
            raise ValueError(f"need T | d_i and 2K+1 <= d_i/T; got K={K}, T={T}, {self.spatial}")
        self.K, self.T = int(K), int(T)
        tile = np.random.default_rng(pattern_seed).uniform(0.5, 1.5, (T,) * len(self.spatial))
        self.pattern = np.tile(tile, tuple(n // T for n in self.spatial))
        self.shape_mask = frequency_degrees(self.spatial)["linf"] <= K
        grids = np.meshgrid(*[np.arange(n) for n in self.spatial], indexing="ij")
        self.pattern_mask = np.logical_and.reduce(
            [g % (n // T) == 0 for g, n in zip(grids, self.spatial)]
        )

    def _shifted_pattern(self, t: tuple[int, ...]) -> np.ndarray:
        return np.roll(self.pattern, t, axis=tuple(range(len(self.spatial))))

    def sample(self, n: int, seed: int) -> np.ndarray:
        """Shapes ``1 + r / (2 max|r|)`` (values in [0.5, 1.5]) with ``r`` a Gaussian field on
        ``0 < |m|_inf <= K``, times the pattern at a uniform random phase."""
        rng = np.random.default_rng(seed)
        axes = tuple(range(1, 1 + len(self.spatial)))
        z = rng.standard_normal((n, *self.spatial))
        band = self.shape_mask.copy()
        band[(0,) * len(self.spatial)] = False
        r = np.real(np.fft.ifftn(np.fft.fftn(z, axes=axes) * band, axes=axes))
        r /= 2 * np.max(np.abs(r), axis=axes, keepdims=True)
        phases = rng.integers(0, self.T, (n, len(self.spatial)))
        X = np.stack([(1 + r[i]) * self._shifted_pattern(tuple(phases[i])) for i in range(n)])
        return X[:, None]

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return np.array(X, dtype=np.float64)

    def encode(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)[:, 0]
        axes = tuple(range(1, 1 + len(self.spatial)))
        best_err = np.full(X.shape[0], np.inf)
        out = np.zeros((X.shape[0], 2, *self.spatial))
        for t in itertools.product(range(self.T), repeat=len(self.spatial)):
            p = self._shifted_pattern(t)
            s = X / p
            err = np.sum(np.abs(np.fft.fftn(s, axes=axes) * ~self.shape_mask) ** 2, axis=axes)
            better = err < best_err
            best_err = np.where(better, err, best_err)
            out[better, 0] = s[better]
            out[better, 1] = p
        return out

    def decode(self, G: np.ndarray) -> np.ndarray:
        return G[:, :1] * G[:, 1:2]

    def factorization(self) -> Factorization:
        keep = np.stack([self.shape_mask, self.pattern_mask], axis=-1)
        return Factorization(self.encode, self.decode, diagonal_projectors(keep))


register_target("shape_pattern_ae")(ShapePattern)


@register_target("shape_pattern_ae_2d")
def shape_pattern_ae_2d(spatial: Sequence[int] = (16, 16), K: int = 1, T: int = 4) -> ShapePattern:
    """2-D shape-times-pattern autoencoder ([WJ24]'s synthetic task): ``R0 <= (2K+1)^2 + T^2``."""
    return ShapePattern(spatial, K, T, name="shape_pattern_ae_2d")


class _DataTarget(Target):
    """Common part of the data-set targets: lazy loading, deterministic draws."""

    def __init__(self, name: str, dataset: str, path: str | None = None):
        if dataset not in SPATIAL:
            raise ValueError(f"unknown data set {dataset!r}: use one of {', '.join(SPATIAL)}")
        self.name, self.dataset, self.path = name, dataset, path
        self.spatial = SPATIAL[dataset]
        self._data: Dataset | None = None

    def data(self) -> Dataset:
        if self._data is None:
            self._data = load_dataset(self.dataset, "all", self.path)
        return self._data

    def _draw(self, pool: np.ndarray, n: int, seed: int, what: str) -> np.ndarray:
        if n > pool.shape[0]:
            raise InputError(f"target {self.name!r}: asked for {n} samples but {what} has only "
                             f"{pool.shape[0]}")
        rng = np.random.default_rng(seed)
        return pool[np.sort(rng.choice(pool.shape[0], size=n, replace=False))].copy()


class DigitAutoencoder(_DataTarget):
    """Autoencoder ``f(x) = x`` on the images of one digit of a data set ([WJ24]'s MNIST digit-0
    autoencoder). Theory gives no closed form: the measured CBN rank (kept frequencies) is the
    quantity of interest; only the trivial ``R0 <= d`` holds (identity on non-negative images:
    digits and MNIST, not MNIST-1D, whose standardised signals take both signs).
    """

    def __init__(self, dataset: str = "digits", digit: int = 0, path: str | None = None,
                 name: str = "digits0_ae"):
        super().__init__(name, dataset, path)
        self.c_in = self.c_out = 1
        self.digit = int(digit)

    def sample(self, n: int, seed: int) -> np.ndarray:
        data = self.data()
        pool = data.X[data.y == self.digit]
        return self._draw(pool, n, seed, f"{self.dataset} digit {self.digit}")

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return np.array(X, dtype=np.float64)

    def factorization(self) -> Factorization | None:
        if self.dataset not in NON_NEGATIVE:
            return None
        return identity_factorization(self, self.evaluate)


class DatasetClassifier(_DataTarget):
    """Classification of a data set ([WJ24]'s MNIST task): ``f(x)`` = one-hot label of ``x``,
    defined on the data set only (``Omega`` = its images; a shifted image is not in it, so no
    symmetry is claimed). Theory: the output is pooled; no known factorisation.
    """

    symmetry = "none"
    pooled = True

    def __init__(self, dataset: str = "digits", path: str | None = None,
                 name: str = "digits_classifier"):
        super().__init__(name, dataset, path)
        self.c_in, self.c_out = 1, 10
        self._lookup: dict[bytes, int] | None = None

    def sample(self, n: int, seed: int) -> np.ndarray:
        return self._draw(self.data().X, n, seed, f"the {self.dataset} data set")

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        if self._lookup is None:
            data = self.data()
            self._lookup = {x.tobytes(): int(label) for x, label in zip(data.X, data.y)}
        X = np.ascontiguousarray(X, dtype=np.float64)
        Y = np.zeros((X.shape[0], self.c_out))
        for i, x in enumerate(X):
            label = self._lookup.get(x.tobytes())
            if label is None:
                raise InputError(f"target {self.name!r} is defined on the {self.dataset} images "
                                 f"only; input {i} is not one of them")
            Y[i, label] = 1.0
        return Y


@register_target("digits0_ae")
def digits0_ae() -> DigitAutoencoder:
    """Autoencoder on the 178 zeros of scikit-learn's 8x8 digits."""
    return DigitAutoencoder("digits", 0, name="digits0_ae")


@register_target("mnist0_ae")
def mnist0_ae(path: str | None = None) -> DigitAutoencoder:
    """Autoencoder on MNIST zeros (the bundled 5000-image subset; IDX files from ``path`` or
    ``$CBN_MNIST_DIR`` when given)."""
    return DigitAutoencoder("mnist", 0, path, name="mnist0_ae")


@register_target("digits_classifier")
def digits_classifier() -> DatasetClassifier:
    """Classifier of scikit-learn's 8x8 digits."""
    return DatasetClassifier("digits", name="digits_classifier")


@register_target("mnist1d_classifier")
def mnist1d_classifier() -> DatasetClassifier:
    """Classifier of MNIST-1D (generated locally)."""
    return DatasetClassifier("mnist1d", name="mnist1d_classifier")


@register_target("mnist_classifier")
def mnist_classifier(path: str | None = None) -> DatasetClassifier:
    """Classifier of MNIST (the bundled 5000-image subset; IDX files from ``path`` or
    ``$CBN_MNIST_DIR`` when given)."""
    return DatasetClassifier("mnist", path, name="mnist_classifier")
