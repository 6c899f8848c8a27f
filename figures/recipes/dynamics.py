"""Learning curves of a linear circular CNN and a fully-connected net, with predicted sigmoids.

The compute part is :func:`cbn.numerics.dynamics.experiments.learning_curves`; this module only
draws its result.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cbn.figures.plotting import save, subplots


def plot_learning_curves(result: dict, path: str | Path) -> Path:
    """Two panels (CNN, fully-connected, each on its own time axis): measured
    ``a_alpha(t) / s_alpha`` (solid, one colour per part) and the predicted Saxe sigmoids
    (black dashed); writes a PNG to ``path``.

    Parameters
    ----------
    result : dict from :func:`cbn.numerics.dynamics.experiments.learning_curves`
    path : output PNG file
    """
    strengths = np.asarray(result["strengths"])
    fig, axes = subplots(1, 2)
    panels = (("cnn", f"circular CNN ({result.get('convention', 'plain')} conv)"),
              ("fc", "fully-connected W2 W1"))
    for ax, (key, title) in zip(axes[0], panels):
        times = np.asarray(result[f"{key}_times"])
        measured = np.asarray(result[f"{key}_measured"]) / strengths
        predicted = np.asarray(result[f"{key}_predicted"]) / strengths
        for k in range(len(strengths)):
            colour = f"C{k}"
            ax.plot(times, measured[:, k], color=colour, lw=1.8,
                    label=f"part {k} (s={strengths[k]:.3g}) simulated")
            ax.plot(times, predicted[:, k], color="k", lw=0.9, ls="--", zorder=3,
                    label="predicted (Saxe sigmoid)" if k == 0 else None)
        ax.set_title(title)
        ax.set_xlabel("time t (units of tau)")
        ax.set_ylabel("a_alpha(t) / s_alpha")
        ax.set_ylim(-0.05, 1.1)
        ax.legend(loc="upper left")
    return save(fig, Path(path))
