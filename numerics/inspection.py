"""The Convolution Bottleneck picture of an :class:`~cbn.numerics.imported.ImportedCNN`.

Three measurements (paper_notes/theory.md section 4), all on the operators the network applies:

* **weight spectra**: per layer, the singular values of the multiplier ``M_l(m)`` at every
  frequency ``m`` of the layer's input grid (the stride-1 convolution: the weights themselves),
  and the count of those above a threshold, summed by frequency type and degree. A strided
  layer also gets its **folded** spectrum: the singular values of the strided operator per
  output frequency (:func:`cbn.numerics.imported.folded_spectrum`), with counts on the output grid;
  a frequency pair that folds onto one coarse frequency shares that block.
* **constant-input Jacobians**: ranks per output frequency and the Schatten LOWER bound
  (:func:`cbn.numerics.imported.schatten_bound`) next to the model's own parameter norm.
* **activation energy** over a data set: ``E_l(m, c) = (1/d_l) sum_x |a_l(x)^(m)_c|^2`` per layer
  (:func:`cbn.numerics.spectra.frequency_energy`), on each layer's output grid.

Nothing here forms a dense operator: spectra are batched SVDs of ``c_out x c_in`` blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cbn.numerics.bounds import LOOSE_RANK_RTOL
from cbn.numerics.fourier import (
    frequency_degrees,
    half_frequency_mask,
    multipliers_from_filters,
    negated_frequencies,
)
from cbn.numerics.imported import (
    ImportedCNN,
    JacobianBound,
    folded_spectrum,
    forward,
    schatten_bound,
)
from cbn.numerics.linear import singular_values
from cbn.numerics.spectra import (
    NEAR_ONE_SPLIT,
    counts_by_type_and_degree,
    frequency_energy,
    near_one_counts,
)
from cbn.numerics.sweep import constant_inputs

#: Activation values held in memory at once when the data pass is batched (float64 entries):
#: 2.5e7 entries is 200 MB, so the pass stays bounded for large models and data sets.
ACTIVATION_BUDGET = 25_000_000


@dataclass(frozen=True)
class LayerSpectrum:
    """Spectra and counts of one convolution layer.

    Attributes
    ----------
    singular_values : ``(*grid_in, min(c_out, c_in))``, descending: ``s_i(M_l(m))``
    threshold : the count's threshold in this layer (absolute, or ``rtol`` times ``s_max``)
    counts : ``(*grid_in)`` number of singular values above ``threshold``
    grouped : :func:`cbn.numerics.spectra.counts_by_type_and_degree` of ``counts``
    max_dev_kept, max_dropped : ``max |s - 1|`` over the counted values, largest other value
    folded, folded_counts, folded_grouped : the strided operator's spectrum per output
        frequency ``(*grid_out, r)``, its counts and their grouping (None for stride 1)
    """

    name: str
    kernel: tuple[int, ...]
    stride: int
    activation: str
    channels: tuple[int, int]
    grid_in: tuple[int, ...]
    grid_out: tuple[int, ...]
    threshold: float
    singular_values: np.ndarray
    counts: np.ndarray
    grouped: dict
    max_dev_kept: float
    max_dropped: float
    folded: np.ndarray | None
    folded_counts: np.ndarray | None
    folded_grouped: dict | None

    def to_dict(self) -> dict:
        """JSON-ready summary (counts per frequency, no singular values)."""
        out = {"name": self.name, "kernel": list(self.kernel), "stride": self.stride,
               "activation": self.activation, "channels": list(self.channels),
               "grid_in": list(self.grid_in), "grid_out": list(self.grid_out),
               "s_max": float(self.singular_values.max()), "threshold": self.threshold,
               "counts": self.counts.tolist(),
               "total": int(self.counts.sum()), **self.grouped,
               "max_dev_kept": self.max_dev_kept, "max_dropped": self.max_dropped}
        if self.folded is not None:
            out["folded"] = {"counts": self.folded_counts.tolist(),
                             "total": int(self.folded_counts.sum()), **self.folded_grouped}
        return out


def real_filter_singular_values(multipliers: np.ndarray) -> np.ndarray:
    """:func:`cbn.numerics.linear.singular_values` of a real filter's multipliers, half the work.

    ``M(-m) = conj(M(m))`` has the singular values of ``M(m)``, so only one frequency of each
    conjugate pair (:func:`cbn.numerics.fourier.half_frequency_mask`) is decomposed.

    Parameters
    ----------
    multipliers : ``(*spatial, c_out, c_in)`` of a real filter
    """
    spatial = multipliers.shape[:-2]
    d = int(np.prod(spatial))
    half = half_frequency_mask(spatial).ravel()
    sv = singular_values(multipliers.reshape(d, *multipliers.shape[-2:])[half])
    idx = np.arange(d).reshape(spatial)
    rep = np.minimum(idx, negated_frequencies(idx, len(spatial))).ravel()
    position = np.cumsum(half) - 1  # row of every representative in ``sv``
    return sv[position[rep]].reshape(*spatial, sv.shape[-1])


def layer_spectra(net: ImportedCNN, threshold: float = NEAR_ONE_SPLIT,
                  rtol: float | None = None) -> list[LayerSpectrum]:
    """:class:`LayerSpectrum` of every convolution layer.

    Counts are of ``s > threshold`` (absolute: inside a bottleneck the kept values are near 1,
    :data:`cbn.numerics.spectra.NEAR_ONE_SPLIT`), or, with ``rtol``, of ``s > rtol * s_max`` with
    ``s_max`` the layer's largest (the rule of :func:`cbn.numerics.spectra.effective_ranks`, for
    networks whose scale is not the minimal-norm one).
    """
    out = []
    for layer in net.layers:
        sv = real_filter_singular_values(multipliers_from_filters(layer.filter, "plain"))
        if rtol is not None:
            threshold = rtol * float(sv.max())
        c = near_one_counts(sv, threshold)
        folded = folded_counts = folded_grouped = None
        if layer.stride > 1:
            folded = folded_spectrum(layer)
            folded_counts = np.count_nonzero(folded > threshold, axis=-1)
            folded_grouped = counts_by_type_and_degree(folded_counts)
        out.append(LayerSpectrum(
            layer.name, layer.kernel, layer.stride, layer.activation,
            (layer.filter.shape[1], layer.filter.shape[0]), layer.grid_in, layer.grid_out,
            threshold, sv, c["counts"], counts_by_type_and_degree(c["counts"]), c["max_dev_kept"],
            c["max_dropped"], folded, folded_counts, folded_grouped))
    return out


def default_constant_inputs(net: ImportedCNN, X: np.ndarray | None, seed: int,
                            count: int = 3) -> list[np.ndarray]:
    """Constant inputs for the Jacobian bounds: with data, those of ``cbn fit`` and
    ``cbn analyze`` (:func:`cbn.numerics.sweep.constant_inputs`: the per-channel mean, then
    Gaussian values of the data's spread around it); without, standard Gaussian values."""
    if X is not None:
        return constant_inputs(X, count, seed)
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(net.channels[0]) for _ in range(count)]


def jacobian_bounds(net: ImportedCNN, values: list[np.ndarray],
                    rtol: float = LOOSE_RANK_RTOL) -> list[JacobianBound]:
    """:func:`cbn.numerics.imported.schatten_bound` at every constant input of ``values``."""
    return [schatten_bound(net, v, rtol) for v in values]


def activation_energies(net: ImportedCNN, X: np.ndarray,
                        budget: int = ACTIVATION_BUDGET) -> list[np.ndarray]:
    """Energy per frequency and channel of every layer's activation over ``X``.

    Returns
    -------
    list of arrays ``(*grid_out_l, c_l)``, one per convolution layer, summed over the data
    (batches sized so that at most ``budget`` activation values are held at once).
    """
    per_sample = sum(l.filter.shape[0] * int(np.prod(l.grid_out)) for l in net.layers)
    per_sample += net.channels[0] * int(np.prod(net.grid))
    batch = max(1, budget // per_sample)
    totals = None
    for start in range(0, X.shape[0], batch):
        acts, _ = forward(net, X[start:start + batch])
        energies = [frequency_energy(a) for a in acts]
        totals = energies if totals is None else [t + e for t, e in zip(totals, energies)]
    return totals


def energy_summary(name: str, energy: np.ndarray) -> dict:
    """Energy ``(*grid, c)`` of one layer: per frequency (summed over channels, FFT order),
    total, and the share at each degree ``|m|_inf`` (the share at degree 0 is the constant
    frequency's)."""
    per_freq = energy.sum(axis=-1)
    total = float(per_freq.sum())
    linf = frequency_degrees(per_freq.shape)["linf"]
    share = np.bincount(linf.ravel(), weights=per_freq.ravel()) / (total or 1.0)
    return {"layer": name, "per_frequency": per_freq.tolist(), "total": total,
            "share_by_degree_linf": share.tolist()}


@dataclass(frozen=True)
class Inspection:
    """Everything ``cbn inspect`` reports about one model (see :func:`inspect_network`)."""

    net: ImportedCNN
    threshold: float
    rtol: float | None
    layers: list[LayerSpectrum]
    bounds: list[JacobianBound]
    norm_sq: float
    weight_norm_sq: float
    energies: list[np.ndarray] | None
    n_samples: int

    def best_bound(self) -> JacobianBound:
        """The largest lower bound over the constant inputs (each one is valid)."""
        return max(self.bounds, key=lambda b: b.lower_bound)

    def to_dict(self) -> dict:
        """JSON-ready summary; every number labelled in ``bound``."""
        best = self.best_bound()
        energy = None
        if self.energies is not None:
            energy = [energy_summary(l.name, e) for l, e in zip(self.layers, self.energies)]
        return {
            "grid": list(self.net.grid), "channels": list(self.net.channels),
            "pooled": self.net.pooled,
            "head": None if self.net.head is None else list(self.net.head.weight.shape),
            "weight_layers": self.net.n_weight_layers, "threshold": self.threshold,
            "rtol": self.rtol,
            "convention": "plain (the framework's; multipliers are the operators' own)",
            "layers": [l.to_dict() for l in self.layers],
            "norm_sq": self.norm_sq, "weight_norm_sq": self.weight_norm_sq,
            "jacobian": [{"value": b.value.tolist(), "ranks": b.ranks.tolist(),
                          "rank_sum": b.rank_sum, "lower_bound": b.lower_bound,
                          "rank_rtol": b.rank_rtol} for b in self.bounds],
            "lower_bound": best.lower_bound, "rank_sum": best.rank_sum,
            "activation_energy": energy, "n_samples": self.n_samples,
            "bound": {
                "norm_sq": "the model's own parameter norm (weights and biases): an UPPER "
                           "bound on the representation cost of its function",
                "weight_norm_sq": "the model's weights only (filters and head)",
                "lower_bound": "LOWER bound: Schatten bound at a constant input, on the "
                               "weights' norm of every network of this layout computing the "
                               "same function near that input",
                "rank_sum": "sum of the constant-input Jacobian's ranks per output frequency "
                            "(stride 1, no pooling: a LOWER bound on R0, "
                            "paper_notes/theory.md section 4)",
            },
        }


def inspect_network(net: ImportedCNN, X: np.ndarray | None = None,
                    threshold: float = NEAR_ONE_SPLIT, seed: int = 0,
                    rtol: float | None = None) -> Inspection:
    """Spectra, constant-input bounds and (with data ``X`` ``(N, c_0, *grid)``) energies.

    ``rtol`` (if given) replaces the absolute ``threshold`` by a relative one per layer.
    """
    return Inspection(
        net, threshold, rtol, layer_spectra(net, threshold, rtol),
        jacobian_bounds(net, default_constant_inputs(net, X, seed)),
        net.parameter_norm_sq(True), net.parameter_norm_sq(False),
        None if X is None else activation_energies(net, X),
        0 if X is None else int(X.shape[0]))
