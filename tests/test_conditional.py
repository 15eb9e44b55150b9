"""Conditional GANs (``labels``): class labels go through the loop to G, D, the hooks and the metrics,
and a model that uses them beats one that ignores them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganx import Architecture, Trick, UserError, hookimpl
from ganx.config import validate_run
from ganx.plugins.layers import ConditionalBatchNorm
from ganx.stacked import why_not
from ganx.trainer import build_run, d_step, train

RING = {  # ring8's labels are its mode indices: 8 classes a model can be judged on by nearest mode
    "dataset": "ring8", "arch": {"name": "mlp", "hidden": [64, 64]}, "latent_dim": 4, "batch_size": 64,
    "steps": 1500, "log_every": 500, "optimizer": {"lr": 1e-3}, "labels": "uniform",
    "eval": {"samples": 800}, "metrics": ["class_accuracy", "modes"],
}


def ring(**changes):
    return validate_run({**RING, **changes}, "run.yaml")


def test_a_conditional_model_that_uses_its_labels_beats_one_that_ignores_them():
    using = train(ring())["metrics"]["class_accuracy"]
    ignoring = train(ring(arch={"name": "mlp", "hidden": [64, 64], "cond_g": "none"}))["metrics"]["class_accuracy"]
    assert using > 0.8
    assert ignoring < 0.3  # G cannot know which mode was asked for: about 1 in 8
    assert using > ignoring + 0.5


@pytest.mark.parametrize("arch", [
    {"cond_g": "cbn", "cond_d": "projection"},
    {"cond_g": "concat", "cond_d": "concat"},
])
def test_each_way_of_conditioning_learns_the_classes(arch):
    norm = {"g": "batch", "d": "none"}
    metrics = train(ring(arch={"name": "mlp", "hidden": [64, 64], **arch}, norm=norm))["metrics"]
    assert metrics["class_accuracy"] > 0.6


class Recorder(Trick):
    name = "test-label-recorder"
    batches: list = []

    def adjust_d_loss(self, d_loss, batch, run):
        self.batches.append(batch)
        return d_loss


def test_d_sees_each_real_samples_own_label_and_the_fakes_their_asked_for_labels(register_plugin):
    class Plugin:
        @hookimpl
        def register_tricks(self, register):
            register(Recorder)

    register_plugin(Plugin())
    Recorder.batches.clear()
    run, hooks, _ = build_run(ring(tricks=["test-label-recorder"], batch_size=512))
    d_step(run, hooks, measure=False)
    (batch,) = Recorder.batches
    centers, _ = run.dataset.modes()
    nearest = torch.cdist(batch.real, centers).argmin(1)
    assert torch.equal(nearest, batch.real_labels)
    counts = torch.bincount(batch.fake_labels, minlength=8)
    assert counts.min() > 30  # uniform over the 8 classes


def test_frequency_labels_follow_the_data_and_uniform_ones_do_not():
    run, _, _ = build_run(ring(labels="frequency"))
    run.class_frequencies = torch.tensor([0.65, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05])
    share = (run.sample_labels(20_000) == 0).float().mean().item()
    assert share == pytest.approx(0.65, abs=0.02)
    uniform, _, _ = build_run(ring())
    assert (uniform.sample_labels(20_000) == 0).float().mean().item() == pytest.approx(1 / 8, abs=0.02)


def test_cbn_and_projection_make_g_and_d_depend_on_the_label():
    run, _, _ = build_run(ring(arch={"name": "mlp", "hidden": [16], "cond_g": "cbn"}, norm={"g": "batch", "d": "none"}))
    assert any(isinstance(m, ConditionalBatchNorm) for m in run.generator.modules())
    with torch.no_grad():
        for cbn in (m for m in run.generator.modules() if isinstance(m, ConditionalBatchNorm)):
            cbn.shift.weight.normal_()  # as training would: each class its own shift
    z = torch.randn(16, 4)
    zeros, ones = torch.zeros(16, dtype=torch.long), torch.ones(16, dtype=torch.long)
    assert not torch.allclose(run.generator(z, zeros), run.generator(z, ones))
    x = torch.randn(16, 2)
    assert not torch.allclose(run.discriminator(x, zeros), run.discriminator(x, ones))


def test_a_gradient_penalty_takes_the_real_labels_in_a_conditional_run():
    final = train(ring(steps=20, loss="wgan-gp", metrics=["class_accuracy"]))
    assert 0 <= final["metrics"]["class_accuracy"] <= 1


class NotConditional(Architecture):
    name = "test-unconditional"

    def build_generator(self, latent_dim, data_shape, norm):
        return torch.nn.Linear(latent_dim, data_shape[0])

    def build_discriminator(self, data_shape, norm):
        return torch.nn.Linear(data_shape[0], 1)


@pytest.mark.parametrize(("changes", "problem"), [
    ({"arch": "test-unconditional"},
     "arch.g: architecture 'test-unconditional' is not conditional (build_generator takes no num_classes), "
     "so it cannot serve labels: uniform"),
    ({"tricks": [{"name": "packing", "m": 2}]}, "packing rebuilds D for packed samples"),
    ({"tricks": [{"name": "replay_buffer"}]}, "replay_buffer mode fakes keeps fakes without their class labels"),
    ({"arch": {"name": "mlp", "cond_g": "cbn"}}, "cond_g: cbn is class-conditional batch norm, so it needs norm.g"),
    ({"labels": "none"}, "class_accuracy needs a conditional run"),
])
def test_configs_that_cannot_be_conditional_are_refused_with_the_reason(register_plugin, changes, problem):
    class Plugin:
        @hookimpl
        def register_architectures(self, register):
            register(NotConditional)

    register_plugin(Plugin())
    with pytest.raises(UserError) as refused:
        ring(**changes)
    assert any(problem in line for line in refused.value.problems), refused.value.problems


def test_a_dataset_without_labels_is_a_clear_error():
    with pytest.raises(UserError, match="labels: dataset 'spiral' has no class labels; use labels: none"):
        build_run(ring(dataset="spiral", metrics=["class_accuracy"]))


def test_conditional_seeds_are_not_stacked():
    assert why_not([ring(seed=0), ring(seed=1)]) == "conditional runs (labels) are not supported"


def test_samples_have_a_row_per_class_and_ganx_sample_writes_the_labels(tmp_path, ganx):
    from PIL import Image

    from ganx.report.pictures import save_samples

    fake = torch.rand(40, 1, 8, 8) * 2 - 1
    labels = torch.arange(40) % 4
    save_samples(fake, None, tmp_path / "grid.png", labels=labels)
    width, height = Image.open(tmp_path / "grid.png").size
    assert (width, height) == (8 * 10 + 2, 4 * 10 + 2)  # 8 per row, one row per class (torchvision's padding 2)

    train(ring(steps=10), tmp_path / "run")
    code, _, err = ganx("sample", tmp_path / "run", "--n", "24", "--out", tmp_path / "s.npz")
    assert code == 0, err
    saved = np.load(tmp_path / "s.npz")
    assert saved["x"].shape == (24, 2) and saved["y"].tolist() == [i % 8 for i in range(24)]


DIGITS = {
    "dataset": "digits", "arch": {"name": "dcgan", "g_widths": [32, 16], "d_widths": [16, 32]}, "latent_dim": 8,
    "batch_size": 32, "steps": 4, "log_every": 2, "labels": "uniform", "norm": {"g": "batch", "d": "none"},
    "eval": {"samples": 200}, "metrics": ["class_accuracy"],
}


@pytest.mark.parametrize(("cond_g", "cond_d"), [("concat", "projection"), ("cbn", "concat"), ("none", "none")])
def test_dcgan_takes_labels_each_way(cond_g, cond_d, tmp_path):
    arch = {**DIGITS["arch"], "cond_g": cond_g, "cond_d": cond_d}
    config = validate_run({**DIGITS, "arch": arch}, "run.yaml")
    run, _, _ = build_run(config)
    run.generator.eval()
    z, x = torch.randn(6, 8), torch.randn(6, 1, 8, 8)
    zeros, nines = torch.zeros(6, dtype=torch.long), torch.full((6,), 9)
    with torch.no_grad():
        for cbn in (m for m in run.generator.modules() if isinstance(m, ConditionalBatchNorm)):
            cbn.shift.weight.normal_()
        assert run.generator(z, zeros).shape == (6, 1, 8, 8)
        differs = [not torch.allclose(net(v, zeros), net(v, nines)) for net, v in ((run.generator, z),
                                                                                   (run.discriminator, x))]
    assert differs == [cond_g != "none", cond_d != "none"]
    final = train(config, tmp_path)
    assert 0 <= final["metrics"]["class_accuracy"] <= 1
    assert final["protocol"]["class_accuracy"]["judge"] == "domain classifier"


def test_acgan_teaches_g_the_classes_when_d_itself_ignores_them():
    arch = {"name": "mlp", "hidden": [64, 64], "cond_g": "concat", "cond_d": "none"}
    without = train(ring(arch=arch))["metrics"]["class_accuracy"]
    run_config = ring(arch=arch, tricks=[{"name": "acgan", "weight": 1.0}])
    with_acgan = train(run_config)["metrics"]["class_accuracy"]
    assert without < 0.4 and with_acgan > 0.8


def test_acgans_head_learns_to_classify_real_samples():
    from ganx.trainer import g_step

    config = ring(arch={"name": "mlp", "hidden": [64, 64], "cond_d": "none"}, tricks=["acgan"], steps=300)
    run, hooks, _ = build_run(config)
    for step in range(300):
        run.step = step
        d_step(run, hooks, measure=False)
        g_step(run, hooks, measure=False)
    real, labels = run.sample_labeled(1000)
    run.discriminator.class_logits.clear()
    with torch.no_grad():
        run.discriminator(real, labels)
    (class_logits,) = run.discriminator.class_logits
    assert (class_logits.argmax(1) == labels).float().mean() > 0.95


def test_intra_fid_is_low_for_fakes_of_the_asked_class_and_high_when_classes_are_mixed_up():
    from pathlib import Path

    from ganx import Evaluation
    from ganx.plugins.image_metrics import FID, IntraFID
    from ganx.testing import catalog

    digits = catalog().get("dataset", "digits")()
    data_dir = Path(__import__("os").environ["GANX_DATA_DIR"])
    real, labels = digits.load(data_dir, "test")
    right = Evaluation(fake=real, dataset=digits, data_dir=data_dir, device=torch.device("cpu"), seed=0, labels=labels)
    wrong = Evaluation(fake=real, dataset=digits, data_dir=data_dir, device=torch.device("cpu"), seed=0,
                       labels=(labels + 1) % 10)
    assert IntraFID().compute(right) < 0.2 * IntraFID().compute(wrong)
    assert FID().compute(right) == pytest.approx(FID().compute(wrong))  # the classes are all FID cannot see


def test_the_shipped_conditional_sweep_runs_tiny(tmp_path, ganx):
    from pathlib import Path

    sweep = Path(__file__).parent.parent / "sweeps" / "conditional.yaml"
    code, out, err = ganx(
        "sweep", sweep, "--results", tmp_path, "--workers", "1", "--set", "seeds=[0]", "--set", "base.steps=6",
        "--set", "base.eval={every: 0, samples: 200}", "--set", "base.log_every=3",
    )
    assert code == 0, err
    for arm in ("unconditional", "concat", "projection", "projection_cbn", "acgan"):
        assert arm in out
