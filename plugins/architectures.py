"""Network architectures: each builds G and D from the configured norm and widths."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field

from ganx import Architecture, Params, UserError, hookimpl

Width = Annotated[int, Field(gt=0, le=16_384)]  # a 16k × 16k linear layer is 1 GiB of float32
Channels = Annotated[int, Field(gt=0, le=4_096)]  # a 4k × 4k conv with a 5 × 5 kernel is 1.6 GiB


class MLP(Architecture):
    """PyTorch-GAN style blocks: Linear -> norm -> activation, for G and for D.

    G's output is tanh for images (data in [-1, 1]) and linear for points, unless ``output`` says
    otherwise. D may use dropout, and maxout units (Goodfellow et al. 2014) in place of Linear ->
    norm -> activation: Linear -> max over pieces -> norm.
    """

    name = "mlp"

    class Params(Params):
        hidden: list[Width] = Field(default=[128, 128], min_length=1)
        activation: Literal["leaky_relu", "relu"] = "leaky_relu"
        slope: float = Field(0.2, ge=0)
        output: Literal["auto", "tanh", "linear", "sigmoid"] = "auto"
        maxout: int = Field(0, ge=0, description="D only: pieces per maxout unit; 0 = plain linear")
        dropout: float = Field(0.0, ge=0, lt=1, description="D only: dropout after each hidden layer")
        input_dropout: float = Field(
            0.0, ge=0, lt=1, description="D only: dropout on D's input (Goodfellow et al. 2014: 0.2)"
        )
        first_norm: bool = Field(True, description="G only: norm after the first layer (PyTorch-GAN's gan.py has none)")

    def build_generator(self, latent_dim, data_shape, norm):
        from torch import nn

        from ganx.plugins.layers import Reshape, sequential

        p = self.params
        layers, width = [], latent_dim
        for i, hidden in enumerate(p.hidden):
            normed = [norm.layer(hidden, False)] if i or p.first_norm else []
            layers += [norm.wrap(nn.Linear(width, hidden)), *normed, activation(p.activation, p.slope)]
            width = hidden
        layers.append(nn.Linear(width, math.prod(data_shape)))
        output = p.output
        if output == "auto":
            output = "tanh" if len(data_shape) > 1 else "linear"
        layers += {"tanh": [nn.Tanh()], "sigmoid": [nn.Sigmoid()], "linear": []}[output]
        if len(data_shape) > 1:
            layers.append(Reshape(*data_shape))
        return sequential(*layers)

    def build_discriminator(self, data_shape, norm):
        from torch import nn

        from ganx.plugins.layers import Logits, Maxout, sequential

        p = self.params
        layers, width = ([nn.Flatten()] if len(data_shape) > 1 else []), math.prod(data_shape)
        if p.input_dropout:
            layers.append(nn.Dropout(p.input_dropout))
        for hidden in p.hidden:
            if p.maxout:
                layers += [Maxout(width, hidden, p.maxout, wrap=norm.wrap), norm.layer(hidden, False)]
            else:
                layers += [
                    norm.wrap(nn.Linear(width, hidden)), norm.layer(hidden, False), activation(p.activation, p.slope)
                ]
            if p.dropout:
                layers.append(nn.Dropout(p.dropout))
            width = hidden
        return sequential(*layers, norm.wrap(nn.Linear(width, 1)), Logits())


def activation(name: str, slope: float):
    from torch import nn

    return nn.LeakyReLU(slope) if name == "leaky_relu" else nn.ReLU()


def transposed_conv(c_in: int, c_out: int, kernel: int, stride: int, bias: bool):
    """A transposed conv that multiplies the size by exactly ``stride`` (1 or 2), like TF's 'same'."""
    from torch import nn

    padding = (kernel - 1) // 2
    output_padding = stride + 2 * padding - kernel if stride == 2 else 0
    return nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding, output_padding, bias=bias)


def upsamplings(size: int, layers: int) -> int:
    """How many of G's ``layers`` transposed convs double the size: the most that start from >= 4 pixels."""
    return max(k for k in range(layers + 1) if k == 0 or (size % 2**k == 0 and size >> k >= 4))


class DCGAN(Architecture):
    """Radford et al. 2016: strided transposed convs in G, strided convs in D, no pooling (ganhacks #5).

    G: Linear to ``g_widths[0]`` maps of s×s -> norm -> act -> ConvT per remaining width (norm, act)
    -> ConvT to the image channels -> tanh. The last transposed convs have stride 2, as many as
    reach the image size from s >= 4 (28 = 7·2², 32 = 4·2³, 16 = 4·2²); earlier ones stride 1.
    D: a stride-2 Conv per ``d_widths`` entry (norm, act, dropout) -> Linear to one logit.
    """

    name = "dcgan"

    class Params(Params):
        g_widths: list[Channels] = Field(default=[256, 128, 64], min_length=1)
        d_widths: list[Channels] = Field(default=[64, 128], min_length=1)
        kernel: int = Field(5, ge=2, description="must be odd when G has stride-1 layers")
        g_activation: Literal["relu", "leaky_relu"] = "relu"
        d_activation: Literal["relu", "leaky_relu"] = "leaky_relu"
        slope: float = Field(0.2, ge=0, description="LeakyReLU negative slope")
        dropout: float = Field(0.0, ge=0, lt=1, description="D only: dropout after each conv block")
        g_bias: bool = True
        d_bias: bool = True
        d_first_norm: bool = Field(False, description="norm after D's first conv (DCGAN has none)")

    def _check_images(self, data_shape):
        if len(data_shape) != 3:
            raise UserError(f"arch: dcgan needs image data (C×H×W), got samples of shape {tuple(data_shape)}; use mlp")

    def build_generator(self, latent_dim, data_shape, norm):
        from torch import nn

        from ganx.plugins.layers import Reshape, sequential

        self._check_images(data_shape)
        p = self.params
        channels, size, _ = data_shape
        widths = [*p.g_widths, channels]
        ups = upsamplings(size, len(widths) - 1)
        start = size // 2**ups
        if ups < len(widths) - 1 and p.kernel % 2 == 0:
            raise UserError(f"arch.g.dcgan.kernel: {p.kernel} must be odd for G's stride-1 layers at size {size}")
        features = widths[0] * start * start
        layers = [norm.wrap(nn.Linear(latent_dim, features, bias=p.g_bias)), norm.layer(features, False)]
        layers += [activation(p.g_activation, p.slope), Reshape(widths[0], start, start)]
        for i, (c_in, c_out) in enumerate(zip(widths, widths[1:])):
            stride = 2 if i >= len(widths) - 1 - ups else 1
            conv = transposed_conv(c_in, c_out, p.kernel, stride, p.g_bias)
            if i == len(widths) - 2:
                layers += [conv, nn.Tanh()]
            else:
                layers += [norm.wrap(conv), norm.layer(c_out, True), activation(p.g_activation, p.slope)]
        return sequential(*layers)

    def build_discriminator(self, data_shape, norm):
        from torch import nn

        from ganx.plugins.layers import Logits, sequential

        self._check_images(data_shape)
        p = self.params
        channels, size, _ = data_shape
        padding = (p.kernel - 1) // 2
        layers, width = [], channels
        for i, c_out in enumerate(p.d_widths):
            layers.append(norm.wrap(nn.Conv2d(width, c_out, p.kernel, 2, padding, bias=p.d_bias)))
            if i or p.d_first_norm:
                layers.append(norm.layer(c_out, True))
            layers.append(activation(p.d_activation, p.slope))
            if p.dropout:
                layers.append(nn.Dropout(p.dropout))
            size, width = (size + 2 * padding - p.kernel) // 2 + 1, c_out
        layers += [nn.Flatten(), norm.wrap(nn.Linear(width * size * size, 1)), Logits()]
        return sequential(*layers)


@hookimpl
def register_architectures(register):
    register(MLP)
    register(DCGAN)
