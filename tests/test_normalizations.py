"""Each normalization puts the right layer in G and D, and that layer really normalizes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganx.config import Spec
from ganx.plugin_manager import get_catalog


def norm(spec):
    return get_catalog().create("normalization", Spec.model_validate(spec))


def dcgan(norm_spec, shape=(1, 16, 16)):
    arch = get_catalog().create(
        "architecture", Spec.model_validate({"name": "dcgan", "g_widths": [8, 4], "d_widths": [4, 8]})
    )
    return arch.build_generator(4, shape, norm(norm_spec)), arch.build_discriminator(shape, norm(norm_spec))


def types(module):
    return {type(m) for m in module.modules()}


@pytest.mark.parametrize(
    "name, spatial, vector",
    [
        ("none", nn.Identity, nn.Identity),
        ("batch", nn.BatchNorm2d, nn.BatchNorm1d),
        ("instance", nn.InstanceNorm2d, nn.LayerNorm),
        ("layer", nn.GroupNorm, nn.LayerNorm),
        ("group", nn.GroupNorm, nn.GroupNorm),
        ("spectral", nn.Identity, nn.Identity),
    ],
)
def test_layer_types(name, spatial, vector):
    assert type(norm(name).layer(8, True)) is spatial
    assert type(norm(name).layer(8, False)) is vector
    g, d = dcgan(name)
    if spatial is nn.Identity:  # a norm that adds no layer leaves no no-op module behind
        assert nn.Identity not in types(g) | types(d)
    else:
        assert spatial in types(g) and spatial in types(d)


def test_instance_norm_is_affine_and_normalizes_each_map():
    layer = norm("instance").layer(3, True)
    assert layer.affine
    out = layer(torch.randn(2, 3, 5, 5) * 7 + 3)
    assert torch.allclose(out.mean((2, 3)), torch.zeros(2, 3), atol=1e-5)


def test_layer_norm_normalizes_each_sample_over_all_features():
    out = norm("layer").layer(4, True)(torch.randn(3, 4, 5, 5) * 5 + 2)
    assert torch.allclose(out.mean((1, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(out.std((1, 2, 3), unbiased=False), torch.ones(3), atol=1e-3)


def test_group_norm_lowers_groups_to_a_divisor_leaving_vectors_four_features_a_group():
    assert norm({"name": "group", "groups": 32}).layer(64, True).num_groups == 32
    assert norm({"name": "group", "groups": 5}).layer(12, True).num_groups == 4
    assert norm({"name": "group", "groups": 32}).layer(6, True).num_groups == 6  # one map a group
    assert [norm("group").layer(width, False).num_groups for width in (128, 16, 12, 6, 3)] == [32, 4, 3, 1, 1]


def test_group_norm_on_an_mlp_generator_keeps_its_output_varying_with_z():
    torch.manual_seed(0)
    mlp = get_catalog().create("architecture", Spec.model_validate({"name": "mlp", "hidden": [16, 16]}))
    fake = mlp.build_generator(4, (2,), norm("group"))(torch.randn(1000, 4))
    assert fake.std(0).min() > 0.05  # groups of one feature each made it a constant (std ~6e-07)


def test_spectral_norm_bounds_the_top_singular_value_by_one():
    torch.manual_seed(0)  # the power iteration's pace depends on the weights' singular-value gap
    layer = norm({"name": "spectral", "power_iterations": 1}).wrap(nn.Linear(20, 30))
    with torch.no_grad():
        layer.parametrizations.weight.original.mul_(50)
        for _ in range(200):  # power iterations run in training-mode forward passes
            layer(torch.randn(4, 20))
    assert torch.linalg.matrix_norm(layer.weight.detach(), ord=2) == pytest.approx(1.0, abs=1e-3)
    _, d = dcgan("spectral")
    convs = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert convs and all(hasattr(m, "parametrizations") for m in convs)
