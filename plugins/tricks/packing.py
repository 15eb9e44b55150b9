"""PacGAN: D judges m samples at once, which penalizes mode collapse."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ganx import Params, Trick


class Packing(Trick):
    """PacGAN (Lin et al. 2018): D is rebuilt for m samples concatenated (on features or channels)
    and sees each m consecutive real or fake samples as one.

    As in PacGAN's code, ``batch_size`` counts D's packed inputs: each step draws batch_size × m real
    and fake samples, and D returns batch_size logits. With ``batch: samples`` it counts samples
    instead: D sees batch_size / m inputs, and a step costs G no more than without packing.
    """

    name = "packing"

    class Params(Params):
        m: int = Field(2, ge=2, description="samples packed into one D input")
        batch: Literal["inputs", "samples"] = Field(
            "inputs", description="what batch_size counts: D's packed inputs (PacGAN) or the samples drawn"
        )

    @classmethod
    def conflicts(cls, params, config) -> list[str]:
        if config.labels != "none":
            return ["packing rebuilds D for packed samples, which takes no class labels; use labels: none"]
        m, batch = params.m, config.batch_size
        if params.batch == "samples" and batch % m:
            return [f"packing m={m} with batch: samples needs batch_size divisible by {m} (got {batch})"]
        return []

    def setup(self, run):
        from ganx.plugins.layers import Packed

        m = self.params.m
        if self.params.batch == "inputs":
            run.batch_size = run.config.batch_size * m
        channels, *rest = run.data_shape
        inner = run.arch_d.build_discriminator((m * channels, *rest), run.norm_d)
        run.init["d"].apply(inner)
        run.discriminator = Packed(inner, m).to(run.device)


TRICKS = (Packing,)
