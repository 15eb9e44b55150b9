"""Running a sweep with N workers on this machine: this process and N-1 spawned ones.

CPU threads are split between the workers (N × threads = cores), and with ``--devices 0,1`` each
worker is pinned to one GPU in turn (``--workers-per-gpu K``: K workers on each). SIGINT/SIGTERM
reach every worker; each stops at a step boundary and closes its trial as ``interrupted``, so
running the same command again resumes. A SLURM array task runs its workers the same way.
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


def assignments(devices: list[str], per_gpu: int = 1) -> list[str | None]:
    """Each worker's device: ``per_gpu`` workers on each of ``devices`` (``["0", "1"]``, 2 → cuda:0, cuda:0,
    cuda:1, cuda:1). No devices: ``per_gpu`` workers on the config's own device (None)."""
    return [device_name(device) for device in devices for _ in range(per_gpu)] or [None] * per_gpu


def visible_gpus(cuda_visible_devices: str | None) -> list[str]:
    """The GPUs a process sees, as CUDA numbers them for it (``0``, ``1``, ...), from ``CUDA_VISIBLE_DEVICES``
    (indices or ``GPU-``/``MIG-`` UUIDs). CUDA stops at the first entry that is neither (``-1``, SLURM's
    ``NoDevFiles``); unset or empty: none named."""
    count = 0
    for entry in (cuda_visible_devices or "").split(","):
        entry = entry.strip()
        if not (entry.isdigit() or entry.startswith(("GPU-", "MIG-"))):
            break
        count += 1
    return [str(index) for index in range(count)]


def usable_cores() -> int:
    """The cores this process may run on (a SLURM task's or a container's share), not the machine's."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_envs(workers: int, devices: list[str], cores: int | None = None, per_gpu: int = 1) -> list[WorkerEnv]:
    """One WorkerEnv per process: its slot, its share of the CPU threads and its device (those of
    :func:`assignments` in turn)."""
    cores = cores or usable_cores()
    threads = max(1, cores // workers) if workers > 1 else 0
    slots = assignments(devices, per_gpu)
    return [WorkerEnv(slot=slot, threads=threads, device=slots[slot % len(slots)]) for slot in range(workers)]


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
            per_gpu: int | None = None, storage: str | None = None, force: bool = False,
            console: Console | None = None) -> tuple[Studies, bool, int]:
    """Coordinate, then work through the sweep with the monitor on. Returns (studies, stopped, cells shown)."""
    devices = devices if devices is not None else sweep.config.devices
    workers, per_gpu = worker_count(sweep, workers, devices, per_gpu)
    envs = worker_envs(workers, devices, per_gpu=per_gpu)
    studies = coordinate(sweep, results, storage, force)
    total = len(sweep.cells) + sum(len(c) for c in sweep.tuning.values())
    with Monitor(studies, total, console or Console()) as monitor:
        stopped = run_workers(sweep, results, storage, studies, envs)
    return studies, stopped, monitor.printed


def worker_count(sweep: Sweep, workers: int | None, devices: list[str], per_gpu: int | None) -> tuple[int, int]:
    """(workers, workers per GPU) from ``--workers N`` or ``--workers-per-gpu K`` (K × devices workers; the
    CLI takes one), over the YAML's ``workers`` or ``workers_per_gpu``; by default one worker per device."""
    if not (workers or per_gpu):
        workers = "workers" in sweep.raw and sweep.config.workers
        per_gpu = sweep.config.workers_per_gpu
    per_gpu = per_gpu or 1
    return workers or len(assignments(devices, per_gpu)), per_gpu
