"""One run's loggers (the config's ``loggers:``): each hears the run's start, log rows, evaluations and end.

A logger that raises is dropped with one ``warning:`` line, and the run goes on without it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .config import RunConfig
from .plugin_manager import Catalog


class RunLoggers:
    """The loggers of one seed's run that are still live; a run without a results folder has none."""

    def __init__(self, config: RunConfig, out: Path | None, sweep: str | None, arm: str | None, catalog: Catalog):
        self.live = [catalog.create("logger", spec) for spec in config.loggers] if out else []
        if self.live:
            self.call("start", config, Path(out), sweep, arm)

    def call(self, method: str, *args: Any) -> None:
        for logger in list(self.live):
            try:
                getattr(logger, method)(*args)
            except Exception as exc:
                self.live.remove(logger)
                reason = " ".join(f"{type(exc).__name__}: {exc}".split())
                print(f"warning: logger {logger.name!r} failed in {method} ({reason}); the run goes on without it",
                      file=sys.stderr)

    def log(self, step: int, values: dict[str, float]) -> None:
        self.call("log", step, values)

    def evaluation(self, step: int, metrics: dict[str, float], fake, dataset, labels) -> None:
        """Every logger gets the metrics and the picture of the samples (drawn only if a logger is live)."""
        if self.live:
            from .report.pictures import samples_image

            self.call("evaluation", step, metrics, samples_image(fake, dataset, labels))

    def finish(self, final: dict[str, Any]) -> None:
        """The run's end, told once: later calls do nothing."""
        self.call("finish", final)
        self.live = []
