"""[WJ24]'s classification task: a ReLU circular CNN with a pooling head, ridge-trained from a
random start, with its accuracies and the per-frequency spectra of its convolution layers.

The network is ``depth - 1`` circular convolutions (ReLU, biases), global average pooling and
one fully-connected layer (``Architecture.head_classes``), trained by
:func:`cbn.numerics.search.ridge_fit` on one-hot targets (squared loss, reasons there). Its
norm is an UPPER bound on the cost of the function it computes on the training images; the
accuracies are measurements.

A frequency ``m`` is **kept** by convolution layer ``l`` when the largest singular value of its
multiplier block exceeds ``rel`` times the layer's largest one (:func:`kept_frequencies`): a
relative split, because a net trained for a finite time from a random start has not reached
the balanced scale at which kept values sit near 1 (paper_notes/theory.md section 4), while
weight decay shrinks the blocks it does not use relative to those it does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cbn.numerics.data import load_dataset
from cbn.numerics.inputs import InputError
from cbn.numerics.search import Architecture, MinNormResult, RidgeSettings, Start, ridge_fit
from cbn.numerics.spectra import weight_spectra
from cbn.numerics.weights import Network


@dataclass(frozen=True)
class ClassifierData:
    """Balanced training and held-out images ``(n, 1, *spatial)`` and labels ``(n,)``."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: int
    source: str


def block_mean(X: np.ndarray, factor: int) -> np.ndarray:
    """Down-sample images ``(n, c, d1, d2)`` by the mean of ``factor x factor`` blocks (each
    ``d_i`` divisible by ``factor``; 1 returns ``X``)."""
    n, c, d1, d2 = X.shape
    if factor < 1 or d1 % factor or d2 % factor:
        raise InputError(f"pool factor {factor} must be >= 1 and divide the grid {(d1, d2)}")
    return X.reshape(n, c, d1 // factor, factor, d2 // factor, factor).mean(axis=(3, 5))


def _balanced(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``n // K`` images of each of the ``K`` labels, drawn without replacement."""
    labels = np.unique(y)
    per = n // len(labels)
    if per < 1 or any(np.sum(y == c) < per for c in labels):
        raise InputError(f"cannot draw {n} images balanced over {len(labels)} classes from "
                         f"{len(y)}: choose fewer")
    return np.sort(np.concatenate([rng.choice(np.flatnonzero(y == c), per, replace=False)
                                   for c in labels]))


def classifier_data(dataset: str, n_train: int, n_test: int, pool: int = 1,
                    seed: int = 0) -> ClassifierData:
    """Seeded class-balanced subsets of the data set's train and test splits
    (:func:`cbn.numerics.data.load_dataset`), down-sampled by :func:`block_mean` with ``pool``,
    then standardised: minus the training mean image, divided by the training pixel std. (Raw
    [0, 1] images put most of their energy in the constant frequency, which the pooled
    features then mostly measure: the 8x8 digits net stayed at chance, 0.11-0.24 held-out
    accuracy after 400 steps, and reached 0.41 standardised.)
    A data set without a split (scikit-learn's digits) gives disjoint draws from all images."""
    rng = np.random.default_rng(seed)
    try:
        train, test = load_dataset(dataset, "train"), load_dataset(dataset, "test")
        itr, ite = _balanced(train.y, n_train, rng), _balanced(test.y, n_test, rng)
    except InputError as err:
        if "no train/test split" not in str(err):
            raise
        train = test = load_dataset(dataset, "all")
        itr = _balanced(train.y, n_train, rng)
        rest = np.setdiff1d(np.arange(len(train.y)), itr)
        ite = rest[_balanced(train.y[rest], n_test, rng)]
    X_train, X_test = block_mean(train.X[itr], pool), block_mean(test.X[ite], pool)
    mean, scale = X_train.mean(axis=0), X_train.std()
    return ClassifierData((X_train - mean) / scale, train.y[itr], (X_test - mean) / scale,
                          test.y[ite], int(len(np.unique(train.y))),
                          f"{train.source}; {len(itr)} train / {len(ite)} test images, "
                          f"{pool}x{pool} block means, standardised by the training mean "
                          f"image and pixel std")


def accuracy(network: Network, X: np.ndarray, y: np.ndarray) -> float:
    """Share of images whose largest output is their label."""
    return float(np.mean(np.argmax(network(X), axis=1) == y))


def kept_frequencies(filters: Sequence[np.ndarray], rel: float) -> list[np.ndarray]:
    """Per convolution layer, the boolean mask (shape ``spatial``) of frequencies whose largest
    multiplier singular value exceeds ``rel`` times the layer's largest (module docstring)."""
    tops = [s[..., 0] for s in weight_spectra(filters)]
    return [t > rel * t.max() for t in tops]


@dataclass(frozen=True)
class ClassifierRun:
    """A trained classifier: the ridge record (norm: UPPER bound), its accuracies, and per
    convolution layer the largest singular value per frequency ``top`` and the kept mask."""

    result: MinNormResult
    train_accuracy: float
    test_accuracy: float
    top: tuple[np.ndarray, ...]
    kept: tuple[np.ndarray, ...]


def train_classifier(data: ClassifierData, depth: int, width: int, settings: RidgeSettings,
                     seed: int = 0, rel: float = 0.5) -> ClassifierRun:
    """Ridge-train ``depth - 1`` convolutions of ``width`` channels + pooling head from the
    random start seeded ``seed``; spectra read with the relative split ``rel``."""
    arch = Architecture.uniform(depth, width, head_classes=data.classes)
    res = ridge_fit(data.X_train, data.y_train, arch, settings, Start.random(seed))
    net = res.network()
    tops = tuple(s[..., 0] for s in weight_spectra(res.filters))
    return ClassifierRun(res, accuracy(net, data.X_train, data.y_train),
                         accuracy(net, data.X_test, data.y_test), tops,
                         tuple(kept_frequencies(res.filters, rel)))
