"""Random plain PyTorch CNNs of every kind ``cbn inspect`` reads (shared by the tests)."""

from __future__ import annotations

import torch
from torch import nn


def conv(nsp, c_in, c_out, k, padding, stride=1, bias=True, mode="circular"):
    cls = nn.Conv1d if nsp == 1 else nn.Conv2d
    return cls(c_in, c_out, k, stride=stride, padding=padding, padding_mode=mode, bias=bias,
               dtype=torch.float64)


#: (grid, [(kernel, padding, stride), ...]): 1-D and 2-D, odd and even grids and kernels,
#: k < n and k = n, strides (with kernels odd and even, and a padding-free strided layer).
KINDS = [
    ((8,), [(3, 1, 1), (4, "same", 1), (8, "same", 1)]),
    ((9,), [(9, 4, 1), (5, 2, 3), (2, "same", 1)]),
    ((8,), [(3, 1, 2), (4, 1, 2), (2, "same", 1)]),
    ((16,), [(2, 0, 2), (1, 0, 1), (8, "same", 1)]),
    ((6, 7), [((3, 3), 1, 1), ((6, 7), "same", 1), ((2, 4), "same", 1)]),
    ((8, 8), [(3, 1, 2), ((4, 4), 1, 2), (2, "same", 1)]),
    ((5, 5), [(5, 2, 1), (1, 0, 1), (4, "same", 1)]),
]


def random_model(grid, specs, seed, activations=("relu", "identity", "relu"), bias=True,
                 head=None):
    torch.manual_seed(seed)
    nsp, widths, mods = len(grid), [2, 3, 4, 2], []
    for i, ((k, p, s), act) in enumerate(zip(specs, activations)):
        mods.append(conv(nsp, widths[i], widths[i + 1], k, p, s, bias=bias and i != 1))
        if act == "relu":
            mods.append(nn.ReLU())
        elif act == "identity":
            mods.append(nn.Identity())
    if head is not None:
        pool = nn.AdaptiveAvgPool1d(1) if nsp == 1 else nn.AdaptiveAvgPool2d(1)
        mods += [pool, nn.Flatten()] + ([nn.Linear(widths[len(specs)], head,
                                                   dtype=torch.float64)] if head else [])
    model = nn.Sequential(*mods)
    with torch.no_grad():  # biases of size O(1) so that ReLUs cut at varied places
        for m in model.modules():
            if getattr(m, "bias", None) is not None:
                m.bias.copy_(torch.randn_like(m.bias))
    return model


