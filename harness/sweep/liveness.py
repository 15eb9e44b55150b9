"""Is the worker that holds a RUNNING trial still alive?

Each running trial records its worker (host and boot, pid, the process's start time) with the write
right after the one that claimed it. On the same machine, a dead or zombie pid is proof at once.
Across machines a heartbeat decides: on RDB storage Optuna's own (``fail_stale_trials``, timed by
the database's clock); on the journal, which has none, a ``heartbeat`` timestamp user attr that ganx
refreshes (so the hosts' clocks must agree within seconds). A claim whose worker died before it
could record itself is lost once it is older than CLAIM_S; if its worker was only slow, its own
next write fails on the closed trial and it lets the trial go.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from . import optuna_adapter

HEARTBEAT_S = 10  # a worker says it is alive this often
GRACE_S = 60  # a trial whose worker has been silent this long (other hosts) is stale
CLAIM_S = 30  # a claim with no worker record this long after it was made is lost
HOST = socket.gethostname()


def boot_id() -> str | None:
    """This boot of this machine (tells apart two machines of one hostname, and a machine after a reboot)."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return None


BOOT = boot_id()


def process_stat(pid: int) -> tuple[str, str] | None:
    """The kernel's (state, start time) of ``pid``, or None where /proc is absent or the pid is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0], fields[19]
    except (OSError, IndexError):
        return None


def identity(slot: int) -> dict[str, Any]:
    """What a trial records about the worker running it (and, in a SLURM task, its job)."""
    pid = os.getpid()
    stat = process_stat(pid)
    return {"host": HOST, "boot": BOOT, "pid": pid, "start": stat and stat[1], "slot": slot} | slurm_job()


def slurm_job() -> dict[str, str]:
    """The SLURM job (and array task) this process runs in; {} outside SLURM."""
    keys = {"slurm_job": "SLURM_JOB_ID", "slurm_array_job": "SLURM_ARRAY_JOB_ID", "slurm_task": "SLURM_ARRAY_TASK_ID"}
    return {key: os.environ[var] for key, var in keys.items() if var in os.environ}


def pid_alive(worker: dict[str, Any]) -> bool:
    """Whether the worker's process on this machine lives. Liveness is only asked between trials, so a
    trial held by this very process is one it left behind (an earlier sweep in the same session)."""
    if worker["pid"] == os.getpid():
        return False
    try:
        os.kill(worker["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: the start time below still tells a reused pid
        pass
    stat = process_stat(worker["pid"])
    if stat is None:  # no /proc: the pid exists, and that is all we can know
        return True
    state, start = stat
    return state not in ("Z", "X") and (worker.get("start") is None or start == worker["start"])


def alive(trial, rdb: bool = False, now: float | None = None) -> bool:
    """Whether the RUNNING ``trial``'s worker lives: its pid on this machine; elsewhere, on the journal,
    a heartbeat younger than GRACE_S (on RDB storage, Optuna's ``fail_stale_trials`` decides). A
    claim with no worker record counts as alive for CLAIM_S."""
    now = now or time.time()
    started = trial.datetime_start.timestamp() if trial.datetime_start else now
    worker = trial.user_attrs.get("worker")
    if worker is None:
        return now - started < CLAIM_S
    if worker["host"] == HOST and worker.get("boot") == BOOT:
        return pid_alive(worker)
    if rdb:
        return True
    return now - trial.user_attrs.get("heartbeat", started) < GRACE_S


class Heartbeat:
    """A daemon thread that keeps one trial's liveness record fresh while it trains."""

    def __init__(self, study, trial, rdb: bool):
        self.study, self.trial, self.rdb = study, trial, rdb
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True, name=f"heartbeat-{trial.number}")

    def __enter__(self) -> "Heartbeat":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()

    def _beat(self) -> None:
        while True:
            try:
                if self.rdb:
                    optuna_adapter.record_heartbeat(self.study, self.trial)
                else:
                    optuna_adapter.set_user_attr(self.study, self.trial, "heartbeat", time.time())
            except Exception:  # the trial finished meanwhile, or the storage blinked: try again later
                pass
            if self.stopped.wait(HEARTBEAT_S):
                return
