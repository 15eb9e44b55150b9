"""Each trick's effect, tested at the hook points the trainer calls, plus runs with every trick at once."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganx import DBatch, TrainingFailure, Trick, UserError, hookimpl
from ganx.config import validate_run
from ganx.plugins.layers import GaussianNoise, Packed, SamplingDropout
from ganx.trainer import build_run, d_step, generate

from probe import probed_train


def built(tiny, *tricks, **overrides):
    """(run, hooks, the tricks) for ``tiny`` with ``tricks`` configured, set up but not trained."""
    run, hooks, _ = build_run(validate_run({**tiny, "tricks": list(tricks), **overrides}, "test"))
    plugins = [p for points in hooks.points.values() for p in points if p is not run.loss]
    return run, hooks, list(dict.fromkeys(plugins))


def targets(hooks, run, n=20_000):
    return hooks.pipe_pair("d_targets", torch.ones(n), torch.zeros(n), run)


# --- labels ---------------------------------------------------------------------------------


def test_one_and_two_sided_label_smoothing(tiny):
    run, hooks, _ = built(tiny, {"name": "label_smoothing", "real": 0.8})
    real, fake = targets(hooks, run, 4)
    assert real.tolist() == pytest.approx([0.8] * 4) and fake.tolist() == [0.0] * 4
    run, hooks, _ = built(tiny, {"name": "label_smoothing", "mode": "two_sided"})
    real, fake = targets(hooks, run, 4)
    assert real.tolist() == pytest.approx([0.9] * 4) and fake.tolist() == pytest.approx([0.1] * 4)


def test_random_label_smoothing_draws_fresh_targets_in_the_seeds_ranges(tiny):
    run, hooks, _ = built(tiny, {"name": "label_smoothing", "mode": "random"})
    real, fake = targets(hooks, run)
    assert 0.7 <= real.min() < 0.72 and 1.18 < real.max() <= 1.2 and real.mean() == pytest.approx(0.95, abs=0.01)
    assert 0.0 <= fake.min() < 0.02 and 0.28 < fake.max() <= 0.3 and fake.mean() == pytest.approx(0.15, abs=0.01)
    assert not torch.equal(real, targets(hooks, run)[0])


def test_noisy_labels_flip_targets_at_rate_p(tiny):
    run, hooks, _ = built(tiny, {"name": "noisy_labels", "p": 0.2})
    real, fake = targets(hooks, run)
    assert set(real.tolist()) == {0.0, 1.0} and set(fake.tolist()) == {0.0, 1.0}
    assert (real == 0).float().mean() == pytest.approx(0.2, abs=0.015)
    assert (fake == 1).float().mean() == pytest.approx(0.2, abs=0.015)


@pytest.mark.parametrize("loss", ["hinge", "wgan", "wgan-gp"])
def test_label_tricks_are_refused_with_a_loss_that_ignores_targets(tiny, loss):
    with pytest.raises(UserError) as refused:
        validate_run({**tiny, "loss": loss, "tricks": ["ema", "label_smoothing", "noisy_labels"]}, "run.yaml")
    assert refused.value.problems == [
        f"run.yaml: tricks[{i}]: {trick} changes nothing with loss {loss}, whose d_loss ignores its targets"
        for i, trick in ((1, "label_smoothing"), (2, "noisy_labels"))
    ]
    validate_run({**tiny, "loss": "lsgan", "tricks": ["label_smoothing", "noisy_labels"]}, "run.yaml")


def test_d_step_trains_d_towards_the_smoothed_targets(tiny):
    from ganx.trainer import d_step

    run, hooks, _ = built(tiny, {"name": "label_smoothing", "real": 0.7})
    seen = []
    original = run.loss.d_loss
    run.loss.d_loss = lambda *args: seen.append(args[2:]) or original(*args)
    d_step(run, hooks, measure=False)
    (real_t, fake_t), = seen
    assert real_t.tolist() == pytest.approx([0.7] * 32) and fake_t.tolist() == [0.0] * 32


# --- instance noise -------------------------------------------------------------------------


def test_instance_noise_std_is_annealed_on_schedule(tiny):
    _, _, (linear,) = built(tiny, {"name": "instance_noise", "std": 0.4, "horizon": 100})
    assert [linear.std_at(s) for s in (0, 50, 100, 150)] == pytest.approx([0.4, 0.2, 0.0, 0.0])
    _, _, (expo,) = built(
        tiny, {"name": "instance_noise", "std": 0.4, "horizon": 100, "schedule": "exponential", "decay": 100}
    )
    assert [expo.std_at(s) for s in (0, 50, 99, 100)] == pytest.approx([0.4, 0.04, 0.4 / 100 ** 0.99, 0.0])
    _, _, (default,) = built(tiny, {"name": "instance_noise"}, steps=40)
    assert default.std_at(20) == pytest.approx(0.05)


def test_instance_noise_blurs_real_and_fake_in_d_and_g_steps(tiny):
    run, hooks, _ = built(tiny, {"name": "instance_noise", "std": 0.3, "horizon": 10})
    zeros = torch.zeros(20_000, 2)
    run.step = 5
    real, fake = hooks.pipe_pair("d_inputs", zeros, zeros, run)
    assert real.std() == pytest.approx(0.15, rel=0.03) and fake.std() == pytest.approx(0.15, rel=0.03)
    assert hooks.pipe("g_inputs", zeros, run).std() == pytest.approx(0.15, rel=0.03)
    run.step = 10
    assert hooks.pipe("g_inputs", zeros, run) is zeros


def test_instance_noise_blurs_the_real_batch_a_relativistic_loss_shows_d_in_the_g_step(tiny):
    from ganx.trainer import g_step

    run, hooks, _ = built(tiny, {"name": "instance_noise", "std": 0.3, "horizon": 10}, loss="ragan", batch_size=4096)
    seen, d = [], run.discriminator
    run.discriminator = lambda x: seen.append(x.detach()) or d(x)
    run.sample_real = lambda n: torch.zeros(n, 2)
    run.step = 5
    g_step(run, hooks, measure=False)
    fake_seen, real_seen = seen
    assert real_seen.std() == pytest.approx(0.15, rel=0.05)


# --- replay ---------------------------------------------------------------------------------


def test_replay_buffer_returns_fakes_from_earlier_steps(tiny):
    run, hooks, _ = built(tiny, {"name": "replay_buffer", "size": 64, "fraction": 0.25})
    real = torch.zeros(16, 2)
    first = hooks.pipe_pair("d_inputs", real, torch.full((16, 2), 0.0), run)[1]
    assert torch.equal(first, torch.zeros(16, 2))  # nothing to replay yet
    for step in range(1, 6):
        fake = hooks.pipe_pair("d_inputs", real, torch.full((16, 2), float(step)), run)[1]
        old, fresh = fake[:4, 0], fake[4:, 0]
        assert (fresh == step).all() and (old < step).all()


def test_checkpoint_swap_trains_d_against_an_old_g_then_restores_it(tiny):
    spec = {"name": "replay_buffer", "mode": "checkpoints", "net": "g", "every": 2, "swap_prob": 1.0, "swap_for": 2}
    run, _, (swap,) = built(tiny, spec)
    weight = next(run.generator.parameters())

    def step(s):
        run.step = s
        swap.after_d_step(run)

    with torch.no_grad():
        weight.fill_(0.0)
    step(0)  # snapshot of the all-zeros G
    with torch.no_grad():
        weight.fill_(1.0)
    step(1)
    step(2)  # swap: the zeros G is back, and G is frozen
    assert (weight == 0).all() and run.g_steps == 0
    step(3)
    assert (weight == 0).all()
    step(4)  # restored, G trains again (no new swap at the step of a restore)
    assert (weight == 1).all() and run.g_steps == 1


def test_checkpoint_swap_of_d_freezes_d_for_swap_for_steps_in_a_run(tiny, register_plugin):
    spec = {"name": "replay_buffer", "mode": "checkpoints", "net": "d", "every": 3, "swap_prob": 1.0, "swap_for": 2}
    probe = probed_train({**tiny, "steps": 9, "tricks": [spec]}, register_plugin)
    # after step 0: snapshot; after 3: swap (D frozen in steps 4, 5); after 5: restored; after 6: swap again
    assert [probe.d_updates[s] for s in range(9)] == [1, 1, 1, 1, 0, 0, 1, 0, 0]


# --- schedules ------------------------------------------------------------------------------


def test_d_steps_runs_k_d_updates_per_g_update(tiny, register_plugin):
    probe = probed_train({**tiny, "steps": 4, "tricks": [{"name": "d_steps", "k": 5}]}, register_plugin)
    assert dict(probe.d_updates) == {s: 5 for s in range(4)} and dict(probe.g_updates) == {s: 1 for s in range(4)}


def test_ttur_sets_each_networks_learning_rate_and_optimizer(tiny):
    run, _, _ = built(tiny, {"name": "ttur", "lr_g": 1e-4, "lr_d": 4e-4, "optimizer_d": "sgd"})
    assert isinstance(run.opt_d, torch.optim.SGD) and run.opt_d.param_groups[0]["lr"] == 4e-4
    assert isinstance(run.opt_g, torch.optim.Adam) and run.opt_g.param_groups[0]["lr"] == 1e-4


def test_separate_batches_off_gives_d_one_joint_pass_instead_of_two(tiny):
    from ganx.trainer import d_step

    for tricks, sizes in (((), [32, 32]), (({"name": "separate_batches", "separate": False},), [64])):
        run, hooks, _ = built(tiny, *tricks)
        seen = []
        run.discriminator.register_forward_pre_hook(lambda m, args, seen=seen: seen.append(len(args[0])))
        d_step(run, hooks, measure=False)
        assert seen == sizes


def test_separate_batches_on_is_refused_as_the_default_loop(tiny):
    with pytest.raises(UserError, match=r"tricks\[0\]: separate_batches with separate: true changes nothing"):
        validate_run({**tiny, "tricks": ["separate_batches"]}, "test")


def test_loss_balance_trains_the_network_over_its_threshold_more(tiny):
    spec = {"name": "loss_balance", "d_threshold": 0.5, "g_threshold": 2.0, "max_steps": 4, "every": 10}
    run, _, (_, balance) = built(tiny, {"name": "d_steps", "k": 2}, spec)
    run.last = {"d_loss": torch.tensor(0.9), "g_loss": torch.tensor(3.0)}
    run.step = 10
    balance.after_g_step(run)
    assert (run.d_steps, run.g_steps) == (4, 4)
    run.last = {"d_loss": torch.tensor(0.1), "g_loss": torch.tensor(0.5)}
    run.step = 15  # not a check step: unchanged
    balance.after_g_step(run)
    assert (run.d_steps, run.g_steps) == (4, 4)
    run.step = 20
    balance.after_g_step(run)
    assert (run.d_steps, run.g_steps) == (2, 1)


def test_loss_balance_keeps_the_usual_counts_whatever_the_trick_order(tiny):
    spec = {"name": "loss_balance", "d_threshold": 0.5, "g_threshold": 2.0, "max_steps": 4, "every": 10}
    run, _, (balance, _) = built(tiny, spec, {"name": "d_steps", "k": 3})  # d_steps set up after it
    run.last = {"d_loss": torch.tensor(0.1), "g_loss": torch.tensor(0.5)}
    run.step = 10
    balance.after_g_step(run)
    assert (run.d_steps, run.g_steps) == (3, 1)


# --- penalties and clipping -----------------------------------------------------------------


def linear_critic(run):
    linear = nn.Linear(2, 1)
    run.discriminator = lambda x: linear(x).squeeze(1)
    return float(linear.weight.detach().norm())


@pytest.mark.parametrize(
    "spec, expected",
    [
        ({"name": "gradient_penalty", "weight": 3.0}, lambda w: 3.0 * (w - 1) ** 2),
        ({"name": "dragan", "weight": 2.0}, lambda w: 2.0 * (w - 1) ** 2),
        ({"name": "r1", "gamma": 4.0}, lambda w: 2.0 * w**2),
    ],
)
def test_penalties_of_a_linear_critic(tiny, spec, expected):
    run, hooks, _ = built(tiny, spec)
    norm = linear_critic(run)
    batch = DBatch(torch.randn(8, 2), torch.randn(8, 2), None, None)
    d_loss = hooks.pipe("adjust_d_loss", torch.tensor(1.0), batch, run)
    assert float(d_loss.detach()) == pytest.approx(1.0 + expected(norm), rel=1e-5)


def test_grad_clip_bounds_the_gradient_norm_of_the_chosen_nets(tiny):
    run, hooks, _ = built(tiny, {"name": "grad_clip", "max_norm": 1.0, "nets": "d"})
    for p in [*run.discriminator.parameters(), *run.generator.parameters()]:
        p.grad = torch.full_like(p, 10.0)
    hooks.each("before_d_step", run)
    hooks.each("before_g_step", run)
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in run.discriminator.parameters()]))
    assert float(norm) == pytest.approx(1.0, rel=1e-4)
    assert all((p.grad == 10).all() for p in run.generator.parameters())


def test_weight_clip_clamps_d_after_its_step(tiny):
    run, hooks, _ = built(tiny, {"name": "weight_clip", "clip": 0.05})
    hooks.each("after_d_step", run)
    hooks.each("after_g_step", run)
    assert max(float(p.detach().abs().max()) for p in run.discriminator.parameters()) == pytest.approx(0.05)
    assert max(float(p.detach().abs().max()) for p in run.generator.parameters()) > 0.05


# --- G --------------------------------------------------------------------------------------


def test_g_dropout_is_inserted_after_each_hidden_activation_and_optionally_kept_at_sampling(tiny):
    run, hooks, _ = built(tiny, {"name": "g_dropout", "p": 0.5})
    assert sum(isinstance(m, SamplingDropout) for m in run.generator.modules()) == 2
    assert torch.equal(generate(run, hooks, 50), generate(run, hooks, 50))  # off at sampling
    run, hooks, _ = built(tiny, {"name": "g_dropout", "p": 0.5, "at_sampling": True})
    assert not torch.equal(generate(run, hooks, 50), generate(run, hooks, 50))
    assert run.generator.training  # generate() restored train mode


def test_g_layer_noise_perturbs_g_in_training_only(tiny):
    run, hooks, _ = built(tiny, {"name": "g_layer_noise", "std": 0.5})
    assert sum(isinstance(m, GaussianNoise) for m in run.generator.modules()) == 2
    z = run.sample_z(16)
    assert not torch.equal(run.generator(z), run.generator(z))
    assert torch.equal(generate(run, hooks, 16), generate(run, hooks, 16))


def test_latent_prior(tiny):
    run, _, _ = built(tiny, {"name": "latent", "prior": "uniform"})
    z = run.sample_z(10_000)
    assert z.shape == (10_000, 4) and -1 <= z.min() < -0.99 and 0.99 < z.max() <= 1
    run, _, _ = built(tiny, {"name": "latent", "prior": "gaussian"})
    assert run.sample_z(10_000).std() == pytest.approx(1.0, rel=0.03)


def test_ema_averages_g_and_is_the_one_evaluated(tiny):
    run, hooks, (ema,) = built(tiny, {"name": "ema", "decay": 0.9})
    assert run.eval_generator is ema.average
    before = [p.detach().clone() for p in ema.average.parameters()]
    with torch.no_grad():
        for p in run.generator.parameters():
            p.add_(1.0)
    hooks.each("after_g_step", run)
    for old, new, current in zip(before, ema.average.parameters(), run.generator.parameters()):
        assert torch.allclose(new, 0.9 * old + 0.1 * current)  # moved a tenth of the way: it lags
    g_out = run.generator(run.sample_z(8))
    assert not torch.equal(generate(run, hooks, 8), g_out)


# --- packing --------------------------------------------------------------------------------


def test_packing_feeds_d_m_samples_at_once(tiny):
    run, hooks, _ = built(tiny, {"name": "packing", "m": 4})
    assert isinstance(run.discriminator, Packed)
    assert run.discriminator.discriminator[0].in_features == 4 * 2
    x = torch.randn(32, 2)
    assert run.discriminator(x).shape == (8,)
    assert torch.equal(run.discriminator(x)[0], run.discriminator.discriminator(x[:4].reshape(1, 8))[0])


def test_packing_draws_batch_size_times_m_samples_as_pacgans_code_does(tiny):
    run, hooks, _ = built(tiny, {"name": "packing", "m": 3})  # 32 is not divisible by 3: no matter
    assert run.batch_size == 3 * tiny["batch_size"]
    _, real_logits, fake_logits = d_step(run, hooks, measure=False)
    assert real_logits.shape == fake_logits.shape == (tiny["batch_size"],)  # D sees batch_size packed inputs


def test_packing_can_count_samples_instead(tiny):
    run, hooks, _ = built(tiny, {"name": "packing", "m": 4, "batch": "samples"})
    assert run.batch_size == tiny["batch_size"]
    _, real_logits, _ = d_step(run, hooks, measure=False)
    assert real_logits.shape == (tiny["batch_size"] // 4,)
    with pytest.raises(UserError, match="divisible"):
        built(tiny, {"name": "packing", "m": 3, "batch": "samples"})


def test_the_packed_discriminator_starts_with_the_configured_init(tiny):
    run, _, _ = built(tiny, {"name": "packing", "m": 2}, init={"g": "default", "d": {"name": "normal", "std": 0.02}})
    linears = [m for m in run.discriminator.modules() if isinstance(m, nn.Linear)]
    weights = torch.cat([m.weight.flatten() for m in linears])
    assert weights.std().item() == pytest.approx(0.02, rel=0.1)
    assert all(not m.bias.any() for m in linears)


# --- failure detection ----------------------------------------------------------------------


def test_failure_detector_flags_non_finite_losses_and_exploding_gradients(tiny):
    run, hooks, (detector,) = built(tiny, {"name": "failure_detector", "every": 5})
    run.step = 3  # the 4th step is not checked
    run.last = {"d_loss": torch.tensor(float("nan")), "g_loss": torch.tensor(1.0)}
    hooks.each("after_g_step", run)
    run.step = 4  # the 5th is, and is reported as step 5, like its log row
    with pytest.raises(TrainingFailure, match="non-finite d_loss") as failure:
        hooks.each("after_g_step", run)
    assert failure.value.step == 5
    run.step = 9
    run.last = {"d_loss": torch.tensor(0.5), "g_loss": torch.tensor(1.0)}
    for p in run.discriminator.parameters():
        p.grad = torch.full_like(p, 100.0)
    hooks.each("before_d_step", run)
    with pytest.raises(TrainingFailure, match="D gradient norm"):
        hooks.each("after_g_step", run)


class CollapsedD(Trick):
    """Forces D's loss to 0 from step 3 on, as when D wins outright."""

    name = "test-collapsed-d"

    def adjust_d_loss(self, d_loss, batch, run):
        return d_loss * 0 if run.step >= 3 else d_loss


class CollapsedDPlugin:
    @hookimpl
    def register_tricks(self, register):
        register(CollapsedD)


def test_failure_detector_stops_a_run_whose_d_loss_collapsed(tiny, register_plugin):
    from ganx.trainer import train

    register_plugin(CollapsedDPlugin())
    tricks = ["test-collapsed-d", {"name": "failure_detector", "every": 2, "patience": 2}]
    with pytest.raises(TrainingFailure, match="D loss ~0") as failure:
        train(validate_run({**tiny, "steps": 50, "tricks": tricks}, "test"))
    assert failure.value.step == 6  # collapsed at the checks of steps 4 and 6


# --- everything at once ---------------------------------------------------------------------

ALL_TRICKS = [
    {"name": "latent", "prior": "uniform"},
    {"name": "g_dropout", "p": 0.1, "at_sampling": True},
    {"name": "g_layer_noise", "std": 0.05},
    {"name": "ema", "decay": 0.9},
    {"name": "packing", "m": 2},
    {"name": "separate_batches", "separate": False},
    {"name": "label_smoothing", "mode": "random"},
    {"name": "noisy_labels", "p": 0.05},
    {"name": "instance_noise", "std": 0.1},
    {"name": "replay_buffer", "size": 64},
    {"name": "d_steps", "k": 2},
    {"name": "ttur", "optimizer_d": "sgd"},
    {"name": "gradient_penalty", "weight": 1.0},
    {"name": "r1", "gamma": 1.0},
    {"name": "dragan", "weight": 1.0},
    {"name": "grad_clip", "max_norm": 5.0},
    {"name": "weight_clip", "clip": 0.5},
    {"name": "loss_balance", "every": 2},
    {"name": "failure_detector", "every": 2},
]


def test_every_trick_at_once_on_grid25_mlp(tiny, register_plugin):
    probe = probed_train({**tiny, "steps": 6, "norm": "batch", "tricks": ALL_TRICKS}, register_plugin)
    assert torch.isfinite(torch.stack(probe.losses)).all() and probe.g_changed()
    assert probe.run.eval_generator is not None and isinstance(probe.run.discriminator, Packed)


def test_every_trick_at_once_on_16px_digits_dcgan(register_plugin):
    from test_architectures import DIGITS

    probe = probed_train({**DIGITS, "steps": 4, "tricks": ALL_TRICKS}, register_plugin)
    assert torch.isfinite(torch.stack(probe.losses)).all() and probe.g_changed()
