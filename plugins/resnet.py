"""The ResNet G and D of SNGAN and WGAN-GP for small images, built from residual blocks."""

from __future__ import annotations

from pydantic import Field

from ganx import Architecture, UserError
from ganx.plugins.architectures import (
    DOWNSAMPLE,
    UPSAMPLE,
    Channels,
    Conditioning,
    Downsample,
    Upsample,
    cbn_needs_batch_norm,
    labeled,
    upsamplings,
)

G_BLOCKS = 3  # the most up-blocks: SNGAN's G at 32×32 has three, from 4×4
D_BLOCKS, D_HALVINGS = 4, 2  # SNGAN's D at 32×32: four blocks, the first two halve the size


class ResNet(Architecture):
    """SNGAN's CIFAR ResNet (Miyato et al. 2018; Gulrajani et al. 2017), as mimicry's ``SNGANGenerator32``
    and ``SNGANDiscriminator32`` (kwotsin/mimicry: torch_mimicry/nets/sngan/sngan_32.py and
    torch_mimicry/modules/resblocks.py).

    G: Linear(z -> ``ngf`` maps of s×s) -> up-blocks -> norm -> ReLU -> conv3 to the image channels -> tanh.
    An up-block is norm -> ReLU -> conv3 that doubles the size -> norm -> ReLU -> conv3, plus a 1×1 conv
    that doubles the size. There are as many as reach the image size from s >= 4 (as SNGAN's 4×4):
    3 at 32 (from 4×4), 2 at 28 (7×7), 2 at 16 (4×4), 1 at 8 (4×4).
    D: four blocks of ``ndf`` channels -> ReLU -> global sum pooling -> Linear to one logit. The first
    two halve the size (32 -> 8, 28 -> 7, 16 -> 4, 8 -> 2). The first block is conv3 -> ReLU -> conv3
    that halves, plus a 1×1 conv that halves; the others are norm -> ReLU -> conv3 -> norm -> ReLU ->
    conv3 (halving in the second, with a 1×1 conv shortcut; identity shortcut after).
    SNGAN is ``norm: {g: batch, d: spectral}``: its D has no norm layer where this one puts ``norm.d``'s
    (Gulrajani et al.'s may layer-norm there). Resizing follows ``upsample`` and ``downsample``:
    SNGAN's nearest and avg_pool by default (mimicry's G upsamples bilinearly).
    """

    name = "resnet"

    class Params(Conditioning):
        ngf: Channels = Field(256, description="G's channels")
        ndf: Channels = Field(128, description="D's channels")
        upsample: Upsample = Field("nearest", description=UPSAMPLE)
        downsample: Downsample = Field("avg_pool", description=DOWNSAMPLE)

    @classmethod
    def conflicts(cls, params, config) -> list[str]:
        return cbn_needs_batch_norm(params, config)

    def _check_images(self, data_shape) -> tuple[int, int]:
        if len(data_shape) != 3 or data_shape[1] % 2**D_HALVINGS:
            raise UserError(f"arch: resnet needs C×H×W images of a size divisible by 4, got {tuple(data_shape)}")
        return data_shape[0], data_shape[1]

    def build_generator(self, latent_dim, data_shape, norm, num_classes=0):
        from torch import nn

        from ganx.plugins.layers import Reshape, sequential, with_labels

        channels, size = self._check_images(data_shape)
        p = self.params
        condition = p.cond_g if num_classes else None

        def chain(layers):  # with cond_g: cbn, each batch norm is conditional and takes the labels
            return with_labels(layers, num_classes) if condition == "cbn" else sequential(*layers)

        ups = upsamplings(size, G_BLOCKS)
        start = size >> ups
        inputs = latent_dim + (num_classes if condition == "concat" else 0)
        g = chain([
            norm.wrap(nn.Linear(inputs, p.ngf * start * start)), Reshape(p.ngf, start, start),
            *(self._up_block(norm, chain) for _ in range(ups)),
            norm.layer(p.ngf, True), nn.ReLU(), conv3(p.ngf, channels, norm), nn.Tanh(),
        ])
        return g if condition == "cbn" else labeled(g, condition, num_classes)

    def _up_block(self, norm, chain):
        """norm -> ReLU -> conv3 that doubles the size -> norm -> ReLU -> conv3, plus a 1×1 conv that doubles it."""
        from torch import nn

        from ganx.plugins.layers import Residual, sequential, upsample

        c, kind = self.params.ngf, self.params.upsample
        up = upsample(kind, c, c, 3, norm.wrap)
        residual = [norm.layer(c, True), nn.ReLU(), *up, norm.layer(c, True), nn.ReLU(), conv3(c, c, norm)]
        return Residual(chain(residual), sequential(*upsample(kind, c, c, 1, norm.wrap)))

    def build_discriminator(self, data_shape, norm, num_classes=0):
        from torch import nn

        from ganx.plugins.layers import LabelChannels, Logits, Projection, SumPool, sequential

        channels, _ = self._check_images(data_shape)
        p = self.params
        condition = p.cond_d if num_classes else None
        c_in = channels + (num_classes if condition == "concat" else 0)
        blocks = [self._down_block(c_in if i == 0 else p.ndf, i, norm) for i in range(D_BLOCKS)]
        net = sequential(*blocks, nn.ReLU(), SumPool(), norm.wrap(nn.Linear(p.ndf, 1)), Logits())
        if condition == "projection":
            return Projection(net, num_classes, norm.wrap)
        if condition == "concat":
            return LabelChannels(net, num_classes, num_classes)
        return labeled(net, condition, num_classes)

    def _down_block(self, c_in, index, norm):
        """D's block ``index``: [norm -> ReLU ->] conv3 -> [norm ->] ReLU -> conv3, the last conv and a 1×1
        conv shortcut halving the size in the first ``D_HALVINGS`` blocks (identity shortcut after). The
        first block has no norm and no activation on the image."""
        from torch import nn

        from ganx.plugins.layers import Residual, downsample, sequential

        c, kind, first, halves = self.params.ndf, self.params.downsample, index == 0, index < D_HALVINGS
        before = [] if first else [norm.layer(c_in, True), nn.ReLU()]
        between = [] if first else [norm.layer(c, True)]
        last = downsample(kind, c, c, 3, norm.wrap) if halves else [conv3(c, c, norm)]
        residual = sequential(*before, conv3(c_in, c, norm), *between, nn.ReLU(), *last)
        return Residual(residual, sequential(*downsample(kind, c_in, c, 1, norm.wrap)) if halves else nn.Identity())


def conv3(c_in: int, c_out: int, norm):
    """A ``norm``-wrapped 3×3 conv that keeps the size."""
    from torch import nn

    return norm.wrap(nn.Conv2d(c_in, c_out, 3, padding=1))
