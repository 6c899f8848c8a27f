"""Linear algebra of the constraint ``f_theta(X) = Y``: its Jacobian and the multiplier system.

``J`` is the Jacobian of ``f_theta(X) / yscale`` in theta; ``J^T w`` is a backward pass and
``J v`` the double-backward trick, so CG never forms ``J``; the restoration
(:mod:`cbn.numerics.search.restoration`) forms it explicitly (:func:`constraint_jacobian`).
"""

from __future__ import annotations

import math

import torch

from cbn.numerics.search.settings import SearchSettings


def _solve_jjt(net, Xt, yscale, rhs_of, iters, ridge=0.0):
    """CG on ``(J J^T + delta I) u = b`` with ``J`` the Jacobian of ``f_theta(X) / yscale`` in
    theta, ``delta = ridge * scale`` and ``scale = <b, J J^T b> / <b, b>`` (see
    ``SearchSettings.cg_ridge``). Returns ``(u, jtvp, scale)``.

    ``rhs_of(jvp, out)`` builds ``b``; ``J^T w`` is a backward pass and ``J v`` the
    double-backward trick, so no Jacobian is formed. Returns ``(u, jtvp)``. (Tried and dropped:
    a Gauss-Newton projection onto the constraint with this solver; CG on the rank-deficient
    ``J J^T`` of redundant constraints blew the step up, and the safeguarded version never
    helped.)
    """
    params = list(net.parameters())
    out = net(Xt) / yscale
    w0 = torch.zeros_like(out, requires_grad=True)
    jtw0 = torch.autograd.grad(out, params, w0, create_graph=True)

    def jvp(v):
        return torch.autograd.grad(jtw0, w0, v, retain_graph=True)[0]

    def jtvp(w):
        return torch.autograd.grad(out, params, w, retain_graph=True)

    b = rhs_of(jvp, out.detach())
    u = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = float(torch.sum(r * r))
    scale = float(torch.sum(b * jvp(jtvp(b)))) / max(rr, 1e-300)
    delta = ridge * scale
    stop = 1e-28 * max(rr, 1e-300)
    for _ in range(iters):
        if rr <= stop:
            break
        ap = jvp(jtvp(p)) + delta * p
        pap = float(torch.sum(p * ap))
        if pap <= 0:
            break
        alpha = rr / pap
        u = u + alpha * p
        r = r - alpha * ap
        rr_new = float(torch.sum(r * r))
        p = r + (rr_new / rr) * p
        rr = rr_new
    return u.detach(), jtvp, scale


def multiplier_estimate(net, Xt, yscale, settings: SearchSettings) -> torch.Tensor:
    """Least-squares multipliers ``argmin_lam ||grad ||theta||^2 + J^T lam||`` (J of ``c``).

    At a feasible point near the optimum the augmented Lagrangian then starts with nearly exact
    multipliers.
    """
    iters = settings.cg_iters
    g = torch.autograd.grad(net.parameter_norm_sq(settings.include_bias), list(net.parameters()))
    gnorm = math.sqrt(sum(float(torch.sum(v * v)) for v in g))
    lam, _, scale = _solve_jjt(net, Xt, yscale, lambda jvp, out: -jvp(g), iters)
    size = float(torch.linalg.norm(lam)) * math.sqrt(max(scale, 0.0))
    if not math.isfinite(size) or size > settings.multiplier_blowup * gnorm:
        lam, _, _ = _solve_jjt(net, Xt, yscale, lambda jvp, out: -jvp(g), iters,
                               settings.cg_ridge)
    return lam


def constraint_jacobian(out: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
    """``d out / d theta`` as a dense ``(out.numel(), n_params)`` matrix (batched VJPs)."""
    flat = out.reshape(-1)
    eye = torch.eye(flat.numel(), dtype=flat.dtype, device=flat.device)
    rows = []
    for chunk in eye.split(256):
        grads = torch.autograd.grad(flat, params, chunk, retain_graph=True,
                                    is_grads_batched=True, allow_unused=True,
                                    materialize_grads=True)
        rows.append(torch.cat([g.reshape(len(chunk), -1) for g in grads], dim=1))
    return torch.cat(rows)

