"""MLP and DCGAN: shapes, layer layout (strides, norms, biases), the resampling switches (also resnet's),
and short DCGAN runs on 16×16 digits."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganx import UserError
from ganx.config import Spec
from ganx.plugin_manager import get_catalog

from probe import probed_train


def create(category, spec):
    return get_catalog().create(category, Spec.model_validate(spec))


def test_mlp_first_norm_off_leaves_g_first_layer_unnormalized():
    batch = create("normalization", "batch")
    with_first = create("architecture", {"name": "mlp", "hidden": [8, 8]}).build_generator(4, (2,), batch)
    without = create("architecture", {"name": "mlp", "hidden": [8, 8], "first_norm": False}).build_generator(
        4, (2,), batch
    )
    assert isinstance(with_first[1], nn.BatchNorm1d) and isinstance(without[1], nn.LeakyReLU)
    assert sum(isinstance(m, nn.BatchNorm1d) for m in without.modules()) == 1


@pytest.mark.parametrize("norm", ["batch", "layer", "spectral"])
def test_mlp_maxout_d_is_normalized_like_the_plain_d(norm):
    arch = create("architecture", {"name": "mlp", "hidden": [8, 8], "maxout": 3})
    d = arch.build_discriminator((2,), create("normalization", norm))
    plain = create("architecture", {"name": "mlp", "hidden": [8, 8]}).build_discriminator(
        (2,), create("normalization", norm))
    norms = [type(m) for m in d.modules() if isinstance(m, (nn.BatchNorm1d, nn.LayerNorm))]
    assert norms == [type(m) for m in plain.modules() if isinstance(m, (nn.BatchNorm1d, nn.LayerNorm))]
    linears = [m for m in d.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 3 and all(hasattr(m, "parametrizations") == (norm == "spectral") for m in linears)
    assert d(torch.randn(5, 2)).shape == (5,)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 16, 16), (3, 8, 8)])
def test_dcgan_maps_z_to_images_and_images_to_one_logit(shape):
    arch = create("architecture", {"name": "dcgan", "g_widths": [16, 8, 4], "d_widths": [4, 8]})
    g, d = (
        arch.build_generator(6, shape, create("normalization", "batch")),
        arch.build_discriminator(shape, create("normalization", "none")),
    )
    fake = g(torch.randn(3, 6))
    assert fake.shape == (3, *shape) and fake.abs().max() <= 1
    assert d(fake).shape == (3,)


def test_dcgan_is_strided_with_no_pooling():
    arch = create("architecture", {"name": "dcgan"})
    g, d = (
        arch.build_generator(8, (3, 32, 32), create("normalization", "batch")),
        arch.build_discriminator((3, 32, 32), create("normalization", "batch")),
    )
    assert [m.stride for m in g.modules() if isinstance(m, nn.ConvTranspose2d)] == [(2, 2)] * 3  # 4 -> 8 -> 16 -> 32
    assert [m.stride for m in d.modules() if isinstance(m, nn.Conv2d)] == [(2, 2)] * 2
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) for m in [*g.modules(), *d.modules()])
    assert not isinstance(d[1], nn.BatchNorm2d) and isinstance(d[3], nn.BatchNorm2d)  # no norm on D's input layer


RESAMPLING = {"pixel_shuffle": nn.PixelShuffle, "nearest": nn.Upsample, "avg_pool": nn.AvgPool2d,
              "max_pool": nn.MaxPool2d}  # the layers that only these options put in G or D
SMALL = [{"name": "dcgan", "g_widths": [16, 8, 4], "d_widths": [4, 8]}, {"name": "resnet", "ngf": 8, "ndf": 8}]
SIZED = [(arch, shape) for arch in SMALL for shape in [(1, 28, 28), (3, 32, 32), (1, 8, 8)]]
EVEN_KERNEL = ({**SMALL[0], "kernel": 4}, (3, 32, 32))  # 'same' padding; dcgan's G has no stride-1 layer at 32


@pytest.mark.parametrize(("arch", "shape"), [*SIZED, EVEN_KERNEL])
@pytest.mark.parametrize(("upsample", "downsample"), [
    ("transposed", "stride"), ("pixel_shuffle", "avg_pool"), ("nearest", "max_pool"),
])
def test_each_resampling_switch_builds_its_layers_and_keeps_the_shapes(arch, shape, upsample, downsample):
    arch = create("architecture", {**arch, "upsample": upsample, "downsample": downsample})
    g = arch.build_generator(6, shape, create("normalization", "batch"))
    d = arch.build_discriminator(shape, create("normalization", "batch"))
    fake = g(torch.randn(3, 6))
    assert fake.shape == (3, *shape) and d(fake).shape == (3,)
    assert has_stride_2(g, nn.ConvTranspose2d) == (upsample == "transposed")
    assert has_stride_2(d, nn.Conv2d) == (downsample == "stride")
    layers = {type(m) for m in [*g.modules(), *d.modules()] if type(m) in RESAMPLING.values()}
    assert layers == {RESAMPLING[kind] for kind in (upsample, downsample) if kind in RESAMPLING}


def has_stride_2(net: nn.Module, conv: type[nn.Module]) -> bool:
    return any(isinstance(m, conv) and m.stride == (2, 2) for m in net.modules())


def test_dcgans_default_build_is_as_before_the_resampling_switches():
    arch, batch = create("architecture", "dcgan"), create("normalization", "batch")
    g, d = arch.build_generator(100, (3, 32, 32), batch), arch.build_discriminator((3, 32, 32), batch)
    assert (sum(p.numel() for p in g.parameters()), sum(p.numel() for p in d.parameters())) == (1_451_267, 218_241)
    assert [type(m).__name__ for m in g] == [
        "Linear", "BatchNorm1d", "ReLU", "Reshape", "ConvTranspose2d", "BatchNorm2d", "ReLU", "ConvTranspose2d",
        "BatchNorm2d", "ReLU", "ConvTranspose2d", "Tanh",
    ]
    assert [type(m).__name__ for m in d] == [
        "Conv2d", "LeakyReLU", "Conv2d", "BatchNorm2d", "LeakyReLU", "Flatten", "Linear", "Logits",
    ]


def test_dcgan_expresses_the_tensorflow_tutorial_dcgan():
    arch = create(
        "architecture",
        {"name": "dcgan", "g_widths": [256, 128, 64], "d_widths": [64, 128], "kernel": 5, "g_bias": False,
         "g_activation": "leaky_relu", "slope": 0.3, "dropout": 0.3},
    )
    g = arch.build_generator(100, (1, 28, 28), create("normalization", "batch"))
    d = arch.build_discriminator((1, 28, 28), create("normalization", "none"))
    assert isinstance(g[0], nn.Linear) and g[0].out_features == 7 * 7 * 256 and g[0].bias is None
    assert isinstance(g[1], nn.BatchNorm1d) and g[2].negative_slope == 0.3
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.out_channels, m.kernel_size, m.stride) for m in convs] == [
        (128, (5, 5), (1, 1)),
        (64, (5, 5), (2, 2)),
        (1, (5, 5), (2, 2)),
    ]
    assert all(m.bias is None for m in convs) and isinstance(g[-1], nn.Tanh)
    layers = [type(m).__name__ for m in d if not isinstance(m, nn.Identity)]
    assert layers == ["Conv2d", "LeakyReLU", "Dropout", "Conv2d", "LeakyReLU", "Dropout", "Flatten", "Linear", "Logits"]
    assert d[-2].in_features == 128 * 7 * 7


def test_dcgan_refuses_points_and_even_kernels_it_cannot_size():
    arch = create("architecture", {"name": "dcgan"})
    with pytest.raises(UserError, match="image"):
        arch.build_generator(4, (2,), create("normalization", "none"))
    with pytest.raises(UserError, match="odd"):
        create("architecture", {"name": "dcgan", "kernel": 4}).build_generator(
            4, (1, 28, 28), create("normalization", "none")
        )


DIGITS = {
    "name": "digits16",
    "dataset": {"name": "digits", "size": 16},
    "arch": {"name": "dcgan", "g_widths": [16, 8], "d_widths": [8, 16]},
    "norm": {"g": "batch", "d": "none"},
    "steps": 3,
    "batch_size": 16,
    "latent_dim": 8,
    "log_every": 3,
    "eval": {"samples": 32},
}


@pytest.mark.parametrize("loss", ["minimax", "nsgan", "wgan", "wgan-gp", "lsgan", "hinge", "ragan"])
def test_dcgan_trains_with_each_loss_on_16px_digits(register_plugin, loss):
    probe = probed_train({**DIGITS, "loss": loss}, register_plugin)
    assert probe.run.data_shape == (1, 16, 16)
    assert torch.isfinite(torch.stack(probe.losses)).all() and probe.g_changed()
