"""The reference configs in sweeps/reference/: each validates, builds the published networks (layer
types, widths, kernels, and a parameter count worked out by hand), and trains a few steps on CPU
into its metrics; the pieces they needed (unit_range, optimizer_schedule, a sweep base file) act as
documented; and docs/reference-configs.md names each one and its runnable command."""

from __future__ import annotations

import json
import math
import os
import re
import shlex
from pathlib import Path

import pytest
import torch
from torch import nn

from ganx import UserError
from ganx.config import load_run, validate_run
from ganx.plugins.image_datasets import FashionMNIST
from ganx.plugins.layers import Affine, Logits, Maxout, Reshape
from ganx.sweep.config import load_sweep
from ganx.trainer import build_run, d_step, g_step

ROOT = Path(__file__).parents[1]
REFERENCE = ROOT / "sweeps" / "reference"
DOC = (ROOT / "docs" / "reference-configs.md").read_text()
CONFIGS = ("seed-mlp-gan", "seed-tf-dcgan", "wgan-clip", "goodfellow2014-mnist")
DIGITS_28 = "dataset={name: digits, size: 28}"  # the same 1×28×28 shape as (Fashion-)MNIST, always offline


def linear(i: int, o: int, bias: bool = True) -> int:
    return i * o + o * bias


def conv(i: int, o: int, k: int, bias: bool = True) -> int:
    return i * o * k * k + o * bias


def batch_norm(n: int) -> int:
    return 2 * n  # γ and β (the running statistics are buffers, not parameters)


def layers(module: nn.Module) -> list[tuple]:
    """The computing layers of ``module`` in order, each as (type, its defining sizes)."""
    out, inside_maxout = [], set()
    for m in module.modules():
        if isinstance(m, Maxout):
            out.append(("Maxout", m.linear.in_features, m.out_features, m.pieces))
            inside_maxout.add(id(m.linear))
        elif id(m) in inside_maxout or list(m.children()) or isinstance(m, nn.Identity | nn.Flatten | Reshape | Logits):
            continue
        elif isinstance(m, nn.Linear):
            out.append(("Linear", m.in_features, m.out_features, m.bias is not None))
        elif isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            out.append((type(m).__name__, m.in_channels, m.out_channels, m.kernel_size, m.stride, m.bias is not None))
        elif isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            out.append((type(m).__name__, m.num_features, m.eps))
        elif isinstance(m, nn.LeakyReLU):
            out.append(("LeakyReLU", m.negative_slope))
        elif isinstance(m, nn.Dropout):
            out.append(("Dropout", m.p))
        elif isinstance(m, Affine):
            out.append(("Affine", m.scale, m.shift))
        else:
            out.append((type(m).__name__,))
    return out


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def built(name: str, *sets: str):
    """G, D and the run of a reference config, built on 28×28 digits (trick setups included)."""
    config = load_run(REFERENCE / f"{name}.yaml", [DIGITS_28, "device=cpu", *sets])
    run, hooks, _ = build_run(config)
    return run, hooks


MLP_G = [  # PyTorch-GAN gan.py: block(100, 128, normalize=False), then blocks with BatchNorm1d(out, 0.8)
    ("Linear", 100, 128, True), ("LeakyReLU", 0.2),
    ("Linear", 128, 256, True), ("BatchNorm1d", 256, 0.8), ("LeakyReLU", 0.2),
    ("Linear", 256, 512, True), ("BatchNorm1d", 512, 0.8), ("LeakyReLU", 0.2),
    ("Linear", 512, 1024, True), ("BatchNorm1d", 1024, 0.8), ("LeakyReLU", 0.2),
    ("Linear", 1024, 784, True), ("Tanh",),
]  # fmt: skip
MLP_G_PARAMS = (
    linear(100, 128) + linear(128, 256) + batch_norm(256) + linear(256, 512) + batch_norm(512)
    + linear(512, 1024) + batch_norm(1024) + linear(1024, 784)
)  # fmt: skip
MLP_D = [
    ("Linear", 784, 512, True), ("LeakyReLU", 0.2),
    ("Linear", 512, 256, True), ("LeakyReLU", 0.2),
    ("Linear", 256, 1, True),
]  # fmt: skip
MLP_D_PARAMS = linear(784, 512) + linear(512, 256) + linear(256, 1)


@pytest.mark.parametrize("name", CONFIGS)
def test_each_reference_config_validates_as_shipped(name):
    config = load_run(REFERENCE / f"{name}.yaml")
    assert config.name == name
    assert config.dataset.name == "fashion-mnist"  # offline here; the docs show how to point it at MNIST
    assert config.steps >= 10_000 and config.metrics


def test_seed_mlp_gan_builds_pytorch_gans_gan_py():
    run, _ = built("seed-mlp-gan")
    assert layers(run.generator) == MLP_G and count(run.generator) == MLP_G_PARAMS == 1_510_032
    assert layers(run.discriminator) == MLP_D and count(run.discriminator) == MLP_D_PARAMS == 533_505
    assert isinstance(run.opt_g, torch.optim.Adam) and run.opt_g.defaults["betas"] == (0.5, 0.999)
    assert run.opt_g.defaults["lr"] == run.opt_d.defaults["lr"] == 2e-4
    assert (run.config.latent_dim, run.config.batch_size, run.loss.name) == (100, 64, "nsgan")


def test_seed_tf_dcgan_builds_the_tensorflow_tutorials_model():
    run, _ = built("seed-tf-dcgan")
    lrelu = ("LeakyReLU", 0.3)  # Keras' LeakyReLU() default
    assert layers(run.generator) == [
        ("Linear", 100, 7 * 7 * 256, False), ("BatchNorm1d", 7 * 7 * 256, 1e-3), lrelu,
        ("ConvTranspose2d", 256, 128, (5, 5), (1, 1), False), ("BatchNorm2d", 128, 1e-3), lrelu,
        ("ConvTranspose2d", 128, 64, (5, 5), (2, 2), False), ("BatchNorm2d", 64, 1e-3), lrelu,
        ("ConvTranspose2d", 64, 1, (5, 5), (2, 2), False), ("Tanh",),
    ]  # fmt: skip
    assert layers(run.discriminator) == [
        ("Conv2d", 1, 64, (5, 5), (2, 2), True), lrelu, ("Dropout", 0.3),
        ("Conv2d", 64, 128, (5, 5), (2, 2), True), lrelu, ("Dropout", 0.3),
        ("Linear", 7 * 7 * 128, 1, True),
    ]  # fmt: skip
    g_params = (
        linear(100, 7 * 7 * 256, bias=False) + batch_norm(7 * 7 * 256) + conv(256, 128, 5, bias=False)
        + batch_norm(128) + conv(128, 64, 5, bias=False) + batch_norm(64) + conv(64, 1, 5, bias=False)
    )  # fmt: skip
    d_params = conv(1, 64, 5) + conv(64, 128, 5) + linear(7 * 7 * 128, 1)
    # the tutorial's model.summary(): 2,305,472 trainable in G, 212,865 in D
    assert count(run.generator) == g_params == 2_305_472
    assert count(run.discriminator) == d_params == 212_865
    shapes = []
    hooks = [
        m.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape[1:])))
        for m in run.generator
        if isinstance(m, nn.ConvTranspose2d)
    ]
    run.generator.eval()(torch.zeros(2, 100))
    assert shapes == [(128, 7, 7), (64, 14, 14), (1, 28, 28)]  # the tutorial's asserts
    for hook in hooks:
        hook.remove()
    assert run.opt_g.defaults["lr"] == run.opt_d.defaults["lr"] == 1e-4 and run.config.batch_size == 256


def test_wgan_clip_has_a_linear_critic_clipped_rmsprop_and_five_critic_steps():
    run, hooks = built("wgan-clip", "batch_size=16")
    assert layers(run.generator) == MLP_G and layers(run.discriminator) == MLP_D  # no sigmoid on the critic
    assert count(run.discriminator) == MLP_D_PARAMS
    assert isinstance(run.opt_d, torch.optim.RMSprop) and run.opt_d.defaults["lr"] == 5e-5
    assert isinstance(run.opt_g, torch.optim.RMSprop) and run.opt_g.defaults["lr"] == 5e-5
    assert run.d_steps == 5 and run.g_steps == 1
    d_step(run, hooks, False)
    weights = torch.cat([p.detach().flatten() for p in run.discriminator.parameters()])
    assert weights.abs().max() <= 0.01  # clamped after the critic step
    assert weights.abs().max() == pytest.approx(0.01)  # PyTorch's init is wider, so the clip bites


def test_goodfellow2014_builds_the_papers_mnist_model():
    run, _ = built("goodfellow2014-mnist")
    assert layers(run.generator) == [
        ("Linear", 100, 1200, True), ("ReLU",), ("Linear", 1200, 1200, True), ("ReLU",),
        ("Linear", 1200, 784, True), ("Sigmoid",), ("Affine", 2.0, -1.0),
    ]  # fmt: skip
    assert layers(run.discriminator) == [
        ("Affine", 0.5, 0.5), ("Dropout", 0.2), ("Maxout", 784, 240, 5), ("Dropout", 0.5),
        ("Maxout", 240, 240, 5), ("Dropout", 0.5), ("Linear", 240, 1, True),
    ]  # fmt: skip
    assert count(run.generator) == linear(100, 1200) + linear(1200, 1200) + linear(1200, 784) == 2_503_984
    assert count(run.discriminator) == linear(784, 240 * 5) + linear(240, 240 * 5) + linear(240, 1) == 1_231_441
    assert isinstance(run.opt_g, torch.optim.SGD) and run.opt_g.defaults["momentum"] == 0.5
    assert (run.opt_g.defaults["lr"], run.opt_d.defaults["lr"]) == (0.1, 0.05)  # D: 0.1 × the paper's ½ on its loss
    assert run.config.batch_size == 100
    assert [m.name for m in run.config.metrics] == ["parzen_ll"] and run.config.eval.samples == 10_000


# --- the pieces the references needed --------------------------------------------------------


def test_unit_range_lets_g_and_d_work_on_pixels_in_0_1():
    run, _ = built("goodfellow2014-mnist")
    seen = []
    inner_d = run.discriminator[1]
    inner_d.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    run.discriminator.eval()
    real = run.sample_real(32)
    run.discriminator(real)
    assert real.min() < 0 and torch.equal(seen[0], real * 0.5 + 0.5)  # D sees the data in [0, 1]
    z = torch.randn(32, 100)
    with torch.no_grad():
        sigmoid_out = run.generator[0](z)
        fake = run.generator(z)
        run.discriminator(fake)
    assert fake.min() >= -1 and fake.max() <= 1  # the rest of ganx keeps [-1, 1]
    torch.testing.assert_close(seen[1], sigmoid_out)  # D sees G's sigmoid output itself


def test_unit_range_refuses_point_data_at_validation(tiny):
    with pytest.raises(UserError) as refused:
        validate_run({**tiny, "tricks": ["unit_range"]}, "run.yaml")
    assert refused.value.problems == ["run.yaml: tricks[0]: trick 'unit_range' does not apply to points datasets"]


def train_steps(config, steps: int):
    run, hooks, _ = build_run(config)
    for step in range(steps):
        run.step = step
        d_step(run, hooks, False)
        g_step(run, hooks, False)
    return run


def test_optimizer_schedule_ramps_momentum_and_decays_the_lr(tiny):
    schedule = {"name": "optimizer_schedule", "momentum": 0.7, "ramp_start": 2, "ramp_end": 12, "lr_decay": 2.0}
    optimizer = {"name": "sgd", "lr": 0.1, "momentum": 0.5}
    run = train_steps(validate_run({**tiny, "optimizer": optimizer, "tricks": [schedule]}, "run.yaml"), 7)
    for opt in (run.opt_d, run.opt_g):  # the values of the last update, at step 6
        assert opt.param_groups[0]["momentum"] == pytest.approx(0.5 + 0.2 * (6 - 2) / 10)
        assert opt.param_groups[0]["lr"] == pytest.approx(0.1 / 2**6)
    assert run.optimizer["d"].lr == 0.1  # the configured base is untouched


def test_optimizer_schedule_holds_the_end_momentum_and_the_lr_floor(tiny):
    schedule = {
        "name": "optimizer_schedule", "momentum": 0.7, "ramp_end": 3, "lr_decay": 10.0, "min_lr": 1e-3, "nets": "d"
    }
    optimizer = {"name": "sgd", "lr": 0.1, "momentum": 0.5}
    run = train_steps(validate_run({**tiny, "optimizer": optimizer, "tricks": [schedule]}, "run.yaml"), 6)
    assert run.opt_d.param_groups[0]["momentum"] == 0.7 and run.opt_d.param_groups[0]["lr"] == 1e-3
    assert run.opt_g.param_groups[0]["momentum"] == 0.5 and run.opt_g.param_groups[0]["lr"] == 0.1  # nets: d


def test_optimizer_schedule_reaches_the_lr_floor_on_long_runs_without_overflow(tiny):
    schedule = {"name": "optimizer_schedule", "lr_decay": 1.01, "min_lr": 1e-6}
    config = validate_run(
        {**tiny, "steps": 200_000, "optimizer": {"name": "sgd", "lr": 0.1}, "tricks": [schedule]}, "run.yaml"
    )
    run, hooks, _ = build_run(config)
    run.step = 100_000  # 1.01 ** 100_000 is beyond a float
    hooks.each("before_d_step", run)
    assert run.opt_d.param_groups[0]["lr"] == 1e-6


def test_optimizer_schedule_needs_an_optimizer_with_momentum(tiny):
    config = validate_run({**tiny, "tricks": [{"name": "optimizer_schedule", "momentum": 0.7}]}, "run.yaml")
    with pytest.raises(UserError, match="optimizer.d: adam has not \\(use sgd or rmsprop\\)"):
        train_steps(config, 1)
    with pytest.raises(UserError, match="ramp_end \\(2\\) must come after ramp_start \\(5\\)"):
        validate_run({**tiny, "tricks": [{"name": "optimizer_schedule", "ramp_start": 5, "ramp_end": 2}]}, "run.yaml")


def test_the_ablation_sweep_runs_the_reference_config_unchanged_with_and_without_smoothing(ganx):
    path = REFERENCE / "ablate-seed-mlp-gan.yaml"
    sweep = load_sweep(path)
    reference = load_run(REFERENCE / "seed-mlp-gan.yaml").dump()
    by_arm = {cell.arm: cell.config.dump() for cell in sweep.cells if cell.seed == 0}
    assert set(by_arm) == {"baseline", "label_smoothing"}
    for arm, config in by_arm.items():
        assert {k: v for k, v in config.items() if k not in ("name", "tricks")} == {
            k: v for k, v in reference.items() if k not in ("name", "tricks")
        }
    assert by_arm["baseline"]["tricks"] == []
    assert by_arm["label_smoothing"]["tricks"] == [{"name": "label_smoothing", "mode": "one_sided", "real": 0.9}]
    code, out, err = ganx("sweep", "validate", str(path))
    assert code == 0 and "2 arms × 3 seeds = 6 cells" in out + err


def test_a_sweep_base_file_that_is_missing_is_one_error_naming_it(tmp_path):
    (tmp_path / "sweep.yaml").write_text("name: s\nbase: nowhere.yaml\nobjective: {metric: fid}\n")
    with pytest.raises(UserError, match=r"sweep.yaml: base: .*nowhere.yaml: no such file"):
        load_sweep(tmp_path / "sweep.yaml")


# --- the docs and the runs -------------------------------------------------------------------


def doc_commands(name: str) -> list[list[str]]:
    """Every ``ganx run sweeps/reference/NAME.yaml ...`` command line in the docs, split like a shell."""
    pattern = rf"^ganx run sweeps/reference/{re.escape(name)}\.yaml.*$"
    return [shlex.split(line) for line in re.findall(pattern, DOC, re.MULTILINE)]


@pytest.mark.parametrize("name", CONFIGS)
def test_the_docs_give_source_substitutions_and_valid_commands(name):
    section = DOC.split(f"## `{name}`", 1)[1].split("\n## ", 1)[0]
    assert "**Source**" in section and "**Substituted**" in section
    commands = doc_commands(name)
    assert commands, f"docs/reference-configs.md has no `ganx run sweeps/reference/{name}.yaml` command"
    for command in commands:
        sets = [command[i + 1] for i, arg in enumerate(command) if arg == "--set"]
        assert load_run(ROOT / command[2], sets).name == name


fashion = pytest.mark.skipif(
    not all((FashionMNIST.system_dir / f"{n}.gz").exists() for n in FashionMNIST.FILES)
    and os.environ.get("CI") != "true",
    reason=f"{FashionMNIST.system_dir} is absent: apt-get install dataset-fashion-mnist",
)
QUICK = {  # a few steps, a small batch, few samples: the shipped config otherwise
    "seed-mlp-gan": ["batch_size=16"],
    "seed-tf-dcgan": ["batch_size=16"],
    "wgan-clip": ["batch_size=16"],
    "goodfellow2014-mnist": ["batch_size=20", "metrics=[{name: parzen_ll, validation: 200, test: 500}]"],
}


@fashion
@pytest.mark.parametrize("name", CONFIGS)
def test_each_reference_config_trains_on_fashion_mnist_into_its_metrics(name, ganx, tmp_path):
    sets = ["steps=2", "log_every=1", "eval.samples=500", *QUICK[name]]
    args = [a for s in sets for a in ("--set", s)]
    code, out, err = ganx("run", str(REFERENCE / f"{name}.yaml"), *args, "--device", "cpu", "--out", str(tmp_path))
    assert code == 0, err
    final = json.loads((tmp_path / "final.json").read_text())
    expected = [m.name for m in load_run(REFERENCE / f"{name}.yaml", sets).metrics]
    assert sorted(final["metrics"]) == sorted(expected)
    assert all(math.isfinite(v) for v in final["metrics"].values())
    if name == "goodfellow2014-mnist":
        assert final["protocol"]["parzen_ll"]["units"] == "[0, 1] pixels"
        assert final["protocol"]["parzen_ll"]["sigma_grid"] == "logspace(-1, 0, 10)"


@fashion
def test_the_ablation_sweep_trains_both_arms_and_tables_them(ganx, tmp_path):
    sets = ["base.steps=2", "base.batch_size=16", "base.eval.samples=500", "seeds=[0]"]
    args = [a for s in sets for a in ("--set", s)]
    path = REFERENCE / "ablate-seed-mlp-gan.yaml"
    code, out, err = ganx("sweep", str(path), *args, "--device", "cpu", "--results", str(tmp_path))
    assert code == 0, err
    runs = tmp_path / "ablate-seed-mlp-gan" / "runs"
    for arm in ("baseline", "label_smoothing"):
        assert "fid" in json.loads((runs / f"{arm}-s0" / "final.json").read_text())["metrics"]
        assert arm in out
