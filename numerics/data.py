"""Offline data sets: scikit-learn's 8x8 digits, MNIST-1D generated locally, MNIST from IDX files.

Nothing here downloads. Every loader returns a :class:`Dataset` with images ``X`` of shape
``(N, 1, *spatial)`` (float64) and integer labels ``y`` of shape ``(N,)``.

* ``digits``: the 1797 8x8 digits bundled with scikit-learn, pixels scaled from 0..16 to [0, 1].
* ``mnist1d``: MNIST-1D (Greydanus 2020) built by the ``mnist1d`` package's own generator
  (``make_dataset`` with its bundled templates; the package's ``get_dataset`` would try a
  download and is never called), length-40 signals, standardised as the package does.
* ``mnist``: real MNIST read from the IDX files the user already has, in a folder given as
  ``path`` or by the environment variable ``CBN_MNIST_DIR``; pixels scaled to [0, 1].
"""

from __future__ import annotations

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


def load_dataset(name: str, split: str = "all", path: str | Path | None = None) -> Dataset:
    """Load ``'digits'``, ``'mnist1d'`` or ``'mnist'`` (``path``: MNIST folder only)."""
    if name == "digits":
        return load_digits(split)
    if name == "mnist1d":
        return make_mnist1d(split)
    if name == "mnist":
        return load_mnist(path, split)
    raise InputError(f"unknown data set {name!r}: use one of {', '.join(DATASETS)}")
