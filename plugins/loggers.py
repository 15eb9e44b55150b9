"""Loggers: a run's log rows, evaluations and end in TensorBoard, MLflow or Weights & Biases.

Each writes beside the run's results, offline unless told otherwise, and is read back with the
library's own tools. mlflow and wandb are optional: ``pip install 'ganx[mlflow]'`` / ``'ganx[wandb]'``.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from ganx import Logger, Params, hookimpl


def hparams(config, sweep: str | None, arm: str | None) -> dict[str, Any]:
    """The run's sweep and arm, then its config flattened (``optimizer.g.lr``), lists and None as JSON text."""
    flat = {"sweep": sweep or "", "arm": arm or config.name}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else key, inner)
        else:
            flat[prefix] = value if isinstance(value, (bool, int, float, str)) else json.dumps(value)

    walk("", config.dump())
    return flat


class LibraryLogger(Logger):
    """A logger built on a package that may be missing: a config asking for it is refused, naming what to install."""

    package: ClassVar[str]
    install: ClassVar[str]

    @classmethod
    def conflicts(cls, params, config):
        if importlib.util.find_spec(cls.package) is None:
            missing = f"logger {cls.name!r} needs the {cls.package} package, which is not installed"
            return [f"{missing}: pip install {cls.install}"]
        return []


class TensorBoard(LibraryLogger):
    """TensorBoard, into ``<run folder>/tensorboard``: log rows as ``train/`` scalars, metrics as ``eval/``
    scalars, the samples picture at each evaluation, and at the end the config and arm as hparams with the
    final metrics (the HParams tab compares arms). ``tensorboard --logdir results/<sweep>`` shows every cell."""

    name = "tensorboard"
    package, install = "tensorboard", "tensorboard"

    def start(self, config, out, sweep, arm):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(out / "tensorboard")
        self.hparams = hparams(config, sweep, arm)

    def log(self, step, values):
        for name, value in values.items():
            self.writer.add_scalar(f"train/{name}", value, step)

    def evaluation(self, step, metrics, samples):
        for name, value in metrics.items():
            self.writer.add_scalar(f"eval/{name}", value, step)
        self.writer.add_image("samples", samples, step, dataformats="HWC")

    def finish(self, final):
        if "failed" in final:
            self.writer.add_text("failed", final["failed"], final["step"])
        metrics = {f"eval/{name}": value for name, value in final.get("metrics", {}).items()}
        self.writer.add_hparams(self.hparams, metrics, run_name=".", global_step=final["step"])
        self.writer.close()


@contextmanager
def exclusive(path: Path):
    """Hold an flock on ``path``: one process at a time creates the store, the experiment and the parent run."""
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


class MLflow(LibraryLogger):
    """MLflow: one run per cell, nested under one parent run per sweep and tagged ``arm``, ``seed`` and
    ``sweep``, with the config as params, every log row and metric per step, the samples picture at
    each evaluation, and config.yaml, samples.png, curves.png and final.json as artifacts at the end.

    By default the store is local: an SQLite file and an artifacts folder in ``results/<sweep>/mlruns``
    (for ``ganx run``, ``mlruns`` beside the run folder); open it with
    ``mlflow ui --backend-store-uri sqlite:///results/<sweep>/mlruns/mlflow.db``.
    """

    name = "mlflow"
    package, install = "mlflow", "'ganx[mlflow]'"

    class Params(Params):
        tracking_uri: str | None = Field(
            None, description="an MLflow tracking URI (a server, a database); None = the local store in mlruns/"
        )
        experiment: str | None = Field(None, description="the experiment's name; None = the sweep's (or the run's)")

    def start(self, config, out, sweep, arm):
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        root = next((folder for folder in out.parents if folder.name == sweep), out.parent) if sweep else out.parent
        uri, artifacts = self.params.tracking_uri, None
        if uri is None:
            store = (root / "mlruns").resolve()
            store.mkdir(parents=True, exist_ok=True)
            uri, artifacts = f"sqlite:///{store / 'mlflow.db'}", (store / "artifacts").as_uri()
        with exclusive(root / ".mlflow.lock"):
            self.client = MlflowClient(uri)
            experiment = self.experiment(self.params.experiment or sweep or config.name, artifacts)
            parent = self.parent(experiment, sweep) if sweep else None
        tags = {"arm": arm or config.name, "seed": str(config.seed), "sweep": sweep or ""}
        if parent:
            tags["mlflow.parentRunId"] = parent
        self.run_id = self.client.create_run(experiment, tags=tags, run_name=config.name).info.run_id
        params = [Param(key, str(value)) for key, value in hparams(config, sweep, arm).items()]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=params[i : i + 100])
        self.out = out

    def experiment(self, name: str, artifacts: str | None) -> str:
        found = self.client.get_experiment_by_name(name)
        return found.experiment_id if found else self.client.create_experiment(name, artifact_location=artifacts)

    def parent(self, experiment: str, sweep: str) -> str:
        """The sweep's parent run (made on first use): its cells' runs nest under it."""
        tag = f"tags.`ganx.sweep` = '{sweep}'"
        found = self.client.search_runs([experiment], filter_string=tag, max_results=1)
        if found:
            return found[0].info.run_id
        parent = self.client.create_run(experiment, tags={"ganx.sweep": sweep}, run_name=sweep).info.run_id
        self.client.set_terminated(parent)
        return parent

    def log(self, step, values):
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(name, value, now, step) for name, value in values.items()])

    def evaluation(self, step, metrics, samples):
        self.log(step, metrics)
        self.client.log_image(self.run_id, samples, key="samples", step=step)

    def finish(self, final):
        for name in ("config.yaml", "samples.png", "curves.png", "final.json"):
            if (self.out / name).is_file():
                self.client.log_artifact(self.run_id, str(self.out / name))
        if "failed" in final:
            self.client.set_tag(self.run_id, "failed", final["failed"])
        self.client.set_terminated(self.run_id, "FAILED" if "failed" in final else "FINISHED")


def logged_in_to_wandb() -> bool:
    """Whether W&B has credentials here: ``WANDB_API_KEY``, or the ~/.netrc entry ``wandb login`` writes."""
    import netrc

    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (OSError, netrc.NetrcParseError):
        return False


class WandB(LibraryLogger):
    """Weights & Biases: one run per cell with ``group`` = the sweep (or the run's name), ``job_type`` =
    the arm and the config (seed included) as its config; every log row and metric per step, and the
    samples picture at each evaluation. Its files go to ``<run folder>/wandb``. Offline unless you have
    logged in (then ``wandb sync <run folder>/wandb/offline-run-*`` uploads an offline run)."""

    name = "wandb"
    package, install = "wandb", "'ganx[wandb]'"

    class Params(Params):
        project: str = Field("ganx", description="the W&B project")
        mode: Literal["auto", "offline", "online"] = Field(
            "auto", description="auto: $WANDB_MODE if set, else online if logged in, else offline"
        )

    def start(self, config, out, sweep, arm):
        import wandb

        mode = self.params.mode
        if mode == "auto":
            mode = os.environ.get("WANDB_MODE") or ("online" if logged_in_to_wandb() else "offline")
        self.run = wandb.init(
            project=self.params.project, group=sweep or config.name, job_type=arm or config.name, name=config.name,
            config=hparams(config, sweep, arm), dir=out, mode=mode, reinit="create_new",
            settings=wandb.Settings(console="off"),  # leave ganx's own terminal output alone
        )

    def log(self, step, values):
        self.run.log(values, step=step)

    def evaluation(self, step, metrics, samples):
        import wandb

        self.run.log({**metrics, "samples": wandb.Image(samples)}, step=step)

    def finish(self, final):
        if "failed" in final:
            self.run.summary["failed"] = final["failed"]
        self.run.finish(exit_code=1 if "failed" in final else 0)


@hookimpl
def register_loggers(register):
    for logger in (TensorBoard, MLflow, WandB):
        register(logger)
