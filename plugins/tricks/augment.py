"""Differentiable augmentation of every image D sees (DiffAugment), with ADA's adaptive probability."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ganx import Params, Trick
from ganx.plugins.randomness import OwnRng

TRANSLATION = 0.125  # the largest shift, as a fraction of the image's height and width
CUTOUT = 0.5  # the side of the cut-out square, as a fraction of the image's height and width


class DiffAugment(OwnRng, Trick):
    """DiffAugment (Zhao et al. 2020): the same random, differentiable augmentations on every batch D
    sees, real and fake, in D steps and in G steps, so G learns through them. Images only.

    Each augmentation of ``policy`` (brightness, saturation and contrast for ``color``) is applied to each
    sample with probability ``p``. With ``ada`` (Karras et al. 2020), every ``ada_interval`` D steps p moves
    by batch_size·ada_interval / (ada_kimg·1000) up if r_t = E[sign(D(real))] > ``ada_target`` (D
    overfits), down if below, within [0, 1], and is logged as ``ada_p``.
    """

    name = "diffaugment"
    kinds = ("images",)

    class Params(Params):
        policy: list[Literal["color", "translation", "cutout"]] = Field(
            ["color", "translation", "cutout"], min_length=1,
            description="augmentations in order; a list or a comma string like 'color,translation,cutout'",
        )
        p: float | None = Field(
            None, ge=0, le=1, description="probability of each augmentation per sample; None = 1, or 0 with ada"
        )
        ada: bool = Field(False, description="adapt p to D's overfitting (ADA); p is then its start")
        ada_target: float = Field(0.6, gt=0, lt=1, description="ada: the E[sign(D(real))] that p aims for")
        ada_interval: int = Field(4, gt=0, description="ada: D steps between adjustments of p")
        ada_kimg: float = Field(500.0, gt=0, description="ada: thousands of real images for p to move by 1")

        @field_validator("policy", mode="before")
        @classmethod
        def _split(cls, policy):
            return [part.strip() for part in policy.split(",")] if isinstance(policy, str) else policy

    def setup(self, run):
        import torch

        super().setup(run)
        p = self.params
        self.p = float(not p.ada) if p.p is None else p.p
        self.images_per_interval = run.batch_size * p.ada_interval
        self.signs = torch.zeros((), device=run.device)  # sum over this interval of each D step's mean sign
        self.d_steps = 0  # D steps in this interval

    def augment(self, x):
        """``x`` with each augmentation of the policy applied to each sample with probability p."""
        if self.p == 0:
            return x
        for policy in self.params.policy:
            for op in OPS[policy]:
                x = self.gated(x, op(x, self.rng))
        return x.contiguous()

    def gated(self, x, augmented):
        """``augmented`` for a random fraction p of the samples, ``x`` for the others."""
        import torch

        from ganx.plugins.randomness import uniform

        if self.p == 1:
            return augmented
        chosen = uniform((len(x), 1, 1, 1), 0.0, 1.0, self.rng, x) < self.p
        return torch.where(chosen, augmented, x)

    def d_inputs(self, real, fake, run):
        return self.augment(real), self.augment(fake)

    def g_inputs(self, fake, run):
        return self.augment(fake)

    def g_real_inputs(self, real, run):
        return self.augment(real)

    def after_d_step(self, run):
        if not self.params.ada:
            return
        self.signs += run.last["real_logits"].sign().mean()  # stays on the device until the interval ends
        self.d_steps += 1
        if self.d_steps == self.params.ada_interval:
            self.images_per_interval = run.batch_size * self.params.ada_interval  # a later trick's setup may set it
            self.adapt((self.signs / self.d_steps).item())
            self.signs.zero_()
            self.d_steps = 0
        run.log("ada_p", self.p)

    def adapt(self, r_t: float) -> None:
        """ADA's update of p from r_t, the interval's mean sign of D's real logits."""
        direction = (r_t > self.params.ada_target) - (r_t < self.params.ada_target)
        self.p = min(max(self.p + direction * self.images_per_interval / (self.params.ada_kimg * 1000), 0.0), 1.0)

    def state_dict(self):
        return {**super().state_dict(), "p": self.p, "signs": self.signs.clone(), "d_steps": self.d_steps}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.p, self.d_steps = state["p"], state["d_steps"]
        self.signs = state["signs"].to(self.rng.device)


def brightness(x, rng):
    """Adds U[-0.5, 0.5) to each image."""
    from ganx.plugins.randomness import uniform

    return x + uniform((len(x), 1, 1, 1), -0.5, 0.5, rng, x)


def saturation(x, rng):
    """Scales each pixel's distance from its mean over channels by U[0, 2), one factor per image."""
    from ganx.plugins.randomness import uniform

    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * uniform((len(x), 1, 1, 1), 0.0, 2.0, rng, x) + mean


def contrast(x, rng):
    """Scales each image's distance from its mean by U[0.5, 1.5)."""
    from ganx.plugins.randomness import uniform

    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * uniform((len(x), 1, 1, 1), 0.5, 1.5, rng, x) + mean


def translation(x, rng):
    """Shifts each image by a whole number of pixels, up to TRANSLATION of its size each way; zeros fill in."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = x.shape
    rows = torch.arange(h, device=x.device).view(1, h, 1) + random_shift(h, n, rng, x).view(n, 1, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w) + random_shift(w, n, rng, x).view(n, 1, 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # a zero border, read by pixels shifted out of range
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded[batch, (rows + 1).clamp(0, h + 1), (cols + 1).clamp(0, w + 1)].permute(0, 3, 1, 2)


def random_shift(size: int, n: int, rng, x):
    """n whole shifts, uniform in [-s, s] with s = round(size·TRANSLATION)."""
    import torch

    s = int(size * TRANSLATION + 0.5)
    return torch.randint(-s, s + 1, (n,), generator=rng, device=x.device)


def cutout(x, rng):
    """Zeroes a square with sides CUTOUT of the image's, centred anywhere in it (clipped at the border)."""
    n, _, h, w = x.shape
    hole = random_span(h, n, rng, x).view(n, 1, h, 1) & random_span(w, n, rng, x).view(n, 1, 1, w)
    return x.masked_fill(hole, 0)


def random_span(size: int, n: int, rng, x):
    """n masks over ``size`` positions, each of a run of round(size·CUTOUT) with a random centre."""
    import torch

    length = int(size * CUTOUT + 0.5)
    centre = torch.randint(0, size + 1 - length % 2, (n, 1), generator=rng, device=x.device)
    start = centre - length // 2
    positions = torch.arange(size, device=x.device)
    return (positions >= start) & (positions < start + length)


OPS = {"color": (brightness, saturation, contrast), "translation": (translation,), "cutout": (cutout,)}

TRICKS = (DiffAugment,)
