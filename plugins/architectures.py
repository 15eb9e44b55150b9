"""Network architectures: each builds G and D from the configured norm and widths."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field

from ganx import Architecture, Params, UserError, hookimpl

Width = Annotated[int, Field(gt=0, le=16_384)]  # a 16k × 16k linear layer is 1 GiB of float32
Channels = Annotated[int, Field(gt=0, le=4_096)]  # a 4k × 4k conv with a 5 × 5 kernel is 1.6 GiB


class Conditioning(Params):
    """How a conditional run's G and D take the class label (config ``labels``); ignored otherwise."""

    cond_g: Literal["concat", "cbn", "none"] = Field(
        "concat", description="conditional runs, G: concat (a label embedding joined to z), cbn (conditional "
                              "batch norm; needs norm.g: batch) or none (ignores the label)"
    )
    cond_d: Literal["projection", "concat", "none"] = Field(
        "projection", description="conditional runs, D: projection (Miyato & Koyama 2018), concat (a label "
                                  "embedding joined to x) or none (ignores the label)"
    )


def cbn_needs_batch_norm(params: Conditioning, config) -> list[str]:
    if config.labels != "none" and params.cond_g == "cbn" and config.norm.g.name != "batch":
        return [f"cond_g: cbn is class-conditional batch norm, so it needs norm.g: batch, not {config.norm.g.name}"]
    return []


class MLP(Architecture):
    """PyTorch-GAN style blocks: Linear -> norm -> activation, for G and for D.

    G's output is tanh for images (data in [-1, 1]) and linear for points, unless ``output`` says
    otherwise. D may use dropout, and maxout units (Goodfellow et al. 2014) in place of Linear ->
    norm -> activation: Linear -> max over pieces -> norm.
    """

    name = "mlp"

    class Params(Conditioning):
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

    @classmethod
    def conflicts(cls, params, config) -> list[str]:
        return cbn_needs_batch_norm(params, config)

    def build_generator(self, latent_dim, data_shape, norm, num_classes=0):
        from torch import nn

        from ganx.plugins.layers import Reshape, sequential, with_labels

        p = self.params
        condition = p.cond_g if num_classes else None
        layers, width = [], latent_dim + (num_classes if condition == "concat" else 0)
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
        if condition == "cbn":
            return with_labels(layers, num_classes)
        return labeled(sequential(*layers), condition, num_classes)

    def build_discriminator(self, data_shape, norm, num_classes=0):
        from torch import nn

        from ganx.plugins.layers import Logits, Maxout, Projection, sequential

        p = self.params
        condition = p.cond_d if num_classes else None
        layers, width = ([nn.Flatten()] if len(data_shape) > 1 else []), math.prod(data_shape)
        if condition == "concat":
            layers, width = [], width + num_classes  # ConcatLabels flattens x and joins the label's embedding
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
        net = sequential(*layers, norm.wrap(nn.Linear(width, 1)), Logits())
        if condition == "projection":
            return Projection(net, num_classes, norm.wrap)
        return labeled(net, condition, num_classes)


def labeled(net, condition: str | None, num_classes: int):
    """``net`` as an unconditional run's net (condition None), or taking labels: joined to its
    flattened input as an embedding of ``num_classes`` dims (concat), or ignored (none). A conv D's
    concat and any D's projection are built by the architecture itself."""
    from ganx.plugins.layers import ConcatLabels, IgnoreLabels

    if condition is None:
        return net
    return ConcatLabels(net, num_classes, num_classes) if condition == "concat" else IgnoreLabels(net)


def activation(name: str, slope: float):
    from torch import nn

    return nn.LeakyReLU(slope) if name == "leaky_relu" else nn.ReLU()


def upsamplings(size: int, layers: int) -> int:
    """How many of G's ``layers`` double the size: the most that start from >= 4 pixels."""
    return max(k for k in range(layers + 1) if k == 0 or (size % 2**k == 0 and size >> k >= 4))


Upsample = Literal["transposed", "pixel_shuffle", "nearest"]
Downsample = Literal["stride", "avg_pool", "max_pool"]
UPSAMPLE = "G only: how a layer doubles the size: transposed (a stride-2 transposed conv), pixel_shuffle or nearest"
DOWNSAMPLE = "D only: how a layer halves the size: stride (a stride-2 conv), avg_pool or max_pool (ganhacks #5)"


class DCGAN(Architecture):
    """Radford et al. 2016: by default strided transposed convs in G and strided convs in D, no pooling (ganhacks #5).

    G: Linear to ``g_widths[0]`` maps of s×s -> norm -> act -> ConvT per remaining width (norm, act)
    -> ConvT to the image channels -> tanh. The last transposed convs double the size (as ``upsample``
    says), as many as reach the image size from s >= 4 (28 = 7·2², 32 = 4·2³, 16 = 4·2²); earlier
    ones have stride 1. D: a Conv per ``d_widths`` entry that halves the size (as ``downsample``
    says; norm, act, dropout) -> Linear to one logit.
    """

    name = "dcgan"

    class Params(Conditioning):
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
        upsample: Upsample = Field("transposed", description=UPSAMPLE)
        downsample: Downsample = Field("stride", description=DOWNSAMPLE)

    @classmethod
    def conflicts(cls, params, config) -> list[str]:
        return cbn_needs_batch_norm(params, config)

    def _check_images(self, data_shape):
        if len(data_shape) != 3:
            raise UserError(f"arch: dcgan needs image data (C×H×W), got samples of shape {tuple(data_shape)}; use mlp")

    def build_generator(self, latent_dim, data_shape, norm, num_classes=0):
        from torch import nn

        from ganx.plugins.layers import Reshape, sequential, upsample, with_labels

        self._check_images(data_shape)
        p = self.params
        condition = p.cond_g if num_classes else None
        channels, size, _ = data_shape
        widths = [*p.g_widths, channels]
        ups = upsamplings(size, len(widths) - 1)
        start = size // 2**ups
        if ups < len(widths) - 1 and p.kernel % 2 == 0:
            raise UserError(f"arch.g.dcgan.kernel: {p.kernel} must be odd for G's stride-1 layers at size {size}")
        features = widths[0] * start * start
        inputs = latent_dim + (num_classes if condition == "concat" else 0)
        layers = [norm.wrap(nn.Linear(inputs, features, bias=p.g_bias)), norm.layer(features, False)]
        layers += [activation(p.g_activation, p.slope), Reshape(widths[0], start, start)]
        for i, (c_in, c_out) in enumerate(zip(widths, widths[1:])):
            last = i == len(widths) - 2
            wrap = (lambda m: m) if last else norm.wrap
            if i >= len(widths) - 1 - ups:
                layers += upsample(p.upsample, c_in, c_out, p.kernel, wrap, p.g_bias)
            else:
                layers.append(wrap(nn.ConvTranspose2d(c_in, c_out, p.kernel, 1, (p.kernel - 1) // 2, bias=p.g_bias)))
            layers += [nn.Tanh()] if last else [norm.layer(c_out, True), activation(p.g_activation, p.slope)]
        if condition == "cbn":
            return with_labels(layers, num_classes)
        return labeled(sequential(*layers), condition, num_classes)

    def build_discriminator(self, data_shape, norm, num_classes=0):
        from torch import nn

        from ganx.plugins.layers import LabelChannels, Logits, Projection, downsample, sequential

        self._check_images(data_shape)
        p = self.params
        condition = p.cond_d if num_classes else None
        channels, size, _ = data_shape
        padding = (p.kernel - 1) // 2
        layers, width = [], channels + (num_classes if condition == "concat" else 0)
        for i, c_out in enumerate(p.d_widths):
            layers += downsample(p.downsample, width, c_out, p.kernel, norm.wrap, p.d_bias)
            if i or p.d_first_norm:
                layers.append(norm.layer(c_out, True))
            layers.append(activation(p.d_activation, p.slope))
            if p.dropout:
                layers.append(nn.Dropout(p.dropout))
            size = (size + 2 * padding - p.kernel) // 2 + 1 if p.downsample == "stride" else size // 2
            width = c_out
        net = sequential(*layers, nn.Flatten(), norm.wrap(nn.Linear(width * size * size, 1)), Logits())
        if condition == "projection":
            return Projection(net, num_classes, norm.wrap)
        if condition == "concat":
            return LabelChannels(net, num_classes, num_classes)
        return labeled(net, condition, num_classes)


@hookimpl
def register_architectures(register):
    from ganx.plugins.resnet import ResNet

    register(MLP)
    register(DCGAN)
    register(ResNet)
