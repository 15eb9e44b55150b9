"""The baseline: a hand-written PyTorch GAN loop, as a careful user would write it without ganx.

Same math as ganx's trainer (non-saturating loss, Adam(2e-4, (0.5, 0.999)), one D step per G step,
real batches drawn by index from one tensor, a log line every ``log_every`` steps), with the
networks built directly from ``torch.nn``. Built with the same seed and layer order as ganx's
``mlp``/``dcgan`` plugins, it reproduces ganx's weights exactly, which the benchmark checks.
"""

from __future__ import annotations

import zlib

import torch
import torch.nn.functional as F
from torch import nn


class Maxout(nn.Module):
    def __init__(self, width: int, out: int, pieces: int):
        super().__init__()
        self.out, self.pieces = out, pieces
        self.linear = nn.Linear(width, out * pieces)

    def forward(self, x):
        return self.linear(x).view(len(x), self.out, self.pieces).amax(-1)


class View(nn.Module):
    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.view(len(x), *self.shape)


def mlp_g(latent: int, hidden: list[int], out: int, batch_norm: bool, act) -> nn.Sequential:
    layers, width = [], latent
    for h in hidden:
        layers += [nn.Linear(width, h), *([nn.BatchNorm1d(h)] if batch_norm else []), act()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, out))


def mlp_d(inp: int, hidden: list[int], maxout: int) -> nn.Sequential:
    layers, width = [], inp
    for h in hidden:
        layers += [Maxout(width, h, maxout)] if maxout else [nn.Linear(width, h), nn.LeakyReLU(0.2)]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 1), nn.Flatten(0))


def dcgan_g(latent: int) -> nn.Sequential:
    """28×28×1: Linear to 256×7×7, ConvT 256→128 (stride 1), 128→64 and 64→1 (stride 2), BN + ReLU."""
    return nn.Sequential(
        nn.Linear(latent, 256 * 49), nn.BatchNorm1d(256 * 49), nn.ReLU(), View(256, 7, 7),
        nn.ConvTranspose2d(256, 128, 5, 1, 2), nn.BatchNorm2d(128), nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 5, 2, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 5, 2, 2, 1), nn.Tanh(),
    )


def dcgan_d() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 64, 5, 2, 2), nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 5, 2, 2), nn.BatchNorm2d(128), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(128 * 49, 1), nn.Flatten(0),
    )


def own_rng(seed: int, name: str) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))


class Tricks:
    """The demo's tricks written inline: one-sided label smoothing 0.9, 5% flipped labels,
    instance noise 0.1 annealed linearly to 0, and a 1000-fake replay buffer feeding half of D's fakes."""

    def __init__(self, seed: int, steps: int):
        self.steps = steps
        self.smooth_rng = own_rng(seed, "label_smoothing")  # drawn from only in its 'random' mode
        self.flip_rng, self.noise_rng = own_rng(seed, "noisy_labels"), own_rng(seed, "instance_noise")
        self.replay_rng = own_rng(seed, "replay_buffer")
        self.buffer, self.filled, self.position = None, 0, 0

    def noisy(self, x, step):
        std = 0.1 * (1 - step / self.steps)
        return x + std * torch.randn(x.shape, generator=self.noise_rng) if std else x

    def replay(self, fake):
        fresh, old = fake[-1000:], round(0.5 * len(fake))
        if self.filled >= old:
            pick = torch.randint(self.filled, (old,), generator=self.replay_rng)
            fake = torch.cat([self.buffer[pick], fake[old:]])
        if self.buffer is None:
            self.buffer = fresh.new_empty(1000, *fresh.shape[1:])
        self.buffer[(self.position + torch.arange(len(fresh))) % 1000] = fresh
        self.position = (self.position + len(fresh)) % 1000
        self.filled = min(self.filled + len(fresh), 1000)
        return fake

    def targets(self, real_logits, fake_logits):
        real_t, fake_t = torch.full_like(real_logits, 0.9), torch.zeros_like(fake_logits)
        flip_real = torch.rand(real_t.shape, generator=self.flip_rng) < 0.05
        flip_fake = torch.rand(fake_t.shape, generator=self.flip_rng) < 0.05
        return torch.where(flip_real, fake_t, real_t), torch.where(flip_fake, real_t, fake_t)


def train(data, build, *, steps: int, batch: int, latent: int, seed: int = 0, tricks: bool = False,
          log_every: int = 100, eval_samples: int = 1000, fused: bool | None = None):
    """Train ``build() -> (G, D)`` for ``steps`` steps; returns G (after a final sample of ``eval_samples``).

    ``fused`` picks Adam's implementation: PyTorch's default (None) or the fused kernel ganx uses.
    """
    torch.manual_seed(seed)
    g, d = build()
    rng = torch.Generator().manual_seed(seed)
    extra = Tricks(seed, steps) if tricks else None
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999), fused=fused)
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999), fused=fused)
    log = []
    for step in range(steps):
        real = data[torch.randint(len(data), (batch,), generator=rng)]
        with torch.no_grad():
            fake = g(torch.randn(batch, latent, generator=rng)).view(batch, *data.shape[1:])
        if extra:
            real, fake = extra.noisy(real, step), extra.replay(extra.noisy(fake, step))
        real_logits, fake_logits = d(real), d(fake)
        if extra:
            real_t, fake_t = extra.targets(real_logits, fake_logits)
        else:
            real_t, fake_t = torch.ones_like(real_logits), torch.zeros_like(fake_logits)
        d_loss = (
            F.binary_cross_entropy_with_logits(real_logits, real_t)
            + F.binary_cross_entropy_with_logits(fake_logits, fake_t)
        )
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()

        fake = g(torch.randn(batch, latent, generator=rng)).view(batch, *data.shape[1:])
        g_loss = F.softplus(-d(extra.noisy(fake, step) if extra else fake)).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        if (step + 1) % log_every == 0:
            log.append((d_loss.item(), g_loss.item()))  # what a script prints
    g.eval()
    with torch.no_grad():
        g(torch.randn(eval_samples, latent, generator=torch.Generator().manual_seed(seed + 1_000_003)))
    return g
