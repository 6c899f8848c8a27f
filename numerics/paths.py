"""Checks of the folders a command will write, made before any work and creating nothing.

A folder given as ``--out`` or ``--store`` is usable when it is an existing folder this process
can create files in, or a path that does not exist yet below such a folder. The test is a probe:
a temporary file is created in the folder (or in its nearest existing ancestor) and removed at
once. Permission bits alone do not answer it: ``os.access`` says "writable" for root on
read-only mounts such as ``/sys``, and ACLs or quotas are invisible to it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cbn.numerics.inputs import InputError


def nearest_existing(path: Path) -> Path:
    """``path`` itself if it exists, else its closest ancestor that exists (``.`` at worst)."""
    current = path
    while not os.path.lexists(current):
        parent = current.parent
        if parent == current:
            break
        current = parent
    return current


def _probe_writable(folder: Path) -> str | None:
    """None if a file can be created in ``folder`` (it is removed again), else the OS reason."""
    try:
        fd, name = tempfile.mkstemp(prefix=".cbn-probe-", dir=folder)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    os.close(fd)
    os.unlink(name)
    return None


def check_writable_folder(path: str | os.PathLike, option: str = "--out") -> Path:
    """Return ``path`` as a :class:`Path` if it can serve as an output folder, else raise.

    Parameters
    ----------
    path : the folder; it may not exist yet (it is then created by the command, later)
    option : the command-line option that named it, for the message

    Raises
    ------
    InputError
        One line naming the path and what to do: the path is a file, lies below a file,
        or neither it nor its nearest existing ancestor accepts new files.
    """
    folder = Path(path)
    existing = nearest_existing(folder.absolute())
    if not existing.is_dir():
        if existing == folder.absolute():
            raise InputError(f"{option} {folder} is a file, not a folder; "
                             f"give a folder path (it is created if missing)")
        raise InputError(f"{option} {folder} lies below {existing}, which is a file; "
                         f"give a folder path that is not inside a file")
    reason = _probe_writable(existing)
    if reason is not None:
        if existing == folder.absolute():
            raise InputError(f"{option} {folder} is not writable ({reason}); "
                             f"give a folder you can write to")
        raise InputError(f"{option} {folder} cannot be created: {existing} is not writable "
                         f"({reason}); give a folder you can write to")
    return folder
