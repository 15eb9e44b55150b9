"""GAN losses, written from D's logits (no sigmoid inside D, so every loss is numerically stable).

With D(x) = sigmoid(logit): log D = -softplus(-logit) and log(1 - D) = -softplus(logit).
The BCE-type losses (minimax, nsgan, ragan) and lsgan train D towards the targets they are given,
which label tricks may smooth or flip; the others ignore them and declare ``uses_targets = False``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from ganx import Loss, Params, hookimpl
from ganx.plugins.randomness import OwnRng

if TYPE_CHECKING:
    from torch import Tensor


def bce(logits: Tensor, target: Tensor) -> Tensor:
    import torch.nn.functional as F

    return F.binary_cross_entropy_with_logits(logits, target)


class NonSaturating(Loss):
    """Goodfellow et al. 2014, section 3: D maximizes log D(x) + log(1 - D(G(z))); G maximizes log D(G(z))."""

    name = "nsgan"

    def d_loss(self, real_logits, fake_logits, real_target, fake_target):
        return bce(real_logits, real_target) + bce(fake_logits, fake_target)

    def g_loss(self, fake_logits, real_logits):
        import torch.nn.functional as F

        return F.softplus(-fake_logits).mean()


class Minimax(NonSaturating):
    """Goodfellow et al. 2014, eq. 1: G minimizes log(1 - D(G(z))) (saturates when D wins)."""

    name = "minimax"

    def g_loss(self, fake_logits, real_logits):
        import torch.nn.functional as F

        return -F.softplus(fake_logits).mean()


class Wasserstein(Loss):
    """Arjovsky et al. 2017: D (the critic) maximizes E[D(x)] - E[D(G(z))], its weights clipped after each step."""

    name = "wgan"
    batched = True  # clipping is elementwise, so it clips a stacked D's seeds as their own runs
    uses_targets = False

    class Params(Params):
        clip: float = Field(0.01, ge=0, description="clamp D's weights to [-clip, clip] after each D step; 0 = off")

    def d_loss(self, real_logits, fake_logits, real_target, fake_target):
        return fake_logits.mean() - real_logits.mean()

    def g_loss(self, fake_logits, real_logits):
        return -fake_logits.mean()

    def after_d_step(self, run):
        from ganx.plugins.penalties import clip_weights

        if self.params.clip:
            clip_weights(run.discriminator, self.params.clip)

    @classmethod
    def conflicts(cls, params, config) -> list[str]:
        return clip_under_spectral_norm(cls.name, params.clip > 0, config)


def clip_under_spectral_norm(name: str, clips_d: bool, config) -> list[str]:
    """Weight clipping on a spectrally normalized D is refused: both bound D's Lipschitz constant, and
    spectral norm divides the clipped weights by their largest singular value, so the clip no longer
    sets their scale and only distorts them."""
    if not clips_d or config.norm.d.name != "spectral":
        return []
    return [f"{name} weight clipping conflicts with norm.d: spectral (both bound D's Lipschitz constant, "
            "and spectral norm undoes the clip's scale); drop one of them"]


class WassersteinGP(OwnRng, Loss):
    """Gulrajani et al. 2017: the Wasserstein loss plus gp_weight·E[(||∇D(x̂)|| - 1)²], no clipping."""

    name = "wgan-gp"
    uses_targets = False

    class Params(Params):
        gp_weight: float = Field(10.0, ge=0, description="λ of the gradient penalty")

    d_loss = Wasserstein.d_loss
    g_loss = Wasserstein.g_loss

    def adjust_d_loss(self, d_loss, batch, run):
        from ganx.plugins.penalties import critic, unit_gradient_penalty

        penalty = unit_gradient_penalty(critic(run, batch.real_labels), batch.real, batch.fake, self.rng)
        return d_loss + self.params.gp_weight * penalty


class LeastSquares(Loss):
    """Mao et al. 2017: D regresses D(x) to the real target b and D(G(z)) to the fake target a;
    G pushes D(G(z)) to 1."""

    name = "lsgan"

    def d_loss(self, real_logits, fake_logits, real_target, fake_target):
        return 0.5 * ((real_logits - real_target).square().mean() + (fake_logits - fake_target).square().mean())

    def g_loss(self, fake_logits, real_logits):
        return 0.5 * (fake_logits - 1).square().mean()


class Hinge(Loss):
    """Lim & Ye 2017, Miyato et al. 2018: D minimizes E[relu(1 - D(x))] + E[relu(1 + D(G(z)))];
    G minimizes -E[D(G(z))]."""

    name = "hinge"
    uses_targets = False

    def d_loss(self, real_logits, fake_logits, real_target, fake_target):
        return (1 - real_logits).relu().mean() + (1 + fake_logits).relu().mean()

    def g_loss(self, fake_logits, real_logits):
        return -fake_logits.mean()


class RelativisticAverage(Loss):
    """Jolicoeur-Martineau 2018 (RaSGAN): D judges whether real is more realistic than the average fake,
    and vice versa."""

    name = "ragan"
    g_needs_real = True

    def d_loss(self, real_logits, fake_logits, real_target, fake_target):
        return bce(real_logits - fake_logits.mean(), real_target) + bce(fake_logits - real_logits.mean(), fake_target)

    def g_loss(self, fake_logits, real_logits):
        import torch

        real_logits = real_logits.detach()
        return bce(fake_logits - real_logits.mean(), torch.ones_like(fake_logits)) + bce(
            real_logits - fake_logits.mean(), torch.zeros_like(real_logits)
        )


@hookimpl
def register_losses(register):
    for loss in (Minimax, NonSaturating, Wasserstein, WassersteinGP, LeastSquares, Hinge, RelativisticAverage):
        register(loss)
