"""The relativistic standard GAN loss (Jolicoeur-Martineau 2018, "The relativistic discriminator")."""

from __future__ import annotations

from ganx import Loss


class RelativisticStandard(Loss):
    """RSGAN: D estimates the probability that a real sample is more realistic than a fake one.

    ``d_loss = E[softplus(-(C(x_r) - C(x_f)))]`` and ``g_loss = E[softplus(-(C(x_f) - C(x_r)))]``,
    pairing the i-th real sample with the i-th fake. The targets given to ``d_loss`` are ignored
    (``uses_targets = False``), so ganx refuses label tricks with this loss.
    """

    name = "rsgan"
    g_needs_real = True  # ask the trainer for D's logits on a real batch in the G step
    uses_targets = False  # d_loss ignores real_target and fake_target

    def d_loss(self, real_logits, fake_logits, real_target, fake_target):
        import torch.nn.functional as F

        return F.softplus(fake_logits - real_logits).mean()

    def g_loss(self, fake_logits, real_logits):
        import torch.nn.functional as F

        return F.softplus(real_logits - fake_logits).mean()
