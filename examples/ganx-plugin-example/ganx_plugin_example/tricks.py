"""Flooding (Ishida et al. 2020, "Do we need zero training loss after achieving zero training loss?")."""

from __future__ import annotations

from pydantic import Field

from ganx import Params, Trick


class Flooding(Trick):
    """Keep D's loss near a flood level: ``d_loss -> |d_loss - level| + level``.

    Above the level nothing changes; below it D's gradient is reversed, so D cannot overfit its
    loss down to zero and starve G of gradient.
    """

    name = "flooding"

    class Params(Params):
        level: float = Field(0.1, ge=0, description="the flood level b; D's loss is kept at or above it")

    def adjust_d_loss(self, d_loss, batch, run):
        return (d_loss - self.params.level).abs() + self.params.level
