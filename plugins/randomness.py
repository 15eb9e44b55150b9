"""Private random streams for stochastic plugins.

A plugin that draws from its own generator leaves the run's data and z streams untouched, so
switching a trick on changes only what the trick itself does. This module imports torch only
inside its functions, so plugin modules may import :class:`OwnRng` at their top.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def own_rng(run, name: str) -> torch.Generator:
    """A generator on the run's device, seeded from the run's seed and ``name``."""
    import torch

    rng = torch.Generator(device=run.device)
    rng.manual_seed(run.config.seed * 1_000_003 + zlib.crc32(name.encode()))
    return rng


class OwnRng:
    """Mixin for a loss or trick that draws from ``self.rng``, its :func:`own_rng` made in setup.

    The generator's state is the plugin's checkpointed state, so a resumed run draws what the
    uninterrupted one would. A subclass with more state extends both state methods.
    """

    def setup(self, run) -> None:
        self.rng = own_rng(run, self.name)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": self.rng.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.set_state(state["rng"])


def uniform(shape, low: float, high: float, rng: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """U[low, high) samples of ``shape`` on ``like``'s device and dtype."""
    import torch

    return torch.rand(shape, generator=rng, device=like.device, dtype=like.dtype) * (high - low) + low


def normal(like: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Standard normal noise shaped like ``like``."""
    import torch

    return torch.randn(like.shape, generator=rng, device=like.device, dtype=like.dtype)
