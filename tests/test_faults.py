"""Fault injection: kill -9 at random moments, a full disk, a stopped PostgreSQL, a torn journal, a lost
twin. After each, running the same command again finishes every cell exactly once, and nothing that
had finished is lost or changed.

The disk-full and PostgreSQL tests need root (a tmpfs mount, ``pg_ctlcluster``); they skip without
it on a laptop and must run under CI=true (``.ci/run`` is run as root and starts PostgreSQL).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
import yaml

from ganx import Trick, hookimpl
from ganx.sweep import liveness, optuna_adapter
from ganx.sweep.config import load_sweep
from ganx.sweep.runner import open_studies

from test_sweep_execution import DRIVER, MARKER, TestTricks, assert_exactly_once, wait_for, write

EXPLAINED = {"lost", "interrupted", "duplicate", "fault"}  # the FAILs that are not a cell's outcome


def needs(reason_missing: str | None) -> None:
    """Skip on a laptop without the service or root; under CI=true the test must run."""
    if reason_missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run this test: {reason_missing}")
        pytest.skip(reason_missing)


@pytest.fixture
def postgres_url():
    url = os.environ.get("GANX_TEST_POSTGRES_URL")
    needs(None if url else "GANX_TEST_POSTGRES_URL is not set (run as root: . .ci/postgres.sh)")
    return url


def postgres(action: str) -> None:
    """Stop or start the local PostgreSQL cluster (root only)."""
    version = sorted(os.listdir("/etc/postgresql"), key=float)[-1]
    subprocess.run(["pg_ctlcluster", version, "main", action], check=True, capture_output=True, timeout=120)


def ganx_group(tmp_path, *args) -> subprocess.Popen:
    """``ganx ARGS`` as the leader of its own process group (its spawned workers join the group)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", MARKER: str(tmp_path / "held")}
    return subprocess.Popen([sys.executable, "-c", DRIVER, *map(str, args)], env=env, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def outcome(process: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def assert_nothing_unexplained(study) -> None:
    """Every FAIL is a lost, stopped, duplicate or fault attempt, with its reason."""
    failed = [t for t in study.trials if t.state.name == "FAIL"]
    assert all(t.user_attrs.get("failure") in EXPLAINED and t.user_attrs.get("error") for t in failed), [
        t.user_attrs for t in failed]


def finished_cells(study) -> dict:
    """Cell key → (completion time, value, metrics) of every completed trial."""
    return {t.user_attrs["cell"]: (t.datetime_complete, t.values, t.user_attrs["metrics"])
            for t in study.trials if t.state.name == "COMPLETE"}


# --- kill -9 ---------------------------------------------------------------------------------


def kill_at_random_moments(tmp_path, tiny, kills: int, extra: list[str], seed: int) -> None:
    """Kill a 2-worker sweep's whole process group ``kills`` times, at random moments of its life
    (start-up, claiming, training, writing results, printing the table), then finish it."""
    base = {**tiny, "steps": 100, "eval": {"every": 25, "samples": 500}}
    arms = {"baseline": {}, "hinge": {"loss": "hinge"}, "lsgan": {"loss": "lsgan"}}
    path = write(tmp_path, base, arms=arms, seeds=[0, 1], retries=1000, name=f"kill-{uuid.uuid4().hex[:8]}")
    results = tmp_path / "results"
    command = ["sweep", path, "--results", results, "--workers", "2", *extra]
    rng = random.Random(seed)
    landed = 0
    for _ in range(kills):
        process = ganx_group(tmp_path, *command)
        try:
            process.wait(timeout=rng.uniform(0.3, 4.0))
        except subprocess.TimeoutExpired:
            landed += 1
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:  # it had finished: the kill lands on nothing, like a late Ctrl-\
            pass
        process.communicate(timeout=60)

    code, out, err = outcome(ganx_group(tmp_path, *command))
    assert code == 0, out + err
    sweep = load_sweep(path)
    study = open_studies(sweep, results, *(extra[1:] if extra else [])).main
    assert_exactly_once(study, [c.key for c in sweep.cells])
    assert_nothing_unexplained(study)
    assert "Traceback" not in err
    lost = sum(t.user_attrs.get("failure") == "lost" for t in study.trials)
    print(f"{landed} of {kills} kills hit a live sweep; {lost} trials were lost mid-run")  # where they land is luck


def test_twenty_kill_9s_at_random_moments_lose_and_duplicate_no_cell_on_the_journal(tmp_path, tiny):
    kill_at_random_moments(tmp_path, tiny, kills=20, extra=[], seed=1)


@pytest.mark.xdist_group("postgresql")  # one PostgreSQL server, stopped by one of them
def test_twenty_kill_9s_at_random_moments_lose_and_duplicate_no_cell_on_postgresql(tmp_path, tiny, postgres_url):
    kill_at_random_moments(tmp_path, tiny, kills=20, extra=["--storage", postgres_url], seed=2)


KILL_AFTER_CLAIM = DRIVER.replace("from ganx.cli import main", """
import os, signal
from optuna.storages import JournalStorage
claim = JournalStorage.set_trial_state_values
def claim_then_die(self, trial_id, state, values=None):
    won = claim(self, trial_id, state, values)
    if won and state.name == "RUNNING":
        os.kill(os.getpid(), signal.SIGKILL)  # after the claim, before the worker records itself
    return won
JournalStorage.set_trial_state_values = claim_then_die
from ganx.cli import main""")


def test_a_worker_killed_between_claiming_a_cell_and_recording_itself_loses_nothing(tmp_path, tiny, ganx, monkeypatch):
    path = write(tmp_path, tiny, seeds=[0, 1])
    results = tmp_path / "results"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    died = subprocess.run([sys.executable, "-c", KILL_AFTER_CLAIM, "sweep", path, "--results", results],
                          env=env, capture_output=True, text=True, timeout=300)
    assert died.returncode == -signal.SIGKILL, died.stderr
    sweep = load_sweep(path)
    [claimed] = [t for t in open_studies(sweep, results).main.trials if t.state.name == "RUNNING"]
    assert "worker" not in claimed.user_attrs

    monkeypatch.setattr(liveness, "CLAIM_S", 1.0)  # the bound after which an ownerless claim is lost
    code, out, err = ganx("sweep", path, "--results", results)
    assert code == 0, out + err
    study = open_studies(sweep, results).main
    assert_exactly_once(study, [c.key for c in sweep.cells])
    lost = study.trials[claimed.number]
    assert lost.user_attrs["failure"] == "lost" and "before recording itself" in lost.user_attrs["error"]


def test_a_young_claim_with_no_worker_record_is_not_taken_for_lost(tmp_path, tiny):
    from optuna.trial import TrialState

    from ganx.sweep import queue as cells
    from ganx.sweep.runner import coordinate

    sweep = load_sweep(write(tmp_path, tiny, seeds=[0]))
    study = coordinate(sweep, tmp_path / "results").main
    [waiting] = study.get_trials(states=(TrialState.WAITING,))
    assert optuna_adapter.claim(study, waiting)  # and its worker dies before its next write
    assert cells.recover_lost(study, rdb=False) == 0  # its worker is writing its record right now
    started = study.trials[0].datetime_start.timestamp()
    assert liveness.alive(study.trials[0], now=started + liveness.CLAIM_S - 1)
    assert not liveness.alive(study.trials[0], now=started + liveness.CLAIM_S + 1)


# --- a cell enqueued twice ---------------------------------------------------------------------


def test_a_copy_whose_twin_was_lost_runs_the_cell_instead_of_closing_as_a_duplicate(tmp_path, tiny, ganx):
    from ganx.sweep import queue as cells
    from ganx.sweep.runner import coordinate

    path = write(tmp_path, tiny, seeds=[0])
    sweep = load_sweep(path)
    results = tmp_path / "results"
    study = coordinate(sweep, results).main
    [cell] = sweep.cells
    study.enqueue_trial({}, user_attrs={"queued": cell.key, "attempt": 0})  # a second coordinator's copy
    first = cells.pop(study, liveness.identity(0))
    cells.close(study, first, "lost", "worker died (test)")  # e.g. in a database outage

    second = cells.pop(study, liveness.identity(0))
    assert second is not None and second.number == 1  # the copy is the cell's next try, not a duplicate
    cells.close(study, second, "interrupted", "test")
    code, out, err = ganx("sweep", path, "--results", results)
    assert code == 0, out + err
    study = open_studies(sweep, results).main
    assert_exactly_once(study, [cell.key])
    assert [t.user_attrs.get("failure") for t in study.trials] == ["lost", "interrupted", None]


# --- a torn journal ------------------------------------------------------------------------------


def test_a_journal_cut_mid_record_is_repaired_with_a_backup_and_the_sweep_completes(tmp_path, tiny, ganx):
    path = write(tmp_path, tiny, arms={"a": {}, "b": {"loss": "hinge"}}, seeds=[0, 1])
    results = tmp_path / "results"
    code, _, err = ganx("sweep", path, "--results", results)
    assert code == 0, err
    journal = results / "x" / "study.journal"
    torn = journal.read_bytes()[:-40]
    journal.write_bytes(torn)  # what a full disk or a SIGKILL mid-append leaves

    code, out, err = ganx("sweep", path, "--results", results)
    assert code == 0, out + err
    [backup] = journal.parent.glob("study.journal.torn-*")
    assert backup.read_bytes() == torn
    [warning] = [line for line in err.splitlines() if "dropped its last record" in line]
    assert warning.startswith(f"warning: {journal}") and backup.name in warning
    assert journal.read_bytes().startswith(torn[: torn.rfind(b"\n") + 1])  # only the torn record went
    sweep = load_sweep(path)
    assert_exactly_once(open_studies(sweep, results).main, [c.key for c in sweep.cells])
    code, out, err = ganx("table", "x", "--results", results)
    assert code == 0 and not err and "ganx sweep x" in out


# --- a full disk --------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB tmpfs (root only); ``fill()`` takes every free byte, ``free()`` gives them back."""
    needs(None if os.geteuid() == 0 else "mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], check=True, timeout=60)

    class Disk:
        path = mount
        filler = mount / "filler"

        def fill(self):
            with open(self.filler, "wb", buffering=0) as f:
                for size in (1 << 16, 1 << 12, 1):  # big blocks, then the last pages and bytes
                    try:
                        while True:
                            f.write(b"\0" * size)
                    except OSError:
                        pass

        def free(self):
            self.filler.unlink()

    try:
        yield Disk()
    finally:
        subprocess.run(["umount", "-l", str(mount)], timeout=60)


def test_a_disk_that_fills_mid_sweep_stops_it_with_one_line_and_a_rerun_finishes(tmp_path, tiny, small_disk,
                                                                                  register_plugin):
    register_plugin(TestTricks())
    path = write(tmp_path, {**tiny, "eval": {"every": 4, "samples": 500}},
                 arms={"baseline": {}, "held": {"tricks": ["test-hold"]}}, seeds=[0])
    results = small_disk.path / "results"
    process = ganx_group(tmp_path, "sweep", path, "--results", results)
    wait_for(tmp_path / "held", process)  # baseline is finished, held is mid-trial
    sweep = load_sweep(path)
    done = finished_cells(open_studies(sweep, results).main)
    small_disk.fill()
    (tmp_path / "release").touch()
    code, out, err = outcome(process)
    assert code == 1 and "Traceback" not in err, out + err
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert str(small_disk.path) in line and "no space left on device" in line and "run the same command" in line

    small_disk.free()
    code, out, err = outcome(ganx_group(tmp_path, "sweep", path, "--results", results))
    assert code == 0, out + err
    study = open_studies(sweep, results).main
    assert_exactly_once(study, [c.key for c in sweep.cells])
    assert_nothing_unexplained(study)
    assert {k: v for k, v in finished_cells(study).items() if k in done} == done


def test_a_disk_that_fills_mid_run_names_the_file_and_resume_finishes(tmp_path, tiny, small_disk):
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({**tiny, "eval": {"every": 4, "samples": 500}, "tricks": ["test-hold"]}))
    out_dir = small_disk.path / "run"
    process = ganx_group(tmp_path, "run", config, "--out", out_dir)
    wait_for(tmp_path / "held", process)  # step 5: the checkpoint of step 4 is written
    checkpoint = (out_dir / "checkpoint.pt").read_bytes()
    small_disk.fill()
    (tmp_path / "release").touch()
    code, out, err = outcome(process)
    assert code == 1 and "Traceback" not in err, out + err
    [line] = [line for line in err.splitlines() if line.startswith("error:")]
    assert f"{out_dir}/" in line and "no space left on device" in line and f"ganx run --resume {out_dir}" in line
    assert (out_dir / "checkpoint.pt").read_bytes() == checkpoint  # the last good checkpoint is intact
    assert not list(out_dir.glob(".*.tmp"))

    small_disk.free()
    code, out, err = outcome(ganx_group(tmp_path, "run", "--resume", out_dir))
    assert code == 0, out + err
    assert (out_dir / "final.json").is_file()


# --- a PostgreSQL outage ------------------------------------------------------------------------


@pytest.mark.xdist_group("postgresql")  # one PostgreSQL server, stopped by one of them
def test_a_postgresql_outage_mid_sweep_is_one_line_and_a_rerun_finishes_every_cell_once(tmp_path, tiny, postgres_url,
                                                                                        register_plugin):
    register_plugin(TestTricks())
    needs(None if os.geteuid() == 0 else "stopping PostgreSQL needs root")
    path = write(tmp_path, {**tiny, "eval": {"every": 4, "samples": 500}}, name=f"pg-{uuid.uuid4().hex[:8]}",
                 arms={"baseline": {}, "held": {"tricks": ["test-hold"]}}, seeds=[0])
    results = tmp_path / "results"
    command = ["sweep", path, "--results", results, "--storage", postgres_url]
    process = ganx_group(tmp_path, *command)
    wait_for(tmp_path / "held", process)
    sweep = load_sweep(path)
    done = finished_cells(open_studies(sweep, results, postgres_url).main)
    postgres("stop")
    try:
        (tmp_path / "release").touch()
        code, out, err = outcome(process)
    finally:
        postgres("start")
    assert code == 1 and "Traceback" not in err, out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    [line] = lines
    assert line.startswith("error: storage postgresql://ganx:***@127.0.0.1") and "database unreachable" in line
    assert "run the same command again" in line and ":ganx@" not in out + err

    code, out, err = outcome(ganx_group(tmp_path, *command))
    assert code == 0, out + err
    study = open_studies(sweep, results, postgres_url).main
    assert_exactly_once(study, [c.key for c in sweep.cells])
    assert_nothing_unexplained(study)
    assert {k: v for k, v in finished_cells(study).items() if k in done} == done
    assert Counter(t.state.name for t in study.trials)["COMPLETE"] == 2


# --- what a worker's death looks like, and what is not an outage -------------------------------


def test_a_worker_that_died_unreaped_counts_as_dead():
    child = subprocess.Popen(["sleep", "0.1"])
    worker = {"pid": child.pid, "start": liveness.process_stat(child.pid)[1]}
    try:
        while liveness.process_stat(child.pid)[0] != "Z":  # exited, not yet waited for: a zombie
            pass
        assert not liveness.pid_alive(worker)
    finally:
        child.wait()


def test_a_trial_failed_by_optunas_heartbeat_mid_record_is_not_the_cells_outcome():
    from optuna.trial import TrialState, create_trial

    from ganx.sweep.queue import is_final

    attrs = {"queued": "a/s0", "cell": "a/s0", "arm": "a", "seed": 0, "metrics": {"modes": 3.0}}
    assert not is_final(create_trial(state=TrialState.FAIL, user_attrs=attrs))  # no failure: stale, not an outcome
    assert is_final(create_trial(state=TrialState.FAIL, user_attrs={**attrs, "failure": "diverged"}))


def test_a_locked_database_is_not_an_outage_but_a_refused_connection_is():
    from sqlalchemy.exc import OperationalError

    from ganx.errors import environment_fault

    assert environment_fault(OperationalError("COMMIT", {}, Exception("database is locked"))) is None
    assert environment_fault(OperationalError("COMMIT", {}, Exception("deadlock detected"))) is None
    refused = OperationalError("SELECT", {}, Exception('connection to server at "db" failed: Connection refused'))
    assert environment_fault(refused).storage


FAULTS: list[str] = []  # what the test tricks below do next


class WritesOnAFullDisk(Trick):
    """A trick that writes a file of its own, onto a disk that is full while FAULTS holds 'disk'."""

    name = "test-writes"

    def after_g_step(self, run):
        if "disk" in FAULTS:
            raise OSError(28, "No space left on device", "/results/plugin-cache.bin")


class TakenForLost(Trick):
    """A trick whose trial is closed as lost by 'another process' at step 5, while it still trains."""

    name = "test-taken"

    def after_g_step(self, run):
        if run.step == 5 and "take" in FAULTS:
            FAULTS.remove("take")
            from ganx.sweep import queue as cells

            study = open_studies(load_sweep(Path(FAULTS[0])), Path(FAULTS[1])).main
            [running] = [t for t in study.trials if t.state.name == "RUNNING"]
            cells.close(study, running, "lost", "taken for lost by another worker (test)")


class FaultTricks:
    @hookimpl
    def register_tricks(self, register):
        register(WritesOnAFullDisk)
        register(TakenForLost)


def test_a_full_disk_inside_a_plugin_stops_the_sweep_and_leaves_the_cell_runnable(tmp_path, tiny, ganx,
                                                                                   register_plugin):
    register_plugin(FaultTricks())
    path = write(tmp_path, {**tiny, "tricks": ["test-writes"]}, seeds=[0])
    results = tmp_path / "results"
    FAULTS[:] = ["disk"]
    code, out, err = ganx("sweep", path, "--results", results)
    assert code == 1 and "/results/plugin-cache.bin: no space left on device" in err, out + err
    [trial] = open_studies(load_sweep(path), results).main.trials
    assert trial.user_attrs["failure"] == "fault" and "cell" not in trial.user_attrs

    FAULTS.clear()
    code, out, err = ganx("sweep", path, "--results", results)
    assert code == 0, out + err
    assert_exactly_once(open_studies(load_sweep(path), results).main, ["baseline/s0"])


def test_a_worker_whose_trial_was_taken_for_lost_lets_it_go_and_the_cell_runs_once(tmp_path, tiny, ganx,
                                                                                   register_plugin):
    register_plugin(FaultTricks())
    path = write(tmp_path, {**tiny, "tricks": ["test-taken"], "eval": {"every": 4, "samples": 500}}, seeds=[0])
    results = tmp_path / "results"
    FAULTS[:] = [str(path), str(results), "take"]
    code, out, err = ganx("sweep", path, "--results", results)
    assert code == 0 and "Traceback" not in err, out + err
    study = open_studies(load_sweep(path), results).main
    assert_exactly_once(study, ["baseline/s0"])
    assert [t.user_attrs.get("failure") for t in study.trials] == ["lost", None]
