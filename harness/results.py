"""The results folder of one run: config.yaml, metrics.jsonl, final.json, samples.png, curves.png, checkpoint.pt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from . import store
from .components import Dataset
from .config import RunConfig


class RunWriter:
    """Writes one run's results; every file but the append-only metrics log is replaced atomically."""

    def __init__(self, out: Path, config: RunConfig, resume_step: int | None = None):
        """A new run (or, with ``resume_step``, one continued there: later metrics rows are dropped)."""
        self.out = Path(out)
        self.name = config.name
        self.metrics_path = self.out / "metrics.jsonl"
        if resume_step is not None:
            store.truncate_jsonl(self.metrics_path, resume_step)
            return
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            from .errors import write_failure

            raise write_failure(self.out, exc, f"{self.out}: cannot write results here ({exc.strerror})") from None
        store.write_text(self.out / "config.yaml", yaml.safe_dump(config.dump(), sort_keys=False))
        self.metrics_path.unlink(missing_ok=True)

    def log(self, row: dict[str, Any]) -> None:
        store.append_jsonl(self.metrics_path, row)

    def checkpoint(self, state: dict[str, Any]) -> None:
        """Replace checkpoint.pt with ``state`` (see :func:`ganx.resume.run_state`)."""
        store.save_checkpoint(self.out / "checkpoint.pt", state)

    def samples(self, fake, dataset: Dataset, labels=None) -> None:
        from .report.pictures import save_samples

        save_samples(fake, dataset, self.out / "samples.png", labels=labels)

    def finish(self, final: dict[str, Any]) -> None:
        """Write final.json and curves.png (losses, D outputs, grad norms and metrics over steps)."""
        from .report.pictures import save_curves

        store.write_json(self.out / "final.json", final)
        if self.metrics_path.is_file():
            save_curves(store.read_jsonl(self.metrics_path), self.out / "curves.png", self.name)
