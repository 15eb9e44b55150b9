"""Normalizations placed after each hidden layer of G or D (set separately for each).

``layer(c, spatial)`` is the norm after a layer with ``c`` features (``spatial``: a conv feature
map, else a vector); ``wrap(layer)`` wraps the linear/conv layer itself.
"""

from __future__ import annotations

from pydantic import Field

from ganx import Normalization, Params, hookimpl


class NoNorm(Normalization):
    """No normalization."""

    name = "none"


class BatchNorm(Normalization):
    """Batch normalization (Ioffe & Szegedy 2015), as in DCGAN."""

    name = "batch"

    class Params(Params):
        eps: float = 1e-5
        momentum: float = 0.1

    def layer(self, num_features, spatial):
        from torch import nn

        cls = nn.BatchNorm2d if spatial else nn.BatchNorm1d
        return cls(num_features, eps=self.params.eps, momentum=self.params.momentum)


class InstanceNorm(Normalization):
    """Instance normalization (Ulyanov et al. 2016): affine InstanceNorm2d over each sample's conv maps;
    on MLP layers (vectors) a LayerNorm, since a vector's instance is all of its features."""

    name = "instance"

    class Params(Params):
        eps: float = 1e-5

    def layer(self, num_features, spatial):
        from torch import nn

        if spatial:
            return nn.InstanceNorm2d(num_features, eps=self.params.eps, affine=True)
        return nn.LayerNorm(num_features, eps=self.params.eps)


class LayerNorm(Normalization):
    """Layer normalization (Ba et al. 2016) over all of a sample's features (GroupNorm(1, C) on conv maps)."""

    name = "layer"

    class Params(Params):
        eps: float = 1e-5

    def layer(self, num_features, spatial):
        from torch import nn

        if spatial:
            return nn.GroupNorm(1, num_features, eps=self.params.eps)
        return nn.LayerNorm(num_features, eps=self.params.eps)


MIN_VECTOR_GROUP = 4  # features per group, at least, on vectors


class GroupNorm(Normalization):
    """Group normalization (Wu & He 2018): ``groups`` is lowered to the largest divisor of the channel
    count that, on vectors (MLP layers), leaves each group at least ``MIN_VECTOR_GROUP`` features.

    A conv map's group is normalized over its pixels too, a vector's over its features alone. That
    fixes their mean and scale: a group of one feature becomes a constant and a group of two ±1, so
    G's output stops varying with z. A group of four keeps two of its four degrees of freedom.
    """

    name = "group"

    class Params(Params):
        groups: int = Field(32, ge=1, description="the most groups (fewer if they do not divide the channels, "
                                                  "or on vectors leave a group under 4 features)")
        eps: float = 1e-5

    def layer(self, num_features, spatial):
        from torch import nn

        largest = min(self.params.groups, num_features if spatial else num_features // MIN_VECTOR_GROUP)
        groups = max((g for g in range(1, largest + 1) if num_features % g == 0), default=1)
        return nn.GroupNorm(groups, num_features, eps=self.params.eps)


class SpectralNorm(Normalization):
    """Spectral normalization (Miyato et al. 2018): each layer's weight divided by its top singular value."""

    name = "spectral"

    class Params(Params):
        power_iterations: int = Field(1, ge=1, description="power-iteration steps per forward pass")

    def wrap(self, module):
        from torch.nn.utils.parametrizations import spectral_norm

        return spectral_norm(module, n_power_iterations=self.params.power_iterations)


@hookimpl
def register_normalizations(register):
    for norm in (NoNorm, BatchNorm, InstanceNorm, LayerNorm, GroupNorm, SpectralNorm):
        register(norm)
