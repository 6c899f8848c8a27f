"""Bad targets are rejected with a clear one-line message before any expensive work (issue 6)."""

from __future__ import annotations

import numpy as np
import pytest

from cbn.numerics.inputs import InputError
from cbn.numerics.targets import Factorization, Target, validate_target
from cbn.numerics.targets.base import VALIDATION_SAMPLES, diagonal_projectors


class Smooth(Target):
    """A valid equivariant target: x -> x + 0.5 relu(x shifted by one pixel)."""

    name = "smooth"
    c_in = 1
    c_out = 1
    spatial = (8,)

    def evaluate(self, X):
        return X + 0.5 * np.maximum(np.roll(X, 1, axis=-1), 0)


class WrongShape(Smooth):
    name = "wrong_shape"

    def evaluate(self, X):
        return X[:, :, :4]


class NaNOutput(Smooth):
    name = "nan_output"

    def evaluate(self, X):
        Y = super().evaluate(X)
        Y[:, 0, 3] = np.nan
        return Y


class NotEquivariant(Smooth):
    """Multiplies by a window: each pixel treated differently."""

    name = "not_equivariant"

    def evaluate(self, X):
        return X * np.linspace(0.5, 1.5, 8)


class NotInvariant(Smooth):
    name = "not_invariant"
    symmetry = "invariant"

    def evaluate(self, X):
        return X[:, :, 0]  # the first pixel: (n, 1), depends on the position


class NotBatched(Smooth):
    name = "not_batched"

    def evaluate(self, X):
        return X - X.mean(axis=0)  # uses the other samples of the batch


class WrongMultipliers(Smooth):
    name = "wrong_multipliers"

    def evaluate(self, X):
        return 2.0 * X

    def linear_multipliers(self, convention="scaled"):
        return np.full((8, 1, 1), 3.0, dtype=complex)


class RandomSampler(Smooth):
    name = "random_sampler"

    def sample(self, n, seed):
        return np.random.default_rng().standard_normal((n, 1, 8))


class Raises(Smooth):
    name = "raises"

    def evaluate(self, X):
        raise RuntimeError("division by zero\nsecond line")


class NegativeRepresentation(Smooth):
    """Claims a factorisation through x itself, which is not >= 0 on Gaussian samples."""

    name = "negative_representation"

    def factorization(self):
        return Factorization(lambda X: X, self.evaluate,
                             diagonal_projectors(np.ones((8, 1), dtype=bool)))


def test_a_good_target_passes():
    validate_target(Smooth())


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (WrongShape(), r"returned shape \(4, 1, 4\) on 4 samples, expected \(4, 1, 8\)"),
        (NaNOutput(), "returned NaN or inf"),
        (NotEquivariant(), "declared equivariant but is not"),
        (NotInvariant(), "declared invariant but is not"),
        (NotBatched(), "not batched"),
        (WrongMultipliers(), "linear_multipliers disagree with evaluate"),
        (RandomSampler(), "not deterministic"),
        (Raises(), "evaluate failed on 4 samples: RuntimeError: division by zero"),
        (NegativeRepresentation(), "negative somewhere"),
    ],
)
def test_bad_targets_rejected_with_one_line(target, message):
    with pytest.raises(InputError, match=message) as info:
        validate_target(target)
    assert "\n" not in str(info.value)
    assert repr(target.name) in str(info.value)


@pytest.mark.parametrize(
    ("attr", "value", "message"),
    [
        ("symmetry", "rotation", "symmetry must be one of"),
        ("spatial", [8], "spatial must be a tuple"),
        ("c_in", 0, "c_in must be a positive integer"),
        ("name", "", "has no name"),
    ],
)
def test_bad_attributes(attr, value, message):
    t = Smooth()
    setattr(t, attr, value)
    with pytest.raises(InputError, match=message):
        validate_target(t)


def test_validation_is_cheap():
    """Validation evaluates a handful of samples, never a data set: count the rows."""
    rows = []

    class Counting(Smooth):
        def evaluate(self, X):
            rows.append(X.shape[0])
            return super().evaluate(X)

    validate_target(Counting())
    # 4 samples, 1 alone (batching), 4 per shift for 2 shifts.
    assert sum(rows) == VALIDATION_SAMPLES * 3 + 1


def test_equivariance_check_is_not_fooled_by_a_period_two_function():
    """x * (1 + 0.1 (-1)^p) commutes with even shifts only; the one-pixel shift catches it."""

    class Period2(Smooth):
        name = "period2"

        def evaluate(self, X):
            return X * (1 + 0.1 * (-1.0) ** np.arange(8))

    with pytest.raises(InputError, match="declared equivariant"):
        validate_target(Period2())


def test_equivariance_checked_along_each_axis():
    """x(p) * w(p1 - p2) commutes with diagonal shifts only; a shift along one axis catches it."""

    class Diagonal(Smooth):
        name = "diagonal"
        spatial = (6, 6)

        def evaluate(self, X):
            p1, p2 = np.meshgrid(np.arange(6), np.arange(6), indexing="ij")
            return X * (1 + 0.1 * ((p1 - p2) % 6))

    with pytest.raises(InputError, match=r"shifting the inputs by \(1, 0\)"):
        validate_target(Diagonal())


def test_sampler_that_raises():
    class BadSampler(Smooth):
        name = "bad_sampler"

        def sample(self, n, seed):
            raise KeyError("no data")

    with pytest.raises(InputError, match="sample.*failed: KeyError"):
        validate_target(BadSampler())
