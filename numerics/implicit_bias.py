"""Implicit Fourier-sparsity bias of deep linear CNNs on separable data
(paper_notes/theory.md section 3).

Gunasekar et al. (2018): for a single-channel full-size linear circular CNN of depth ``L``
trained by gradient descent with the logistic loss on linearly separable data, the linear
predictor ``beta`` (``f(x) = <x, beta>``) converges in direction to a stationary point of
``min sum_m |beta^(m)|^{2/L}  s.t.  y_n <x_n, beta> >= 1``. ``L = 1`` is the l2 max-margin
separator; at ``L = 2`` the problem is convex (l1 norm of the DFT); larger ``L`` is sparser still.

Model: ``L - 1`` circular convolution layers (:class:`cbn.numerics.network.CircularCNN`, identity
activation, no biases, 'plain' convention) and a full-width linear read-out ``w_L``:
``f(x) = sum_p w_L(p) (W_{L-1} * ... * W_1 * x)(p)``. Depth 1 is the read-out alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from cbn.numerics.network import CircularCNN


@dataclass
class ImplicitBiasRun:
    """One gradient-descent run. ``beta`` has shape ``(d,)``; spectra are ``|DFT(beta)|``.

    ``effective_support = (sum_m |b_m|)^2 / sum_m |b_m|^2`` is in ``[1, d]`` (``d`` for a flat
    spectrum, ``1`` for a single frequency); ``top2_energy`` is the share of ``sum |b_m|^2`` in
    the two largest ``|b_m|`` (one conjugate pair).
    """

    depth: int
    steps: int
    lr: float
    final_loss: float
    min_margin: float
    effective_support: float
    top2_energy: float
    beta: np.ndarray

    def to_dict(self) -> dict:
        out = asdict(self)
        out["beta"] = self.beta.tolist()
        return out


def fourier_sparsity(beta: np.ndarray) -> tuple[float, float]:
    """``(effective_support, top2_energy)`` of ``|DFT(beta)|`` (see :class:`ImplicitBiasRun`)."""
    mag = np.abs(np.fft.fft(beta))
    eff = float(mag.sum() ** 2 / np.sum(mag**2))
    top2 = float(np.sum(np.sort(mag**2)[-2:]) / np.sum(mag**2))
    return eff, top2


def separable_fourier_data(n: int, d: int, frequency: int, seed: int) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """Gaussian inputs ``(n, d)`` labelled by a single-frequency teacher ``cos(2 pi k p / d)``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    teacher = np.cos(2 * np.pi * frequency * np.arange(d) / d)
    y = np.sign(X @ teacher)
    y[y == 0] = 1.0
    return X, y


def train_logistic_gd(
    X: np.ndarray, y: np.ndarray, depth: int, lr: float, steps: int, seed: int = 0,
    init_scale: float = 0.1,
) -> ImplicitBiasRun:
    """Full-batch gradient descent (fixed ``lr``) on the mean logistic loss, float64.

    Parameters
    ----------
    X : ``(n, d)`` inputs; y : ``(n,)`` labels in {-1, +1}
    depth : ``L >= 1``; init_scale : std of every initial weight
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth}")
    n, d = X.shape
    gen = torch.Generator().manual_seed(seed)
    convs = None
    if depth > 1:
        convs = CircularCNN([1] * depth, (d,), activation="identity", bias=False,
                            convention="plain", seed=seed)
        with torch.no_grad():
            for w in convs.weights:
                w.copy_(init_scale * torch.randn(w.shape, generator=gen, dtype=torch.float64))
    readout = (init_scale * torch.randn(d, generator=gen, dtype=torch.float64)).requires_grad_()
    params = [readout] + ([] if convs is None else list(convs.parameters()))
    Xt = torch.as_tensor(X, dtype=torch.float64)[:, None, :]
    yt = torch.as_tensor(y, dtype=torch.float64)

    def predict(x):
        h = x if convs is None else convs(x)
        return h[:, 0, :] @ readout

    opt = torch.optim.SGD(params, lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.softplus(-yt * predict(Xt)).mean()
        loss.backward()
        opt.step()
    x0 = torch.zeros((1, 1, d), dtype=torch.float64, requires_grad=True)
    beta = torch.autograd.grad(predict(x0).sum(), x0)[0][0, 0].numpy()  # f is linear: beta
    with torch.no_grad():
        margins = yt * predict(Xt)
        final = float(torch.nn.functional.softplus(-margins).mean())
    eff, top2 = fourier_sparsity(beta)
    norm = float(np.linalg.norm(beta))
    return ImplicitBiasRun(depth=depth, steps=steps, lr=lr, final_loss=final,
                           min_margin=float(margins.min()) / norm, effective_support=eff,
                           top2_energy=top2, beta=beta)
