"""[WJ24]'s tasks: which frequencies a deep net keeps, labelled by type and degree.

* digit autoencoder (scikit-learn 8x8 zeros, target 'digits0_ae'; MNIST zeros via 'mnist0_ae'
  only when the IDX files are present): no closed form, the kept set is the measurement;
* shape-times-pattern autoencoder (target 'shape_pattern_ae', 1-D): factorises through the shape
  frequencies ``|m| <= K`` and the pattern frequencies (multiples of ``d/T``), an UPPER bound on
  the kept set (THEORY.md 4);
* Newtonian force field (linear target 'newton_force'): EXACT closed form, every non-constant
  frequency has a rank-1 block (R0 = d - 1), and the balanced optimal layers have singular values
  ``|A(m)|^{1/L}`` (:func:`numerics.linear.minimal_norm_weights`).

The autoencoders are identity maps on non-negative images, so the identity network (every layer
the identity, zero biases) interpolates them exactly; :func:`numerics.minnorm.min_norm_fit` then
lowers its norm on the samples (norms: UPPER bounds). Exact interpolation of the identity by a
one-channel equivariant map needs the multiplier 1 at every frequency where some sample has
energy, so the prediction for these interpolants is: kept set = support of the data spectrum
(relative energy > ``DATA_RTOL``). [WJ24]'s smaller kept sets come from a ridge penalty that drops
low-energy frequencies; that protocol did not converge within the quick budget here (see the
report), so the figure shows the interpolation regime. Hidden width 2 (one identity channel, one
zero channel). The digits classifier with a global-pooling head is not drawn: ``min_norm_fit``
does not train networks with a head.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from figures.plotting import save, subplots
from figures.recipes._common import frequency_label
from numerics.fourier import filters_from_multipliers, half_frequency_mask
from numerics.linear import minimal_norm_weights, ranks_per_frequency
from numerics.minnorm import min_norm_fit
from numerics.network import CircularCNN
from numerics.spectra import NEAR_ONE_SPLIT, weight_spectra
from numerics.targets import get_target

NAME = "tasks"
TITLE = "Wen & Jacot's tasks: kept frequencies of minimal-norm nets, by type and degree"
CAPTION = ("Largest singular value per frequency in a middle layer. Minimal-norm interpolants "
           "of the autoencoders keep exactly the frequencies present in the data (labelled by "
           "type and degree in the record); the Newtonian force field (exact) keeps every "
           "non-constant frequency, with singular values decaying like |m|^{-1/L}.")

AUTOENCODERS = ("digits0_ae", "shape_pattern_ae")

#: A frequency is in the data support when its energy exceeds this fraction of the largest one:
#: float64 FFT round-off is ~1e-16 relative in amplitude (1e-32 in energy), so 1e-20 separates
#: exact zeros of a band-limited product from genuine content by many orders of magnitude.
DATA_RTOL = 1e-20


def config(mode: str) -> dict:
    size = {"tiny": (4, 3, 60), "quick": (12, 4, 600), "full": (48, 6, 5000)}[mode]
    n, depth, max_iter = size
    return {"samples": n, "depth": depth, "max_iter": max_iter, "inner_iter": 100, "seed": 0,
            "width": 2, "split": NEAR_ONE_SPLIT, "convention": "scaled",
            "shape_pattern": {"spatial": [16], "K": 1, "T": 4},
            "newton": {"spatial": [8, 8], "depth": 6}}


def identity_network(spatial: tuple[int, ...], depth: int, width: int) -> CircularCNN:
    """Depth-``depth`` ReLU net computing ``x -> x`` on ``x >= 0``: identity in channel 0."""
    d = int(np.prod(spatial))
    shapes = [1] + [width] * (depth - 1) + [1]
    filters = []
    for c_out, c_in in zip(shapes[1:], shapes[:-1]):
        mult = np.zeros((*spatial, c_out, c_in), dtype=np.complex128)
        mult[..., 0, 0] = 1.0
        filters.append(filters_from_multipliers(mult.reshape(d, c_out, c_in).reshape(
            *spatial, c_out, c_in)))
    return CircularCNN.from_numpy(filters, [np.zeros(c) for c in shapes[1:]])


def _autoencoder(name: str, cfg: dict, device: str) -> tuple[dict, np.ndarray]:
    if name == "shape_pattern_ae":
        sp = cfg["shape_pattern"]
        target = get_target(name, spatial=tuple(sp["spatial"]), K=sp["K"], T=sp["T"])
        predicted = target.factorization().projectors.real.diagonal(axis1=-2, axis2=-1) \
            .sum(axis=-1) > 0
    else:
        target = get_target(name)
        predicted = None
    X = target.sample(cfg["samples"], cfg["seed"])
    Y = target.evaluate(X)
    spatial = tuple(target.spatial)
    init = identity_network(spatial, cfg["depth"], cfg["width"])
    with torch.no_grad():
        init_norm = float(init.parameter_norm_sq())
    res = min_norm_fit(X, Y, cfg["depth"], [cfg["width"]] * (cfg["depth"] - 1), init=init,
                       max_iter=cfg["max_iter"], inner_iter=cfg["inner_iter"], device=device)
    mid = cfg["depth"] // 2  # 0-based index of a middle layer
    top = weight_spectra(res.filters)[mid][..., 0]
    kept = top > cfg["split"]
    half = half_frequency_mask(spatial)
    energy = np.sum(np.abs(np.fft.fftn(X[:, 0], axes=tuple(range(1, 1 + len(spatial))))) ** 2,
                    axis=0)
    support = energy > DATA_RTOL * energy.max()
    rec = {"spatial": list(spatial), "middle_layer": mid + 1,
           "data_support_count": int(support.sum()),
           "kept_equals_data_support": bool(np.array_equal(kept, support)),
           "support_not_kept": [frequency_label(spatial, tuple(int(i) for i in ix))
                                for ix in zip(*np.nonzero(support & ~kept & half))],
           "norm_sq": res.norm_sq,
           "identity_norm_sq": init_norm, "residual_rel": res.residual_rel,
           "stop_reason": res.stop_reason, "kept_count": int(kept.sum()),
           "kept_labels": [frequency_label(spatial, tuple(int(i) for i in ix))
                           for ix in zip(*np.nonzero(kept & half))],
           "bound": "upper (trained network)"}
    if predicted is not None:
        rec["factorisation_count"] = int(predicted.sum())
        rec["factorisation_labels"] = [frequency_label(spatial, tuple(int(i) for i in ix))
                                       for ix in zip(*np.nonzero(predicted & half))]
        rec["r0_upper_bound"] = target.r0_upper_bound()
    return rec, top


def compute(cfg: dict, device: str):
    record, arrays = {"tasks": {}}, {}
    for name in AUTOENCODERS:
        rec, top = _autoencoder(name, cfg, device)
        record["tasks"][name] = rec
        arrays[f"{name}_top"] = top
    nw = cfg["newton"]
    target = get_target("newton_force", spatial=tuple(nw["spatial"]))
    A = target.linear_multipliers(cfg["convention"])
    filters = minimal_norm_weights(A, nw["depth"], convention=cfg["convention"])
    top = weight_spectra(filters)[nw["depth"] // 2][..., 0]
    record["tasks"]["newton_force"] = {
        "spatial": nw["spatial"], "depth": nw["depth"], "cbn_rank": int(
            ranks_per_frequency(A).sum()), "expected_cbn_rank": target.expected_cbn_rank(),
        "bound": "exact (closed form, balanced minimal-norm weights)"}
    arrays["newton_force_top"] = top
    record["classifier"] = "not drawn: min_norm_fit does not support a pooling head"
    return record, arrays


def _image(ax, fig, top: np.ndarray, title: str) -> None:
    d1, d2 = top.shape
    ext = (-(d2 // 2) - 0.5, d2 - d2 // 2 - 0.5, -(d1 // 2) - 0.5, d1 - d1 // 2 - 0.5)
    im = ax.imshow(np.fft.fftshift(top), extent=ext, origin="lower", cmap="viridis", vmin=0)
    fig.colorbar(im, ax=ax, label="largest singular value")
    ax.set(xlabel="frequency m2", ylabel="frequency m1", title=title)
    ax.grid(False)


def plot(record: dict, arrays: dict, out_dir: Path) -> list[Path]:
    fig, axes = subplots(1, 3, width=4.3, height=3.5)
    rec = record["tasks"]["digits0_ae"]
    labels = "; ".join(rec["kept_labels"][:4]) + (" ..." if len(rec["kept_labels"]) > 4 else "")
    _image(axes[0, 0], fig, arrays["digits0_ae_top"],
           f"digit-0 AE interpolant, layer {rec['middle_layer']}: {rec['kept_count']} kept")
    axes[0, 0].text(0.02, -0.3, labels, transform=axes[0, 0].transAxes, fontsize=6)
    rec = record["tasks"]["shape_pattern_ae"]
    ax = axes[0, 1]
    top = arrays["shape_pattern_ae_top"]
    d = top.shape[0]
    m = np.fft.fftshift(np.fft.fftfreq(d, 1.0 / d)).astype(int)
    ax.stem(m, np.fft.fftshift(top), basefmt=" ")
    ax.axhline(record.get("split", NEAR_ONE_SPLIT), color="k", ls=":", lw=0.8,
               label="kept threshold")
    ax.set(xlabel="frequency m", ylabel="largest singular value (scaled conv.)",
           title=f"shape x pattern AE interpolant: kept {rec['kept_count']} "
                 f"(factorisation: {rec['factorisation_count']})")
    ax.legend()
    rec = record["tasks"]["newton_force"]
    _image(axes[0, 2], fig, arrays["newton_force_top"],
           f"Newton force (exact), layer {rec['depth'] // 2 + 1} of {rec['depth']}: "
           f"R0 = {rec['cbn_rank']}")
    return [save(fig, out_dir / f"{NAME}.png")]


def verdict(record: dict) -> tuple[bool, str]:
    sp = record["tasks"]["shape_pattern_ae"]
    dg = record["tasks"]["digits0_ae"]
    nw = record["tasks"]["newton_force"]
    ok = (sp["kept_equals_data_support"] and dg["kept_equals_data_support"]
          and nw["cbn_rank"] == nw["expected_cbn_rank"])
    return ok, (f"interpolants keep exactly the data's frequency support: shape x pattern "
                f"{sp['kept_equals_data_support']} ({sp['kept_count']} kept, support "
                f"{sp['data_support_count']}, missing: {sp['support_not_kept']}, factorisation "
                f"bound {sp['factorisation_count']} "
                f"frequencies / R0 <= {sp['r0_upper_bound']}), digit-0 "
                f"{dg['kept_equals_data_support']} ({dg['kept_count']} of 64); residuals "
                f"{sp['residual_rel']:.0e}, {dg['residual_rel']:.0e}; Newton: R0 = "
                f"{nw['cbn_rank']} = d - 1 (exact). Ridge-regime kept sets and the classifier: "
                f"not drawn.")
