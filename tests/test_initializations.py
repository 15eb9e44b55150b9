"""Weight initialization (``init: {g: ..., d: ...}``): each scheme gives its weight statistics, and
``default`` leaves PyTorch's own weights untouched."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganx.config import validate_run
from ganx.testing import catalog
from ganx.trainer import build_run, train


def built(tiny, init, **changes):
    run, _, _ = build_run(validate_run({**tiny, "init": init, **changes}, "run.yaml"))
    return run


def linears(net: nn.Module) -> list[nn.Linear]:
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


def test_default_keeps_pytorchs_weights(tiny):
    default, unset = built(tiny, "default"), build_run(validate_run(tiny, "run.yaml"))[0]
    for a, b in zip(default.generator.state_dict().values(), unset.generator.state_dict().values()):
        assert torch.equal(a, b)
    assert any(m.bias.abs().sum() > 0 for m in linears(default.discriminator))  # PyTorch's biases are not zero


@pytest.mark.parametrize("std", [0.02, 0.5])
def test_normal_draws_weights_with_the_given_std_and_zero_biases(tiny, std):
    run = built(tiny, {"name": "normal", "std": std}, arch={"name": "mlp", "hidden": [256, 256]})
    weights = torch.cat([m.weight.flatten() for net in (run.generator, run.discriminator) for m in linears(net)])
    assert weights.std().item() == pytest.approx(std, rel=0.03)
    assert abs(weights.mean().item()) < 0.05 * std
    assert all(m.bias.abs().sum() == 0 for net in (run.generator, run.discriminator) for m in linears(net))


def test_xavier_kaiming_and_orthogonal_give_their_weight_statistics(tiny):
    arch = {"name": "mlp", "hidden": [256, 256]}
    middle = lambda init: linears(built(tiny, init, arch=arch).generator)[1].weight  # noqa: E731  256 x 256
    assert middle("xavier").abs().max().item() == pytest.approx(math.sqrt(6 / 512), rel=0.01)
    assert middle({"name": "kaiming", "a": 0}).std().item() == pytest.approx(math.sqrt(2 / 256), rel=0.03)
    w = middle({"name": "orthogonal", "gain": 2.0})
    torch.testing.assert_close(w @ w.T, 4 * torch.eye(256), atol=1e-4, rtol=0)


def test_norm_layers_start_at_scale_one_and_shift_zero_and_spectral_norm_inits_its_original_weight(tiny):
    run = built(tiny, {"g": "normal", "d": "orthogonal"}, norm={"g": "batch", "d": "spectral"})
    bn = [m for m in run.generator.modules() if isinstance(m, nn.BatchNorm1d)]
    assert bn and all(torch.equal(m.weight, torch.ones_like(m.weight)) and m.bias.abs().sum() == 0 for m in bn)
    original = linears(run.discriminator)[1].parametrizations.weight.original
    torch.testing.assert_close(original @ original.T, torch.eye(len(original)), atol=1e-4, rtol=0)


def test_init_changes_training_and_is_reproducible(tiny):
    config = validate_run({**tiny, "steps": 30, "init": {"name": "normal", "std": 0.02}}, "run.yaml")
    first, again = train(config), train(config)
    assert first["metrics"] == again["metrics"]
    assert first != train(validate_run({**tiny, "steps": 30}, "run.yaml"))


def test_a_third_party_initialization_is_used_through_the_public_api(tiny, register_plugin):
    from ganx import Initialization, hookimpl

    class Constant(Initialization):
        name = "test-constant"

        def weight_(self, weight):
            nn.init.constant_(weight, 0.125)

    class Plugin:
        @hookimpl
        def register_initializations(self, register):
            register(Constant)

    register_plugin(Plugin())
    assert "test-constant" in catalog().names("initialization")
    run = built(tiny, {"g": "test-constant", "d": "default"})
    assert all(torch.all(m.weight == 0.125) for m in linears(run.generator))
    assert not any(torch.all(m.weight == 0.125) for m in linears(run.discriminator))


def test_an_unknown_init_is_refused_naming_the_field(tiny):
    from ganx import UserError

    with pytest.raises(UserError, match=r"init\.g: unknown initialization plugin 'gaussian' \(valid: default, kaiming"):
        validate_run({**tiny, "init": {"g": "gaussian", "d": "default"}}, "run.yaml")
