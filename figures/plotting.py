"""Shared matplotlib set-up: the Agg backend, a consistent style, atomic PNG writes."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend must be chosen first)

STYLE = {"figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3, "font.size": 9,
         "axes.titlesize": 10, "legend.fontsize": 8}


def subplots(nrows: int = 1, ncols: int = 1, width: float = 4.2, height: float = 3.2):
    """A figure with ``nrows x ncols`` panels of the given size (inches) in the house style."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                                 squeeze=False)
    return fig, axes


def save(fig, path: Path) -> Path:
    """Write ``fig`` to ``path`` (PNG) atomically and close it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    with plt.rc_context(STYLE):
        fig.tight_layout()
        fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)
    return path
