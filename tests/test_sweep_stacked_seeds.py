"""``vectorize: true``: a worker trains the waiting seeds of an arm together, and each seed's trial is
recorded as its separate run's would be; every cell still completes exactly once."""

from __future__ import annotations

import os
import signal

import pytest
from test_stacked_seeds import NanArch

from ganx import trainer
from ganx.sweep.config import load_sweep
from ganx.sweep.runner import open_studies

from test_sweep_execution import assert_exactly_once, write

ARMS = {"mlp": {}, "batch": {"norm": "batch"}}  # the batch norm arm cannot be stacked over seeds
SEEDS = [0, 1, 2]


@pytest.fixture
def together(monkeypatch) -> list[list[int]]:
    """The seeds of every stacked training (train_seeds of several configs) this process makes."""
    calls, train_seeds = [], trainer.train_seeds

    def spy(configs, *args, **kwargs):
        if len(configs) > 1:
            calls.append([c.seed for c in configs])
        return train_seeds(configs, *args, **kwargs)

    monkeypatch.setattr(trainer, "train_seeds", spy)
    return calls


def sweep_file(tmp_path, tiny, **changes):
    base = {**tiny, "eval": {"every": 10, "samples": 500}}
    return write(tmp_path, base, arms=ARMS, seeds=SEEDS, vectorize=True, **changes)


def trials(path, results) -> dict[str, object]:
    study = open_studies(load_sweep(path), results).main
    return {t.user_attrs["cell"]: t for t in study.trials if "cell" in t.user_attrs}


def test_an_arm_trains_its_seeds_together_and_records_each_as_its_separate_run(tmp_path, tiny, ganx, together):
    path = sweep_file(tmp_path, tiny)
    code, _, err = ganx("sweep", path, "--results", tmp_path / "together")
    assert code == 0, err
    assert together == [SEEDS]  # the mlp arm as one stacked model; the batch norm arm one seed at a time
    sweep = load_sweep(path)
    assert_exactly_once(open_studies(sweep, tmp_path / "together").main, [c.key for c in sweep.cells])

    code, _, err = ganx("sweep", path, "--results", tmp_path / "apart", "--set", "vectorize=false")
    assert code == 0, err
    assert together == [SEEDS]
    got, want = trials(path, tmp_path / "together"), trials(path, tmp_path / "apart")
    for key, separate in want.items():
        trial = got[key]
        assert trial.state == separate.state and trial.user_attrs.keys() == separate.user_attrs.keys()
        for attr in ("cell", "arm", "seed", "config", "protocol"):
            assert trial.user_attrs[attr] == separate.user_attrs[attr]
        assert trial.user_attrs["metrics"] == pytest.approx(separate.user_attrs["metrics"], rel=1e-4, abs=1e-6)
        assert trial.intermediate_values == pytest.approx(separate.intermediate_values, rel=1e-4, abs=1e-6)
        assert trial.value == pytest.approx(separate.value, rel=1e-4, abs=1e-6)


def test_a_diverging_seed_fails_alone(tmp_path, tiny, ganx, register_plugin, together):
    register_plugin(NanArch())
    path = write(tmp_path, tiny, arms={"nan": {"arch": {"name": "test-nan-for-seed-1", "hidden": [16, 16]}}},
                 seeds=SEEDS, vectorize=True)
    code, _, err = ganx("sweep", path, "--results", tmp_path / "results")
    assert code == 0, err
    assert together == [SEEDS]
    by_cell = trials(path, tmp_path / "results")
    assert {key: t.state.name for key, t in by_cell.items()} == {
        "nan/s0": "COMPLETE", "nan/s1": "FAIL", "nan/s2": "COMPLETE"
    }
    assert by_cell["nan/s1"].user_attrs["failure"] == "diverged"
    assert by_cell["nan/s1"].user_attrs["error"].startswith("step ")


def test_a_stop_closes_every_claimed_seed_as_interrupted_and_each_continues_from_its_checkpoint(
        tmp_path, tiny, ganx, monkeypatch, together):
    path = write(
        tmp_path, {**tiny, "eval": {"every": 10, "samples": 500}}, arms={"mlp": {}}, seeds=SEEDS, vectorize=True
    )
    evaluate, sent = trainer.evaluate, []

    def sigterm_at_the_first_evaluation(run, *args):
        if run.step + 1 == 10 and not sent:
            sent.append(os.kill(os.getpid(), signal.SIGTERM))  # deferred by the trainer until the step ends
        return evaluate(run, *args)

    monkeypatch.setattr(trainer, "evaluate", sigterm_at_the_first_evaluation)
    code, _, _ = ganx("sweep", path, "--results", tmp_path / "results")
    assert code == 130
    sweep = load_sweep(path)
    stopped = open_studies(sweep, tmp_path / "results").main.trials
    assert sorted(t.user_attrs["queued"] for t in stopped) == [c.key for c in sweep.cells]
    assert {(t.state.name, t.user_attrs["failure"]) for t in stopped} == {("FAIL", "interrupted")}

    monkeypatch.setattr(trainer, "evaluate", evaluate)
    code, _, err = ganx("sweep", path, "--results", tmp_path / "results")
    assert code == 0, err
    assert together == [SEEDS]  # a seed continuing its checkpoint trains as a separate run
    study = open_studies(sweep, tmp_path / "results").main
    assert_exactly_once(study, [c.key for c in sweep.cells])
    resumed = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert [t.user_attrs["resumed_from"] for t in resumed] == [10, 10, 10]
    assert [sorted(t.intermediate_values) for t in resumed] == [[10, 20]] * 3

    code, _, err = ganx("sweep", path, "--results", tmp_path / "apart", "--set", "vectorize=false")
    assert code == 0, err
    apart = trials(path, tmp_path / "apart")
    for trial in resumed:
        separate = apart[trial.user_attrs["cell"]]
        assert trial.user_attrs["metrics"] == pytest.approx(separate.user_attrs["metrics"], rel=1e-4, abs=1e-6)


def test_vectorize_with_a_pruner_is_refused(tmp_path, tiny, ganx):
    code, _, err = ganx("sweep", sweep_file(tmp_path, tiny, pruner="median"), "--results", tmp_path / "results")
    assert code == 2
    assert "vectorize" in err and "pruner 'median'" in err and "pruner: none" in err
