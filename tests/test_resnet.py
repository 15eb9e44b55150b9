"""The SNGAN / WGAN-GP ResNet: mimicry's parameter counts, shapes at each image size, labels, short runs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganx.config import Spec
from ganx.plugin_manager import get_catalog
from ganx.plugins.layers import ConditionalBatchNorm, Residual

from probe import probed_train

# mimicry's SNGANGenerator32 (nz 128, ngf 256, bottom width 4; torch_mimicry/nets/sngan/sngan_32.py), by hand:
#   l1 Linear(128, 4·4·256)                                      128·4096 + 4096          =   528,384
#   3 × GBlock(256, 256, upsample): BN 512, conv3 590,080, BN 512, conv3 590,080, 1×1 shortcut 65,792
#                                                                 3 × 1,246,976           = 3,740,928
#   b5 BN(256) 512, c5 Conv2d(256, 3, 3) 6,912 + 3                                         =     7,427
SNGAN_32_G = 528_384 + 3_740_928 + 7_427  # 4,276,739
# mimicry's SNGANDiscriminator32 (ndf 128; spectral norm adds buffers, not parameters):
#   DBlockOptimized(3, 128): conv3 3,584, conv3 147,584, 1×1 shortcut 512                 =   151,680
#   DBlock(128, 128, downsample): conv3 147,584 × 2, 1×1 shortcut 16,512                   =   311,680
#   2 × DBlock(128, 128): conv3 147,584 × 2, identity shortcut                  2 × 295,168 =   590,336
#   l5 SNLinear(128, 1)                                                                    =       129
SNGAN_32_D = 151_680 + 311_680 + 590_336 + 129  # 1,053,825


def create(category, spec):
    return get_catalog().create(category, Spec.model_validate(spec))


def count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def test_at_32px_it_has_mimicrys_sngan_parameter_counts():
    arch = create("architecture", "resnet")
    g = arch.build_generator(128, (3, 32, 32), create("normalization", "batch"))
    d = arch.build_discriminator((3, 32, 32), create("normalization", "spectral"))
    assert (count(g), count(d)) == (SNGAN_32_G, SNGAN_32_D) == (4_276_739, 1_053_825)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert all(hasattr(m, "parametrizations") for m in convs)


@pytest.mark.parametrize(("shape", "g_blocks"), [((3, 32, 32), 3), ((1, 28, 28), 2), ((1, 16, 16), 2), ((1, 8, 8), 1)])
def test_it_maps_z_to_images_and_images_to_one_logit_at_each_size(shape, g_blocks):
    arch = create("architecture", {"name": "resnet", "ngf": 8, "ndf": 8})
    g = arch.build_generator(6, shape, create("normalization", "batch"))
    d = arch.build_discriminator(shape, create("normalization", "spectral"))
    assert type(g) is type(d) is nn.Sequential  # an unconditional run's nets take no labels
    fake = g(torch.randn(3, 6))
    assert fake.shape == (3, *shape) and fake.abs().max() <= 1
    assert d(fake).shape == (3,)
    assert sum(isinstance(m, Residual) for m in g) == g_blocks and sum(isinstance(m, Residual) for m in d) == 4


def test_a_cbn_g_is_called_with_labels_and_its_output_depends_on_them():
    arch = create("architecture", {"name": "resnet", "ngf": 8, "ndf": 8, "cond_g": "cbn"})
    g = arch.build_generator(6, (1, 16, 16), create("normalization", "batch"), num_classes=10)
    cbns = [m for m in g.modules() if isinstance(m, ConditionalBatchNorm)]
    assert len(cbns) == 2 * 2 + 1  # two per block, one before the last conv
    assert not any(isinstance(m, nn.BatchNorm2d) and m.affine for m in g.modules())  # none left unconditional
    with torch.no_grad():
        for cbn in cbns:
            cbn.shift.weight.normal_()  # as training would: each class its own shift
        z = torch.randn(4, 6)
        zeros, nines = torch.zeros(4, dtype=torch.long), torch.full((4,), 9)
        assert g(z, zeros).shape == (4, 1, 16, 16)
        assert not torch.allclose(g(z, zeros), g(z, nines))


@pytest.mark.parametrize(("cond_g", "cond_d"), [("concat", "projection"), ("cbn", "concat"), ("none", "none")])
def test_d_and_g_take_labels_each_way(cond_g, cond_d):
    arch = create("architecture", {"name": "resnet", "ngf": 8, "ndf": 8, "cond_g": cond_g, "cond_d": cond_d})
    g = arch.build_generator(6, (1, 8, 8), create("normalization", "batch"), num_classes=10)
    d = arch.build_discriminator((1, 8, 8), create("normalization", "spectral"), num_classes=10)
    zeros, nines = torch.zeros(4, dtype=torch.long), torch.full((4,), 9)
    x = torch.randn(4, 1, 8, 8)
    d.eval()  # spectral norm's power iteration steps on each training-mode pass
    with torch.no_grad():
        assert g(torch.randn(4, 6), zeros).shape == (4, 1, 8, 8)
        assert d(x, zeros).shape == (4,)
        assert torch.allclose(d(x, zeros), d(x, nines)) == (cond_d == "none")


DIGITS = {
    "dataset": "digits", "arch": {"name": "resnet", "ngf": 16, "ndf": 16}, "norm": {"g": "batch", "d": "spectral"},
    "loss": "hinge", "steps": 3, "batch_size": 16, "latent_dim": 8, "log_every": 3, "eval": {"samples": 32},
}


@pytest.mark.parametrize("labels", ["none", "uniform"])
def test_it_trains_a_few_steps_on_digits(register_plugin, labels):
    probe = probed_train({**DIGITS, "labels": labels}, register_plugin)
    assert probe.run.data_shape == (1, 8, 8)
    assert torch.isfinite(torch.stack(probe.losses)).all() and probe.g_changed()
