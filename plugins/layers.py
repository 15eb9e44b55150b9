"""Small torch modules the built-in architectures and tricks share. Imported lazily: it imports torch."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def sequential(*layers: nn.Module) -> nn.Sequential:
    """``nn.Sequential`` without no-op layers (a norm of ``none`` is an Identity): they cost time every step."""
    return nn.Sequential(*(layer for layer in layers if not isinstance(layer, nn.Identity)))


class Maxout(nn.Module):
    """A linear layer with ``pieces`` outputs per unit, keeping the max (Goodfellow et al. 2013)."""

    def __init__(self, in_features: int, out_features: int, pieces: int, wrap=lambda m: m):
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = wrap(nn.Linear(in_features, out_features * pieces))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).view(*x.shape[:-1], self.out_features, self.pieces).amax(-1)

    def stack_seeds(self, copies: list[Maxout], net) -> Callable[[torch.Tensor], torch.Tensor]:
        """K seeds' copies as one layer over ``(K, batch, in)`` inputs (``ganx.stacked``)."""
        linear = net.stack_layer([m.linear for m in copies], "Maxout's linear")
        return lambda x: linear(x).unflatten(-1, (self.out_features, self.pieces)).amax(-1)


class Reshape(nn.Module):
    """Reshape the features of each sample to ``shape``."""

    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(len(x), *self.shape)

    def stack_seeds(self, copies: list[Reshape], net) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: x.view(*x.shape[:2], *self.shape)


class Affine(nn.Module):
    """``x * scale + shift``, elementwise (e.g. between the harness's [-1, 1] pixels and [0, 1])."""

    def __init__(self, scale: float, shift: float):
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift

    def extra_repr(self) -> str:
        return f"scale={self.scale}, shift={self.shift}"

    def stack_seeds(self, copies: list[Affine], net) -> Callable[[torch.Tensor], torch.Tensor]:
        return self  # elementwise


class Logits(nn.Module):
    """Flatten D's final ``(batch, 1, ...)`` output to one logit per sample."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(len(x))

    def stack_seeds(self, copies: list[Logits], net) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda x: x.reshape(x.shape[:2])


class GaussianNoise(nn.Module):
    """Adds N(0, std²) noise in training mode; the identity in eval mode."""

    def __init__(self, std: float):
        super().__init__()
        self.std = std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.std * torch.randn_like(x) if self.training else x


class SamplingDropout(nn.Dropout):
    """Dropout inserted into G by the ``g_dropout`` trick (a distinct type, so it can be found again)."""


ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU)


def insert_after_activations(module: nn.Module, make) -> int:
    """Replace each hidden activation ``a`` inside ``module`` by ``Sequential(a, make())``; return how many."""
    count = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, ACTIVATIONS):
                setattr(parent, name, nn.Sequential(child, make()))
                count += 1
    return count


class SumPool(nn.Module):
    """Global sum pooling: a ``(batch, C, H, W)`` map to ``(batch, C)`` features (SNGAN's D)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum((2, 3))


class Residual(nn.Module):
    """``residual(x) + shortcut(x)`` (He et al. 2016); it takes class labels when ``residual`` does
    (a LabeledSequential, whose conditional batch norms need them)."""

    def __init__(self, residual: nn.Sequential, shortcut: nn.Module):
        super().__init__()
        self.residual, self.shortcut = residual, shortcut
        self.takes_labels = isinstance(residual, LabeledSequential)

    def forward(self, x: torch.Tensor, *labels: torch.Tensor) -> torch.Tensor:
        return self.residual(x, *labels) + self.shortcut(x)


def upsample(kind: str, c_in: int, c_out: int, kernel: int, wrap=lambda m: m, bias: bool = True) -> list[nn.Module]:
    """Layers that double a map's size and take it from ``c_in`` to ``c_out`` channels with a
    ``kernel``-wide conv (``wrap``-ed): ``transposed`` (a stride-2 ConvTranspose2d), ``pixel_shuffle``
    (a conv to 4·``c_out`` channels, then PixelShuffle(2); Shi et al. 2016) or ``nearest``
    (nearest-neighbour ×2, then a conv)."""
    if kind == "transposed":
        padding = (kernel - 1) // 2
        return [wrap(nn.ConvTranspose2d(c_in, c_out, kernel, 2, padding, 2 + 2 * padding - kernel, bias=bias))]
    if kind == "pixel_shuffle":
        return [wrap(nn.Conv2d(c_in, 4 * c_out, kernel, padding="same", bias=bias)), nn.PixelShuffle(2)]
    return [nn.Upsample(scale_factor=2), wrap(nn.Conv2d(c_in, c_out, kernel, padding="same", bias=bias))]


def downsample(kind: str, c_in: int, c_out: int, kernel: int, wrap=lambda m: m, bias: bool = True) -> list[nn.Module]:
    """Layers that halve a map's size and take it from ``c_in`` to ``c_out`` channels with a
    ``kernel``-wide conv (``wrap``-ed): ``stride`` (a stride-2 conv), ``avg_pool`` or ``max_pool``
    (a conv, then AvgPool2d(2) or MaxPool2d(2))."""
    if kind == "stride":
        return [wrap(nn.Conv2d(c_in, c_out, kernel, 2, (kernel - 1) // 2, bias=bias))]
    pool = nn.AvgPool2d(2) if kind == "avg_pool" else nn.MaxPool2d(2)
    return [wrap(nn.Conv2d(c_in, c_out, kernel, padding="same", bias=bias)), pool]


class Packed(nn.Module):
    """PacGAN's packing (Lin et al. 2018): D sees each m consecutive samples as one, concatenated on dim 1."""

    def __init__(self, discriminator: nn.Module, m: int):
        super().__init__()
        self.discriminator, self.m = discriminator, m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator(x.reshape(len(x) // self.m, self.m * x.shape[1], *x.shape[2:]))


# --- conditional GANs: how G and D take a class label ------------------------------------------


class ConditionalBatchNorm(nn.Module):
    """Batch norm whose scale and shift are looked up per class (Dumoulin et al. 2017; de Vries et al. 2017):
    normalize with the batch's statistics, then ``x * scale[y] + shift[y]`` (scale starts at 1, shift at 0)."""

    takes_labels = True

    def __init__(self, num_features: int, num_classes: int, spatial: bool, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.norm = (nn.BatchNorm2d if spatial else nn.BatchNorm1d)(num_features, eps, momentum, affine=False)
        self.scale = nn.Embedding(num_classes, num_features)
        self.shift = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.scale.weight)
        nn.init.zeros_(self.shift.weight)

    @classmethod
    def like(cls, norm: nn.Module, num_classes: int) -> ConditionalBatchNorm:
        """The class-conditional form of a BatchNorm1d/2d (its features, eps and momentum)."""
        if not isinstance(norm, nn.BatchNorm1d | nn.BatchNorm2d):
            raise ValueError(f"conditional batch norm replaces batch norm, not {type(norm).__name__}")
        spatial = isinstance(norm, nn.BatchNorm2d)
        return cls(norm.num_features, num_classes, spatial, norm.eps, norm.momentum)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        shape = (len(x), -1) + (1,) * (x.dim() - 2)
        return self.norm(x) * self.scale(labels).view(shape) + self.shift(labels).view(shape)


class LabeledSequential(nn.Sequential):
    """``nn.Sequential`` that also hands the class labels to the layers that take them (those whose
    ``takes_labels`` is true: conditional batch norm, a residual block holding one)."""

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = layer(x, labels) if getattr(layer, "takes_labels", False) else layer(x)
        return x


def with_labels(layers: list[nn.Module], num_classes: int) -> LabeledSequential:
    """``layers`` as a LabeledSequential, each batch norm made class-conditional (no-op layers dropped)."""
    return LabeledSequential(*(
        ConditionalBatchNorm.like(layer, num_classes) if isinstance(layer, nn.BatchNorm1d | nn.BatchNorm2d) else layer
        for layer in layers if not isinstance(layer, nn.Identity)
    ))


class ConcatLabels(nn.Module):
    """A net whose (flattened) input is joined with a learned embedding of the class label
    (Mirza & Osindero 2014): G gets ``[z, e(y)]``, an MLP D ``[x, e(y)]``."""

    def __init__(self, net: nn.Module, num_classes: int, dim: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, dim)
        self.net = net

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x.flatten(1), self.embed(labels)], 1))


class LabelChannels(nn.Module):
    """A conv D whose image is joined with the class label's embedding as constant extra channels."""

    def __init__(self, net: nn.Module, num_classes: int, channels: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, channels)
        self.net = net

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        maps = self.embed(labels)[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.net(torch.cat([x, maps], 1))


class Projection(nn.Module):
    """A projection discriminator (Miyato & Koyama 2018): D's logit ψ(φ(x)) plus ⟨e(y), φ(x)⟩, the inner
    product of a class embedding with D's last features φ(x)."""

    def __init__(self, d: nn.Sequential, num_classes: int, wrap=lambda m: m):
        super().__init__()
        *features, head, logits = d
        if not isinstance(head, nn.Linear) or not isinstance(logits, Logits):
            raise ValueError("a projection D needs a D that ends in a Linear to one logit, then Logits")
        self.features, self.head = nn.Sequential(*features), head
        self.embed = wrap(nn.Embedding(num_classes, head.in_features))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.head(h).reshape(len(x)) + (self.embed(labels) * h).sum(1)


class IgnoreLabels(nn.Module):
    """A net that is handed class labels and ignores them (the control arm of a conditional ablation)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ClassHead(nn.Module):
    """D with a second head: a Linear from the features D's last Linear (its logit head) reads to one
    logit per class. Each pass of D appends its class logits to ``class_logits`` (AC-GAN)."""

    def __init__(self, d: nn.Module, num_classes: int):
        super().__init__()
        self.d = d
        head = [m for m in d.modules() if isinstance(m, nn.Linear)][-1]
        self.classify = nn.Linear(head.in_features, num_classes)
        self.class_logits: list[torch.Tensor] = []
        head.register_forward_pre_hook(self.classify_features)  # a method, so a deep copy hooks its own head

    def classify_features(self, head: nn.Linear, inputs: tuple[torch.Tensor]) -> None:
        self.class_logits.append(self.classify(inputs[0]))

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.d(*inputs)
