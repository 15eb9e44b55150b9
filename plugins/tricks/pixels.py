"""The networks' pixel range: [0, 1] pixels with a sigmoid G, as in Goodfellow et al. 2014."""

from __future__ import annotations

from ganx import Trick


class UnitRange(Trick):
    """G and D work on pixels in [0, 1], while data, samples and metrics keep ganx's [-1, 1].

    D's input is mapped x ↦ (x + 1)/2, so D sees real data in [0, 1]; G's output y (end G in a
    sigmoid, ``output: sigmoid``) is mapped y ↦ 2y − 1 for the rest of ganx, so D sees y itself.
    List it after ``packing`` (which rebuilds D) and before ``ema`` (which copies G).
    """

    name = "unit_range"
    kinds = ("images",)

    @classmethod
    def conflicts(cls, params, config) -> list[str]:
        if config.labels != "none":
            return ["unit_range wraps G and D in nn.Sequential, which takes no class labels; use labels: none"]
        return []

    def setup(self, run):
        from torch import nn

        from ganx.plugins.layers import Affine

        run.generator = nn.Sequential(run.generator, Affine(2.0, -1.0))
        run.discriminator = nn.Sequential(Affine(0.5, 0.5), run.discriminator)


TRICKS = (UnitRange,)
