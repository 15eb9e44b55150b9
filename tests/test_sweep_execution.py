"""Sweeps at scale: several processes share a study, a killed sweep resumes, failures are recorded,
the search protocol gives every arm the same budget, and a changed YAML is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import yaml

from ganx import TrainingFailure, Trick, hookimpl
from ganx.config import validate_run
from ganx.store import read_jsonl
from ganx.sweep.config import load_sweep
from ganx.sweep.runner import open_studies
from ganx.trainer import train

HERE = Path(__file__).parent
MARKER = "GANX_TEST_HOLD_MARKER"


STEPS: list[int] = []  # every step a test-hold run of this process trained


class Hold(Trick):
    """Holds the first run that reaches step 5 after writing the marker file, until a file named
    ``release`` appears beside it; later runs pass through."""

    name = "test-hold"

    def after_g_step(self, run):
        STEPS.append(run.step)
        marker = Path(os.environ[MARKER])
        if run.step == 5 and not marker.exists():
            marker.write_text(str(os.getpid()))
            while not (marker.parent / "release").exists():
                time.sleep(0.05)


class Diverge(Trick):
    name = "test-diverge"

    def after_g_step(self, run):
        raise TrainingFailure("non-finite d_loss (nan)", run.step)


class TestTricks:
    @hookimpl
    def register_tricks(self, register):
        register(Hold)
        register(Diverge)


DRIVER = f"""
import sys
sys.path.insert(0, {str(HERE)!r})
from ganx.plugin_manager import get_plugin_manager
from test_sweep_execution import TestTricks
get_plugin_manager().register(TestTricks())
sys.argv = ["ganx", *sys.argv[1:]]
from ganx.cli import main
main()
"""


def write(tmp_path, tiny, **changes) -> Path:
    data = {
        "name": "x", "base": {**tiny, "device": "cpu"}, "seeds": [0, 1], "objective": {"metric": "modes"}, **changes
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def ganx_process(tmp_path, *args) -> subprocess.Popen:
    """``ganx ARGS`` in a new process, with the test tricks registered."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", MARKER: str(tmp_path / "held")}
    return subprocess.Popen([sys.executable, "-c", DRIVER, *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finished(process: subprocess.Popen) -> str:
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 0, out
    return out


def assert_exactly_once(study, keys: list[str]) -> None:
    """Every cell has one COMPLETE trial, and no cell was trained by two trials that both finished."""
    complete = Counter(t.user_attrs["cell"] for t in study.trials if t.state.name == "COMPLETE")
    assert complete == Counter(keys)
    trained = Counter(
        t.user_attrs["queued"] for t in study.trials if "run_dir" in t.user_attrs and t.state.name != "FAIL"
    )
    assert trained == Counter(keys)


@pytest.mark.parametrize("vectorize", [False, True], ids=["one-by-one", "vectorized-seeds"])
def test_two_processes_on_one_journal_study_run_every_cell_once(tmp_path, tiny, vectorize):
    path = write(tmp_path, tiny, arms={"a": {}, "b": {"loss": "hinge"}}, seeds=[0, 1], vectorize=vectorize)
    results = tmp_path / "results"
    first = ganx_process(tmp_path, "sweep", path, "--results", results, "--workers", "2")
    second = ganx_process(tmp_path, "sweep", path, "--results", results)
    finished(first), finished(second)
    sweep = load_sweep(path)
    assert_exactly_once(open_studies(sweep, results).main, [c.key for c in sweep.cells])


@pytest.mark.xdist_group("postgresql")  # one PostgreSQL server, stopped by a fault test
def test_two_processes_on_one_postgresql_study_run_every_cell_once(tmp_path, tiny):
    url = os.environ.get("GANX_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the PostgreSQL test: .ci/postgres.sh sets GANX_TEST_POSTGRES_URL")
        pytest.skip("GANX_TEST_POSTGRES_URL is not set (run as root: . .ci/postgres.sh)")
    path = write(tmp_path, tiny, name=f"pg-{uuid.uuid4().hex[:8]}", arms={"a": {}, "b": {"loss": "hinge"}})
    results = tmp_path / "results"
    runs = [ganx_process(tmp_path, "sweep", path, "--results", results, "--storage", url) for _ in range(2)]
    outputs = [finished(p) for p in runs]
    password = url.split("://", 1)[1].split("@")[0].split(":")[1]
    assert all(f":{password}@" not in out for out in outputs)
    sweep = load_sweep(path)
    assert_exactly_once(open_studies(sweep, results, url).main, [c.key for c in sweep.cells])


def test_a_sweep_killed_mid_trial_resumes_without_losing_or_rerunning_a_cell(
        tmp_path, tiny, ganx, register_plugin, monkeypatch):
    register_plugin(TestTricks())
    monkeypatch.setenv(MARKER, str(tmp_path / "held"))
    path = write(tmp_path, tiny, arms={"baseline": {}, "held": {"tricks": ["test-hold"]}})
    results = tmp_path / "results"
    sweep = load_sweep(path)
    process = ganx_process(tmp_path, "sweep", path, "--results", results)
    wait_for(tmp_path / "held", process)  # the held cell is mid-trial, both baseline cells finished
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {
        t.number: (t.state.name, t.datetime_complete, t.values, t.user_attrs)
        for t in open_studies(sweep, results).main.trials
        if t.state.name == "COMPLETE"
    }
    assert sorted(attrs["cell"] for *_, attrs in before.values()) == ["baseline/s0", "baseline/s1"]

    code, out, err = ganx("sweep", path, "--results", results)
    assert code == 0, err
    study = open_studies(sweep, results).main
    assert_exactly_once(study, [c.key for c in sweep.cells])
    after = {t.number: (t.state.name, t.datetime_complete, t.values, t.user_attrs) for t in study.trials}
    assert {n: after[n] for n in before} == before
    [lost] = [t for t in study.trials if t.user_attrs.get("failure") == "lost"]
    assert lost.user_attrs["queued"] == "held/s0" and "cell" not in lost.user_attrs


def wait_for(path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while not path.exists():
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
        time.sleep(0.05)


def test_sigterm_stops_cleanly_and_the_sweep_resumes(tmp_path, tiny, ganx, register_plugin, monkeypatch):
    register_plugin(TestTricks())
    monkeypatch.setenv(MARKER, str(tmp_path / "held"))
    path = write(tmp_path, tiny, arms={"held": {"tricks": ["test-hold"]}}, seeds=[0])
    results = tmp_path / "results"
    process = ganx_process(tmp_path, "sweep", path, "--results", results)
    wait_for(tmp_path / "held", process)
    process.send_signal(signal.SIGTERM)
    (tmp_path / "release").touch()  # the held step ends; the trainer stops at that step boundary
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 130 and "Run the same command to resume" in out, out
    sweep = load_sweep(path)
    [stopped] = open_studies(sweep, results).main.trials
    assert (stopped.state.name, stopped.user_attrs["failure"]) == ("FAIL", "interrupted")

    code, _, err = ganx("sweep", path, "--results", results)
    assert code == 0, err
    study = open_studies(sweep, results).main
    assert_exactly_once(study, [c.key for c in sweep.cells])
    assert [t.user_attrs.get("attempt") for t in study.trials] == [0, 1]


@pytest.mark.parametrize("stop, failure, resumed_from", [
    (signal.SIGKILL, "lost", 4),  # the checkpoint of the eval at step 4
    (signal.SIGTERM, "interrupted", 6),  # the checkpoint saved where the trainer stopped
], ids=["SIGKILL", "SIGTERM"])
def test_a_cell_stopped_mid_trial_continues_from_its_checkpoint_to_the_uninterrupted_result(
        tmp_path, tiny, ganx, register_plugin, monkeypatch, stop, failure, resumed_from):
    register_plugin(TestTricks())
    monkeypatch.setenv(MARKER, str(tmp_path / "held"))
    # both stops cut a log window (steps 1-10): its loss means must still equal the uninterrupted ones
    base = {**tiny, "log_every": 10, "eval": {"every": 4, "samples": 500}}
    path = write(tmp_path, base, arms={"held": {"tricks": ["test-hold"]}}, seeds=[0])
    results = tmp_path / "results"
    process = ganx_process(tmp_path, "sweep", path, "--results", results)
    wait_for(tmp_path / "held", process)  # mid-trial at step 5, after the checkpoint of step 4
    process.send_signal(stop)
    (tmp_path / "release").touch()
    process.communicate(timeout=300)
    sweep = load_sweep(path)
    [stopped] = open_studies(sweep, results).main.trials
    run_dir = Path(stopped.user_attrs["run_dir"])
    before = [row for row in read_jsonl(run_dir / "metrics.jsonl") if row["step"] <= resumed_from]

    STEPS.clear()
    code, _, err = ganx("sweep", path, "--results", results)
    assert code == 0, err
    assert STEPS[0] == resumed_from  # training went on from the checkpoint, not from step 0
    study = open_studies(sweep, results).main
    first, resumed = study.trials
    assert first.user_attrs["failure"] == failure and resumed.state.name == "COMPLETE"
    assert resumed.user_attrs["resumed_from"] == resumed_from
    assert sorted(resumed.intermediate_values) == [4, 8, 12, 16, 20]  # the first attempt's reports come along
    log = read_jsonl(run_dir / "metrics.jsonl")
    assert [row for row in log if row["step"] <= resumed_from] == before

    reference = train(validate_run(resumed.user_attrs["config"], "test"), tmp_path / "reference")
    assert resumed.user_attrs["metrics"] == reference["metrics"]
    assert log == read_jsonl(tmp_path / "reference" / "metrics.jsonl")


def test_a_crashed_attempt_is_retried_from_scratch_not_from_its_checkpoint(tmp_path, tiny, ganx, monkeypatch):
    from ganx import trainer

    evaluate, crashes = trainer.evaluate, []

    def crash_once_at_step_8(run, *args):
        if run.step + 1 == 8 and not crashes:
            crashes.append(run.step)
            raise RuntimeError("out of memory")
        return evaluate(run, *args)

    monkeypatch.setattr(trainer, "evaluate", crash_once_at_step_8)
    path = write(tmp_path, {**tiny, "eval": {"every": 4, "samples": 500}}, seeds=[0])
    code, _, err = ganx("sweep", path, "--results", tmp_path / "results")
    assert code == 0, err
    crashed, retried = open_studies(load_sweep(path), tmp_path / "results").main.trials
    assert crashed.user_attrs["failure"] == "error" and "out of memory" in crashed.user_attrs["error"]
    assert retried.state.name == "COMPLETE" and "resumed_from" not in retried.user_attrs
    assert sorted(retried.intermediate_values) == [4, 8, 12, 16, 20]


def test_a_diverging_arm_finishes_and_shows_its_failures(tmp_path, tiny, ganx, register_plugin):
    register_plugin(TestTricks())
    path = write(tmp_path, tiny, arms={"baseline": {}, "unstable": {"tricks": ["test-diverge"]}})
    code, out, err = ganx("sweep", path, "--results", tmp_path / "results")
    assert code == 0, err
    assert out.count(": ok") == 2 and out.count("FAIL step 0: non-finite d_loss (nan)") == 2
    study = open_studies(load_sweep(path), tmp_path / "results").main
    failed = [t for t in study.trials if t.state.name == "FAIL"]
    assert sorted(t.user_attrs["cell"] for t in failed) == ["unstable/s0", "unstable/s1"]
    assert {t.user_attrs["failure"] for t in failed} == {"diverged"}
    unstable = next(line for line in out.splitlines() if line.startswith("│ unstable"))
    assert unstable.rstrip("│ ").endswith("0/2/0")


def test_a_sweep_where_every_cell_diverges_still_prints_its_table(tmp_path, tiny, ganx, register_plugin):
    register_plugin(TestTricks())
    path = write(tmp_path, tiny, arms={"unstable": {"tricks": ["test-diverge"]}})
    code, out, err = ganx("sweep", path, "--results", tmp_path / "results")
    assert code == 0, err
    unstable = next(line for line in out.splitlines() if line.startswith("│ unstable"))
    assert "—" in unstable and unstable.rstrip("│ ").endswith("0/2/0")


def test_only_a_checkpoint_of_the_same_config_is_continued_whatever_device_and_threads(tmp_path, tiny):
    from ganx.sweep.trials import same_run

    (tmp_path / "config.yaml").write_text(yaml.safe_dump(validate_run(tiny, "test").dump()))
    assert same_run(tmp_path / "config.yaml", validate_run({**tiny, "threads": 3, "device": "auto"}, "test"))
    assert not same_run(tmp_path / "config.yaml", validate_run({**tiny, "steps": 30}, "test"))
    assert not same_run(tmp_path / "missing.yaml", validate_run(tiny, "test"))


def test_the_median_pruner_prunes_a_clearly_worse_arm_and_a_rerun_keeps_it_pruned(tmp_path, tiny, ganx):
    # one worker runs the cells in order: both "learns" seeds complete before "frozen" is judged
    # against their median at step 15 (reverse_kl about 2.4 and 2.75; a G that never moves stays at ln 25)
    arms = {"learns": {}, "frozen": {"optimizer": {"g": {"lr": 1e-7}}}}
    base = {
        **tiny, "steps": 30, "optimizer": {"g": {"lr": 5e-3}, "d": {"lr": 5e-3}}, "eval": {"every": 15, "samples": 500}
    }
    path = write(
        tmp_path, base, arms=arms, pruner="median", objective={"metric": "reverse_kl", "direction": "minimize"}
    )
    results = tmp_path / "results"
    code, out, err = ganx("sweep", path, "--results", results, "--workers", "1")
    assert code == 0, err
    study = open_studies(load_sweep(path), results).main
    states = {t.user_attrs["cell"]: t.state.name for t in study.trials}
    assert states == {"learns/s0": "COMPLETE", "learns/s1": "COMPLETE", "frozen/s0": "PRUNED", "frozen/s1": "PRUNED"}
    for trial in study.trials:
        if trial.state.name == "PRUNED":
            assert sorted(trial.intermediate_values) == [15] and trial.user_attrs["error"].startswith(
                "pruned at step 15"
            )
            assert set(trial.user_attrs["metrics"]) == {"modes", "hq", "reverse_kl"}
    assert row(out, "learns").endswith("2/0/0") and row(out, "frozen").endswith("0/0/2")

    code, out, err = ganx("sweep", path, "--results", results)
    assert code == 0, err
    assert [t.state.name for t in open_studies(load_sweep(path), results).main.trials] == [
        t.state.name for t in study.trials
    ]
    assert row(out, "frozen").endswith("0/0/2")


def row(table: str, arm: str) -> str:
    """The table line of ``arm``, without its closing border."""
    return next(line for line in table.splitlines() if line.startswith(f"│ {arm}")).rstrip("│ ")


def test_search_tunes_every_arm_equally_then_reruns_each_best_over_the_seeds(tmp_path, tiny, ganx):
    search = {"trials_per_arm": 3, "parameters": {
        "optimizer.g.lr": {"min": 1e-4, "max": 1e-2, "distribution": "log_uniform_values"},
        "latent_dim": {"values": [2, 4, 8]},
    }}
    path = write(tmp_path, tiny, arms={"nsgan": {}, "hinge": {"loss": "hinge"}}, search=search, pruner="median")
    code, out, err = ganx("sweep", path, "--results", tmp_path / "results")
    assert code == 0, err
    studies = open_studies(load_sweep(path), tmp_path / "results")
    for arm, tune in studies.tuning.items():
        assert sorted(t.user_attrs["cell"] for t in tune.trials) == [f"{arm}/t0", f"{arm}/t1", f"{arm}/t2"]
        done = [t for t in tune.trials if t.state.name == "COMPLETE"]
        best = max(done, key=lambda t: (t.value, -t.number))
        reruns = [t for t in studies.main.trials if t.user_attrs["arm"] == arm]
        assert sorted(t.user_attrs["seed"] for t in reruns) == [0, 1]
        for rerun in reruns:
            assert rerun.state.name == "COMPLETE" and rerun.user_attrs["params"] == best.user_attrs["params"]
            assert rerun.user_attrs["config"]["latent_dim"] == best.user_attrs["params"]["latent_dim"]
            assert rerun.user_attrs["config"]["optimizer"]["g"]["lr"] == best.user_attrs["params"]["optimizer.g.lr"]
    assert {t.user_attrs["arm"] for t in studies.main.trials} == {"nsgan", "hinge"}


def test_a_changed_yaml_is_refused_with_a_diff_unless_forced(tmp_path, tiny, ganx):
    path = write(tmp_path, tiny, seeds=[0])
    results = tmp_path / "results"
    assert ganx("sweep", path, "--results", results)[0] == 0
    path.write_text(path.read_text().replace("steps: 20", "steps: 30"))
    code, _, err = ganx("sweep", path, "--results", results, "--workers", "1")
    assert code == 2
    assert "was made from a different sweep" in err and "-  steps: 20" in err and "+  steps: 30" in err
    code, out, err = ganx("sweep", path, "--results", results, "--force")
    assert code == 0, err
    study = open_studies(load_sweep(path), results).main
    assert study.user_attrs["sweep"]["base"]["steps"] == 30


def test_trials_record_provenance(tmp_path, tiny, ganx):
    path = write(tmp_path, tiny, seeds=[3])
    assert ganx("sweep", path, "--results", tmp_path / "results")[0] == 0
    [trial] = open_studies(load_sweep(path), tmp_path / "results").main.trials
    attrs = trial.user_attrs
    assert (attrs["seed"], attrs["config"]["seed"]) == (3, 3)
    assert {"torch", "optuna", "ganx"} <= set(attrs["provenance"]["packages"])
    assert "git" in attrs["provenance"] and attrs["worker"]["pid"] == os.getpid()


def test_ganx_worker_joins_a_started_sweep_and_shares_its_cells(tmp_path, tiny, ganx, register_plugin, monkeypatch):
    register_plugin(TestTricks())
    monkeypatch.setenv(MARKER, str(tmp_path / "held"))
    path = write(tmp_path, tiny, arms={"held": {"tricks": ["test-hold"]}, "a": {}, "b": {"loss": "hinge"}})
    results = tmp_path / "results"
    code, _, err = ganx("worker", path, "--results", results)
    assert code == 2 and "has not been started" in err and "ganx sweep" in err
    assert not (results / "x").exists()  # a worker creates nothing for a sweep that was never started

    coordinator = ganx_process(tmp_path, "sweep", path, "--results", results)
    wait_for(tmp_path / "held", coordinator)  # the coordinator holds its first cell; the others wait
    joined = ganx_process(tmp_path, "worker", path, "--results", results)
    sweep = load_sweep(path)
    deadline = time.monotonic() + 300
    while sum(t.state.name == "COMPLETE" for t in open_studies(sweep, results).main.trials) < 4:
        assert time.monotonic() < deadline and joined.poll() is None
        time.sleep(0.2)
    (tmp_path / "release").touch()
    assert "done: this worker trained" in finished(joined)
    finished(coordinator)
    study = open_studies(sweep, results).main
    assert_exactly_once(study, [c.key for c in sweep.cells])
    assert {t.user_attrs["worker"]["pid"] for t in study.trials} == {coordinator.pid, joined.pid}
