"""PacGAN: D judges m samples at once, which penalizes mode collapse."""

from __future__ import annotations

from pydantic import Field

from ganx import Params, Trick, UserError


class Packing(Trick):
    """PacGAN (Lin et al. 2018): D is rebuilt for m samples concatenated (on features or channels)
    and sees each m consecutive real or fake samples as one; it returns batch/m logits."""

    name = "packing"

    class Params(Params):
        m: int = Field(2, ge=2, description="samples packed into one D input")

    @classmethod
    def conflicts(cls, params, config) -> list[str]:
        if config.labels != "none":
            return ["packing rebuilds D for packed samples, which takes no class labels; use labels: none"]
        return []

    def setup(self, run):
        from ganx.plugins.layers import Packed

        m = self.params.m
        if run.config.batch_size % m:
            raise UserError(f"tricks: packing m={m} needs batch_size divisible by {m} (got {run.config.batch_size})")
        channels, *rest = run.data_shape
        inner = run.arch_d.build_discriminator((m * channels, *rest), run.norm_d)
        run.discriminator = Packed(inner, m).to(run.device)


TRICKS = (Packing,)
