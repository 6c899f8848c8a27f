"""A crash-safe result store: one record per run, keyed by the hash of its whole configuration.

Layout of a store folder (default ``./cbn-results``)::

    <root>/<key>.npz     arrays of the run (filters, biases, spectra ...)
    <root>/<key>.json    the record: configuration, results, SHA-256 of the NPZ and of itself
    <root>/corrupt/      records that failed verification, moved aside (never reused)

``key`` is the SHA-256 of the canonical JSON of the configuration together with the package
version (``importlib.metadata.version("cbn-toolkit")``), the fingerprint of the numerical code
(:func:`cbn.numerics.fingerprint.code_fingerprint`: the sources of ``numerics`` and ``theory``; an
editable install keeps its version number while the code changes) and ``sources``, a digest of
any further code the record depends on that its caller passes (the figure recipes:
:mod:`cbn.figures.recipe_runner`; ``numerics`` does not import the layers above it). So any
change of target, domain, sizes, depth, seed, convention, solver settings or code gives a new key.
Entries named ``location`` (anywhere in the configuration) say where an input lives, not what
it is, and are left out of the key: a sweep puts the content of such inputs in the configuration
as hashes (``cbn.numerics.sweep``), so a file moved to another folder keeps its records and an
edited one gets new ones.

Writes are atomic: each file is written to a temporary name in the same folder, flushed,
``fsync``-ed and moved into place with ``os.replace``. The NPZ is written first and the JSON
last: the JSON is the commit marker and carries the checksum of the NPZ. A record is used only
if its JSON parses, its own checksum matches, its key matches its configuration, and the NPZ
exists with the recorded checksum; anything else is *corrupt*: it is moved to ``corrupt/`` and
the run is recomputed. A record whose key matches the version and code fingerprint it names,
but not this installation's, was written by other code: it stays in place and is not used.
An interrupted write leaves at most a ``*.tmp`` file, which is ignored.

A write that fails (disk full, permissions changed, the folder removed) raises
:class:`StoreWriteError`, whose one-line message says how many records of this store object are
in the folder: they are complete, and a rerun of the same work reuses them and resumes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from cbn.numerics.fingerprint import code_fingerprint
from cbn.numerics.inputs import InputError
from cbn.numerics.paths import check_writable_folder

DEFAULT_STORE = "cbn-results"
FORMAT = 1

#: Names a store folder may hold: records, their temporary files, the ``corrupt/`` folder.
_STORE_ENTRY = re.compile(r"^([0-9a-f]{64}\.(json|npz)|.*\.tmp|corrupt|\..*)$")


class StoreWriteError(RuntimeError):
    """A record could not be written; the message (one line) says what was kept."""


def check_store_folder(path: str | os.PathLike, option: str = "--store") -> Path:
    """Return ``path`` if it can be used as a store, else raise :class:`InputError` (one line).

    A store folder is new, or an existing folder that holds nothing but store entries (records,
    temporary files, ``corrupt/``, hidden files), and that accepts new files
    (:func:`cbn.numerics.paths.check_writable_folder`). Nothing is created.
    """
    folder = check_writable_folder(path, option)
    if folder.is_dir():
        foreign = sorted(e.name for e in folder.iterdir() if not _STORE_ENTRY.match(e.name))
        if foreign:
            raise InputError(f"{option} {folder} is not a result store of this toolkit (it holds "
                             f"{foreign[0]!r} and {len(foreign) - 1} other foreign entries); "
                             f"give a new or empty folder, or an existing store")
    return folder


def package_version() -> str:
    """Installed version of ``cbn-toolkit`` (part of every key)."""
    try:
        return version("cbn-toolkit")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace); floats keep their exact ``repr``."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


#: Configuration entries that say where an input is, not what it is (left out of the key).
LOCATION = "location"


def _identity(value: Any) -> Any:
    """``value`` without the :data:`LOCATION` entries of its dictionaries (recursively)."""
    if isinstance(value, dict):
        return {k: _identity(v) for k, v in value.items() if k != LOCATION}
    if isinstance(value, list):
        return [_identity(v) for v in value]
    return value


def config_key(config: dict, sources: str = "", package: str | None = None,
               code: str | None = None) -> str:
    """SHA-256 hex digest identifying ``config`` (without its :data:`LOCATION` entries) plus
    the package version, the code fingerprint and ``sources`` (a digest of the caller's own
    code the record depends on, :func:`cbn.numerics.fingerprint.source_digest`; empty for none).

    ``package`` and ``code`` default to this installation's version and fingerprint; a record
    written by other code is verified against the ones it names."""
    payload = canonical_json({"config": _identity(config),
                              "package_version": package or package_version(),
                              "code": code or code_fingerprint(), "sources": sources})
    return hashlib.sha256(payload.encode()).hexdigest()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


#: What :meth:`ResultStore._verify` says of an intact record written by other code.
OTHER_CODE = "written by another version of the code"


@dataclass(frozen=True)
class StoredRecord:
    """A verified record: ``record`` (JSON-able results) and ``arrays`` (name -> ndarray)."""

    key: str
    config: dict
    record: dict
    arrays: dict[str, np.ndarray]


class ResultStore:
    """Records of finished runs in a folder (see the module docstring for the format).

    Parameters
    ----------
    root : folder, created on first write
    """

    def __init__(self, root: str | os.PathLike = DEFAULT_STORE) -> None:
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"store {self.root} exists and is not a folder")
        #: keys found corrupt by :meth:`load` during this session (moved to ``corrupt/``)
        self.corrupt_keys: list[str] = []
        #: keys of the verified records this object loaded or wrote (complete in the folder)
        self.kept_keys: set[str] = set()

    def paths(self, key: str) -> tuple[Path, Path]:
        """``(json_path, npz_path)`` of a key."""
        return self.root / f"{key}.json", self.root / f"{key}.npz"

    def save(self, config: dict, record: dict, arrays: dict[str, np.ndarray],
             sources: str = "") -> StoredRecord:
        """Write one record atomically (NPZ first, then the JSON commit marker).

        ``sources`` is the digest of the caller's code the record depends on (part of the key,
        see :func:`config_key`; kept in the record so that its key can be verified).

        Raises
        ------
        StoreWriteError
            The folder cannot take the record (the OS reason and the number of complete
            records of this object are in the message). The folder is created on the first
            write only: one that disappears later is an error, not silently recreated empty.
        """
        key = config_key(config, sources)
        buf = io.BytesIO()
        np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
        npz_bytes = buf.getvalue()
        try:
            if not self.kept_keys:
                self.root.mkdir(parents=True, exist_ok=True)
            self._write(key, config, record, npz_bytes, sources)
        except OSError as exc:
            raise StoreWriteError(
                f"cannot write a record to the store {self.root} ({exc.strerror or exc}); "
                f"{len(self.kept_keys)} finished record(s) of this run are complete there: "
                f"fix the folder and rerun the same command to resume from them") from exc
        self.kept_keys.add(key)
        return StoredRecord(key, config, record, {k: np.asarray(v) for k, v in arrays.items()})

    def _write(self, key: str, config: dict, record: dict, npz_bytes: bytes,
               sources: str) -> None:
        json_path, npz_path = self.paths(key)
        _atomic_write(npz_path, npz_bytes)
        body = {
            "format": FORMAT,
            "key": key,
            "package_version": package_version(),
            "code_fingerprint": code_fingerprint(),
            "sources": sources,
            "config": config,
            "record": record,
            "npz_sha256": _sha256(npz_bytes),
        }
        body["payload_sha256"] = _sha256(canonical_json(body).encode())
        _atomic_write(json_path, (json.dumps(body, indent=1, allow_nan=False) + "\n").encode())

    def load(self, config: dict, sources: str = "") -> StoredRecord | None:
        """The verified record of ``config`` made by the code ``sources`` (as in :meth:`save`),
        or None if absent or corrupt (then moved aside)."""
        return self.load_key(config_key(config, sources))

    def load_key(self, key: str) -> StoredRecord | None:
        """The verified record stored under ``key`` (None if absent, corrupt or made by other
        code).

        A record whose key matches the configuration, version and code fingerprint it names
        but not this installation's was written by other code (the store was filled before
        the code changed): it is intact, so it stays where it is, and is not used.
        """
        json_path, npz_path = self.paths(key)
        if not json_path.exists():
            return None
        problem, stored = self._verify(key, json_path, npz_path)
        if problem == OTHER_CODE:
            return None
        if problem is None:
            self.kept_keys.add(key)
            return stored
        self._quarantine(key, problem)
        return None

    def _verify(self, key: str, json_path: Path, npz_path: Path):
        try:
            body = json.loads(json_path.read_text())
        except (OSError, ValueError) as exc:
            return f"unreadable JSON ({exc})", None
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            return "unknown record format", None
        claimed = body.pop("payload_sha256", None)
        if claimed != _sha256(canonical_json(body).encode()):
            return "JSON checksum mismatch", None
        writer = (str(body.get("package_version")), str(body.get("code_fingerprint")))
        if body.get("key") != key or config_key(body["config"], body.get("sources", ""),
                                                *writer) != key:
            return "key does not match configuration", None
        if writer != (package_version(), code_fingerprint()):
            return OTHER_CODE, None
        try:
            npz_bytes = npz_path.read_bytes()
        except OSError as exc:
            return f"missing NPZ ({exc})", None
        if _sha256(npz_bytes) != body["npz_sha256"]:
            return "NPZ checksum mismatch", None
        with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        return None, StoredRecord(key, body["config"], body["record"], arrays)

    def _quarantine(self, key: str, problem: str) -> None:
        target = self.root / "corrupt"
        target.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S")
        for path in self.paths(key):
            if path.exists():
                os.replace(path, target / f"{path.name}.{stamp}")
        (target / f"{key}.{stamp}.reason").write_text(problem + "\n")
        self.corrupt_keys.append(key)

    def keys(self) -> list[str]:
        """Keys with a committed JSON (not verified)."""
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.json"))
