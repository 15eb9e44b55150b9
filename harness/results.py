"""The results folder of one run: config.yaml, metrics.jsonl, final.json, samples.png, checkpoint.pt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from . import store
from .components import Dataset, Run
from .config import RunConfig


class RunWriter:
    """Writes one run's results; every file but the append-only metrics log is replaced atomically."""

    def __init__(self, out: Path, config: RunConfig):
        self.out = Path(out)
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            store.write_text(self.out / "config.yaml", yaml.safe_dump(config.dump(), sort_keys=False))
        except OSError as exc:
            from .errors import UserError

            raise UserError(f"{self.out}: cannot write results here ({exc.strerror})") from None
        self.metrics_path = self.out / "metrics.jsonl"
        self.metrics_path.unlink(missing_ok=True)

    def log(self, row: dict[str, Any]) -> None:
        store.append_jsonl(self.metrics_path, row)

    def checkpoint(self, run: Run) -> None:
        store.save_checkpoint(
            self.out / "checkpoint.pt",
            {
                "step": run.step + 1,
                "generator": run.generator.state_dict(),
                "discriminator": run.discriminator.state_dict(),
                "opt_g": run.opt_g.state_dict(),
                "opt_d": run.opt_d.state_dict(),
            },
        )

    def samples(self, fake, dataset: Dataset) -> None:
        from .pictures import save_samples

        save_samples(fake, dataset, self.out / "samples.png")

    def finish(self, final: dict[str, Any]) -> None:
        store.write_json(self.out / "final.json", final)
