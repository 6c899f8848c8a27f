"""Validated loading of user files: filters (.npy) and data sets (.npz).

Every problem is raised as :class:`InputError` with a one-line message saying what is wrong
and how to fix it; the command line prints it without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


class InputError(ValueError):
    """Bad user input (file, shape, value). The message is one line, meant for the user."""


def _load(path: str | Path, suffix: str):
    path = Path(path)
    if not path.exists():
        raise InputError(f"file not found: {path}")
    if path.suffix != suffix:
        raise InputError(f"{path} is not a {suffix} file")
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises several types for unreadable files
        raise InputError(f"cannot read {path} as {suffix}: {exc}") from None


def check_real_finite(array: np.ndarray, what: str) -> np.ndarray:
    """Return ``array`` as float64 if it is real and finite, else raise :class:`InputError`."""
    if np.iscomplexobj(array):
        raise InputError(f"{what} is complex ({array.dtype}); give a real array")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise InputError(f"{what} has non-numeric dtype {array.dtype}")
    out = np.asarray(array, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        raise InputError(f"{what} contains NaN or inf; clean the data")
    return out


def load_filter(path: str | Path) -> np.ndarray:
    """Load a real filter of shape ``(c_out, c_in, *spatial)`` with 1 or 2 spatial axes."""
    array = _load(path, ".npy")
    if array.ndim not in (3, 4):
        raise InputError(
            f"{path}: a filter must have shape (c_out, c_in, n) or (c_out, c_in, n1, n2); "
            f"got {array.ndim} dimension(s) {array.shape}"
        )
    if 0 in array.shape:
        raise InputError(f"{path}: filter has an empty axis {array.shape}")
    return check_real_finite(array, f"{path}")


def check_depths(depths: list[int]) -> list[int]:
    """Validate a list of depths (integers >= 1)."""
    if not depths:
        raise InputError("give at least one depth (--depth L)")
    bad = [L for L in depths if L < 1]
    if bad:
        raise InputError(f"depth must be >= 1, got {bad[0]}")
    return list(depths)


@dataclass(frozen=True)
class Data:
    """A data set loaded by :func:`load_data`.

    Attributes
    ----------
    X : float64 array, shape (N, c_in, *spatial) with 1 or 2 spatial axes
    Y : float64 array, shape (N, c_out, *spatial) (signal targets) or (N,) (one value per
        sample), or None
    labels : float64 array, shape (N,), or None
    """

    X: np.ndarray
    Y: np.ndarray | None
    labels: np.ndarray | None


def load_data(path: str | Path, require_targets: bool = True) -> Data:
    """Load a ``.npz`` data set: ``X`` and at least one of ``Y`` or ``labels``
    (``require_targets=False``: ``X`` alone is enough).

    ``X`` has shape ``(N, c_in, n)`` or ``(N, c_in, n1, n2)``; ``Y`` has shape
    ``(N, c_out, *spatial)`` (same grid as ``X``) or ``(N,)``; ``labels`` has shape ``(N,)``.
    Every array must be real and finite. Raises :class:`InputError` otherwise.
    """
    with _load(path, ".npz") as archive:
        try:
            arrays = {key: archive[key] for key in archive.files}
        except Exception as exc:  # members are read lazily: corrupt or pickled members fail here
            raise InputError(f"cannot read {path} as .npz: {exc}") from None
    if "X" not in arrays:
        raise InputError(f"{path}: no array 'X' (found {sorted(arrays) or 'none'})")
    if require_targets and "Y" not in arrays and "labels" not in arrays:
        raise InputError(f"{path}: give targets 'Y' or 'labels' next to 'X'")
    X = check_real_finite(arrays["X"], f"{path}: X")
    if X.ndim not in (3, 4) or 0 in X.shape:
        raise InputError(
            f"{path}: X must have shape (N, c_in, n) or (N, c_in, n1, n2); got {X.shape}"
        )
    n = X.shape[0]
    Y = labels = None
    if "Y" in arrays:
        Y = check_real_finite(arrays["Y"], f"{path}: Y")
        signal = Y.ndim == X.ndim and Y.shape[0] == n and Y.shape[2:] == X.shape[2:]
        if not (signal and Y.shape[1] > 0) and Y.shape != (n,):
            raise InputError(
                f"{path}: Y {Y.shape} does not match X {X.shape}: expected "
                f"(N, c_out, {', '.join(map(str, X.shape[2:]))}) or ({n},)"
            )
    if "labels" in arrays:
        labels = check_real_finite(arrays["labels"], f"{path}: labels")
        if labels.shape != (n,):
            raise InputError(f"{path}: labels {labels.shape} must have shape ({n},)")
    return Data(X=X, Y=Y, labels=labels)
