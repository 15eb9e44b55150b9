"""Results that travel: each completed cell's files go to an Optuna artifact store (a folder, or S3 on a
local moto server), and the table and the report made from a results folder that shares nothing with
the workers' find every cell's metrics and pictures."""

from __future__ import annotations

import shutil

import pytest

from ganx.report.studies import cell_folder, missing_files, open_target

from test_sweep_execution import write

REPORTED = ("final.json", "metrics.jsonl", "samples.png", "curves.png")


@pytest.fixture
def s3(monkeypatch):
    """An S3 URL on a moto server on 127.0.0.1, reached through the standard AWS environment variables."""
    server_mode = pytest.importorskip("moto.server")
    boto3 = pytest.importorskip("boto3")
    server = server_mode.ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "test",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://{host}:{port}"}.items():
        monkeypatch.setenv(key, value)
    boto3.client("s3").create_bucket(Bucket="ganx")
    yield "s3://ganx/sweeps"
    server.stop()


def run_elsewhere(tmp_path, tiny, ganx, url: str):
    """Run a 2 arm × 2 seed sweep uploading to ``url``, delete the workers' results folder, and open
    the study from a third results folder; returns (study, that sweep's folder in it)."""
    db = f"sqlite:///{tmp_path / 'study.db'}"
    sweep = write(tmp_path, tiny, arms={"baseline": {}, "wide": {"arch": {"name": "mlp", "hidden": [32, 32]}}},
                  storage=db)
    code, out, err = ganx("sweep", sweep, "--results", tmp_path / "workers", "--artifacts", url)
    assert code == 0, (out, err)
    shutil.rmtree(tmp_path / "workers")
    return db, *open_target(db, tmp_path / "third")


@pytest.mark.parametrize("store", ["folder", "s3"])
def test_every_cell_is_found_from_a_results_folder_that_shares_nothing(store, tmp_path, tiny, ganx, request):
    url = str(tmp_path / "store") if store == "folder" else request.getfixturevalue("s3")
    db, study, folder = run_elsewhere(tmp_path, tiny, ganx, url)
    code, out, _ = ganx("table", db, "--results", tmp_path / "third", "--format", "csv")
    assert code == 0 and {"baseline,0", "baseline,1", "wide,0", "wide,1"} <= {
        ",".join(line.split(",")[:2]) for line in out.splitlines() if ",COMPLETE,modes," in line}
    trials = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    assert len(trials) == 4
    for trial in trials:
        local = cell_folder(study, trial, folder)
        assert local.is_relative_to(tmp_path / "third") and all((local / name).is_file() for name in REPORTED)
        assert not (local / "checkpoint.pt").exists()  # only when asked (artifacts.checkpoints)


def test_the_report_finds_every_cells_pictures_in_the_artifacts(tmp_path, tiny, ganx):
    db, _, folder = run_elsewhere(tmp_path, tiny, ganx, f"file://{tmp_path / 'store'}")
    code, out, err = ganx("report", db, "--results", tmp_path / "third")
    text = (folder / "report.md").read_text()
    assert code == 0 and "![samples per arm]" in text and "![curves per arm]" in text, (out, err)
    assert "- baseline: [seed 0]" in text and "- wide: [seed 0]" in text and "artifacts/" in text


def test_the_store_is_no_part_of_the_design(tmp_path, tiny, ganx):
    sweep = write(tmp_path, tiny, seeds=[0])
    assert ganx("sweep", sweep, "--results", tmp_path)[0] == 0
    code, out, err = ganx("sweep", sweep, "--results", tmp_path, "--artifacts", tmp_path / "store")
    assert code == 0 and "nothing left to run" in out, (out, err)


def test_a_bad_store_url_is_refused(tmp_path, tiny, ganx):
    code, _, err = ganx("sweep", "validate", write(tmp_path, tiny, artifacts={"url": "gs://bucket"}))
    assert code == 2 and "artifacts.url" in err and "s3://BUCKET/PREFIX" in err


def test_a_cell_whose_files_are_not_found_is_named(tmp_path):
    (tmp_path / "s1").mkdir()
    (tmp_path / "s1" / "metrics.jsonl").write_text("")
    lines = missing_files({"baseline": [(0, tmp_path / "gone"), (1, tmp_path / "s1")]})
    assert lines == [f"baseline seed 0: no metrics.jsonl, samples.png, curves.png in {tmp_path / 'gone'}",
                     f"baseline seed 1: no samples.png, curves.png in {tmp_path / 's1'}"]
