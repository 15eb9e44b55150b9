"""vae_gan: G doubles as a VAE's decoder; its reconstructions improve and the KL term pulls the
posterior towards the prior."""

from __future__ import annotations

import pytest
import torch

from ganx import UserError
from ganx.config import validate_run
from ganx.trainer import build_run, d_step, g_step

GRID = {
    "dataset": "grid25", "arch": {"name": "mlp", "hidden": [64, 64]}, "latent_dim": 4, "batch_size": 64,
    "steps": 400, "optimizer": {"lr": 1e-3}, "metrics": ["modes"],
}


def trained(steps: int, **vae):
    run, hooks, _ = build_run(validate_run({**GRID, "tricks": [{"name": "vae_gan", **vae}]}, "run.yaml"))
    (trick,) = [p for p in hooks.plugins if p.name == "vae_gan"]
    for step in range(steps):
        run.step = step
        d_step(run, hooks, measure=False)
        g_step(run, hooks, measure=False)
    return run, trick


def reconstruction_and_kl(run, trick):
    """E‖G(μ(x)) − x‖² and the mean KL on a fixed real batch."""
    x = run.dataset.load(None, "test")[0][:2000]
    with torch.no_grad():
        mu, log_var = trick.encoder(x).chunk(2, dim=1)
        rec = (run.generator(mu) - x).square().sum(1).mean().item()
        kl = 0.5 * (mu.square() + log_var.exp() - 1 - log_var).sum(1).mean().item()
    return rec, kl


def test_reconstructions_improve_over_training():
    before = reconstruction_and_kl(*trained(0))[0]
    after = reconstruction_and_kl(*trained(400))[0]
    assert after < 0.25 * before


def test_the_kl_term_pulls_the_posterior_towards_the_prior():
    with_kl = reconstruction_and_kl(*trained(400, kl_weight=1.0))[1]
    without = reconstruction_and_kl(*trained(400, kl_weight=0.0))[1]
    assert with_kl < 0.5 * without


def test_its_terms_reach_g_and_the_encoder_and_leave_the_run_streams_alone():
    run, trick = trained(1)
    plain, plain_hooks, _ = build_run(validate_run(GRID, "run.yaml"))
    d_step(plain, plain_hooks, measure=False)
    g_step(plain, plain_hooks, measure=False)
    assert torch.equal(run.rng.get_state(), plain.rng.get_state())  # the same data and z drawn
    assert trick.rec > 0 and trick.kl >= 0
    assert all(p.grad is not None for p in trick.encoder.parameters())


def test_the_encoder_and_its_optimizer_survive_a_checkpoint_round_trip():
    _, trick = trained(20)
    _, fresh = trained(0)
    fresh.load_state_dict(trick.state_dict())
    for a, b in zip(trick.encoder.parameters(), fresh.encoder.parameters()):
        assert torch.equal(a, b)
    assert fresh.optimizer.state_dict()["state"].keys() == trick.optimizer.state_dict()["state"].keys()


def test_it_works_with_a_conditional_dcgan_on_digits(tmp_path):
    from ganx.trainer import train

    config = {
        "dataset": "digits", "arch": {"name": "dcgan", "g_widths": [32, 16], "d_widths": [16, 32]}, "latent_dim": 8,
        "batch_size": 32, "steps": 4, "log_every": 2, "labels": "uniform", "norm": {"g": "batch", "d": "none"},
        "tricks": ["vae_gan"], "eval": {"samples": 100}, "metrics": ["class_accuracy"],
    }
    assert 0 <= train(validate_run(config, "run.yaml"), tmp_path)["metrics"]["class_accuracy"] <= 1


def test_no_reconstruction_is_refused_as_a_no_op_for_g():
    with pytest.raises(UserError, match=r"tricks\[0\]\.vae_gan\.rec_weight: .*greater than 0"):
        validate_run({**GRID, "tricks": [{"name": "vae_gan", "rec_weight": 0}]}, "run.yaml")
