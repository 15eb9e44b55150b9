"""Each loss against its formula computed by hand with explicit sigmoids, and one short run of each."""

from __future__ import annotations

import math

import pytest
import torch

from ganx import DBatch
from ganx.config import Spec, validate_run
from ganx.plugin_manager import get_catalog
from ganx.plugins.penalties import clip_weights, input_gradients
from ganx.trainer import build_run

from probe import probed_train

LOSSES = ["minimax", "nsgan", "wgan", "wgan-gp", "lsgan", "hinge", "ragan"]
REAL = torch.tensor([2.0, -1.0, 0.5, 3.0])
FAKE = torch.tensor([-2.0, 0.3, -0.7, 1.0])


def loss(spec):
    return get_catalog().create("loss", Spec.model_validate(spec))


def log_d(x):
    return torch.log(torch.sigmoid(x))


def log_1_minus_d(x):
    return torch.log(1 - torch.sigmoid(x))


def test_catalogue_has_every_loss():
    assert set(LOSSES) <= set(get_catalog().names("loss"))


def test_bce_losses_train_d_towards_the_given_targets():
    real_t, fake_t = torch.full((4,), 0.9), torch.full((4,), 0.1)
    hand = -(real_t * log_d(REAL) + (1 - real_t) * log_1_minus_d(REAL)).mean() - (
        fake_t * log_d(FAKE) + (1 - fake_t) * log_1_minus_d(FAKE)
    ).mean()
    for name in ("minimax", "nsgan"):
        assert loss(name).d_loss(REAL, FAKE, real_t, fake_t) == pytest.approx(float(hand), rel=1e-5)


@pytest.mark.parametrize("name", LOSSES)
def test_uses_targets_says_whether_d_loss_reads_the_targets(name):
    plain = loss(name).d_loss(REAL, FAKE, torch.ones(4), torch.zeros(4))
    smoothed = loss(name).d_loss(REAL, FAKE, torch.full((4,), 0.9), torch.full((4,), 0.1))
    assert (plain != smoothed) == get_catalog().get("loss", name).uses_targets


def test_minimax_g_minimizes_log_one_minus_d_and_saturates():
    assert loss("minimax").g_loss(FAKE, None) == pytest.approx(float(log_1_minus_d(FAKE).mean()), rel=1e-5)
    assert loss("nsgan").g_loss(FAKE, None) == pytest.approx(float(-log_d(FAKE).mean()), rel=1e-5)
    confident = torch.tensor([-12.0], requires_grad=True)  # D is sure the fake is fake
    loss("minimax").g_loss(confident, None).backward()
    saturating = abs(float(confident.grad))
    confident.grad = None
    loss("nsgan").g_loss(confident, None).backward()
    assert saturating < 1e-4 < 0.99 < abs(float(confident.grad))
    assert math.isfinite(loss("minimax").g_loss(torch.tensor([-200.0, 200.0]), None))


def test_wasserstein_and_hinge_formulas():
    ones, zeros = torch.ones(4), torch.zeros(4)
    for name in ("wgan", "wgan-gp"):
        assert loss(name).d_loss(REAL, FAKE, ones, zeros) == pytest.approx(float(FAKE.mean() - REAL.mean()))
        assert loss(name).g_loss(FAKE, None) == pytest.approx(float(-FAKE.mean()))
    hinge = torch.clamp(1 - REAL, min=0).mean() + torch.clamp(1 + FAKE, min=0).mean()
    assert loss("hinge").d_loss(REAL, FAKE, ones, zeros) == pytest.approx(float(hinge))
    assert loss("hinge").g_loss(FAKE, None) == pytest.approx(float(-FAKE.mean()))


def test_lsgan_regresses_logits_to_the_targets():
    real_t, fake_t = torch.full((4,), 0.9), torch.zeros(4)
    hand = 0.5 * ((REAL - 0.9) ** 2).mean() + 0.5 * (FAKE**2).mean()
    assert loss("lsgan").d_loss(REAL, FAKE, real_t, fake_t) == pytest.approx(float(hand))
    assert loss("lsgan").g_loss(FAKE, None) == pytest.approx(float(0.5 * ((FAKE - 1) ** 2).mean()))


def test_ragan_matches_a_hand_computation():
    ragan = loss("ragan")
    assert ragan.g_needs_real
    d_real, d_fake = REAL - FAKE.mean(), FAKE - REAL.mean()
    hand_d = -log_d(d_real).mean() - log_1_minus_d(d_fake).mean()
    hand_g = -log_d(d_fake).mean() - log_1_minus_d(d_real).mean()
    assert ragan.d_loss(REAL, FAKE, torch.ones(4), torch.zeros(4)) == pytest.approx(float(hand_d), rel=1e-5)
    assert ragan.g_loss(FAKE, REAL) == pytest.approx(float(hand_g), rel=1e-5)


def test_input_gradients_of_a_linear_critic_are_its_weights():
    critic = torch.nn.Linear(3, 1)
    grad = input_gradients(lambda x: critic(x).squeeze(1), torch.randn(5, 3))
    assert torch.allclose(grad, critic.weight.expand(5, 3))


def test_weight_clipping_clamps_every_parameter():
    net = torch.nn.Linear(10, 10)
    with torch.no_grad():
        net.weight.mul_(100)
    clip_weights(net, 0.01)
    assert max(float(p.detach().abs().max()) for p in net.parameters()) == pytest.approx(0.01)


def tiny_run(tiny, name, **overrides):
    return validate_run({**tiny, "loss": name, "steps": 8, "log_every": 4, **overrides}, "test")


def test_wgan_clips_d_after_each_d_step_and_clip_0_turns_it_off(tiny):
    run, hooks, _ = build_run(tiny_run(tiny, {"name": "wgan", "clip": 0.001}))
    run.loss.after_d_step(run)
    assert max(float(p.detach().abs().max()) for p in run.discriminator.parameters()) == pytest.approx(0.001)
    run, hooks, _ = build_run(tiny_run(tiny, {"name": "wgan", "clip": 0}))
    before = [p.detach().clone() for p in run.discriminator.parameters()]
    run.loss.after_d_step(run)
    assert all(torch.equal(a, b) for a, b in zip(before, run.discriminator.parameters()))


def test_wgan_gp_adds_the_penalty_of_a_linear_critic(tiny):
    run, hooks, _ = build_run(
        tiny_run(tiny, {"name": "wgan-gp", "gp_weight": 3.0}, arch={"name": "mlp", "hidden": [4]})
    )
    linear = torch.nn.Linear(2, 1)
    run.discriminator = lambda x: linear(x).squeeze(1)
    batch = DBatch(torch.randn(8, 2), torch.randn(8, 2), None, None)
    penalty = run.loss.adjust_d_loss(torch.tensor(0.0), batch, run)
    assert float(penalty.detach()) == pytest.approx(3.0 * (float(linear.weight.detach().norm()) - 1) ** 2, rel=1e-5)


@pytest.mark.parametrize("name", LOSSES)
def test_each_loss_trains_on_grid25(tiny, register_plugin, name):
    probe = probed_train({**tiny, "loss": name, "steps": 8, "log_every": 4}, register_plugin)
    losses = torch.stack(probe.losses)
    assert losses.shape == (8, 2) and torch.isfinite(losses).all()
    assert probe.g_changed()
