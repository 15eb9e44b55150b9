"""Private random streams for stochastic plugins. Imported lazily: it imports torch.

A plugin that draws from its own generator leaves the run's data and z streams untouched, so
switching a trick on changes only what the trick itself does.
"""

from __future__ import annotations

import zlib

import torch


def own_rng(run, name: str) -> torch.Generator:
    """A generator on the run's device, seeded from the run's seed and ``name``."""
    rng = torch.Generator(device=run.device)
    rng.manual_seed(run.config.seed * 1_000_003 + zlib.crc32(name.encode()))
    return rng


def uniform(shape, low: float, high: float, rng: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """U[low, high) samples of ``shape`` on ``like``'s device and dtype."""
    return torch.rand(shape, generator=rng, device=like.device, dtype=like.dtype) * (high - low) + low


def normal(like: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Standard normal noise shaped like ``like``."""
    return torch.randn(like.shape, generator=rng, device=like.device, dtype=like.dtype)
