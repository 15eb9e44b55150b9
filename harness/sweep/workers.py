"""Running a sweep with N workers on this machine: this process and N-1 spawned ones.

CPU threads are split between the workers (N × threads = cores), and with ``--devices 0,1`` each
worker is pinned to one GPU in turn. SIGINT/SIGTERM reach every worker; each stops at a step
boundary and closes its trial as ``interrupted``, so running the same command again resumes.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from ..errors import environment_fault
from .config import Sweep
from .progress import Monitor
from .runner import Studies, WorkerEnv, coordinate, open_studies, work

FAULT_EXIT = 1  # a spawned worker stopped by a full disk or a lost database


def device_name(device: str) -> str:
    """``0`` → ``cuda:0``; ``cpu``, ``cuda`` and ``cuda:N`` stay as they are."""
    return f"cuda:{device}" if device.isdigit() else device


def worker_envs(workers: int, devices: list[str], cores: int | None = None) -> list[WorkerEnv]:
    """One WorkerEnv per process: its slot, its share of the CPU threads and its device."""
    cores = cores or os.cpu_count() or 1
    threads = max(1, cores // workers) if workers > 1 else 0
    return [
        WorkerEnv(slot=slot, threads=threads, device=device_name(devices[slot % len(devices)]) if devices else None)
        for slot in range(workers)
    ]


def worker_main(raw: dict, source: str, results: Path, storage: str | None, env: WorkerEnv) -> None:
    """A spawned worker: re-validate the sweep, open the studies, work until nothing is left."""
    from .config import validate_sweep

    parent = os.getppid()
    signal.signal(signal.SIGTERM, interrupt)  # between trials; while training the trainer defers it
    threading.Thread(target=watch_parent, args=(parent,), daemon=True).start()
    try:
        sweep = validate_sweep(raw, source)
        work(sweep, results, open_studies(sweep, results, storage), env)
    except KeyboardInterrupt:  # stopped by a signal; the trial is closed as interrupted
        pass
    except Exception as exc:  # a full disk or a lost database: one line, and the cell stays runnable
        fault = environment_fault(exc)
        if fault is None:
            raise
        err = Console(stderr=True, highlight=False)
        err.print(f"[red]error:[/] worker {env.slot}: {escape(str(fault))}", soft_wrap=True)
        sys.exit(FAULT_EXIT)


def interrupt(signum, frame):
    raise KeyboardInterrupt


def watch_parent(parent: int) -> None:
    """If the coordinating process dies (even by SIGKILL), stop this worker as if by SIGTERM."""
    import time

    while os.getppid() == parent:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


def run_workers(sweep: Sweep, results: Path, storage: str | None, studies: Studies, envs: list[WorkerEnv]) -> bool:
    """Work in this process as the first worker, beside one spawned process per other env.

    Working here too saves one process start (a fresh interpreter importing torch) per sweep.
    Returns whether a signal stopped the sweep.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=worker_main, args=(sweep.raw, sweep.source, results, storage, env),
                                 name=f"ganx-worker-{env.slot}") for env in envs[1:]]
    stopped = []

    def stop_children():
        for process in processes:
            if process.pid and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    def forward(signum, frame):  # between trials; while training, the trainer defers the signal
        stopped.append(signum)
        stop_children()
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.start()
        try:
            work(sweep, results, studies, envs[0])
        except KeyboardInterrupt:  # our handler between trials, or the trainer's Interrupted (a subclass)
            stopped.append(signal.SIGTERM)
            stop_children()
        except Exception:  # a full disk or a lost database stops every worker; the CLI reports it
            stop_children()
            for process in processes:
                process.join()
            raise
        for process in processes:
            process.join()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return bool(stopped)


def execute(sweep: Sweep, results: Path, *, workers: int | None = None, devices: list[str] | None = None,
            storage: str | None = None, force: bool = False,
            console: Console | None = None) -> tuple[Studies, bool, int]:
    """Coordinate, then work through the sweep with the monitor on. Returns (studies, stopped, cells shown)."""
    devices = devices if devices is not None else sweep.config.devices
    workers = workers or ("workers" in sweep.raw and sweep.config.workers) or max(1, len(devices))
    studies = coordinate(sweep, results, storage, force)
    total = len(sweep.cells) + sum(len(c) for c in sweep.tuning.values())
    envs = worker_envs(workers, devices)
    with Monitor(studies, total, console or Console()) as monitor:
        stopped = run_workers(sweep, results, storage, studies, envs)
    return studies, stopped, monitor.printed
