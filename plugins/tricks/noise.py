"""Instance noise: blur D's view of real and fake so their supports overlap early in training."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from ganx import Params, Trick
from ganx.plugins.randomness import OwnRng


class InstanceNoise(OwnRng, Trick):
    """Gaussian noise on every input D sees, real and fake, in D and G steps (Sønderby et al. 2016; ganhacks #13).

    The std starts at ``std`` and is annealed to 0 at step ``horizon`` (default: the run's length):
    ``linear`` falls in a straight line; ``exponential`` falls by ``decay`` (×100) over the horizon.
    """

    name = "instance_noise"

    class Params(Params):
        std: float = Field(0.1, ge=0)
        horizon: int | None = Field(None, gt=0, description="steps until the noise is 0; None = all steps")
        schedule: Literal["linear", "exponential"] = "linear"
        decay: float = Field(100.0, gt=1, description="exponential only: std(horizon⁻) = std / decay")

    def setup(self, run):
        super().setup(run)
        self.horizon = self.params.horizon or run.config.steps

    def std_at(self, step: int) -> float:
        p = self.params
        if step >= self.horizon:
            return 0.0
        if p.schedule == "linear":
            return p.std * (1 - step / self.horizon)
        return p.std * math.exp(-math.log(p.decay) * step / self.horizon)

    def _noisy(self, x, run):
        from ganx.plugins.randomness import normal

        std = self.std_at(run.step)
        return x + std * normal(x, self.rng) if std else x

    def d_inputs(self, real, fake, run):
        return self._noisy(real, run), self._noisy(fake, run)

    def g_inputs(self, fake, run):
        return self._noisy(fake, run)

    def g_real_inputs(self, real, run):
        return self._noisy(real, run)


TRICKS = (InstanceNoise,)
