"""The studies of docs/reproductions.md: PacGAN's Table 1 set up as the paper's code has it, the
Lucic et al. 2018 equal-budget comparison and the ganhacks study. Each builds what its header says,
and a tiny version of each (2 seeds, a few steps) runs end to end, so that its config cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_reference_configs import layers
from torch import nn

from ganx.plugins.layers import Packed
from ganx.sweep.config import load_sweep
from ganx.trainer import build_run, d_step

ROOT = Path(__file__).parents[1]
REPRODUCE = ROOT / "sweeps" / "reproduce"
PACGAN_G = [("Linear", 2, 400, True), ("BatchNorm1d", 400, 1e-5), ("ReLU",)] + [
    ("Linear", 400, 400, True), ("BatchNorm1d", 400, 1e-5), ("ReLU",)
] * 3 + [("Linear", 400, 2, True)]  # fmt: skip


def cell(sweep, arm: str):
    return next(c for c in sweep.cells if c.arm == arm)


@pytest.mark.parametrize("name, dataset", [("pacgan-grid", "grid25"), ("pacgan-ring", "ring8")])
def test_pacgan_sweeps_build_the_papers_networks_and_batches(name, dataset):
    sweep = load_sweep(REPRODUCE / f"{name}.yaml")
    assert sweep.arms == ["gan", "pacgan2", "pacgan3", "pacgan4"] and sweep.config.seeds == list(range(10))
    config = cell(sweep, "pacgan3").config
    assert (config.dataset.name, config.steps, config.batch_size, config.eval.samples) == (dataset, 400_000, 100, 2500)
    assert (config.optimizer.g.lr, config.optimizer.g.betas) == (1e-4, (0.8, 0.999))
    run, hooks, _ = build_run(config.model_copy(update={"device": "cpu"}))
    assert layers(run.generator) == PACGAN_G
    assert isinstance(run.discriminator, Packed) and run.discriminator.m == 3
    assert layers(run.discriminator) == [("Maxout", 6, 200, 5), ("Maxout", 200, 200, 5), ("Maxout", 200, 200, 5),
                                         ("Linear", 200, 1, True)]
    for net in (run.generator, run.discriminator):  # N(0, 0.02²) weights and zero biases, the packed D's too
        linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
        weights = torch.cat([m.weight.flatten() for m in linears])
        assert weights.std().item() == pytest.approx(0.02, rel=0.05) and not any(m.bias.any() for m in linears)
    assert run.batch_size == 300  # as in PacGAN's code: 100 packed inputs of 3 samples each
    _, real_logits, fake_logits = d_step(run, hooks, measure=False)
    assert real_logits.shape == fake_logits.shape == (100,)


def test_lucic_sweep_tunes_each_loss_over_the_papers_ranges_with_its_own_parameters():
    sweep = load_sweep(REPRODUCE / "lucic2018-fashion.yaml")
    assert sweep.arms == ["nsgan", "minimax", "lsgan", "wgan", "wgan_gp", "hinge"]
    search = sweep.config.search
    ranges = {path: (p.min, p.max, p.kind) for path, p in search.parameters.items() if p.min is not None}
    assert ranges == {
        "optimizer.lr": (1e-5, 1e-2, "log_uniform_values"),
        "optimizer.betas.0": (0.0, 0.99, "uniform"),
        "loss.clip": (1e-3, 1.0, "log_uniform_values"),
        "loss.gp_weight": (0.1, 100.0, "log_uniform_values"),
    }
    drawn = {arm: [path for path, p in search.parameters.items() if p.draws_for(arm)] for arm in sweep.arms}
    assert drawn["wgan"][-1] == "loss.clip" and drawn["wgan_gp"][-1] == "loss.gp_weight"
    assert drawn["nsgan"] == ["optimizer.lr", "optimizer.betas.0", "tricks"]
    assert [len(t) for t in search.parameters["tricks"].values] == [0, 1]  # 1 or 5 D steps per G step


def test_a_search_parameter_for_an_arm_that_does_not_exist_is_refused(tmp_path):
    from ganx import UserError

    text = (REPRODUCE / "lucic2018-fashion.yaml").read_text().replace("arms: [wgan_gp]", "arms: [wgangp]")
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(UserError, match=r"search.parameters.loss.gp_weight.arms: no arm named 'wgangp'"):
        load_sweep(tmp_path / "s.yaml")


TINY = {  # a few steps and 2 seeds per study
    "reproduce/pacgan-grid": ["base.steps=60", "base.log_every=30"],
    "reproduce/pacgan-ring": ["base.steps=60", "base.log_every=30"],
    "reproduce/lucic2018-fashion": ["base.steps=8", "base.log_every=4", "search.trials_per_arm=1",
                                    "base.dataset={name: digits, size: 28}"],
    "ganhacks": ["base.steps=40", "base.log_every=20"],
}


@pytest.mark.parametrize("name", list(TINY))
def test_each_study_runs_tiny(name, ganx, tmp_path):
    sweep = ROOT / "sweeps" / f"{name}.yaml"
    sets = ["seeds=[0,1]", "base.eval={every: 0, samples: 200}", *TINY[name]]
    code, out, err = ganx("sweep", sweep, "--results", tmp_path, "--workers", "1",
                          *(arg for s in sets for arg in ("--set", s)))
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("│ ")]
    arms = load_sweep(sweep).arms
    assert [row.split("│")[1].strip() for row in rows[: len(arms)]] == arms
    assert all(row.rstrip("│ ").endswith("2/0/0") for row in rows[: len(arms)])
