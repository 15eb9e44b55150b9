"""Stopping a run cleanly at a step boundary, and continuing it later from its checkpoint.

SIGINT and SIGTERM only set a flag while a run trains; the loop checks it after each step, saves a
checkpoint and raises :class:`Interrupted`. A second signal acts at once (the previous handler),
except while a file is being written (:func:`held_signals`): then it acts just after the write.
A checkpoint holds everything the next step depends on, so a resumed run reproduces the
uninterrupted one: both networks, both optimizers, the RNG states, the loop's step counts,
``run.last`` (a frozen network's latest losses), the partial loss log, and each plugin's own
state (:meth:`ganx.TrainingHooks.state_dict`).
"""

from __future__ import annotations

import random
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from .components import Plugin, Run
from .hooks import blamed

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal after ``step`` steps; its checkpoint (if any) is saved."""

    def __init__(self, signum: int, step: int):
        self.signum = signum
        self.step = step
        super().__init__(f"{signal.Signals(signum).name} after step {step}")


def _install(handler) -> dict[int, Any]:
    """Set ``handler`` for SIGINT/SIGTERM; the previous handlers ({} off the main thread, where Python cannot)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, handler) for s in SIGNALS}


def _restore(previous: dict[int, Any]) -> None:
    for s, handler in previous.items():
        signal.signal(s, handler)


@contextmanager
def deferred_signals() -> Iterator[list[int]]:
    """Within the block, SIGINT/SIGTERM are recorded in the yielded list instead of acting."""
    received: list[int] = []

    def record(signum, frame):
        received.append(signum)
        _restore(previous)  # a second signal is not deferred

    previous = _install(record)
    try:
        yield received
    finally:
        _restore(previous)


@contextmanager
def held_signals() -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM wait; after it each one received acts in turn: a write is never cut short."""
    received: list[int] = []
    previous = _install(lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        _restore(previous)
        for signum in received:
            signal.raise_signal(signum)


def plugin_key(position: int, plugin: Plugin) -> str:
    """A plugin's key in a checkpoint: its position (the loss is 0, then the tricks) and name."""
    return f"{position}.{plugin.name}"


def plugin_states(plugins: list[Plugin]) -> dict[str, dict[str, Any]]:
    """Each plugin's non-empty ``state_dict()``, by :func:`plugin_key`."""
    states = {plugin_key(i, p): blamed(p, "state_dict") for i, p in enumerate(plugins)}
    return {key: state for key, state in states.items() if state}


def load_plugin_states(plugins: list[Plugin], states: dict[str, dict[str, Any]]) -> None:
    """Hand each plugin its saved state; a plugin with none saved keeps its fresh state."""
    keys = {plugin_key(i, p): p for i, p in enumerate(plugins)}
    unknown = sorted(set(states) - set(keys))
    if unknown:
        raise ValueError(f"it holds state of plugins this run has not: {', '.join(unknown)}")
    for key, state in states.items():
        blamed(keys[key], "load_state_dict", state)


def run_state(run: Run, log_total, log_count: int, plugins: list[Plugin] = ()) -> dict[str, Any]:
    """Everything a checkpoint holds after ``run.step + 1`` finished steps (tensors and plain data).

    ``plugins`` are the run's loss and tricks in config order, whose state is kept too.
    """
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
        "loop": {"d_steps": run.d_steps, "g_steps": run.g_steps},
        "last": dict(run.last),
        "plugins": plugin_states(list(plugins)),
    }
    if run.device.type == "cuda":
        state["cuda_rng"] = torch.cuda.get_rng_state(run.device)
    return state


def restore(run: Run, state: dict[str, Any], plugins: list[Plugin] = ()) -> tuple[int, Any, int]:
    """Load a checkpoint into a freshly built run and its ``plugins`` (after their setup).

    Returns (finished steps, log total, log count). What an older checkpoint lacks starts afresh.
    """
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
    if "loop" in state:  # tricks may change the step counts as they train (loss_balance, replay_buffer)
        run.d_steps, run.g_steps = int(state["loop"]["d_steps"]), int(state["loop"]["g_steps"])
    run.last = {k: v.to(run.device) if isinstance(v, torch.Tensor) else v for k, v in state.get("last", {}).items()}
    load_plugin_states(list(plugins), state.get("plugins", {}))
    log = state.get("log") or {"total": None, "count": 0}
    total = log["total"].to(run.device) if log["total"] is not None else None
    return int(state["step"]), total, int(log["count"])


def resume_from(run: Run, path, plugins: list[Plugin] = ()) -> tuple[int, Any, int]:
    """:func:`restore` from the checkpoint file at ``path``; a mismatch is a UserError naming it."""
    from .errors import PluginError, UserError
    from .store import load_checkpoint

    state = load_checkpoint(path)
    try:
        return restore(run, state, plugins)
    except (RuntimeError, KeyError, ValueError, TypeError, AttributeError, PluginError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UserError(f"{path}: does not fit this run's config ({first})") from None


def resumable(folder) -> Path:
    """The config.yaml of a results folder that holds a checkpoint to continue from."""
    from .errors import UserError

    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(
            f"--resume {folder}: {'not a folder' if folder.exists() else 'no such folder'}; "
            "expected a run's results folder"
        )
    missing = [name for name in ("config.yaml", "checkpoint.pt") if not (folder / name).is_file()]
    if missing:
        raise UserError(
            f"--resume {folder}: no {' or '.join(missing)} there, so there is nothing to continue "
            f"(start afresh with: ganx run CONFIG --out {folder})"
        )
    return folder / "config.yaml"
