"""GAN losses, written from D's logits (no sigmoid inside D, so every loss is numerically stable)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ganx import Loss, hookimpl

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


@hookimpl
def register_losses(register):
    register(NonSaturating)
