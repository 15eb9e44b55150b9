"""Small torch modules the built-in architectures share. Imported lazily: it imports torch."""

from __future__ import annotations

import torch
from torch import nn


class Maxout(nn.Module):
    """A linear layer with ``pieces`` outputs per unit, keeping the max (Goodfellow et al. 2013)."""

    def __init__(self, in_features: int, out_features: int, pieces: int, wrap=lambda m: m):
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = wrap(nn.Linear(in_features, out_features * pieces))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(*x.shape[:-1], self.out_features, self.pieces).amax(-1)


class Reshape(nn.Module):
    """Reshape the features of each sample to ``shape``."""

    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(len(x), *self.shape)


class Logits(nn.Module):
    """Flatten D's final ``(batch, 1, ...)`` output to one logit per sample."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x))
