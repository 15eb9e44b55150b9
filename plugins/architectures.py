"""Network architectures: each builds G and D from the configured norm and widths."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from ganx import Architecture, Params, hookimpl


class MLP(Architecture):
    """PyTorch-GAN style blocks: Linear -> norm -> activation, for G and for D.

    G's output is tanh for images (data in [-1, 1]) and linear for points, unless ``output`` says
    otherwise. D may use maxout units (Goodfellow et al. 2014) and dropout.
    """

    name = "mlp"

    class Params(Params):
        hidden: list[int] = Field(default=[128, 128], min_length=1)
        activation: Literal["leaky_relu", "relu"] = "leaky_relu"
        slope: float = Field(0.2, ge=0)
        output: Literal["auto", "tanh", "linear", "sigmoid"] = "auto"
        maxout: int = Field(0, ge=0, description="D only: pieces per maxout unit; 0 = plain linear")
        dropout: float = Field(0.0, ge=0, lt=1, description="D only: dropout after each hidden layer")

    def _activation(self):
        from torch import nn

        p = self.params
        return nn.LeakyReLU(p.slope) if p.activation == "leaky_relu" else nn.ReLU()

    def build_generator(self, latent_dim, data_shape, norm):
        from torch import nn

        from ganx.plugins.layers import Reshape

        layers, width = [], latent_dim
        for hidden in self.params.hidden:
            layers += [norm.wrap(nn.Linear(width, hidden)), norm.layer(hidden, False), self._activation()]
            width = hidden
        layers.append(nn.Linear(width, math.prod(data_shape)))
        output = self.params.output
        if output == "auto":
            output = "tanh" if len(data_shape) > 1 else "linear"
        layers += {"tanh": [nn.Tanh()], "sigmoid": [nn.Sigmoid()], "linear": []}[output]
        return nn.Sequential(*layers, Reshape(*data_shape))

    def build_discriminator(self, data_shape, norm):
        from torch import nn

        from ganx.plugins.layers import Logits, Maxout

        p = self.params
        layers, width = [nn.Flatten()], math.prod(data_shape)
        for hidden in p.hidden:
            if p.maxout:
                layers.append(Maxout(width, hidden, p.maxout, wrap=norm.wrap))
            else:
                layers += [norm.wrap(nn.Linear(width, hidden)), norm.layer(hidden, False), self._activation()]
            if p.dropout:
                layers.append(nn.Dropout(p.dropout))
            width = hidden
        return nn.Sequential(*layers, norm.wrap(nn.Linear(width, 1)), Logits())


@hookimpl
def register_architectures(register):
    register(MLP)
