"""A small CNN trained on the bundled 8x8 digits in plain PyTorch, to be read by ``cbn inspect``.

3x3 kernels with circular padding (so every layer is a circular convolution), ReLU, global
average pooling and a linear classifier; AdamW (decoupled weight decay, not an L2 penalty) on
minibatches of 128. Run it to write ``digits_cnn.pt`` (a state dict), then inspect it::

    python figures/examples/digits_cnn.py
    cbn inspect digits_cnn.pt --arch figures/examples/digits_cnn.py:architecture \\
        --grid 8x8 --dataset digits
"""

import torch
from sklearn.datasets import load_digits
from torch import nn


def architecture() -> nn.Module:
    def conv(c_in, c_out):
        return nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="circular")

    return nn.Sequential(conv(1, 16), nn.ReLU(), conv(16, 16), nn.ReLU(), conv(16, 16),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def train(steps: int = 1500, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    digits = load_digits()
    X = torch.tensor(digits.images / 16.0, dtype=torch.float32)[:, None]  # (1797, 1, 8, 8)
    y = torch.tensor(digits.target)
    model = architecture()
    opt = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=1e-2)
    for _ in range(steps):
        batch = torch.randint(0, len(y), (128,))
        opt.zero_grad()
        nn.functional.cross_entropy(model(X[batch]), y[batch]).backward()
        opt.step()
    with torch.no_grad():
        print(f"training accuracy {(model(X).argmax(1) == y).float().mean().item():.3f}")
    return model


if __name__ == "__main__":
    torch.save(train().state_dict(), "digits_cnn.pt")
