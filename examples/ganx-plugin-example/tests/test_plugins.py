"""Tests of the example plugins, written with ganx's testing kit (no install needed)."""

import math

import ganx_plugin_example
import pytest
import torch
from ganx_plugin_example.losses import RelativisticStandard

from ganx import UserError
from ganx.testing import catalog, registered, train_tiny


def test_both_plugins_are_registered():
    with registered(ganx_plugin_example):
        assert catalog().get("loss", "rsgan") is RelativisticStandard
        assert "flooding" in catalog().names("trick")


def test_rsgan_compares_each_real_sample_with_a_fake():
    loss = RelativisticStandard()
    real, fake = torch.tensor([3.0, 0.0]), torch.tensor([1.0, 0.0])
    ones, zeros = torch.ones(2), torch.zeros(2)
    expected = (math.log1p(math.exp(-2.0)) + math.log(2.0)) / 2
    assert loss.d_loss(real, fake, ones, zeros).item() == pytest.approx(expected)
    assert loss.g_loss(fake, real).item() == pytest.approx((math.log1p(math.exp(2.0)) + math.log(2.0)) / 2)


def test_flooding_keeps_d_loss_at_or_above_the_level():
    # nsgan's D loss starts near 2·log 2 ≈ 1.39, so a level of 2 floods every step.
    result = train_tiny(ganx_plugin_example, tricks=[{"name": "flooding", "level": 2.0}])
    assert len(result.losses) == 4
    assert min(row["d_loss"] for row in result.losses) >= 2.0
    baseline = train_tiny(ganx_plugin_example)
    assert min(row["d_loss"] for row in baseline.losses) < 2.0


def test_rsgan_with_flooding_trains():
    result = train_tiny(ganx_plugin_example, loss="rsgan", tricks=["flooding"])
    assert all(math.isfinite(row["g_loss"]) for row in result.losses)
    assert min(row["d_loss"] for row in result.losses) >= 0.1


def test_a_negative_flood_level_is_refused_by_the_schema():
    with pytest.raises(UserError, match=r"tricks\[0\]\.flooding\.level: .*greater than or equal to 0"):
        train_tiny(ganx_plugin_example, tricks=[{"name": "flooding", "level": -1}])
