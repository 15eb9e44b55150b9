"""Is the worker that holds a RUNNING trial still alive?

Each running trial records its worker (host, pid, the process's start time) with the write right
after the one that claimed it. On the same host a dead pid is proof at once. Across hosts the
worker's ``heartbeat`` timestamp (a user attr ganx refreshes on every storage; RDB storage also
gets Optuna's own heartbeat) decides. A claim whose worker died before recording itself is lost
once it is older than CLAIM_S.
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


def process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (tells a reused pid apart), or None where /proc is absent."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def identity(slot: int) -> dict[str, Any]:
    """What a trial records about the worker running it."""
    pid = os.getpid()
    return {"host": HOST, "pid": pid, "start": process_start(pid), "slot": slot}


def pid_alive(worker: dict[str, Any]) -> bool:
    """Whether the worker's process lives. Liveness is only asked between trials, so a trial held by
    this very process is one it left behind (an earlier sweep in the same Python session)."""
    if worker["pid"] == os.getpid():
        return False
    try:
        os.kill(worker["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    start = process_start(worker["pid"])
    return start is None or worker.get("start") is None or start == worker["start"]


def alive(trial, now: float | None = None) -> bool:
    """Whether the RUNNING ``trial``'s worker lives: its pid on this host; elsewhere, a heartbeat
    younger than GRACE_S. A claim with no worker record counts as alive for CLAIM_S."""
    now = now or time.time()
    started = trial.datetime_start.timestamp() if trial.datetime_start else now
    worker = trial.user_attrs.get("worker")
    if worker is None:
        return now - started < CLAIM_S
    if worker["host"] == HOST:
        return pid_alive(worker)
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
                optuna_adapter.set_user_attr(self.study, self.trial, "heartbeat", time.time())
            except Exception:  # the trial finished meanwhile, or the storage blinked: try again later
                pass
            if self.stopped.wait(HEARTBEAT_S):
                return
