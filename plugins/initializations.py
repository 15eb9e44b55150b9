"""How G's and D's weights start (the seed documents' stabilizer #3; DCGAN's N(0, 0.02)).

Each scheme draws every linear and conv weight and zeroes the biases, with norm layers' scales
at 1 and shifts at 0 (:class:`ganx.Initialization`); ``default`` keeps PyTorch's own.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ganx import Initialization, Params, hookimpl


class Default(Initialization):
    """PyTorch's own initialization of each layer (Kaiming-uniform weights, small uniform biases): no change."""

    name = "default"

    def apply(self, net):
        pass


class Normal(Initialization):
    """Weights ~ N(0, std²), as DCGAN (Radford et al. 2016) and PacGAN use with std 0.02."""

    name = "normal"

    class Params(Params):
        std: float = Field(0.02, gt=0, description="standard deviation of each weight")

    def weight_(self, weight):
        from torch import nn

        nn.init.normal_(weight, 0.0, self.params.std)


class Xavier(Initialization):
    """Glorot & Bengio 2010: weights ~ U[-a, a] with a = gain·√(6 / (fan_in + fan_out))."""

    name = "xavier"

    class Params(Params):
        gain: float = Field(1.0, gt=0)

    def weight_(self, weight):
        from torch import nn

        nn.init.xavier_uniform_(weight, self.params.gain)


class Kaiming(Initialization):
    """He et al. 2015: weights ~ N(0, 2 / ((1 + a²)·fan_in)), for (leaky) ReLU layers with slope ``a``."""

    name = "kaiming"

    class Params(Params):
        a: float = Field(0.2, ge=0, description="negative slope of the leaky ReLU that follows (0: ReLU)")
        mode: Literal["fan_in", "fan_out"] = "fan_in"

    def weight_(self, weight):
        from torch import nn

        nn.init.kaiming_normal_(weight, self.params.a, self.params.mode, "leaky_relu")


class Orthogonal(Initialization):
    """Saxe et al. 2014, as BigGAN (Brock et al. 2019) uses: each weight, flattened to a matrix, is
    ``gain`` times a (semi-)orthogonal one."""

    name = "orthogonal"

    class Params(Params):
        gain: float = Field(1.0, gt=0)

    def weight_(self, weight):
        from torch import nn

        nn.init.orthogonal_(weight, self.params.gain)


@hookimpl
def register_initializations(register):
    for init in (Default, Normal, Xavier, Kaiming, Orthogonal):
        register(init)
