"""Vectorized seeds: K seeds stacked into one model, stepped by the one training loop, give each seed
its separate run's results."""

from __future__ import annotations

import json

import pytest
import torch

from ganx import TrainingFailure, Trick, hookimpl
from ganx.config import validate_run
from ganx.plugins.architectures import MLP
from ganx.stacked import Unsupported, why_not
from ganx.trainer import train, train_seeds

ARMS = {  # arm -> its change to the tiny config
    "nsgan": {},
    "ragan, layer norm, d_steps, ttur": {
        "loss": "ragan", "norm": "layer", "tricks": [{"name": "d_steps", "k": 2}, "ttur"],
    },
    "hinge, maxout D, joint batch, sgd": {
        "loss": "hinge", "arch": {"g": "mlp", "d": {"name": "mlp", "hidden": [8, 8], "maxout": 3}},
        "tricks": [{"name": "separate_batches", "separate": False}],
        "optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.5},
    },
    "wgan, weight clip on G (hooks on the stacked run)": {
        "loss": {"name": "wgan", "clip": 0.05}, "tricks": [{"name": "weight_clip", "clip": 0.1, "nets": "g"}],
        "optimizer": {"name": "rmsprop", "lr": 5e-4},
    },
}


def seeds_of(tiny, arm: dict, seeds=(0, 1, 2)):
    base = {**tiny, "steps": 12, "log_every": 4, "eval": {"every": 6, "samples": 200}, **arm}
    return [validate_run({**base, "seed": s, "name": f"arm-s{s}"}, "t") for s in seeds]


def rows(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def assert_same_run(vectorized, separate, pinned: bool) -> None:
    """Same log rows, files and (if ``pinned``) final weights, up to float reduction order.

    Layer norm ignores a shift of the features before it, and ragan one of all D's logits, so some
    weight directions get only rounding noise as gradient, which Adam scales up. Such a run is not
    ``pinned``: its losses still agree, but its weights and D's mean outputs are not compared.
    """
    got, want = rows(vectorized), rows(separate)
    assert [r.keys() for r in got] == [r.keys() for r in want]
    for g, w in zip(got, want):
        if not pinned:
            g, w = ({k: v for k, v in r.items() if k not in ("d_real", "d_fake")} for r in (g, w))
        assert g == pytest.approx(w, rel=1e-4, abs=1e-5)
    assert sorted(p.name for p in vectorized.iterdir()) == sorted(p.name for p in separate.iterdir())
    got_state, want_state = (torch.load(f / "checkpoint.pt", weights_only=False) for f in (vectorized, separate))
    for net in ("generator", "discriminator") if pinned else ():
        for key, value in want_state[net].items():
            torch.testing.assert_close(got_state[net][key], value, rtol=1e-4, atol=1e-5)
    assert got_state["opt_d"]["state"].keys() == want_state["opt_d"]["state"].keys()
    assert torch.equal(got_state["rng"], want_state["rng"])  # the seed's own data and z streams, used alike


@pytest.mark.parametrize("arm_id", ARMS)
def test_each_seed_trains_as_its_own_separate_run(tiny, tmp_path, arm_id):
    arm = ARMS[arm_id]
    configs = seeds_of(tiny, arm, (0, 1) if arm else (0, 1, 2))
    assert why_not(configs) is None
    outcomes = train_seeds(configs, [tmp_path / f"vec-{c.seed}" for c in configs])
    for config, outcome in zip(configs, outcomes):
        separate = train(config, tmp_path / f"sep-{config.seed}")
        assert outcome["metrics"] == pytest.approx(separate["metrics"], rel=1e-4, abs=1e-6)
        assert_same_run(tmp_path / f"vec-{config.seed}", tmp_path / f"sep-{config.seed}", pinned="ragan" not in arm_id)


def test_a_seed_checkpoint_resumes_as_a_separate_run(tiny, tmp_path):
    configs = seeds_of(tiny, {})[:2]
    train_seeds([c.model_copy(update={"steps": 6}) for c in configs], [tmp_path / "a", tmp_path / "b"])
    (tmp_path / "a" / "final.json").unlink()
    resumed = train(configs[0], tmp_path / "a", resume=True)
    assert resumed["metrics"] == pytest.approx(train(configs[0])["metrics"], rel=1e-4, abs=1e-6)


@pytest.mark.parametrize(("change", "reason"), [
    ({"tricks": ["label_smoothing"]},
     "trick label_smoothing acts through the hook setup and does not declare batched = True"),
    ({"loss": "wgan-gp"}, "loss wgan-gp acts through the hook setup and does not declare batched = True"),
    ({"amp": "bf16"}, "amp is not supported"),
])
def test_configs_it_cannot_stack_say_why(tiny, change, reason):
    assert why_not(seeds_of(tiny, change)) == reason


def test_configs_must_differ_only_in_seed(tiny):
    configs = seeds_of(tiny, {})
    assert why_not(configs[:1]) == "fewer than two seeds"
    assert (
        why_not([configs[0], configs[1].model_copy(update={"batch_size": 8})])
        == "the configs differ in batch_size, not only in seed"
    )


@pytest.mark.parametrize(("norm", "layer"), [("batch", "BatchNorm1d"), ("spectral", "parametrized")])
def test_layers_it_cannot_stack_are_refused_before_anything_is_written(tiny, tmp_path, norm, layer):
    configs = seeds_of(tiny, {"norm": norm, "steps": 4})[:2]
    with pytest.raises(Unsupported, match=layer):
        train_seeds(configs, [tmp_path / "x", tmp_path / "y"])
    assert not (tmp_path / "x").exists()


class NanForSeed1(MLP):
    """The mlp, except that seed 1's G outputs NaN (build_run seeded torch with the run's seed)."""

    name = "test-nan-for-seed-1"

    def build_generator(self, latent_dim, data_shape, norm):
        g = super().build_generator(latent_dim, data_shape, norm)
        if torch.initial_seed() == 1:
            torch.nn.init.constant_([m for m in g if isinstance(m, torch.nn.Linear)][-1].weight, float("nan"))
        return g


class NanArch:
    @hookimpl
    def register_architectures(self, register):
        register(NanForSeed1)


def test_a_diverging_seed_fails_alone(tiny, tmp_path, register_plugin):
    register_plugin(NanArch())
    configs = seeds_of(tiny, {"arch": {"name": "test-nan-for-seed-1", "hidden": [16, 16]}})
    outcomes = train_seeds(configs, [tmp_path / f"s{c.seed}" for c in configs])
    with pytest.raises(TrainingFailure) as separate:
        train(configs[1])
    failure = outcomes[1]
    assert isinstance(failure, TrainingFailure)
    assert (failure.reason, failure.step) == (separate.value.reason, separate.value.step) == (
        "non-finite d_loss (nan)", 4
    )
    assert json.loads((tmp_path / "s1" / "final.json").read_text()) == {"failed": failure.reason, "step": 4}
    for k in (0, 2):
        assert outcomes[k]["metrics"] == pytest.approx(train(configs[k])["metrics"], rel=1e-4, abs=1e-6)
        assert rows(tmp_path / f"s{k}")[-1]["step"] == 12


class Doubling(Trick):
    """A third party's batched trick: it doubles D's loss, on a seed's own run or on a stacked one."""

    name = "test-doubling"
    batched = True
    seen: list[int | None] = []

    def adjust_d_loss(self, d_loss, batch, run):
        self.seen.append(run.seeds)
        return 2 * d_loss


def test_a_batched_trick_is_reached_through_the_same_hook_on_the_stacked_run(tiny, tmp_path, register_plugin):
    class Plugin:
        @hookimpl
        def register_tricks(self, register):
            register(Doubling)

    register_plugin(Plugin())
    Doubling.seen.clear()
    configs = seeds_of(tiny, {"tricks": ["test-doubling"], "steps": 4})[:2]
    assert why_not(configs) is None
    train_seeds(configs, [tmp_path / f"together-{c.seed}" for c in configs])
    assert Doubling.seen == [2] * 4
    for config in configs:
        train(config, tmp_path / f"apart-{config.seed}")
    assert Doubling.seen == [2] * 4 + [None] * 8
    for config in configs:
        got, want = rows(tmp_path / f"together-{config.seed}"), rows(tmp_path / f"apart-{config.seed}")
        assert [r.keys() for r in got] == [r.keys() for r in want]
        for g, w in zip(got, want):
            assert g == pytest.approx(w, rel=1e-4, abs=1e-5)
    train(seeds_of(tiny, {"steps": 4})[0], tmp_path / "plain")
    assert rows(tmp_path / "together-0")[0]["d_loss"] == pytest.approx(2 * rows(tmp_path / "plain")[0]["d_loss"])
