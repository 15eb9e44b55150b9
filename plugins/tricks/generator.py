"""Tricks on G itself: its prior, noise and dropout inside it, and an averaged copy for evaluation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ganx import Params, Trick, UserError


class Latent(Trick):
    """The prior of z: ``gaussian`` N(0, I) or ``uniform`` U[-1, 1] (ganhacks #3 prefers gaussian)."""

    name = "latent"

    class Params(Params):
        prior: Literal["gaussian", "uniform"] = "gaussian"

    def setup(self, run):
        import torch

        shape, rng, device = run.config.latent_dim, run.rng, run.device
        draw = torch.randn if self.params.prior == "gaussian" else lambda *a, **k: torch.rand(*a, **k) * 2 - 1

        def sample_z(n, generator=None):
            return draw(n, shape, generator=generator or rng, device=device)

        run.sample_z = sample_z


def insert_into_g(run, make, trick: str) -> None:
    from ganx.plugins.layers import insert_after_activations

    if not insert_after_activations(run.generator, make):
        raise UserError(f"tricks: {trick} found no hidden activation in G to put its layer after")


class GDropout(Trick):
    """Dropout after each hidden activation of G, in training and, if ``at_sampling``, when sampling
    (ganhacks #17; pix2pix uses dropout as G's noise)."""

    name = "g_dropout"

    class Params(Params):
        p: float = Field(0.5, gt=0, lt=1)
        at_sampling: bool = False

    def setup(self, run):
        from ganx.plugins.layers import SamplingDropout

        insert_into_g(run, lambda: SamplingDropout(self.params.p), self.name)

    def before_eval(self, run):
        from ganx.plugins.layers import SamplingDropout

        if self.params.at_sampling:
            for module in (run.eval_generator or run.generator).modules():
                if isinstance(module, SamplingDropout):
                    module.train()


class GLayerNoise(Trick):
    """Gaussian noise N(0, std²) added after each hidden activation of G while training (ganhacks #13; EBGAN)."""

    name = "g_layer_noise"

    class Params(Params):
        std: float = Field(0.1, gt=0)

    def setup(self, run):
        from ganx.plugins.layers import GaussianNoise

        insert_into_g(run, lambda: GaussianNoise(self.params.std), self.name)


class EMA(Trick):
    """An exponential moving average of G's weights, updated after each G step and used for evaluation
    (Karras et al. 2018; Yazıcı et al. 2019). Buffers (batch-norm statistics) are copied."""

    name = "ema"

    class Params(Params):
        decay: float = Field(0.999, ge=0, lt=1)

    def setup(self, run):
        import copy

        self.average = copy.deepcopy(run.generator).requires_grad_(False)
        run.eval_generator = self.average

    def after_g_step(self, run):
        import torch

        with torch.no_grad():
            torch._foreach_lerp_(
                list(self.average.parameters()), list(run.generator.parameters()), 1 - self.params.decay
            )
            for average, current in zip(self.average.buffers(), run.generator.buffers()):
                average.copy_(current)

    def state_dict(self):
        return {"average": self.average.state_dict()}

    def load_state_dict(self, state):
        self.average.load_state_dict(state["average"])


TRICKS = (Latent, GDropout, GLayerNoise, EMA)
