"""Results that travel: a completed cell's files in an Optuna artifact store, linked from its trial.

The store is a folder every machine sees (``file:///shared/ganx-artifacts`` or a plain path) or
``s3://bucket/prefix`` (boto3, which reads credentials and ``AWS_ENDPOINT_URL`` from the environment).
The trial records the store in its ``artifacts`` user attr, and Optuna records each file's meta, so a
report made on any machine finds the files again (:func:`download`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import optuna_adapter

FILES = ("config.yaml", "final.json", "metrics.jsonl", "samples.png", "curves.png")
CHECKPOINT = "checkpoint.pt"


@dataclass
class Prefixed:
    """An artifact store that keeps its artifacts under ``prefix/`` (Optuna's S3 store has no prefix)."""

    store: Any
    prefix: str

    def open_reader(self, artifact_id: str):
        return self.store.open_reader(f"{self.prefix}/{artifact_id}")

    def write(self, artifact_id: str, content_body) -> None:
        self.store.write(f"{self.prefix}/{artifact_id}", content_body)

    def remove(self, artifact_id: str) -> None:
        self.store.remove(f"{self.prefix}/{artifact_id}")


def location(url: str) -> str:
    """The store as every machine names it: an S3 URL as it is, a folder as an absolute path."""
    return url if url.startswith("s3://") else str(Path(url.removeprefix("file://")).resolve())


def open_store(url: str):
    """The Optuna artifact store at ``url`` (see :func:`location`)."""
    from optuna.artifacts import Boto3ArtifactStore, FileSystemArtifactStore

    if url.startswith("s3://"):
        import boto3

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        store = Boto3ArtifactStore(bucket, boto3.client("s3"))
        return Prefixed(store, prefix.strip("/")) if prefix.strip("/") else store
    folder = Path(location(url))
    folder.mkdir(parents=True, exist_ok=True)
    return FileSystemArtifactStore(folder)


def upload(trial, run_dir: Path, artifacts) -> None:
    """Upload the files of ``run_dir`` (the checkpoint too if ``artifacts.checkpoints``) and link them
    from the running ``trial``; nothing when ``artifacts`` is None."""
    from optuna.artifacts import upload_artifact

    if artifacts is None:
        return
    store = open_store(artifacts.url)
    for name in FILES + ((CHECKPOINT,) if artifacts.checkpoints else ()):
        if (run_dir / name).is_file():
            upload_artifact(artifact_store=store, file_path=str(run_dir / name), study_or_trial=trial)
    trial.set_user_attr("artifacts", location(artifacts.url))


def download(study, trial, into: Path) -> Path:
    """Download the files linked from the finished ``trial`` into ``into`` (those not there yet); returns ``into``.

    A file gone from the store is skipped: the report names what it lacks.
    """
    from optuna.artifacts import download_artifact, get_all_artifact_meta
    from optuna.artifacts.exceptions import ArtifactNotFound

    store = open_store(trial.user_attrs["artifacts"])
    into.mkdir(parents=True, exist_ok=True)
    for meta in get_all_artifact_meta(trial, storage=optuna_adapter.storage(study)):
        if not (into / meta.filename).is_file():
            partial = into / f".{meta.filename}.part"
            partial.unlink(missing_ok=True)
            try:
                download_artifact(artifact_store=store, file_path=str(partial), artifact_id=meta.artifact_id)
            except ArtifactNotFound:
                continue
            partial.replace(into / meta.filename)
    return into
