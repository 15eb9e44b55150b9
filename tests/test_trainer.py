"""The training loop: deterministic, hooks at the documented points, results written, divergence caught."""

from __future__ import annotations

import json
import random

import pytest

from ganx import TrainingFailure, Trick, hookimpl
from ganx.components import HOOK_POINTS
from ganx.config import validate_run
from ganx.store import load_checkpoint
from ganx.trainer import train

CALLS: list[tuple[str, int]] = []


class Recorder(Trick):
    """Records every hook call; checks that gradients and parameters are where the docs say."""

    name = "test-recorder"

    def _record(self, point, run):
        CALLS.append((point, run.step))

    def setup(self, run):
        assert run.opt_g is None and run.opt_d is None  # before the optimizers are built
        self._record("setup", run)

    def d_inputs(self, real, fake, run):
        assert not fake.requires_grad
        self._record("d_inputs", run)
        return real, fake

    def d_targets(self, real_target, fake_target, run):
        assert float(real_target.mean()) == 1.0 and float(fake_target.mean()) == 0.0
        self._record("d_targets", run)
        return real_target, fake_target

    def adjust_d_loss(self, d_loss, batch, run):
        assert d_loss.requires_grad and batch.real_logits.shape == (run.config.batch_size,)
        self._record("adjust_d_loss", run)
        return d_loss

    def before_d_step(self, run):
        self.d_weight = next(run.discriminator.parameters()).detach().clone()
        assert next(run.discriminator.parameters()).grad is not None
        self._record("before_d_step", run)

    def after_d_step(self, run):
        assert not next(run.discriminator.parameters()).detach().equal(self.d_weight)
        self._record("after_d_step", run)

    def g_inputs(self, fake, run):
        assert fake.requires_grad
        self._record("g_inputs", run)
        return fake

    def g_real_inputs(self, real, run):
        assert not real.requires_grad
        self._record("g_real_inputs", run)
        return real

    def adjust_g_loss(self, g_loss, batch, run):
        self._record("adjust_g_loss", run)
        return g_loss

    def before_g_step(self, run):
        self._record("before_g_step", run)

    def after_g_step(self, run):
        assert "g_loss" in run.last and "d_loss" in run.last
        self._record("after_g_step", run)

    def before_eval(self, run):
        assert not (run.eval_generator or run.generator).training
        self._record("before_eval", run)

    def after_eval(self, run, metrics):
        assert set(metrics) == {"modes", "hq", "reverse_kl"}
        self._record("after_eval", run)


class Explode(Trick):
    name = "test-explode"

    def adjust_d_loss(self, d_loss, batch, run):
        return d_loss * float("nan") if run.step >= 3 else d_loss


class TestTricks:
    @hookimpl
    def register_tricks(self, register):
        register(Recorder)
        register(Explode)


@pytest.fixture
def test_tricks(register_plugin):
    register_plugin(TestTricks())
    CALLS.clear()


def test_same_seed_same_numbers_other_seed_other_numbers(tiny, tmp_path):
    runs = {}
    for label, seed in (("a", 0), ("b", 0), ("c", 1)):
        runs[label] = train(validate_run({**tiny, "seed": seed}, "t"), tmp_path / label)
    assert runs["a"] == runs["b"]
    assert (tmp_path / "a/metrics.jsonl").read_text() == (tmp_path / "b/metrics.jsonl").read_text()
    assert (tmp_path / "a/metrics.jsonl").read_text() != (tmp_path / "c/metrics.jsonl").read_text()


def test_hooks_fire_at_the_documented_points_in_order(tiny, test_tricks):
    tiny.update(steps=2, tricks=["test-recorder"], eval={"every": 1, "samples": 100}, loss="ragan")
    train(validate_run(tiny, "t"))  # ragan needs real logits in the G step, so g_real_inputs fires too
    one_step = [
        "d_inputs", "d_targets", "adjust_d_loss", "before_d_step", "after_d_step",
        "g_inputs", "g_real_inputs", "adjust_g_loss", "before_g_step", "after_g_step", "before_eval", "after_eval",
    ]
    assert [p for p, _ in CALLS] == ["setup", *one_step, *one_step]
    assert [s for p, s in CALLS if p == "after_g_step"] == [0, 1]
    assert set(HOOK_POINTS) == {"setup", *one_step}


def test_results_folder(tiny, tmp_path):
    tiny.update(steps=30, eval={"every": 10, "samples": 200})
    final = train(validate_run(tiny, "t"), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint.pt", "config.yaml", "curves.png", "final.json", "metrics.jsonl", "samples.png",
    ]
    assert (tmp_path / "samples.png").stat().st_mode & 0o044  # readable by others, like any file the user writes
    assert validate_run(__import__("yaml").safe_load((tmp_path / "config.yaml").read_text()), "c").steps == 30
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "modes" in r] == [10, 20, 30]
    assert [r["step"] for r in rows if "d_loss" in r] == [10, 20, 30]
    assert {"d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"} <= set(rows[0])
    assert json.loads((tmp_path / "final.json").read_text())["metrics"] == final["metrics"]
    assert final["protocol"]["modes"]["samples"] == 200
    checkpoint = load_checkpoint(tmp_path / "checkpoint.pt")
    assert checkpoint["step"] == 30 and "generator" in checkpoint
    assert (tmp_path / "samples.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_non_finite_loss_fails_the_run_with_its_step(tiny, tmp_path, test_tricks):
    tiny.update(tricks=["test-explode"], log_every=5)
    with pytest.raises(TrainingFailure, match="non-finite d_loss") as failure:
        train(validate_run(tiny, "t"), tmp_path)
    assert failure.value.step == 5  # the step of the log row that held the NaN (1-based, as logged)
    final = json.loads((tmp_path / "final.json").read_text())
    assert final["failed"].startswith("non-finite") and final["step"] == 5


def test_two_fresh_runs_of_one_config_write_byte_identical_checkpoints(tiny, tmp_path):
    """Python's ``random`` is seeded from the run seed too, so its state in the checkpoint repeats."""
    config = validate_run(tiny, "t")
    train(config, tmp_path / "a")
    random.random()  # whatever else this process did in between
    train(config, tmp_path / "b")
    a, b = (load_checkpoint(tmp_path / run / "checkpoint.pt") for run in "ab")
    assert a["python_rng"] == b["python_rng"]
    assert (tmp_path / "a" / "checkpoint.pt").read_bytes() == (tmp_path / "b" / "checkpoint.pt").read_bytes()


def test_curves_are_titled_with_the_runs_name_not_its_folders(tiny, tmp_path, monkeypatch):
    import ganx.report.pictures as pictures

    titles, save = [], pictures.save_curves

    def recorded(rows, path, title=""):
        titles.append(title)
        return save(rows, path, title)

    monkeypatch.setattr(pictures, "save_curves", recorded)
    train(validate_run({**tiny, "name": "my-run"}, "run.yaml"), tmp_path / "some-folder")
    assert titles == ["my-run"]


def test_ganx_run_piped_shows_a_line_about_every_tenth_of_the_steps_and_one_per_evaluation(tiny, tmp_path, ganx):
    import yaml

    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({**tiny, "steps": 40, "log_every": 2, "eval": {"samples": 500, "every": 20}}))
    code, out, err = ganx("run", config, "--out", tmp_path / "out")
    assert code == 0, err
    steps = [line.split()[1] for line in out.splitlines() if line.strip().startswith("step ")]
    assert steps == [f"{n}/40" for n in range(4, 41, 4)]
    assert all("d_loss=" in line and "g_loss=" in line for line in out.splitlines() if line.strip().startswith("step "))
    evaluations = [line.split()[3] for line in out.splitlines() if line.strip().startswith("evaluated at step ")]
    assert evaluations == ["20/40", "40/40"]
    assert all("modes=" in line for line in out.splitlines() if line.strip().startswith("evaluated "))
    assert "\x1b[" not in out
