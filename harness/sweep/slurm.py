"""``ganx sweep FILE --slurm N``: N worker tasks as one SLURM job array, submitted through submitit.

The sweep is coordinated once, here (its study made and its cells enqueued); each array task then
runs the workers ``ganx sweep`` would run (``--workers-per-gpu K``: K on each GPU SLURM gave it)
against the shared storage until every cell has a result. SLURM does the scheduling. The YAML's
``launcher: {slurm: {tasks: N, options: {...}}}`` asks for the same as ``--slurm N --slurm-opt ...``.
A cancelled task or a dead node is a killed worker: its cell is reclaimed and trained again, exactly
once. See docs/sweeps.md, *Running on a cluster*.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UserError

if TYPE_CHECKING:
    from .config import Sweep

DEFAULT_TIME = "24:00:00"
MOUNTS = Path("/proc/mounts")
NETWORK_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "lustre", "gpfs", "beegfs", "cephfs", "glusterfs",
                       "fuse.sshfs", "9p", "virtiofs")  # fmt: skip
RESERVED = ("command", "folder", "map_count", "array_parallelism", "additional_parameters")  # ganx sets these


def requested(sweep: Sweep, tasks: int | None, options: list[str]) -> tuple[int, list[str]]:
    """The job array asked for: ``--slurm N`` over the YAML's ``launcher.slurm.tasks`` (0: work here), and
    the YAML's ``options`` followed by the ``--slurm-opt`` ones, which win key by key."""
    launcher = sweep.config.launcher
    if launcher is None:
        return tasks or 0, options
    from_yaml = [f"{key}={value}" for key, value in launcher.slurm.options.items()]
    return launcher.slurm.tasks if tasks is None else tasks, from_yaml + options


def slurm_parameters(options: list[str]) -> dict[str, Any]:
    """``--slurm-opt KEY=VALUE`` options as submitit's ``slurm_*`` parameters; unknown keys become
    ``#SBATCH --KEY=VALUE`` lines. ``time`` takes SLURM's forms (MM, HH:MM:SS, D-HH:MM:SS)."""
    import inspect

    from submitit.slurm.slurm import _make_sbatch_string

    known = inspect.signature(_make_sbatch_string).parameters
    params: dict[str, Any] = {"slurm_time": minutes(DEFAULT_TIME)}
    extra: dict[str, str] = {}
    for option in options:
        key, sep, value = option.partition("=")
        name = key.strip().replace("-", "_")
        if not sep or not name or not value:
            raise UserError(f"--slurm-opt {option!r}: expected KEY=VALUE, e.g. partition=gpu or time=04:00:00")
        try:
            check_option(name, value)
        except ValueError as exc:
            raise UserError(f"--slurm-opt {key.strip()}={value}: {exc}") from None
        if name == "time":
            params["slurm_time"] = minutes(value)
        elif name in known:
            params[f"slurm_{name}"] = int(value) if value.isdigit() else value
        else:
            extra[key.strip()] = value
    return params | ({"slurm_additional_parameters": extra} if extra else {})


def check_option(name: str, value: str) -> None:
    """Refuse (ValueError) an sbatch option ganx sets itself, or a ``time`` SLURM would not read."""
    if name in RESERVED:
        raise ValueError("ganx sets this itself")
    if name == "time":
        minutes(value)


def minutes(time: str) -> int:
    """SLURM's time forms (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS) as whole minutes, at least 1."""
    days, _, clock = time.strip().rpartition("-")
    parts = clock.split(":")
    if not days.isdigit() and days or len(parts) > 3 or not all(part.isdigit() for part in parts):
        raise ValueError("use MM, HH:MM:SS or D-HH:MM:SS")
    numbers = [int(part) for part in parts]
    if days:
        hours, mins, secs = (numbers + [0, 0])[:3]
    else:
        hours, mins, secs = {1: (0, numbers[0], 0), 2: (0, *numbers), 3: tuple(numbers)}[len(numbers)]
    return max(1, int(days or 0) * 24 * 60 + hours * 60 + mins + (secs > 0))


def shared_filesystem(path: Path) -> bool:
    """Whether ``path`` lies on a network file system (from /proc/mounts), which other nodes can see."""
    path, best, kind = Path(path).resolve(), "", ""
    try:
        mounts = MOUNTS.read_text().splitlines()
    except OSError:
        return False
    for line in mounts:
        _, point, fstype, *_ = line.split() + ["", "", ""]
        if (str(path) + "/").startswith(point.rstrip("/") + "/") and len(point) > len(best):
            best, kind = point, fstype
    return kind in NETWORK_FILESYSTEMS


def check_launch(sweep: Sweep, results: Path, storage: str | None) -> None:
    """Refuse, before anything is made, a machine with no ``sbatch``, and a journal on a local disk: the
    array's tasks may run on other nodes, which cannot see it."""
    import shutil

    if shutil.which("sbatch") is None:
        raise UserError("--slurm: no sbatch here; run it where SLURM jobs are submitted (a login node)")
    if not (storage or sweep.config.storage) and not shared_filesystem(results):
        raise UserError(
            f"--slurm: the sweep's journal would be in {results}/, on a local disk that other nodes cannot "
            "see; use --storage postgresql://... (or put --results on a shared file system such as NFS)"
        )


def submit(sweep: Sweep, results: Path, storage: str | None, tasks: int, options: list[str], sets: list[str],
           workers: int | None = None, per_gpu: int | None = None) -> str:
    """Submit ``tasks`` array tasks, each running ``workers`` (or ``per_gpu`` per GPU) workers; returns the
    array's job id. Logs go to ``results/<sweep>/slurm/``."""
    import submitit

    from .runner import sweep_dir

    parameters = slurm_parameters(options)
    executor = submitit.AutoExecutor(folder=sweep_dir(results, sweep.config.name) / "slurm", cluster="slurm")
    executor.update_parameters(slurm_job_name=f"ganx-{sweep.config.name}", slurm_array_parallelism=tasks,
                               **parameters)
    task = (str(Path(sweep.source).resolve()), sets, str(Path(results).resolve()), storage, workers, per_gpu)
    try:
        jobs = executor.map_array(work_in_task, *zip(*[task] * tasks))
    except Exception as exc:  # noqa: BLE001 (sbatch's own message says what SLURM refused)
        lines = str(exc).strip().splitlines() or [type(exc).__name__]
        raise UserError(f"--slurm: sbatch refused the job: {lines[-1]}") from None
    return jobs[0].job_id.split("_")[0]


def work_in_task(source: str, sets: list[str], results: str, storage: str | None, workers: int | None = None,
                 per_gpu: int | None = None) -> bool:
    """One array task: join the started sweep and train cells until every cell has a result, with the
    workers ``ganx sweep`` would run (see ``workers.execute``) on the GPUs SLURM gave the task
    (``CUDA_VISIBLE_DEVICES``) in place of ``--devices``. Returns whether a signal stopped it.

    SIGTERM (``scancel``) stops it as it stops ``ganx sweep``, not as submitit would (it ignores SIGTERM).
    """
    import os
    import signal

    from .config import load_sweep
    from .runner import join
    from .workers import run_workers, visible_gpus, worker_count, worker_envs

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sweep = load_sweep(Path(source), sets)
    studies = join(sweep, Path(results), storage)
    gpus = visible_gpus(os.environ.get("CUDA_VISIBLE_DEVICES"))
    workers, per_gpu = worker_count(sweep, workers, gpus, per_gpu)
    return run_workers(sweep, Path(results), storage, studies, worker_envs(workers, gpus, per_gpu=per_gpu))
