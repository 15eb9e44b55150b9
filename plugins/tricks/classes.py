"""Tricks for conditional runs (config ``labels``): an auxiliary classifier on D (AC-GAN)."""

from __future__ import annotations

from pydantic import Field

from ganx import Params, Trick


class AuxiliaryClassifier(Trick):
    """AC-GAN (Odena et al. 2017): D gains a head that classifies each sample from the features its
    logit is computed from. D adds ``weight`` × the cross-entropy of the classes of the real samples
    (their labels) and of the fakes (the labels they were generated for); G adds ``weight`` × the
    cross-entropy of its fakes' classes, so it learns to make each class recognisable.
    """

    name = "acgan"

    class Params(Params):
        weight: float = Field(1.0, gt=0, description="weight of the classification loss, for D and for G")

    @classmethod
    def conflicts(cls, params, config) -> list[str]:
        return [] if config.labels != "none" else ["acgan classifies samples by class, so it needs labels: uniform"]

    def setup(self, run):
        from ganx.plugins.layers import ClassHead

        run.discriminator = ClassHead(run.discriminator, run.num_classes).to(run.device)

    def d_inputs(self, real, fake, run):
        run.discriminator.class_logits.clear()  # D's passes of this step start here
        return real, fake

    def g_inputs(self, fake, run):
        run.discriminator.class_logits.clear()
        return fake

    def adjust_d_loss(self, d_loss, batch, run):
        import torch.nn.functional as F

        seen = run.discriminator.class_logits
        real, fake = seen[0].split([len(batch.real), len(batch.fake)]) if run.joint_d_batch else seen[:2]
        return d_loss + self.params.weight * (F.cross_entropy(real, batch.real_labels)
                                              + F.cross_entropy(fake, batch.fake_labels))

    def adjust_g_loss(self, g_loss, batch, run):
        import torch.nn.functional as F

        return g_loss + self.params.weight * F.cross_entropy(run.discriminator.class_logits[0], batch.fake_labels)


TRICKS = (AuxiliaryClassifier,)
