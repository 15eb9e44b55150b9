"""The sweep's progress, read from the storage so it covers every worker on every machine.

On a terminal: a Rich live display (overall progress with ETA, each running trial's worker, cell,
step and latest metrics). Otherwise (CI, pipes): one plain line per finished cell.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table

POLL_S = 1.0


def metrics_text(metrics: dict[str, Any], limit: int = 4) -> str:
    shown = [(k, v) for k, v in metrics.items() if k != "step" and isinstance(v, (int, float))][:limit]
    return "  ".join(f"{k}={v:.4g}" for k, v in shown)


def outcome_text(trial) -> str:
    """``ok  modes=24 ...``, or the state and its reason."""
    state = trial.state.name
    if state == "COMPLETE":
        return f"[green]ok[/]  {metrics_text(trial.user_attrs.get('metrics', {}))}"
    return f"[red]{state}[/] {escape(trial.user_attrs.get('error', ''))}"


class Monitor:
    """Polls the studies and shows what finished since it started, and what is running now."""

    def __init__(self, studies, total: int, console: Console):
        self.studies, self.total, self.console = studies, total, console
        self.started = time.monotonic()
        self.seen = {id(s): {t.number for t in self.final(s)} for s in studies.all()}
        self.done_before = sum(len(v) for v in self.seen.values())
        self.printed = 0
        self.live = Live(console=console, refresh_per_second=2, transient=False) if console.is_terminal else None
        self.stopped = threading.Event()

    @staticmethod
    def final(study) -> list:
        from .queue import is_final

        return [t for t in study.get_trials(deepcopy=False) if is_final(t) and "cell" in t.user_attrs]

    def poll(self) -> None:
        running = []
        for study in self.studies.all():
            for trial in self.final(study):
                if trial.number not in self.seen[id(study)]:
                    self.seen[id(study)].add(trial.number)
                    self.printed += 1
                    self.line(trial)
            running += [t for t in study.get_trials(deepcopy=False) if t.state.name == "RUNNING"]
        if self.live:
            self.live.update(self.render(running))

    def line(self, trial) -> None:
        done = self.done_before + self.printed
        text = f"[{done}/{self.total}] {trial.user_attrs['cell']}: {outcome_text(trial)}"
        (self.live.console if self.live else self.console).print(text, soft_wrap=True, highlight=False)

    def eta(self) -> str:
        if not self.printed:
            return "ETA —"
        left = max(0, self.total - self.done_before - self.printed)
        seconds = (time.monotonic() - self.started) / self.printed * left
        return f"ETA {int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"

    def render(self, running: list) -> Group:
        done = self.done_before + self.printed
        width = 30
        filled = int(width * done / max(1, self.total))
        header = (
            f"[bold]{done}/{self.total}[/] cells  [green]{'━' * filled}[/]"
            f"[dim]{'━' * (width - filled)}[/]  {self.eta()}"
        )
        table = Table(box=None, show_header=True, header_style="bold")
        for column in ("worker", "cell", "step", "latest metrics"):
            table.add_column(column)
        for trial in running:
            attrs = trial.user_attrs
            worker = attrs.get("worker") or {}
            latest = attrs.get("latest") or {}
            table.add_row(
                f"{worker.get('host', '?')}:{worker.get('pid', '?')}",
                escape(attrs.get("queued", "?")),
                str(latest.get("step", "—")),
                metrics_text(latest),
            )
        return Group(header, table)

    def __enter__(self) -> "Monitor":
        if self.live:
            self.live.start()
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
        if self.live:
            self.live.update(self.render([]))
            self.live.stop()
