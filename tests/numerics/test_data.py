"""Offline data sets: sklearn digits, MNIST-1D generated locally, MNIST from IDX files that the
tests write themselves. Nothing may touch the network."""

from __future__ import annotations

import gzip
import random
import socket
import struct

import numpy as np
import pytest

from cbn.numerics.data import MNIST_ENV, load_dataset, load_digits, load_mnist, make_mnist1d
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
