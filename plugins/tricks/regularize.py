"""Penalties and clipping that compose with any loss: gradient penalty, R1, DRAGAN, gradient and weight clipping."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ganx import Params, Trick
from ganx.plugins.losses import clip_under_spectral_norm
from ganx.plugins.randomness import OwnRng


class Penalty(OwnRng, Trick):
    """A weighted penalty on D's input gradients, added to D's loss at every D step."""

    def penalty(self, run, batch):
        """The weighted penalty term."""
        raise NotImplementedError

    def adjust_d_loss(self, d_loss, batch, run):
        return d_loss + self.penalty(run, batch)


class GradientPenalty(Penalty):
    """WGAN-GP's λ·E[(||∇D(x̂)|| − 1)²] at random interpolates of real and fake (Gulrajani et al. 2017)."""

    name = "gradient_penalty"

    class Params(Params):
        weight: float = Field(10.0, ge=0, description="λ")

    def penalty(self, run, batch):
        from ganx.plugins.penalties import critic, unit_gradient_penalty

        d = critic(run, batch.real_labels)
        return self.params.weight * unit_gradient_penalty(d, batch.real, batch.fake, self.rng)


class R1(Penalty):
    """(γ/2)·E[||∇D(x)||²] on real data (Mescheder et al. 2018)."""

    name = "r1"

    class Params(Params):
        gamma: float = Field(10.0, ge=0, description="γ")

    def penalty(self, run, batch):
        from ganx.plugins.penalties import critic, r1_penalty

        return self.params.gamma / 2 * r1_penalty(critic(run, batch.real_labels), batch.real)


class DRAGAN(Penalty):
    """λ·E[(||∇D(x̂)|| − 1)²] around real data perturbed by spread·std(x)·U[0,1) (Kodali et al. 2017)."""

    name = "dragan"

    class Params(Params):
        weight: float = Field(10.0, ge=0, description="λ")
        spread: float = Field(0.5, gt=0, description="perturbation scale, times the batch std")

    def penalty(self, run, batch):
        from ganx.plugins.penalties import critic, dragan_penalty

        d = critic(run, batch.real_labels)
        return self.params.weight * dragan_penalty(d, batch.real, self.rng, self.params.spread)


Nets = Literal["d", "g", "both"]


class GradClip(Trick):
    """Clip the gradient norm of G's and/or D's parameters before each optimizer step."""

    name = "grad_clip"

    class Params(Params):
        max_norm: float = Field(10.0, gt=0)
        nets: Nets = "both"

    def _clip(self, module):
        import torch

        torch.nn.utils.clip_grad_norm_(module.parameters(), self.params.max_norm, foreach=True)

    def before_d_step(self, run):
        if self.params.nets != "g":
            self._clip(run.discriminator)

    def before_g_step(self, run):
        if self.params.nets != "d":
            self._clip(run.generator)


class WeightClip(Trick):
    """Clamp the weights of D (or G, or both) to [-clip, clip] after each of its steps
    (WGAN's constraint, for any loss)."""

    name = "weight_clip"
    batched = True  # clipping is elementwise, so it clips a stacked net's seeds as their own runs

    class Params(Params):
        clip: float = Field(0.01, gt=0)
        nets: Nets = "d"

    def after_d_step(self, run):
        from ganx.plugins.penalties import clip_weights

        if self.params.nets != "g":
            clip_weights(run.discriminator, self.params.clip)

    def after_g_step(self, run):
        from ganx.plugins.penalties import clip_weights

        if self.params.nets != "d":
            clip_weights(run.generator, self.params.clip)

    @classmethod
    def conflicts(cls, params, config) -> list[str]:
        return clip_under_spectral_norm(cls.name, params.nets != "g", config)


TRICKS = (GradientPenalty, R1, DRAGAN, GradClip, WeightClip)
