"""[WJ24]'s tasks: which frequencies a deep net keeps, labelled by type and degree.

* digit autoencoder (scikit-learn 8x8 zeros, target 'digits0_ae'; MNIST zeros via 'mnist0_ae'
  only when the IDX files are present): [WJ24] observe that it keeps a few constant, degree-1
  and degree-2 frequencies;
* shape-times-pattern autoencoder (target 'shape_pattern_ae', 1-D): factorises through the shape
  frequencies ``|m| <= K`` and the pattern frequencies (multiples of ``d/T``): the predicted kept
  set (paper_notes/theory.md section 4, an UPPER bound on R0);
* Newtonian force field (linear target 'newton_force'): EXACT closed form, every non-constant
  frequency has a rank-1 block (R0 = d - 1), and the balanced optimal layers have singular values
  ``|A(m)|^{1/L}`` (:func:`cbn.numerics.linear.minimal_norm_weights`).

Autoencoders: [WJ24]'s ridge protocol, :func:`cbn.numerics.search.ridge_fit` (full-batch gradient
descent on ``loss + lam ||theta||^2``), one channel, no biases, started from the identity network
(exact on non-negative images, so training only decides which frequencies to give up). Biases
are left out because a per-channel bias acts on all ``d`` pixels at once: its curvature is ~``d``
times that of a filter entry and forces a learning rate far too small for the weight decay to act
within the budget. The kept set is read off a middle layer (largest singular value above
``NEAR_ONE_SPLIT``); norms are UPPER bounds on the cost of what the nets compute (they do not
interpolate; residuals in the record). The digits classifier with a global-pooling head is not
drawn: plain gradient descent on it did not train within a quick budget here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cbn.figures.plotting import save, subplots
from cbn.figures.provenance import Provenance
from cbn.figures.recipes._common import frequency_label
from cbn.numerics.fourier import filters_from_multipliers, frequency_degrees, half_frequency_mask
from cbn.numerics.linear import minimal_norm_weights, ranks_per_frequency
from cbn.numerics.network import CircularCNN
from cbn.numerics.search import Architecture, RidgeSettings, Start, ridge_fit
from cbn.numerics.spectra import NEAR_ONE_SPLIT, weight_spectra
from cbn.numerics.targets import get_target

NAME = "tasks"
TITLE = "Wen & Jacot's tasks: kept frequencies of minimal-norm nets, by type and degree"
CAPTION = ("Largest singular value per frequency in a middle layer. Ridge-trained autoencoders "
           "keep few frequencies: the digit-0 AE the constant and low degrees, the shape x "
           "pattern AE exactly the shape and pattern frequencies of its factorisation; the "
           "Newtonian force field (exact) keeps every non-constant frequency, with singular "
           "values decaying like |m|^{-1/L}.")

PROVENANCE = Provenance(
    statement="The paper observes the structure on MNIST classification, an MNIST digit-0 "
              "autoencoder, a synthetic \"shape times pattern\" autoencoder and Newtonian "
              "mechanics, and shows that it survives down-sampling.",
    source="[WJ24] abstract (summary in the note); this figure tests the tasks it lists",
    note="wen_jacot_2024.md",
    reconstruction="stand-ins built here: scikit-learn 8x8 zeros for the MNIST digit-0 "
                   "autoencoder (MNIST only when its IDX files are present), a 1-D "
                   "shape-times-pattern signal of the toolkit's own design, and a linear "
                   "force field on an 8x8 grid as 'Newtonian mechanics' (exact closed form); "
                   "one-channel bias-free ridge GD from the identity network with lam, rate "
                   "and steps chosen here; MNIST classification is not drawn",
    unknowns=("[WJ24]'s exact tasks (the shape and pattern families, the force law and "
              "grid)", "their networks, weight decay, learning rates and training length",
              "their normalisation and how they read off kept frequencies"))

AUTOENCODERS = ("digits0_ae", "shape_pattern_ae")



def config(mode: str) -> dict:
    size = {"tiny": (8, 3, 200), "quick": (32, 4, 3000), "full": (128, 6, 20000)}[mode]
    n, depth, steps = size
    return {"samples": n, "depth": depth, "steps": steps, "lam": 0.05, "lr": 0.02, "seed": 0,
            "width": 1, "bias": False, "split": NEAR_ONE_SPLIT, "convention": "scaled",
            "loss": "(1/N) sum_n ||f(x_n) - x_n||^2 + lam ||theta||^2",
            "shape_pattern": {"spatial": [16], "K": 1, "T": 4},
            "newton": {"spatial": [8, 8], "depth": 6}}


def identity_network(spatial: tuple[int, ...], depth: int, width: int) -> CircularCNN:
    """Bias-free depth-``depth`` ReLU net computing ``x -> x`` on ``x >= 0`` (channel 0)."""
    shapes = [1] + [width] * (depth - 1) + [1]
    filters = []
    for c_out, c_in in zip(shapes[1:], shapes[:-1]):
        mult = np.zeros((*spatial, c_out, c_in), dtype=np.complex128)
        mult[..., 0, 0] = 1.0
        filters.append(filters_from_multipliers(mult))
    return CircularCNN.from_numpy(filters, None)


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
    res = ridge_fit(X, Y, Architecture.uniform(cfg["depth"], cfg["width"], bias=cfg["bias"]),
                    RidgeSettings(lam=cfg["lam"], lr=cfg["lr"], steps=cfg["steps"],
                                  device=device), Start.given(init))
    mid = cfg["depth"] // 2  # 0-based index of a middle layer
    top = weight_spectra(res.filters)[mid][..., 0]
    kept = top > cfg["split"]
    half = half_frequency_mask(spatial)
    linf = frequency_degrees(spatial)["linf"]
    rec = {"spatial": list(spatial), "middle_layer": mid + 1, "norm_sq": res.norm_sq,
           "residual_rel": res.residual_rel, "stop_reason": res.message,
           "kept_count": int(kept.sum()), "kept_max_linf_degree": int(linf[kept].max())
           if kept.any() else -1, "constant_kept": bool(kept[(0,) * len(spatial)]),
           "kept_labels": [frequency_label(spatial, tuple(int(i) for i in ix))
                           for ix in zip(*np.nonzero(kept & half))],
           "bound": "upper (trained network, on the function it computes)"}
    if predicted is not None:
        rec["factorisation_count"] = int(predicted.sum())
        rec["factorisation_labels"] = [frequency_label(spatial, tuple(int(i) for i in ix))
                                       for ix in zip(*np.nonzero(predicted & half))]
        rec["kept_equals_factorisation"] = bool(np.array_equal(kept, predicted))
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
    record["classifier"] = "not drawn: plain GD on the pooling-head net did not train in budget"
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
    _image(axes[0, 0], fig, arrays["digits0_ae_top"],
           f"digit-0 AE (ridge), layer {rec['middle_layer']}:\n{rec['kept_count']} of 64 "
           f"frequencies kept (max |m|_inf {rec['kept_max_linf_degree']})")
    rec = record["tasks"]["shape_pattern_ae"]
    ax = axes[0, 1]
    top = arrays["shape_pattern_ae_top"]
    d = top.shape[0]
    m = np.fft.fftshift(np.fft.fftfreq(d, 1.0 / d)).astype(int)
    ax.stem(m, np.fft.fftshift(top), basefmt=" ")
    ax.axhline(record.get("split", NEAR_ONE_SPLIT), color="k", ls=":", lw=0.8,
               label="kept threshold")
    ax.set(xlabel="frequency m", ylabel="largest singular value (scaled conv.)",
           title=f"shape x pattern AE (ridge):\nkept {rec['kept_count']} "
                 f"(factorisation: {rec['factorisation_count']})")
    ax.legend()
    rec = record["tasks"]["newton_force"]
    _image(axes[0, 2], fig, arrays["newton_force_top"],
           f"Newton force (exact), layer {rec['depth'] // 2 + 1} of {rec['depth']}:\n"
           f"R0 = {rec['cbn_rank']} = d - 1")
    return [save(fig, out_dir / f"{NAME}.png")]


def verdict(record: dict) -> tuple[bool, str]:
    sp = record["tasks"]["shape_pattern_ae"]
    dg = record["tasks"]["digits0_ae"]
    nw = record["tasks"]["newton_force"]
    # The digit-0 kept set is a measurement: [WJ24]'s "constant, degree 1 and 2" is stated for
    # 28x28 MNIST and has no counterpart on the 8x8 grid, so it is reported, not checked.
    ok = sp["kept_equals_factorisation"] and nw["cbn_rank"] == nw["expected_cbn_rank"]
    return ok, (f"shape x pattern keeps exactly the factorisation's {sp['factorisation_count']} "
                f"frequencies: {sp['kept_equals_factorisation']} (kept {sp['kept_count']}: "
                f"{'; '.join(sp['kept_labels'])}); digit-0 (8x8, measured) keeps "
                f"{dg['kept_count']} of 64, constant kept {dg['constant_kept']}, max |m|_inf "
                f"{dg['kept_max_linf_degree']}; ridge residuals {sp['residual_rel']:.2f}, "
                f"{dg['residual_rel']:.2f}; Newton: R0 = {nw['cbn_rank']} = d - 1 (exact). "
                f"Classifier: not drawn.")
