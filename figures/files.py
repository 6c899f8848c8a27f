"""How the command line writes files: one JSON encoding, atomic replacement."""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename, so
    a reader never sees half a file; the folder is created if missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def write_folder_atomically(out: str | Path, fill: Callable[[Path], None]) -> Path:
    """Let ``fill`` write every file of a report into a hidden temporary folder beside
    ``out``, then move them into ``out``: a failure half way leaves ``out`` as it was."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        fill(tmp)
        out.mkdir(exist_ok=True)
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def json_text(obj) -> str:
    """``obj`` as indented JSON: NaN and +-inf become null (JSON has neither), numpy scalars
    and arrays become numbers and lists. The one JSON writer of the command line."""
    return json.dumps(jsonable(obj), indent=2, allow_nan=False, default=str)


def write_json_file(out_dir: str | Path, name: str, obj) -> Path:
    """Write :func:`json_text` of ``obj`` as ``out_dir/name`` atomically (temporary, rename)."""
    return write_text_atomic(Path(out_dir) / name, json_text(obj) + "\n")


def jsonable(value):
    """Recursively: non-finite floats -> None, numpy -> Python, tuples -> lists (what
    :func:`json_text` writes, as Python values)."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if type(value).__module__ == "numpy":  # numpy scalars and arrays (numpy not imported here)
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def markdown_cell(value) -> str:
    """``value`` as one markdown table cell: floats to 3 digits, pipes escaped, one line."""
    text = f"{value:.3g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")
