"""Gunasekar et al.'s implicit bias: Fourier sparsity of the normalised predictor versus depth.

Model: single-channel full-size linear circular CNN of depth ``L``; its linear predictor is
``beta = w_1 * w_2 * ... * w_L`` (plain circular convolutions), i.e. ``beta^ = prod_l w_l^``, and
``f(x) = <x, beta>``. Gradient descent on the logistic loss over linearly separable data
(labels ``y = sign <x, beta_star>``) converges in direction to a stationary point of
``min ||F beta||_{2/L}`` s.t. ``y_n <x_n, beta> >= 1`` (THEORY.md 3); at ``L = 2`` this is the
convex ``l1`` program solved by :func:`numerics.convex.margin.max_margin` (EXACT up to the solver).

Directional convergence under a fixed step is logarithmically slow, so the recipe uses the
normalised step ``lr_t = min(lr / loss_t, lr_max)`` (gradient descent with a loss-scaled step,
as in Nacson et al. 2019); the record reports the final loss and margin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from figures.plotting import save, subplots
from numerics.convex.margin import max_margin
from numerics.fourier import centred_labels

NAME = "gunasekar_sparsity"
TITLE = "Implicit bias of linear CNNs: Fourier sparsity of the GD predictor versus depth"
CAPTION = ("Normalised Fourier moduli |F beta| of the gradient-descent predictor for depths "
           "L = 1..4: the spectrum concentrates on fewer frequencies as L grows (Fourier "
           "l_{2/L} bias); at L = 2 the predictor approaches the exact l1 max-margin solution.")


def config(mode: str) -> dict:
    size = {"tiny": (8, 6, [1, 2, 3], 300), "quick": (16, 8, [1, 2, 3, 4], 6000),
            "full": (32, 16, [1, 2, 3, 4, 6], 40000)}[mode]
    d, n, depths, steps = size
    return {"d": d, "samples": n, "depths": depths, "steps": steps, "lr": 0.05,
            "lr_max": 1e7, "init_scale": 0.3, "seed": 0, "solver": "AUTO",
            "data": "Gaussian x, y = sign <x, beta_star>, beta_star Gaussian",
            "loss": "mean softplus(-y <x, beta>)", "convention": "plain"}


def data(cfg: dict) -> tuple[np.ndarray, np.ndarray]:
    """Separable data ``X`` (N, d) and labels ``y`` (N,) in {-1, +1}."""
    rng = np.random.default_rng(cfg["seed"])
    X = rng.standard_normal((cfg["samples"], cfg["d"]))
    return X, np.sign(X @ rng.standard_normal(cfg["d"]))


def train(X: np.ndarray, y: np.ndarray, depth: int, cfg: dict, device: str) -> dict:
    """Normalised-step GD on the depth-``depth`` linear CNN; returns its predictor and stats."""
    d = X.shape[1]
    gen = torch.Generator().manual_seed(cfg["seed"] + 1)
    ws = [(cfg["init_scale"] * torch.randn(d, generator=gen, dtype=torch.float64)).to(device)
          .requires_grad_() for _ in range(depth)]
    Xt = torch.as_tensor(X, device=device)
    yt = torch.as_tensor(y, device=device)
    opt = torch.optim.SGD(ws, lr=cfg["lr"])

    def predictor() -> torch.Tensor:
        prod = torch.ones(d // 2 + 1, dtype=torch.complex128, device=device)
        for w in ws:
            prod = prod * torch.fft.rfft(w)
        return torch.fft.irfft(prod, n=d)

    loss = torch.tensor(np.inf)
    for _ in range(cfg["steps"]):
        opt.zero_grad()
        loss = torch.nn.functional.softplus(-yt * (Xt @ predictor())).mean()
        if not torch.isfinite(loss):
            break
        loss.backward()
        for group in opt.param_groups:
            group["lr"] = min(cfg["lr"] / max(loss.item(), 1e-300), cfg["lr_max"])
        opt.step()
    with torch.no_grad():
        beta = predictor().cpu().numpy()
    margin = float(np.min(y * (X @ beta)))
    return {"beta": beta, "final_loss": loss.item(), "margin": margin,
            "separates": margin > 0}


def participation(fabs: np.ndarray) -> float:
    """Effective number of frequencies ``(sum p)^2 / sum p^2`` with ``p = |F beta|^2``."""
    p = fabs**2
    return float(p.sum() ** 2 / np.sum(p**2))


def compute(cfg: dict, device: str):
    X, y = data(cfg)
    exact = max_margin(X, y, solver=cfg["solver"])
    d = cfg["d"]
    record = {"depths": cfg["depths"], "runs": [], "convex_l1": exact.value,
              "convex_status": exact.record.status, "convex_solver": exact.record.solver,
              "bounds": {"convex_l1": "exact (convex program, solver tolerance)",
                         "gd_l1_at_margin_1": "upper bound on the convex optimum"}}
    arrays = {"convex_fabs": exact.fourier_abs}
    for L in cfg["depths"]:
        run = train(X, y, L, cfg, device)
        beta = run.pop("beta")
        fabs = np.abs(np.fft.fft(beta)) / np.sqrt(d)
        scaled = fabs / run["margin"] if run["separates"] else fabs * np.nan
        record["runs"].append({
            "depth": L, **run, "participation": participation(fabs),
            "l1_at_margin_1": float(scaled.sum()),
            "cosine_with_convex": float(beta @ exact.direction.ravel() / np.linalg.norm(beta))})
        arrays[f"fabs_L{L}"] = fabs
    record["convex_participation"] = participation(exact.fourier_abs)
    return record, arrays


def plot(record: dict, arrays: dict, out_dir: Path) -> list[Path]:
    fig, axes = subplots(1, 2, width=4.6, height=3.3)
    d = arrays["convex_fabs"].shape[0]
    order = np.argsort(centred_labels((d,))[:, 0])
    m = centred_labels((d,))[order, 0]
    ax = axes[0, 0]
    for i, run in enumerate(record["runs"]):
        f = arrays[f"fabs_L{run['depth']}"][order]
        ax.plot(m, f / f.max(), "o-", color=f"C{i}", ms=3, lw=1,
                label=f"GD, L={run['depth']} (eff. #freq {run['participation']:.1f})")
    f = arrays["convex_fabs"][order]
    ax.plot(m, f / f.max(), "k*--", ms=7, lw=0.8,
            label=f"exact l1 max-margin (L=2 limit; {record['convex_participation']:.1f})")
    ax.set(xlabel="frequency m (centred)", ylabel="|F beta|(m) / max (normalised predictor)",
           title="Fourier moduli of the predictor")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    L = [r["depth"] for r in record["runs"]]
    ax.plot(L, [r["participation"] for r in record["runs"]], "C0o-",
            label="effective number of frequencies")
    ax.axhline(record["convex_participation"], color="k", ls=":", label="exact L=2 solution")
    ax.set(xlabel="depth L", ylabel="(sum |F beta|^2)^2 / sum |F beta|^4",
           title="sparsity versus depth")
    ax.set_xticks(L)
    ax.legend()
    return [save(fig, out_dir / f"{NAME}.png")]


def verdict(record: dict) -> tuple[bool, str]:
    runs = record["runs"]
    pr = [r["participation"] for r in runs]
    monotone = all(b <= a for a, b in zip(pr, pr[1:]))
    two = next((r for r in runs if r["depth"] == 2), None)
    ok = monotone and all(r["separates"] for r in runs)
    extra = ""
    if two is not None:
        ratio = two["l1_at_margin_1"] / record["convex_l1"]
        # GD at margin 1 is feasible for the convex program, so ratio >= 1 up to solver accuracy.
        ok &= ratio >= 1 - 1e-6
        extra = (f"; L=2: ||F beta||_1 at margin 1 = {ratio:.3f} x the exact optimum, cosine "
                 f"with the exact direction {two['cosine_with_convex']:.3f}")
    return ok, ("effective number of frequencies by depth " +
                ", ".join(f"L={r['depth']}: {r['participation']:.2f}" for r in runs) +
                f" (non-increasing: {monotone}){extra}.")
