"""Hybrid models (ganhacks #5: "if you can't use DCGAN, use a hybrid model: KL + GAN or VAE + GAN")."""

from __future__ import annotations

from pydantic import Field

from ganx import Params, Trick
from ganx.plugins.randomness import OwnRng


class VAEGAN(OwnRng, Trick):
    """VAE + GAN (after Larsen et al. 2016): an encoder E(x) -> (μ, log σ²) makes G double as a VAE's
    decoder. Every G step adds ``rec_weight`` × E‖G(z) − x‖² (z = μ + σ·ε, summed over features) and
    ``kl_weight`` × E[KL(N(μ, σ²) ‖ N(0, I))] for a real batch x to G's loss; E is trained on the same
    two terms with Adam at G's learning rate. Larsen et al. measure the reconstruction in D's feature
    space and also show D the reconstructions; this is the plain data-space hybrid.

    E is an MLP on the flattened sample (``hidden`` widths, LeakyReLU 0.2). Its weights, its
    optimizer and the trick's generator (for ε and the real batch, so the run's own data and z
    streams are untouched) are checkpointed. The last batch's terms are kept as ``.rec`` and ``.kl``,
    and logged as ``vae_rec`` and ``vae_kl`` (metrics.jsonl and the loggers).
    """

    name = "vae_gan"

    class Params(Params):
        rec_weight: float = Field(
            1.0, gt=0, description="weight of the reconstruction error (> 0: without it only E would learn)"
        )
        kl_weight: float = Field(1.0, ge=0, description="weight of the KL of the posterior to N(0, I)")
        hidden: list[int] = Field([256], min_length=1, description="the encoder's hidden widths")

    def setup(self, run):
        import math

        import torch
        from torch import nn

        super().setup(run)
        widths = [math.prod(run.data_shape), *self.params.hidden]
        with torch.random.fork_rng(devices=[]):  # its own weights; the global RNG stream is left alone
            torch.manual_seed(run.config.seed + 7_919)
            layers = [m for a, b in zip(widths, widths[1:]) for m in (nn.Linear(a, b), nn.LeakyReLU(0.2))]
            self.encoder = nn.Sequential(nn.Flatten(), *layers, nn.Linear(widths[-1], 2 * run.config.latent_dim))
        self.encoder.to(run.device)
        spec = run.optimizer["g"]
        self.optimizer = torch.optim.Adam(self.encoder.parameters(), spec.lr, betas=spec.betas)

    def real_batch(self, run, n: int):
        """n real samples (and a conditional run's labels) drawn with the trick's own generator."""
        import torch

        idx = torch.randint(len(run.data), (n,), generator=self.rng, device=self.rng.device).to(run.data.device)
        labels = run.labels[idx].to(run.device) if run.num_classes else None
        return run.data[idx].to(run.device), labels

    def adjust_g_loss(self, g_loss, batch, run):
        import torch

        x, labels = self.real_batch(run, len(batch.fake))
        mu, log_var = self.encoder(x).chunk(2, dim=1)
        z = mu + (0.5 * log_var).exp() * torch.randn(mu.shape, generator=self.rng, device=mu.device)
        decoded = run.generator(z) if labels is None else run.generator(z, labels)
        self.rec = (decoded - x).square().flatten(1).sum(1).mean()
        self.kl = 0.5 * (mu.square() + log_var.exp() - 1 - log_var).sum(1).mean()
        run.log("vae_rec", self.rec)
        run.log("vae_kl", self.kl)
        self.optimizer.zero_grad(set_to_none=True)
        return g_loss + self.params.rec_weight * self.rec + self.params.kl_weight * self.kl

    def after_g_step(self, run):
        self.optimizer.step()

    def state_dict(self):
        return {**super().state_dict(), "encoder": self.encoder.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.encoder.load_state_dict(state["encoder"])
        self.optimizer.load_state_dict(state["optimizer"])


TRICKS = (VAEGAN,)
