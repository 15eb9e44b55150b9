"""Keeping D Lipschitz: gradient penalties and weight clipping, shared by losses and tricks.

Imported lazily: it imports torch.
"""

from __future__ import annotations

import torch

from ganx.plugins.randomness import uniform


def critic(run, labels):
    """D as a function of its input alone: a conditional run's D with the batch's real labels bound."""
    return run.discriminator if labels is None else lambda x: run.discriminator(x, labels)


def input_gradients(discriminator, x: torch.Tensor) -> torch.Tensor:
    """dD(x)/dx per sample, flattened to ``(batch, features)``, kept in the graph for backward
    (``discriminator``: D, or any function of its input alone, as :func:`critic` gives)."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x).sum(), x, create_graph=True)
    return grad.flatten(1)


def interpolate(a: torch.Tensor, b: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Points on the segments from b to a, one uniform position per sample."""
    eps = uniform((len(a),) + (1,) * (a.dim() - 1), 0.0, 1.0, rng, a)
    return eps * a + (1 - eps) * b


def unit_gradient_penalty(discriminator, real, fake, rng) -> torch.Tensor:
    """E[(||∇D(x̂)|| − 1)²] at x̂ between real and fake (Gulrajani et al. 2017)."""
    grad = input_gradients(discriminator, interpolate(real, fake.detach(), rng))
    return (grad.norm(dim=1) - 1).square().mean()


def r1_penalty(discriminator, real) -> torch.Tensor:
    """E[||∇D(x)||²] on real data (Mescheder et al. 2018); multiply by γ/2."""
    return input_gradients(discriminator, real).square().sum(1).mean()


def dragan_penalty(discriminator, real, rng, spread: float) -> torch.Tensor:
    """The unit gradient penalty around real data perturbed by ``spread``·std·U[0,1) (Kodali et al. 2017)."""
    perturbed = real + spread * real.std() * uniform(real.shape, 0.0, 1.0, rng, real)
    return unit_gradient_penalty(discriminator, real, perturbed, rng)


def clip_weights(module, clip: float) -> None:
    """Clamp every parameter of ``module`` to [-clip, clip] in place (WGAN weight clipping)."""
    with torch.no_grad():
        for p in module.parameters():
            p.clamp_(-clip, clip)
