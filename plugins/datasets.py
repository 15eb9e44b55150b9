"""Datasets. Each loads one split as a single tensor (images scaled to [-1, 1])."""

from __future__ import annotations

from pydantic import Field

from ganx import Dataset, Params, hookimpl
from ganx.plugins.image_datasets import MNIST, Cifar10, Digits, FashionMNIST, ImageFolder


class GaussianMixture(Dataset):
    """Equal-weight isotropic Gaussians at fixed centres; subclasses say where the centres are."""

    kind = "points"

    class Params(Params):
        std: float = Field(gt=0)
        samples: int = Field(100_000, gt=0, description="points per split")
        data_seed: int = 0

    def centers(self):
        raise NotImplementedError

    def modes(self):
        return self.centers(), self.params.std

    def load(self, data_dir, split):
        import torch

        g = torch.Generator().manual_seed(self.params.data_seed * 2 + (split == "test"))
        centers = self.centers()
        which = torch.randint(len(centers), (self.params.samples,), generator=g)
        noise = torch.randn(self.params.samples, centers.shape[1], generator=g) * self.params.std
        return centers[which] + noise, which


class Ring(GaussianMixture):
    """PacGAN's ring: ``modes`` Gaussians evenly spaced on a circle (default 8, radius 1, std 0.01)."""

    name = "ring8"

    class Params(GaussianMixture.Params):
        modes: int = Field(8, ge=1)
        radius: float = Field(1.0, gt=0)
        std: float = Field(0.01, gt=0)

    def centers(self):
        import math

        import torch

        angles = torch.arange(self.params.modes, dtype=torch.float64) * (2 * math.pi / self.params.modes)
        return (self.params.radius * torch.stack([angles.cos(), angles.sin()], 1)).float()


class Grid(GaussianMixture):
    """PacGAN's grid: Gaussians on a ``side``×``side`` grid (default 5×5 at {-4,-2,0,2,4}², std 0.05)."""

    name = "grid25"

    class Params(GaussianMixture.Params):
        side: int = Field(5, ge=1)
        spacing: float = Field(2.0, gt=0)
        std: float = Field(0.05, gt=0)

    def centers(self):
        import torch

        p = self.params
        axis = (torch.arange(p.side, dtype=torch.float32) - (p.side - 1) / 2) * p.spacing
        return torch.cartesian_prod(axis, axis)


class Spiral(Dataset):
    """Points along an Archimedean spiral ``r = radius·t``, ``θ = 2π·turns·t``, plus Gaussian noise."""

    name = "spiral"
    kind = "points"

    class Params(Params):
        turns: float = Field(2.0, gt=0)
        radius: float = Field(1.0, gt=0)
        noise: float = Field(0.02, ge=0)
        samples: int = Field(100_000, gt=0, description="points per split")
        data_seed: int = 0

    def load(self, data_dir, split):
        import math

        import torch

        p = self.params
        g = torch.Generator().manual_seed(p.data_seed * 2 + (split == "test"))
        t = torch.rand(p.samples, generator=g)
        angle = 2 * math.pi * p.turns * t
        points = p.radius * t[:, None] * torch.stack([angle.cos(), angle.sin()], 1)
        return points + torch.randn(p.samples, 2, generator=g) * p.noise, None


@hookimpl
def register_datasets(register):
    for dataset in (Ring, Grid, Spiral, Digits, FashionMNIST, MNIST, Cifar10, ImageFolder):
        register(dataset)
