"""The speed options change how a run computes, never what: each is checked against the default on CPU."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
import torch

from ganx import UserError
from ganx.acceleration import Precision, host_sampler
from ganx.config import validate_run
from ganx.trainer import FULL, LossLog, build_optimizer, build_run, d_step, g_step

IMAGES = {
    "dataset": "digits", "arch": {"name": "dcgan", "g_widths": [8, 4], "d_widths": [4, 8]}, "norm": "batch",
    "steps": 3, "batch_size": 8, "latent_dim": 4, "device": "cpu", "eval": {"samples": 8},
}


def trained(config: dict, steps: int = 3, amp: Precision = FULL):
    """A freshly built run after ``steps`` D and G steps, and the D losses it saw."""
    run, hooks, _ = build_run(validate_run(config, "test"))
    d_losses = []
    for step in range(steps):
        run.step = step
        d_losses.append(float(d_step(run, hooks, False, amp)[0]))
        g_step(run, hooks, False, amp)
    return run, d_losses


def weights(module) -> list[torch.Tensor]:
    return [p.detach().contiguous() for p in module.parameters()]


def test_bf16_autocast_runs_d_in_bf16_with_losses_close_to_fp32(tiny):
    run, _ = trained(tiny, steps=0)
    amp = Precision("bf16", "cpu")
    with amp.autocast():
        assert run.discriminator(run.sample_real(4)).dtype == torch.bfloat16
    _, full = trained(tiny)
    _, half = trained(tiny, amp=Precision("bf16", "cpu"))
    assert all(torch.isfinite(torch.tensor(half)))
    assert half == pytest.approx(full, rel=2e-2)


def test_fp16_needs_a_gpu():
    with pytest.raises(UserError, match="amp: fp16 needs a CUDA GPU"):
        Precision("fp16", "cpu")


def test_amp_key_is_validated(tiny):
    assert validate_run({**tiny, "amp": "bf16"}, "t").amp == "bf16"
    with pytest.raises(UserError, match="amp"):
        validate_run({**tiny, "amp": "fp8"}, "t")


def assert_same_training(a, b, a_losses, b_losses, steps=3):
    """Same losses up to float rounding; weights within what Adam's sign-like first steps can amplify it to."""
    assert b_losses == pytest.approx(a_losses, rel=1e-4)
    lr = a.optimizer["g"].lr
    for x, y in zip(weights(a.generator), weights(b.generator)):
        torch.testing.assert_close(x, y, rtol=0, atol=2 * lr * steps)


def test_channels_last_lays_out_conv_weights_nhwc_and_trains_the_same():
    default, default_losses = trained(IMAGES)
    nhwc, nhwc_losses = trained({**IMAGES, "channels_last": True})
    conv = next(m for m in nhwc.discriminator.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert nhwc.data.is_contiguous(memory_format=torch.channels_last)
    assert_same_training(default, nhwc, default_losses, nhwc_losses)


@pytest.mark.skipif(
    not os.environ.get("GANX_TEST_COMPILE") and os.environ.get("CI") != "true",
    reason="torch.compile of G and D takes ~18 s on a 2-core CPU (inductor builds C++ with gcc); "
    "it runs under CI=true, or set GANX_TEST_COMPILE=1",
)
def test_compile_trains_the_same(tiny):
    default, default_losses = trained(tiny)
    compiled, compiled_losses = trained({**tiny, "compile": True})
    assert_same_training(default, compiled, default_losses, compiled_losses)
    assert list(compiled.generator.state_dict()) == list(default.generator.state_dict())  # checkpoints unchanged


def test_host_sampler_draws_rows_of_the_data_reproducibly():
    data = torch.arange(40.0).view(20, 2)
    batch = host_sampler(data, torch.device("cpu"), seed=3)(6)
    assert batch.shape == (6, 2) and all(any(torch.equal(row, d) for d in data) for row in batch)
    assert torch.equal(batch, host_sampler(data, torch.device("cpu"), seed=3)(6))


def test_fused_adam_steps_like_pytorch_default_adam(tiny):
    spec = validate_run(tiny, "t").optimizer.g
    ours, theirs = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    theirs.load_state_dict(ours.state_dict())
    opt_ours = build_optimizer(spec, ours.parameters())
    opt_theirs = torch.optim.Adam(theirs.parameters(), spec.lr, betas=spec.betas, eps=spec.eps)
    x = torch.randn(5, 3)
    for _ in range(5):
        for module, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            opt.zero_grad()
            module(x).square().sum().backward()
            opt.step()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b)


def test_loss_log_rows_are_means_over_the_steps_across_folds():
    log, steps = LossLog(), LossLog.FOLD + 36
    d, g = torch.rand(steps), torch.rand(steps)
    real, fake = torch.randn(steps, 5), torch.randn(steps, 5)
    for i in range(steps):
        log.add(d[i], g[i], real[i], fake[i])
    [row] = log.flush(SimpleNamespace(step=steps, last={}))
    assert row["d_loss"] == pytest.approx(d.mean().item(), rel=1e-6)
    assert row["g_loss"] == pytest.approx(g.mean().item(), rel=1e-6)
    assert row["d_real"] == pytest.approx(real.sigmoid().mean().item(), rel=1e-6)
    assert row["d_fake"] == pytest.approx(fake.sigmoid().mean().item(), rel=1e-6)
    assert log.count == 0 and log.total is None
