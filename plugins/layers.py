"""Small torch modules the built-in architectures and tricks share. Imported lazily: it imports torch."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def sequential(*layers: nn.Module) -> nn.Sequential:
    """``nn.Sequential`` without no-op layers (a norm of ``none`` is an Identity): they cost time every step."""
    return nn.Sequential(*(layer for layer in layers if not isinstance(layer, nn.Identity)))


class Maxout(nn.Module):
    """A linear layer with ``pieces`` outputs per unit, keeping the max (Goodfellow et al. 2013)."""

    def __init__(self, in_features: int, out_features: int, pieces: int, wrap=lambda m: m):
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = wrap(nn.Linear(in_features, out_features * pieces))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(*x.shape[:-1], self.out_features, self.pieces).amax(-1)

    def stack_seeds(self, copies: list[Maxout], net) -> Callable[[torch.Tensor], torch.Tensor]:
        """K seeds' copies as one layer over ``(K, batch, in)`` inputs (``ganx.stacked``)."""
        linear = net.stack_layer([m.linear for m in copies], "Maxout's linear")
        return lambda x: linear(x).unflatten(-1, (self.out_features, self.pieces)).amax(-1)


class Reshape(nn.Module):
    """Reshape the features of each sample to ``shape``."""

    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(len(x), *self.shape)

    def stack_seeds(self, copies: list[Reshape], net) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: x.view(*x.shape[:2], *self.shape)


class Affine(nn.Module):
    """``x * scale + shift``, elementwise (e.g. between the harness's [-1, 1] pixels and [0, 1])."""

    def __init__(self, scale: float, shift: float):
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift

    def extra_repr(self) -> str:
        return f"scale={self.scale}, shift={self.shift}"

    def stack_seeds(self, copies: list[Affine], net) -> Callable[[torch.Tensor], torch.Tensor]:
        return self  # elementwise


class Logits(nn.Module):
    """Flatten D's final ``(batch, 1, ...)`` output to one logit per sample."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x))

    def stack_seeds(self, copies: list[Logits], net) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: x.reshape(x.shape[:2])


class GaussianNoise(nn.Module):
    """Adds N(0, std²) noise in training mode; the identity in eval mode."""

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.std * torch.randn_like(x) if self.training else x


class SamplingDropout(nn.Dropout):
    """Dropout inserted into G by the ``g_dropout`` trick (a distinct type, so it can be found again)."""


ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU)


def insert_after_activations(module: nn.Module, make) -> int:
    """Replace each hidden activation ``a`` inside ``module`` by ``Sequential(a, make())``; return how many."""
    count = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, ACTIVATIONS):
                setattr(parent, name, nn.Sequential(child, make()))
                count += 1
    return count


class Packed(nn.Module):
    """PacGAN's packing (Lin et al. 2018): D sees each m consecutive samples as one, concatenated on dim 1."""

    def __init__(self, discriminator: nn.Module, m: int):
        super().__init__()
        self.discriminator, self.m = discriminator, m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator(x.reshape(len(x) // self.m, self.m * x.shape[1], *x.shape[2:]))
