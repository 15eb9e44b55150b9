"""The sweep's progress, read from the storage so it covers every worker on every machine.

On a terminal: a Rich progress display (the cells done of all, with elapsed time and ETA, and a bar
per running trial with its cell, step, worker and latest metrics). Otherwise (CI, pipes): one plain
line per finished cell.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

POLL_S = 1.0
TAIL_BYTES = 64 * 1024  # far more than one metrics row


def metrics_text(metrics: dict[str, Any], limit: int = 4) -> str:
    shown = [(k, v) for k, v in metrics.items() if k != "step" and isinstance(v, (int, float))][:limit]
    return "  ".join(f"{k}={v:.4g}" for k, v in shown)


def outcome_text(trial) -> str:
    """``ok  modes=24 ...``, or the state and its reason."""
    state = trial.state.name
    if state == "COMPLETE":
        return f"[green]ok[/]  {metrics_text(trial.user_attrs.get('metrics', {}))}"
    return f"[red]{state}[/] {escape(trial.user_attrs.get('error', ''))}"


def last_step(run_dir: str | os.PathLike) -> int | None:
    """The step of the last whole row of ``run_dir/metrics.jsonl``: a log row or an evaluation, so the
    step between evaluations. None where there is no row yet, or the folder is on another machine."""
    try:
        with open(Path(run_dir) / "metrics.jsonl", "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - TAIL_BYTES))
            *rows, _torn_or_empty = f.read().split(b"\n")
        return int(json.loads(rows[-1])["step"])
    except (OSError, IndexError, ValueError, KeyError, TypeError):
        return None


def trial_step(trial) -> int | None:
    """A running trial's step: its run folder's latest row where this machine sees the folder (local
    workers, a shared results folder), else its latest evaluation's, which every storage carries."""
    step = last_step(trial.user_attrs["run_dir"]) if "run_dir" in trial.user_attrs else None
    return step if step is not None else (trial.user_attrs.get("latest") or {}).get("step")


class Monitor:
    """Polls the studies and shows what finished since it started, and what is running now."""

    def __init__(self, studies, total: int, console: Console):
        self.studies, self.total, self.console = studies, total, console
        self.seen = {id(s): {t.number for t in self.final(s.get_trials(deepcopy=False))} for s in studies.all()}
        self.done_before = sum(len(v) for v in self.seen.values())
        self.printed = 0
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
            console=console, refresh_per_second=2, speed_estimate_period=float("inf"),
        ) if console.is_terminal else None
        self.cells = self.started("[bold]cells[/]", total, self.done_before) if self.bar else None
        self.running: dict[tuple[int, int], TaskID] = {}  # (study id, trial number) → its bar
        self.stopped = threading.Event()

    @staticmethod
    def final(trials: list) -> list:
        """The trials among ``trials`` that are a cell's outcome."""
        from .queue import is_final

        return [t for t in trials if is_final(t) and "cell" in t.user_attrs]

    def poll(self) -> None:
        """Print each newly finished cell, and show the running trials: one read of each study's trials."""
        running = {}
        for study in self.studies.all():
            trials = study.get_trials(deepcopy=False)
            for trial in self.final(trials):
                if trial.number not in self.seen[id(study)]:
                    self.seen[id(study)].add(trial.number)
                    self.printed += 1
                    self.line(trial)
            running |= {(id(study), t.number): t for t in trials if t.state.name == "RUNNING"}
        if self.bar:
            self.show(running)

    def line(self, trial) -> None:
        done = self.done_before + self.printed
        text = f"[{done}/{self.total}] {trial.user_attrs['cell']}: {outcome_text(trial)}"
        self.console.print(text, soft_wrap=True, highlight=False)
        if self.bar:
            self.bar.advance(self.cells)

    def show(self, running: dict[tuple[int, int], Any]) -> None:
        """One bar per running trial: its cell (arm/seed), step of steps, worker and latest metrics."""
        for key in self.running.keys() - running.keys():
            self.bar.remove_task(self.running.pop(key))
        for key, trial in running.items():
            attrs = trial.user_attrs
            worker = attrs.get("worker") or {}
            info = f"{worker.get('host', '?')}:{worker.get('pid', '?')}  {metrics_text(attrs.get('latest') or {})}"
            step = trial_step(trial) or 0
            if key not in self.running:
                steps = attrs.get("config", {}).get("steps")
                self.running[key] = self.started(escape(attrs.get("queued", "?")), steps, step)
            self.bar.update(self.running[key], completed=step, info=info)

    def started(self, description: str, total: float | None, completed: int) -> TaskID:
        """A new bar at ``completed`` whose rate (and so ETA) counts from now."""
        task = self.bar.add_task(description, total=total, completed=completed, info="")
        self.bar.advance(task, 0)
        return task

    def __enter__(self) -> "Monitor":
        if self.bar:
            self.bar.start()
        self.thread = threading.Thread(target=self._loop, daemon=True, name="sweep-monitor")
        self.thread.start()
        return self

    def _loop(self) -> None:
        while not self.stopped.wait(POLL_S):
            try:
                self.poll()
            except Exception:  # a storage hiccup must not kill the display; the next poll retries
                pass

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()
        try:
            self.poll()
        except Exception:  # the storage failed (the sweep reports that); show what was seen
            pass
        if self.bar:
            self.show({})
            self.bar.stop()
