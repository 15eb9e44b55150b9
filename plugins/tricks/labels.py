"""Tricks on the targets D is trained towards (they affect the BCE-type losses and lsgan)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ganx import Params, Trick
from ganx.plugins.randomness import OwnRng


class LabelSmoothing(OwnRng, Trick):
    """Soft targets for D (Salimans et al. 2016; ganhacks #6).

    ``one_sided``: real -> ``real`` (0.9), fake stays 0. ``two_sided``: real -> ``real``, fake -> ``fake``.
    ``random``: each sample's real target ~ U[``real_range``], fake ~ U[``fake_range``], fresh every step.
    """

    name = "label_smoothing"

    class Params(Params):
        mode: Literal["one_sided", "two_sided", "random"] = "one_sided"
        real: float = 0.9
        fake: float = Field(0.1, description="two_sided only")
        real_range: tuple[float, float] = (0.7, 1.2)
        fake_range: tuple[float, float] = (0.0, 0.3)

    def d_targets(self, real_target, fake_target, run):
        from ganx.plugins.randomness import uniform

        p = self.params
        if p.mode == "random":
            return (
                uniform(real_target.shape, *p.real_range, self.rng, real_target),
                uniform(fake_target.shape, *p.fake_range, self.rng, fake_target),
            )
        import torch

        fake = torch.full_like(fake_target, p.fake) if p.mode == "two_sided" else fake_target
        return torch.full_like(real_target, p.real), fake


class NoisyLabels(OwnRng, Trick):
    """Swap D's real and fake targets for a random fraction ``p`` of each batch (ganhacks #6)."""

    name = "noisy_labels"

    class Params(Params):
        p: float = Field(0.05, ge=0, le=1, description="probability that a sample's target is flipped")

    def d_targets(self, real_target, fake_target, run):
        import torch

        flip_real = torch.rand(real_target.shape, generator=self.rng, device=real_target.device) < self.params.p
        flip_fake = torch.rand(fake_target.shape, generator=self.rng, device=fake_target.device) < self.params.p
        return (
            torch.where(flip_real, fake_target, real_target),
            torch.where(flip_fake, real_target, fake_target),
        )


TRICKS = (LabelSmoothing, NoisyLabels)
