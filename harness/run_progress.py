"""The progress of one run (``ganx run``) or one batch of samples (``ganx sample``).

On a terminal: a live Rich bar with the step, its rate, the ETA and the latest losses and metrics.
Otherwise (a pipe, a log): one plain line about every 10% of the steps, and one per evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text

LOSSES = ("d_loss", "g_loss", "d_real", "d_fake")


def values_text(values: dict[str, float]) -> str:
    return "  ".join(f"{k}={v:.4g}" for k, v in values.items())


class RateColumn(ProgressColumn):
    """``12.3 steps/s``, once the rate is known."""

    def __init__(self, unit: str):
        super().__init__()
        self.unit = unit

    def render(self, task) -> Text:
        return Text(f"{task.speed:.3g} {self.unit}/s" if task.speed else "", style="progress.data.speed")


class RunProgress:
    """``train``'s ``progress`` (:meth:`step`) and ``report`` (:meth:`evaluation`), shown on ``console``."""

    def __init__(self, steps: int, unit: str, console: Console, bar: Progress | None = None):
        self.steps, self.unit, self.console, self.bar = steps, unit, console, bar
        self.task = bar.add_task("", total=steps) if bar else None
        self.every, self.shown = max(1, steps // 10), 0
        self.losses: dict[str, float] = {}
        self.metrics: dict[str, float] = {}

    def step(self, step: int, row: dict[str, float]) -> None:
        """After a log row (``ganx sample``: a batch, with no row): the bar, or a line every 10%."""
        self.losses = {k: row[k] for k in LOSSES if k in row}
        if self.bar:
            self.bar.update(self.task, completed=step, description=values_text(self.losses | self.metrics))
        elif step - self.shown >= self.every or step == self.steps:
            self.shown = step
            self.print(f"{self.unit} {step}/{self.steps}  {values_text(self.losses)}")

    def evaluation(self, step: int, metrics: dict[str, float]) -> None:
        """After an evaluation: its metrics join the bar's text, or get a line of their own."""
        self.metrics = metrics
        if self.bar:
            self.bar.update(self.task, description=values_text(self.losses | self.metrics))
        else:
            self.print(f"evaluated at {self.unit} {step}/{self.steps}  {values_text(metrics)}")

    def print(self, line: str) -> None:
        self.console.print(f"  {line}".rstrip(), highlight=False)


@contextmanager
def run_progress(steps: int, console: Console, unit: str = "step") -> Iterator[RunProgress]:
    """A :class:`RunProgress` of ``steps`` steps (or samples: ``unit``), its bar live while in use."""
    if not console.is_terminal:
        yield RunProgress(steps, unit, console)
        return
    columns = (BarColumn(), MofNCompleteColumn(), RateColumn(f"{unit.removesuffix('s')}s"), TextColumn("ETA"),
               TimeRemainingColumn(), TextColumn("{task.description}"))
    with Progress(*columns, console=console, transient=True) as bar:
        yield RunProgress(steps, unit, console, bar)
