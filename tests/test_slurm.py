"""``ganx sweep FILE --slurm N``: the sweep's cells run in a real SLURM job array (a single-node
slurmctld/slurmd that `.ci/slurm.sh` starts), exactly once, also when the array is cancelled."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid

import pytest
from test_faults import needs

from ganx import UserError
from ganx.sweep import slurm
from ganx.sweep.config import load_sweep
from ganx.sweep.runner import open_studies

from test_sweep_execution import assert_exactly_once, write


@pytest.mark.parametrize(("time_", "minutes"), [
    ("30", 30), ("10:30", 11), ("04:00:00", 240), ("1-2", 26 * 60), ("2-03:04", 2 * 1440 + 184), ("1-00:00:00", 1440),
])
def test_slurm_time_forms_become_minutes(time_, minutes):
    assert slurm.minutes(time_) == minutes


def test_slurm_options_map_to_submitit_parameters_and_sbatch_lines():
    params = slurm.slurm_parameters(["partition=gpu", "gpus-per-task=1", "time=04:00:00", "reservation=lab"])
    assert params == {
        "slurm_partition": "gpu", "slurm_gpus_per_task": 1, "slurm_time": 240,
        "slurm_additional_parameters": {"reservation": "lab"},
    }
    assert slurm.slurm_parameters([])["slurm_time"] == 24 * 60
    for bad in ("partition", "=x", "time=soon", "array_parallelism=3"):
        with pytest.raises(UserError):
            slurm.slurm_parameters([bad])


def test_without_sbatch_it_says_where_to_run_and_makes_nothing(tmp_path, tiny, ganx, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    code, _, err = ganx("sweep", write(tmp_path, tiny), "--results", tmp_path / "results", "--slurm", "2")
    assert (code, err.strip().splitlines()[-1]) == (
        2, "error: --slurm: no sbatch here; run it where SLURM jobs are submitted (a login node)"
    )
    assert not (tmp_path / "results" / "x").exists()


def test_a_journal_on_a_local_disk_is_refused_and_one_on_nfs_is_not(tmp_path, tiny, ganx, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    path = write(tmp_path, tiny)
    code, _, err = ganx("sweep", path, "--results", tmp_path / "results", "--slurm", "2")
    assert code == 2
    assert err.strip().splitlines()[-1].startswith(f"error: --slurm: the sweep's journal would be in {tmp_path}")
    assert "use --storage postgresql://" in err and not (tmp_path / "results" / "x" / "study.journal").exists()

    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/sda1 / ext4 rw 0 0\nserver:/export {tmp_path} nfs4 rw 0 0\n")
    monkeypatch.setattr(slurm, "MOUNTS", mounts)
    assert slurm.shared_filesystem(tmp_path / "results")
    assert not slurm.shared_filesystem("/opt")
    slurm.check_launch(load_sweep(path), tmp_path / "results", None)  # no error


LAUNCHER = {"slurm": {"tasks": 2, "options": {"partition": "gpu", "time": "04:00:00"}}}


def test_a_launcher_in_the_yaml_reaches_the_launch_as_slurm_does(tmp_path, tiny, ganx, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    code, _, err = ganx("sweep", write(tmp_path, tiny, launcher=LAUNCHER), "--results", tmp_path / "results")
    assert (code, err.strip().splitlines()[-1]) == (
        2, "error: --slurm: no sbatch here; run it where SLURM jobs are submitted (a login node)"
    )
    assert not (tmp_path / "results" / "x").exists()


def test_slurm_flags_win_over_the_yaml_launcher(tmp_path, tiny):
    sweep = load_sweep(write(tmp_path, tiny, launcher=LAUNCHER))
    assert slurm.requested(sweep, None, []) == (2, ["partition=gpu", "time=04:00:00"])
    tasks, options = slurm.requested(sweep, 3, ["time=30"])
    assert (tasks, slurm.slurm_parameters(options)["slurm_time"]) == (3, 30)  # key by key
    assert slurm.requested(sweep, 0, [])[0] == 0  # --slurm 0: work here
    assert slurm.requested(load_sweep(write(tmp_path, tiny)), None, ["partition=gpu"]) == (0, ["partition=gpu"])
    assert "launcher" not in sweep.design


@pytest.mark.parametrize(("launcher", "problem"), [
    ({"slurm": {"tasks": 0}}, "launcher.slurm.tasks: Input should be greater than 0"),
    ({}, "launcher.slurm: required but missing"),
    ({"slurm": {"tasks": 2, "options": {"time": 14400}}}, "launcher.slurm.options: Value error, time: quote it"),
    ({"slurm": {"tasks": 2, "options": {"time": "soon"}}}, "time: use MM, HH:MM:SS or D-HH:MM:SS"),
    ({"slurm": {"tasks": 2, "options": {"array-parallelism": 4}}}, "array-parallelism: ganx sets this itself"),
    ({"slurm": {"tasks": 2, "options": {"exclusive": True}}}, "exclusive: expected text or a whole number"),
])
def test_a_bad_launcher_is_refused_in_one_line(tmp_path, tiny, launcher, problem):
    with pytest.raises(UserError) as caught:
        load_sweep(write(tmp_path, tiny, launcher=launcher))
    assert len(caught.value.problems) == 1 and problem in caught.value.problems[0]


def test_submit_hands_each_task_the_worker_flags(tmp_path, tiny, monkeypatch):
    import inspect

    import submitit

    calls = []

    class Executor:
        def __init__(self, **kwargs): ...
        def update_parameters(self, **kwargs): ...

        def map_array(self, fn, *columns):
            calls.extend(zip(*columns))
            return [type("Job", (), {"job_id": "42_0"})()]

    monkeypatch.setattr(submitit, "AutoExecutor", Executor)
    sweep = load_sweep(write(tmp_path, tiny))
    assert slurm.submit(sweep, tmp_path, None, 2, [], ["seeds=[0]"], None, 2) == "42"
    assert len(calls) == 2 and calls[0][-3:] == (None, None, 2)
    inspect.signature(slurm.work_in_task).bind(*calls[0])


def test_a_task_runs_k_workers_on_each_gpu_slurm_gave_it(tmp_path, tiny, monkeypatch):
    import signal

    from ganx.sweep import runner, workers

    monkeypatch.setattr(runner, "join", lambda *args: None)
    seen = []
    monkeypatch.setattr(workers, "run_workers", lambda *args: seen.append([e.device for e in args[-1]]) or False)
    path, term = str(write(tmp_path, tiny, workers_per_gpu=3)), signal.getsignal(signal.SIGTERM)
    try:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-8e1f2c3a,GPU-77aa")
        slurm.work_in_task(path, [], str(tmp_path), None, per_gpu=2)  # --workers-per-gpu over the YAML's
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
        slurm.work_in_task(path, [], str(tmp_path), None)
    finally:
        signal.signal(signal.SIGTERM, term)
    assert seen == [["cuda:0", "cuda:0", "cuda:1", "cuda:1"], [None, None, None]]


@pytest.fixture
def cluster():
    """A running SLURM and PostgreSQL: the URL of the database."""
    url = os.environ.get("GANX_TEST_POSTGRES_URL")
    needs(None if url else "GANX_TEST_POSTGRES_URL is not set (run as root: . .ci/postgres.sh)")
    needs(None if os.environ.get("GANX_TEST_SLURM") and shutil.which("sbatch") else
          "no SLURM here (run as root: . .ci/slurm.sh)")
    return url


def submitted(tmp_path, ganx, url, path) -> str:
    code, out, err = ganx("sweep", path, "--results", tmp_path / "results", "--storage", url, "--slurm", "2")
    assert code == 0, err
    return out.split("submitted SLURM job array ")[1].split()[0]


def wait_until_gone(job: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True).stdout.strip():
        assert time.monotonic() < deadline, f"SLURM job {job} still queued after {timeout} s"
        time.sleep(1)


def sweep_file(tmp_path, tiny, steps: int):
    name = f"slurm-{uuid.uuid4().hex[:8]}"  # one PostgreSQL database serves every test
    return write(tmp_path, {**tiny, "steps": steps, "threads": 1}, name=name, arms={"a": {}, "b": {"loss": "hinge"}},
                 seeds=[0, 1])


@pytest.mark.xdist_group("postgresql")  # one PostgreSQL server, stopped by a fault test
def test_a_slurm_array_trains_every_cell_exactly_once_in_its_tasks(tmp_path, tiny, ganx, cluster):
    path = sweep_file(tmp_path, tiny, steps=20)
    job = submitted(tmp_path, ganx, cluster, path)
    wait_until_gone(job)
    sweep = load_sweep(path)
    study = open_studies(sweep, tmp_path / "results", cluster).main
    assert_exactly_once(study, [c.key for c in sweep.cells])
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert {t.user_attrs["worker"]["slurm_array_job"] for t in done} == {job}
    assert {t.user_attrs["worker"]["slurm_task"] for t in done} <= {"0", "1"}


@pytest.mark.xdist_group("postgresql")
def test_a_cancelled_array_relaunched_still_trains_every_cell_exactly_once(tmp_path, tiny, ganx, cluster):
    path = sweep_file(tmp_path, tiny, steps=4000)
    sweep = load_sweep(path)
    job = submitted(tmp_path, ganx, cluster, path)
    deadline = time.monotonic() + 120
    while not any(t.state.name == "RUNNING" for t in open_studies(sweep, tmp_path / "results", cluster).main.trials):
        assert time.monotonic() < deadline, "no cell started in the SLURM array"
        time.sleep(0.5)
    subprocess.run(["scancel", job], check=True)
    wait_until_gone(job)
    stopped = open_studies(sweep, tmp_path / "results", cluster).main
    assert sum(t.state.name == "COMPLETE" for t in stopped.trials) < len(sweep.cells)

    wait_until_gone(submitted(tmp_path, ganx, cluster, path))
    assert_exactly_once(open_studies(sweep, tmp_path / "results", cluster).main, [c.key for c in sweep.cells])
