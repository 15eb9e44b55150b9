"""Normalizations placed after each hidden layer of G or D (set separately for each)."""

from __future__ import annotations

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


@hookimpl
def register_normalizations(register):
    register(NoNorm)
    register(BatchNorm)
