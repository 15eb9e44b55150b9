"""diffaugment: each augmentation as the reference defines it, gradients to G, p and ADA's update of it."""

from __future__ import annotations

import io
import math
from itertools import product

import pytest
import torch

from ganx import UserError
from ganx.config import validate_run
from ganx.plugins.tricks.augment import brightness, contrast, cutout, saturation, translation
from ganx.store import load_checkpoint
from ganx.testing import train_tiny
from ganx.trainer import build_run

IMAGES = {
    "name": "augment",
    "dataset": "digits",  # 1×8×8
    "arch": {"name": "dcgan", "g_widths": [16, 8], "d_widths": [8, 16]},
    "norm": {"g": "batch", "d": "none"},
    "steps": 4,
    "batch_size": 16,
    "latent_dim": 8,
    "log_every": 2,
    "device": "cpu",
    "eval": {"samples": 32},
}


def built(trick: dict, **changes):
    """(run, hooks, the diffaugment trick) for IMAGES with ``trick``, set up but not trained."""
    run, hooks, _ = build_run(validate_run({**IMAGES, "tricks": [{"name": "diffaugment", **trick}], **changes}, "test"))
    return run, hooks, hooks.plugins[-1]


def rng(seed=0):
    return torch.Generator().manual_seed(seed)


# --- each augmentation, as the reference implementation defines it ---------------------------


def per_image_factor(out, x, mean):
    """The one factor f per image with out - mean = f·(x - mean), by least squares."""
    return ((out - mean) * (x - mean)).sum((1, 2, 3)) / (x - mean).square().sum((1, 2, 3))


def test_color_shifts_brightness_and_scales_saturation_and_contrast_within_the_reference_ranges():
    x = torch.rand(2000, 3, 4, 4, generator=rng()) * 2 - 1
    shift = (brightness(x, rng()) - x).flatten(1)
    assert torch.allclose(shift, shift[:, :1], atol=1e-6)  # one shift per image
    assert -0.5 <= shift.min() < -0.49 and 0.49 < shift.max() < 0.5

    out, mean = saturation(x, rng()), x.mean(1, keepdim=True)  # each pixel's mean over channels
    factor = per_image_factor(out, x, mean)
    assert torch.allclose(out, (x - mean) * factor.view(-1, 1, 1, 1) + mean, atol=1e-5)
    assert 0 <= factor.min() < 0.01 and 1.99 < factor.max() < 2

    out, mean = contrast(x, rng()), x.mean((1, 2, 3), keepdim=True)  # each image's mean
    factor = per_image_factor(out, x, mean)
    assert torch.allclose(out, (x - mean) * factor.view(-1, 1, 1, 1) + mean, atol=1e-5)
    assert 0.5 <= factor.min() < 0.51 and 1.49 < factor.max() < 1.5


def shifted(image, dy, dx):
    """``image`` read dy rows and dx columns further on, zero where that falls outside it."""
    out = torch.zeros_like(image)
    h, w = image.shape[-2:]
    out[..., max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)] = \
        image[..., max(0, dy):h - max(0, -dy), max(0, dx):w - max(0, -dx)]
    return out


def test_translation_shifts_each_image_by_up_to_an_eighth_with_zero_fill():
    x = torch.arange(1, 1 + 200 * 2 * 16 * 16, dtype=torch.float).view(200, 2, 16, 16)  # no zeros of its own
    out = translation(x, rng())
    shifts = [next((s for s in product(range(-2, 3), repeat=2) if torch.equal(o, shifted(i, *s))), None)
              for o, i in zip(out, x)]
    assert None not in shifts  # every image is one shift of ±round(16/8) = ±2 pixels at most
    assert len(set(shifts)) == 25


def test_cutout_zeroes_a_square_of_half_the_size_clipped_at_the_border():
    out = cutout(torch.ones(500, 3, 16, 16), rng())
    assert set(out.unique().tolist()) == {0.0, 1.0} and torch.equal(out, out[:, :1].expand_as(out))
    sides = []
    for hole in out[:, 0] == 0:
        rows, cols = hole.any(1), hole.any(0)
        assert torch.equal(hole, rows[:, None] & cols[None, :])  # a rectangle
        for span in (rows, cols):
            assert span.sum() <= 8 and span.nonzero().diff(dim=0).eq(1).all()  # one run of at most 16/2
            assert span.sum() == 8 or span[0] or span[-1]  # shorter only where the border clips it
        sides.append((int(rows.sum()), int(cols.sum())))
    assert sides.count((8, 8)) > 100 and min(min(side) for side in sides) == 4  # a centre on the border


# --- the trick: p, gradients, reproducibility -------------------------------------------------


def test_p_zero_is_the_identity():
    run, _, trick = built({"p": 0})
    real, fake = torch.randn(2, 16, 1, 8, 8)
    out_real, out_fake = trick.d_inputs(real, fake, run)
    assert torch.equal(out_real, real) and torch.equal(out_fake, fake)
    assert torch.equal(trick.g_inputs(fake, run), fake) and torch.equal(trick.g_real_inputs(real, run), real)


def test_a_relativistic_loss_sees_its_g_step_real_batch_augmented_too():
    run, hooks, _ = built({"policy": "cutout"}, loss="ragan")
    real = run.sample_real(16)
    assert (hooks.pipe("g_real_inputs", real, run) != real).flatten(1).any(1).all()  # a hole in each


def test_p_applies_each_augmentation_to_that_fraction_of_samples():
    run, _, trick = built({"policy": "cutout", "p": 0.3})
    out = trick.g_inputs(torch.ones(4000, 1, 8, 8), run)
    assert (out == 0).flatten(1).any(1).float().mean() == pytest.approx(0.3, abs=0.03)


def test_policy_is_a_list_or_a_comma_string_of_known_augmentations():
    assert built({"policy": "translation, color"})[2].params.policy == ["translation", "color"]
    with pytest.raises(UserError, match="policy"):
        built({"policy": "color,rotation"})


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_g_learns_through_the_augmentation(policy):
    run, hooks, _ = built({"policy": policy})
    z = run.sample_z(16)

    def g_grads(augment: bool):
        run.generator.zero_grad()
        fake = run.generator(z)
        run.discriminator(hooks.pipe("g_inputs", fake, run) if augment else fake).mean().backward()
        return torch.cat([p.grad.flatten() for p in run.generator.parameters()])

    plain, augmented = g_grads(False), g_grads(True)
    assert augmented.isfinite().all() and augmented.abs().sum() > 0
    assert not torch.allclose(augmented, plain)


def test_the_same_seed_gives_the_same_augmentation():
    x = torch.randn(16, 1, 8, 8)

    def augmented(seed):
        run, _, trick = built({}, seed=seed)
        return trick.g_inputs(x, run)

    first, again, other = augmented(0), augmented(0), augmented(1)
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_a_points_dataset_is_refused_with_one_reason(tiny):
    with pytest.raises(UserError) as refused:
        validate_run({**tiny, "tricks": ["diffaugment"]}, "run.yaml")
    assert refused.value.problems == ["run.yaml: tricks[0]: trick 'diffaugment' does not apply to points datasets"]


# --- ADA ----------------------------------------------------------------------------------------

ADA = {"ada": True, "p": 0.5, "ada_interval": 2, "ada_kimg": 0.32}  # p moves by 16·2/320 = 0.1 per interval


def d_steps_with_real_logits(trick, run, logits, steps):
    for _ in range(steps):
        run.last["real_logits"] = torch.tensor(logits)
        trick.after_d_step(run)


def test_ada_raises_p_while_d_overfits_and_lowers_it_otherwise():
    run, _, trick = built(ADA)
    d_steps_with_real_logits(trick, run, [3.0] * 14 + [-1.0] * 2, 1)
    assert trick.p == 0.5  # mid-interval
    d_steps_with_real_logits(trick, run, [3.0] * 14 + [-1.0] * 2, 1)  # r_t = 0.75 > 0.6
    assert trick.p == pytest.approx(0.6)
    d_steps_with_real_logits(trick, run, [3.0] * 12 + [-1.0] * 4, 4)  # r_t = 0.5 < 0.6
    assert trick.p == pytest.approx(0.4)
    d_steps_with_real_logits(trick, run, [1.0] * 16, 20)
    assert trick.p == 1.0  # clamped
    assert built({"ada": True})[2].p == 0.0 and built({})[2].p == 1.0  # p's defaults: ADA starts from 0


def test_ada_p_and_its_interval_survive_a_checkpoint_round_trip():
    run, _, trick = built(ADA)
    d_steps_with_real_logits(trick, run, [1.0] * 16, 3)  # one interval, and one step into the next
    buffer = io.BytesIO()
    torch.save(trick.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)  # as a checkpoint is loaded
    _, _, resumed = built(ADA)
    resumed.load_state_dict(state)
    assert resumed.p == trick.p == pytest.approx(0.6)
    for t in (trick, resumed):
        d_steps_with_real_logits(t, run, [1.0] * 16, 1)
    assert resumed.p == trick.p == pytest.approx(0.7)
    x = torch.randn(16, 1, 8, 8)
    assert torch.equal(resumed.g_inputs(x, run), trick.g_inputs(x, run))


# --- training ---------------------------------------------------------------------------------


def test_training_on_digits_is_reproducible_and_differs_from_no_augmentation(tmp_path):
    # p moves by 0.1 a D step: packing (listed after it) doubles the batch to 32 real images a step
    ada = {"name": "diffaugment", "ada": True, "p": 0.5, "ada_interval": 1, "ada_kimg": 0.32}
    tricks = [{"name": "replay_buffer", "size": 32}, ada, {"name": "packing", "m": 2}]
    first, again, plain = (
        train_tiny(out=tmp_path / str(i), **{**IMAGES, "metrics": [], "log_every": 1, "tricks": t})
        for i, t in enumerate((tricks, tricks, tricks[::2]))
    )
    assert all(math.isfinite(row["g_loss"]) for row in first.losses) and len(first.losses) == 4
    assert first.losses == again.losses and first.losses != plain.losses
    p = load_checkpoint(tmp_path / "0" / "checkpoint.pt")["plugins"]["2.diffaugment"]["p"]
    assert 0.1 <= p <= 0.9 and p == pytest.approx(round(p, 1))  # four D steps of ±0.1 from 0.5
