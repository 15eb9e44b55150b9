"""Stopping a run cleanly at a step boundary, and continuing it later from its checkpoint.

SIGINT and SIGTERM only set a flag while a run trains; the loop checks it after each step, saves a
checkpoint and raises :class:`Interrupted`. A second signal acts at once (the previous handler).
A checkpoint holds everything the next step depends on, so a resumed run reproduces the
uninterrupted one: both networks, both optimizers, the RNG states and the partial loss log.
Plugins with internal state (e.g. a replay buffer) start that state afresh on resume.
"""

from __future__ import annotations

import random
import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from .components import Run

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal after ``step`` steps; its checkpoint (if any) is saved."""

    def __init__(self, signum: int, step: int):
        self.signum = signum
        self.step = step
        super().__init__(f"{signal.Signals(signum).name} after step {step}")


@contextmanager
def deferred_signals() -> Iterator[list[int]]:
    """Within the block, SIGINT/SIGTERM are recorded in the yielded list instead of acting."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}

    def record(signum, frame):
        received.append(signum)
        for s, handler in previous.items():  # a second signal is not deferred
            signal.signal(s, handler)

    for s in SIGNALS:
        signal.signal(s, record)
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def run_state(run: Run, log_total, log_count: int) -> dict[str, Any]:
    """Everything a checkpoint holds after ``run.step + 1`` finished steps (tensors and plain data)."""
    import torch

    state = {
        "step": run.step + 1,
        "generator": run.generator.state_dict(),
        "discriminator": run.discriminator.state_dict(),
        "opt_g": run.opt_g.state_dict(),
        "opt_d": run.opt_d.state_dict(),
        "rng": run.rng.get_state(),
        "torch_rng": torch.get_rng_state(),
        "python_rng": random.getstate(),
        "log": {"total": log_total, "count": log_count},
    }
    if run.device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(run.device)
    return state


def restore(run: Run, state: dict[str, Any]) -> tuple[int, Any, int]:
    """Load a checkpoint into a freshly built run; returns (finished steps, log total, log count)."""
    import torch

    run.generator.load_state_dict(state["generator"])
    run.discriminator.load_state_dict(state["discriminator"])
    run.opt_g.load_state_dict(state["opt_g"])
    run.opt_d.load_state_dict(state["opt_d"])
    if "rng" in state:
        run.rng.set_state(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        random.setstate(state["python_rng"])
    if "cuda_rng" in state and run.device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"], run.device)
    log = state.get("log") or {"total": None, "count": 0}
    total = log["total"].to(run.device) if log["total"] is not None else None
    return int(state["step"]), total, int(log["count"])


def resume_from(run: Run, path) -> tuple[int, Any, int]:
    """:func:`restore` from the checkpoint file at ``path``; a mismatch is a UserError naming it."""
    from .errors import UserError
    from .store import load_checkpoint

    state = load_checkpoint(path)
    try:
        return restore(run, state)
    except (RuntimeError, KeyError, ValueError, TypeError, AttributeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"{path}: does not fit this run's config ({first})") from None


def resumable(folder) -> "Path":
    """The config.yaml of a results folder that holds a checkpoint to continue from."""
    from pathlib import Path

    from .errors import UserError

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"--resume {folder}: {'not a folder' if folder.exists() else 'no such folder'}; expected a run's results folder")
    missing = [name for name in ("config.yaml", "checkpoint.pt") if not (folder / name).is_file()]
    if missing:
        raise UserError(
            f"--resume {folder}: no {' or '.join(missing)} there, so there is nothing to continue "
            f"(start afresh with: ganx run CONFIG --out {folder})"
        )
    return folder / "config.yaml"
