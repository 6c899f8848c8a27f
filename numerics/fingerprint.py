"""Fingerprints of source code: the part of a store key that says which code made a record.

A record depends on its configuration and on the code that computed it. The package version
alone cannot tell code apart (an editable install keeps its version number while the code
changes), so every key also carries a SHA-256 over the sources. The digest covers each file's
path *relative to the folder that holds its package* (``numerics/store.py``, never an absolute
path) and its bytes, so the same sources give the same digest wherever they are installed,
editable or not, and any edit (or a file added, removed or renamed) gives a new one.

:func:`code_fingerprint` covers the packages a numerics record depends on: ``numerics`` and
``theory`` (which ``numerics`` imports). Layers above (the figure recipes) add their own
sources through :func:`source_digest` and pass the digest to the store
(:meth:`cbn.numerics.store.ResultStore.load` ``sources=``); ``numerics`` never imports them.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from cbn import numerics, theory

__all__ = ["code_fingerprint", "package_files", "source_digest"]


def package_files(package: ModuleType) -> list[Path]:
    """Every ``.py`` file of a (regular) package, its sub-packages included, sorted."""
    return sorted(Path(package.__file__).resolve().parent.rglob("*.py"))


def source_digest(root: Path, files: Iterable[Path]) -> str:
    """SHA-256 hex digest over the paths relative to ``root`` (POSIX form) and the bytes of
    ``files``, in sorted order (duplicates counted once).

    Parameters
    ----------
    root : folder that holds the packages of ``files`` (their paths are hashed relative to it,
        so the digest does not depend on where the sources are installed)
    files : source files under ``root``
    """
    root = Path(root).resolve()
    digest = hashlib.sha256()
    for path in sorted({Path(f).resolve() for f in files}):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Digest of the sources of ``numerics`` and ``theory`` (cached once per process)."""
    digests = "".join(source_digest(Path(package.__file__).resolve().parent.parent,
                                    package_files(package)) for package in (numerics, theory))
    return hashlib.sha256(digests.encode()).hexdigest()
