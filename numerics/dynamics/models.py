"""The two linear models whose gradient-flow dynamics are compared
(paper_notes/theory.md section 6).

Both map a single-channel signal ``x`` of shape ``spatial`` (``d = prod(spatial)`` pixels) to
``n_out`` outputs and are trained with the squared loss written through the data correlations

    L(theta) = 1/2 tr(W Sigma_xx W^T) - tr(Sigma_yx^T W)   (+ a constant),

where ``W`` (shape ``(n_out, d)``) is the end-to-end linear map of the network. This equals
``1/(2N) sum_i ||f(x_i) - y_i||^2`` up to a constant for a data set with
``Sigma_xx = X^T X / N`` and ``Sigma_yx = Y^T X / N``, so full-batch training on data and training
on correlations are the same flow.

* :class:`CircularCNN`: ``h_c = w_c * x`` (circular convolution of the input with ``C`` real
  filters, kernel support ``k`` pixels per axis, the rest of the full-size filter held at 0,
  convention 'scaled' or 'plain' of :mod:`cbn.numerics.fourier`), then a fully-connected readout
  ``y_o = sum_{c,p} R[o, c, p] h_c(p)``. Parameters ``w`` (C, *spatial) and ``R``
  (n_out, C, *spatial); convolutions through FFTs.
* :class:`FullyConnected`: ``y = W2 W1 x`` with ``W1`` (hidden, d) and ``W2`` (n_out, hidden).

Parameters are packed in one flat float64 vector (``pack``/``unpack``); ``loss_and_grad`` returns
the loss and its gradient with respect to that vector (gradient flow is ``theta' = -grad``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cbn.numerics.fourier import Convention, check_convention, scale_factor


def _axes(ndim_spatial: int, leading: int) -> tuple[int, ...]:
    return tuple(range(leading, leading + ndim_spatial))


def correlation_loss(total_map: np.ndarray, sigma_yx: np.ndarray,
                     sigma_xx: np.ndarray | None) -> tuple[float, np.ndarray]:
    """Loss ``1/2 tr(W Sxx W^T) - tr(Syx^T W)`` and its gradient ``W Sxx - Syx`` in ``W``.

    ``sigma_xx=None`` means white inputs (``Sigma_xx = I``).
    """
    wsxx = total_map if sigma_xx is None else total_map @ sigma_xx
    loss = 0.5 * float(np.sum(wsxx * total_map)) - float(np.sum(sigma_yx * total_map))
    return loss, wsxx - sigma_yx


@dataclass(frozen=True)
class CircularCNN:
    """Circular convolution (``channels`` filters of support ``kernel_size``) + dense readout.

    Attributes
    ----------
    spatial : grid shape, 1-D ``(n,)`` or 2-D ``(n1, n2)``
    channels : number ``C`` of hidden channels (filters)
    n_out : number of outputs
    kernel_size : support per axis, ``1 <= k <= n_i`` (pixels ``0..k-1`` of each axis); ``None``
        means full size
    convention : 'scaled' (``d^{-1/2}`` in the convolution) or 'plain'
    """

    spatial: tuple[int, ...]
    channels: int
    n_out: int
    kernel_size: int | None = None
    convention: Convention = "plain"

    def __post_init__(self) -> None:
        check_convention(self.convention)
        if not 1 <= len(self.spatial) <= 2 or min(self.spatial) < 1:
            raise ValueError(f"spatial must be 1-D or 2-D with positive sizes, got {self.spatial}")
        if self.channels < 1 or self.n_out < 1:
            raise ValueError("channels and n_out must be >= 1")
        if self.kernel_size is not None and not 1 <= self.kernel_size <= min(self.spatial):
            raise ValueError(f"kernel_size must be in [1, {min(self.spatial)}], "
                             f"got {self.kernel_size}")

    @property
    def d(self) -> int:
        return int(np.prod(self.spatial))

    @property
    def gain(self) -> float:
        """``g = kappa sqrt(d)``: per-frequency gain of the filter in unitary coordinates.

        With ``w~ = F w`` (unitary DFT) the convolution multiplies ``x~(m)`` by ``g w~(m)``:
        ``g = sqrt(d)`` (plain), ``g = 1`` (scaled).
        """
        return scale_factor(self.spatial, self.convention) * np.sqrt(self.d)

    def support_mask(self) -> np.ndarray:
        """Boolean array of shape ``spatial``: the trainable filter pixels."""
        if self.kernel_size is None:
            return np.ones(self.spatial, dtype=bool)
        mask = np.zeros(self.spatial, dtype=bool)
        mask[tuple(slice(0, self.kernel_size) for _ in self.spatial)] = True
        return mask

    @property
    def n_params(self) -> int:
        return self.channels * self.d * (1 + self.n_out)

    def pack(self, filters: np.ndarray, readout: np.ndarray) -> np.ndarray:
        """Flat vector from ``filters`` (C, *spatial) and ``readout`` (n_out, C, *spatial)."""
        filters = np.asarray(filters, dtype=np.float64)
        readout = np.asarray(readout, dtype=np.float64)
        if filters.shape != (self.channels, *self.spatial):
            raise ValueError(f"filters must have shape {(self.channels, *self.spatial)}")
        if readout.shape != (self.n_out, self.channels, *self.spatial):
            raise ValueError(
                f"readout must have shape {(self.n_out, self.channels, *self.spatial)}")
        if np.any(filters[:, ~self.support_mask()] != 0):
            raise ValueError("filters have nonzero entries outside the kernel support")
        return np.concatenate([filters.ravel(), readout.ravel()])

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`pack`: ``(filters, readout)``; ``theta`` may carry leading axes."""
        theta = np.asarray(theta)
        lead = theta.shape[:-1]
        nf = self.channels * self.d
        filters = theta[..., :nf].reshape(*lead, self.channels, *self.spatial)
        readout = theta[..., nf:].reshape(*lead, self.n_out, self.channels, *self.spatial)
        return filters, readout

    def total_map(self, theta: np.ndarray) -> np.ndarray:
        """End-to-end map ``W`` of shape ``(..., n_out, d)`` (pixels in C order).

        ``W[o, p'] = kappa sum_c sum_p R[o, c, p] w_c(p - p')``; in the DFT,
        ``W^[o](m) = kappa sum_c R^[o, c](m) conj(w^_c(m))``.
        """
        filters, readout = self.unpack(theta)
        nsp = len(self.spatial)
        lead = filters.ndim - 1 - nsp
        fhat = np.fft.fftn(filters, axes=_axes(nsp, lead + 1))  # (..., C, *sp)
        rhat = np.fft.fftn(readout, axes=_axes(nsp, lead + 2))  # (..., O, C, *sp)
        what = np.sum(rhat * np.expand_dims(np.conj(fhat), lead), axis=lead + 1)  # (..., O, *sp)
        kappa = scale_factor(self.spatial, self.convention)
        w = np.real(np.fft.ifftn(what, axes=_axes(nsp, lead + 1))) * kappa
        return w.reshape(*w.shape[: lead + 1], self.d)

    def loss_and_grad(self, theta: np.ndarray, sigma_yx: np.ndarray,
                      sigma_xx: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """Loss and gradient in ``theta`` (gradient zero off the kernel support).

        ``sigma_yx`` has shape (n_out, d); ``sigma_xx`` (d, d) or None for white inputs.
        """
        filters, readout = self.unpack(theta)
        nsp = len(self.spatial)
        kappa = scale_factor(self.spatial, self.convention)
        loss, g = correlation_loss(self.total_map(theta), sigma_yx, sigma_xx)
        ghat = np.fft.fftn(g.reshape(self.n_out, *self.spatial), axes=_axes(nsp, 1))  # (O, *sp)
        fhat = np.fft.fftn(filters, axes=_axes(nsp, 1))  # (C, *sp)
        rhat = np.fft.fftn(readout, axes=_axes(nsp, 2))  # (O, C, *sp)
        # dL/dR[o, c, p] = kappa sum_p' G[o, p'] w_c(p - p')   (a circular convolution)
        grad_r = np.real(np.fft.ifftn(ghat[:, None] * fhat[None], axes=_axes(nsp, 2))) * kappa
        # dL/dw_c(q) = kappa sum_o sum_p' G[o, p'] R[o, c, p' + q]   (a cross-correlation)
        grad_w = np.real(np.fft.ifftn(np.sum(np.conj(ghat)[:, None] * rhat, axis=0),
                                      axes=_axes(nsp, 1))) * kappa
        grad_w = grad_w * self.support_mask()
        return loss, np.concatenate([grad_w.ravel(), grad_r.ravel()])

    def kernel_power(self, theta: np.ndarray) -> np.ndarray:
        """Per-frequency kernel power ``sum_c |w~_c(m)|^2`` (unitary DFT), ``(..., *spatial)``.

        Sums to ``||w||_F^2`` over all frequencies (Parseval).
        """
        filters, _ = self.unpack(theta)
        nsp = len(self.spatial)
        lead = filters.ndim - 1 - nsp
        fhat = np.fft.fftn(filters, axes=_axes(nsp, lead + 1)) / np.sqrt(self.d)
        return np.sum(np.abs(fhat) ** 2, axis=lead)


@dataclass(frozen=True)
class FullyConnected:
    """Two-layer linear network ``y = W2 W1 x`` (the fully-connected baseline).

    Attributes
    ----------
    d : input dimension
    hidden : hidden width
    n_out : number of outputs
    """

    d: int
    hidden: int
    n_out: int

    @property
    def n_params(self) -> int:
        return self.hidden * (self.d + self.n_out)

    def pack(self, w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
        """Flat vector from ``w1`` (hidden, d) and ``w2`` (n_out, hidden)."""
        w1 = np.asarray(w1, dtype=np.float64)
        w2 = np.asarray(w2, dtype=np.float64)
        if w1.shape != (self.hidden, self.d) or w2.shape != (self.n_out, self.hidden):
            raise ValueError(f"need w1 {(self.hidden, self.d)} and w2 {(self.n_out, self.hidden)}")
        return np.concatenate([w1.ravel(), w2.ravel()])

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        theta = np.asarray(theta)
        lead = theta.shape[:-1]
        n1 = self.hidden * self.d
        return (theta[..., :n1].reshape(*lead, self.hidden, self.d),
                theta[..., n1:].reshape(*lead, self.n_out, self.hidden))

    def total_map(self, theta: np.ndarray) -> np.ndarray:
        """End-to-end map ``W2 W1``, shape ``(..., n_out, d)``."""
        w1, w2 = self.unpack(theta)
        return w2 @ w1

    def loss_and_grad(self, theta: np.ndarray, sigma_yx: np.ndarray,
                      sigma_xx: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """Loss and gradient in ``theta``; same loss as :meth:`CircularCNN.loss_and_grad`."""
        w1, w2 = self.unpack(theta)
        loss, g = correlation_loss(w2 @ w1, sigma_yx, sigma_xx)
        return loss, np.concatenate([(w2.T @ g).ravel(), (g @ w1.T).ravel()])
