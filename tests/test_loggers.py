"""Loggers: TensorBoard, MLflow and W&B read back with their own readers, a failing logger dropped
with one warning, ``run.log`` values in metrics.jsonl and every logger (per seed when stacked), and a
missing package refused in one line. Nothing may reach the network."""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import os
import socket
import struct
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy
import pytest
import torch
import yaml
from PIL import Image

from ganx import Logger, Trick, hookimpl
from ganx.config import validate_run
from ganx.errors import PluginError
from ganx.sweep.config import validate_sweep
from ganx.sweep.runner import run_sweep
from ganx.testing import TINY, train_tiny
from ganx.trainer import train, train_seeds

from probe import CrashPlugin

OFFLINE = {  # what keeps each library off the network (the W&B service process too)
    "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_ERROR_REPORTING": "false",
    "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "1",
}  # fmt: skip
ARMS = ("baseline", "hinge")


def needs(package: str) -> None:
    """Skip without ``package``, except in CI (``.ci/run`` installs ganx[mlflow,wandb]): there it fails."""
    if importlib.util.find_spec(package) is None:
        why = f"{package} is not installed (pip install 'ganx[{package}]')"
        pytest.fail(why) if os.environ.get("CI") else pytest.skip(why)


@contextmanager
def offline():
    """The OFFLINE environment, and every connection or name lookup this process makes off the loopback
    recorded (a library may swallow an error, so the test checks the record)."""
    reached, connect, getaddrinfo = [], socket.socket.connect, socket.getaddrinfo

    def local(host) -> bool:
        try:
            return host in ("localhost", "") or ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def guarded_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not local(address[0]):
            reached.append(address)
        return connect(sock, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not local(host):
            reached.append(host)
        return getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        for key, value in OFFLINE.items():
            patch.setenv(key, value)
        patch.setattr(socket.socket, "connect", guarded_connect)
        patch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
        yield reached


@pytest.fixture(scope="module")
def sweep_results(tmp_path_factory):
    """A 2-arm × 1-seed sweep on the tiny config, logging to every installed logger, run offline."""
    loggers = ["tensorboard"] + [name for name in ("mlflow", "wandb") if importlib.util.find_spec(name)]
    base = {**TINY, "eval": {"every": 10, "samples": 500}, "log_every": 5, "loggers": loggers}
    data = {"name": "t", "base": base, "arms": {"baseline": {}, "hinge": {"loss": "hinge"}}, "seeds": [0],
            "objective": {"metric": "modes"}}
    results = tmp_path_factory.mktemp("loggers") / "results"
    with offline() as reached:
        run_sweep(validate_sweep(data, "s.yaml"), results)
    assert reached == [], f"a logger reached the network: {reached}"
    return results / "t"


def test_tensorboard_holds_each_cells_scalars_samples_and_hparams(sweep_results):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    for arm in ARMS:
        events = EventAccumulator(str(sweep_results / "runs" / f"{arm}-s0" / "tensorboard"),
                                  size_guidance={"scalars": 0, "images": 0})
        events.Reload()
        assert [e.step for e in events.Scalars("train/d_loss")] == [5, 10, 15, 20]
        assert [e.step for e in events.Scalars("eval/modes")][:2] == [10, 20]
        final = json.loads((sweep_results / "runs" / f"{arm}-s0" / "final.json").read_text())
        assert events.Scalars("eval/hq")[-1].value == pytest.approx(final["metrics"]["hq"])
        image = events.Images("samples")[0]
        assert (image.width, image.height) == (400, 400)  # the 2-D scatter of samples.png
        content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
        assert (hparams["arm"].string_value, hparams["sweep"].string_value) == (arm, "t")
        assert hparams["loss"].string_value == ("nsgan" if arm == "baseline" else "hinge")
        assert hparams["seed"].number_value == 0


def test_mlflow_holds_a_parent_run_and_a_nested_run_per_cell_with_metrics_and_artifacts(sweep_results):
    needs("mlflow")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{sweep_results / 'mlruns' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("t").experiment_id
    runs = client.search_runs([experiment])
    [parent] = [r for r in runs if r.data.tags.get("ganx.sweep") == "t"]
    cells = {r.data.tags["arm"]: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    assert sorted(cells) == list(ARMS)
    for arm, run in cells.items():
        assert (run.data.tags["seed"], run.info.status, run.data.params["arm"]) == ("0", "FINISHED", arm)
        history = client.get_metric_history(run.info.run_id, "d_loss")
        assert [m.step for m in history] == [5, 10, 15, 20]
        assert run.data.metrics["modes"] == json.loads(
            (sweep_results / "runs" / f"{arm}-s0" / "final.json").read_text())["metrics"]["modes"]
        files = {f.path for f in client.list_artifacts(run.info.run_id)}
        assert {"samples.png", "curves.png", "final.json", "config.yaml"} <= files
        assert client.list_artifacts(run.info.run_id, "images")  # the samples picture of each evaluation


def wandb_records(run_file: Path):
    """The records of a W&B offline run file (``run-<id>.wandb``): LevelDB-log framing, wandb's own protobuf."""
    from wandb.proto import wandb_internal_pb2

    data, block, position, parts = run_file.read_bytes(), 32768, 7, b""
    assert data[:4] == b":W&B"
    while position + 7 <= len(data):
        room = block - position % block
        _, length, kind = struct.unpack("<IHB", data[position : position + 7])
        if room < 7 or (kind == 0 and length == 0):  # a block's zero padding
            position += room
            continue
        parts += data[position + 7 : position + 7 + length]
        position += 7 + length
        if kind in (1, 4):  # a full record, or a record's last fragment
            yield wandb_internal_pb2.Record.FromString(parts)
            parts = b""


def test_wandb_keeps_an_offline_run_per_cell_with_its_history(sweep_results):
    needs("wandb")
    for arm in ARMS:
        [run_file] = (sweep_results / "runs" / f"{arm}-s0" / "wandb").glob("offline-run-*/run-*.wandb")
        records = list(wandb_records(run_file))
        [run] = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        assert (run.run_group, run.job_type, run.display_name) == ("t", arm, f"t-{arm}-s0")
        config = {item.key: json.loads(item.value_json) for item in run.config.update}
        assert config["seed"] == 0 and config["arm"] == arm
        history = [{item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in r.history.item}
                   for r in records if r.WhichOneof("record_type") == "history"]
        assert [row["_step"] for row in history if "d_loss" in row] == [5, 10, 15, 20]
        assert [row["_step"] for row in history if "samples/_type" in row] == [10, 20]


class Recorder(Logger):
    """Keeps every call it gets; ``fail_in`` names a method that raises instead."""

    name = "test-recorder"
    calls: list = []
    fail_in = None

    def start(self, config, out, sweep, arm):
        self.record("start", config.name, out, sweep, arm)

    def log(self, step, values):
        self.record("log", step, values)

    def evaluation(self, step, metrics, samples):
        self.record("evaluation", step, metrics, samples)

    def finish(self, final):
        self.record("finish", final)

    def record(self, method, *args):
        if method == self.fail_in:
            raise RuntimeError(f"{method} broke")
        Recorder.calls.append((method, *args))


class RecorderPlugin:
    @hookimpl
    def register_loggers(self, register):
        register(Recorder)


@pytest.fixture
def recorder(monkeypatch):
    monkeypatch.setattr(Recorder, "calls", [])
    return Recorder


IMAGES = {  # diffaugment's test config (1×8×8 digits), with ADA moving p by 0.1 every D step
    "dataset": "digits", "arch": {"name": "dcgan", "g_widths": [16, 8], "d_widths": [8, 16]},
    "norm": {"g": "batch", "d": "none"}, "steps": 4, "batch_size": 16, "latent_dim": 8, "log_every": 2,
    "eval": {"samples": 32}, "metrics": [],
    "tricks": [{"name": "diffaugment", "ada": True, "p": 0.5, "ada_interval": 1, "ada_kimg": 0.16}, "vae_gan"],
    "loggers": ["test-recorder"],
}  # fmt: skip


def test_run_log_values_reach_metrics_jsonl_and_every_logger(tmp_path, recorder):
    result = train_tiny(RecorderPlugin(), out=tmp_path, **IMAGES)
    rows = [row for row in result.log if "d_loss" in row]
    assert [row["step"] for row in rows] == [2, 4]
    for row in rows:
        assert 0 <= row["ada_p"] <= 1 and row["ada_p"] == pytest.approx(round(row["ada_p"], 1))
        assert row["vae_rec"] > 0 and row["vae_kl"] >= 0
    logged = [call[2] for call in recorder.calls if call[0] == "log"]
    assert logged == [{k: v for k, v in row.items() if k != "step"} for row in rows]
    methods = [call[0] for call in recorder.calls]
    assert methods == ["start", "log", "log", "evaluation", "finish"]
    assert recorder.calls[0] == ("start", "tiny", tmp_path, None, None)
    samples = numpy.asarray(Image.open(tmp_path / "samples.png").convert("RGB"))
    assert recorder.calls[3][3].dtype == numpy.uint8 and numpy.array_equal(recorder.calls[3][3], samples)
    assert recorder.calls[4][1] == json.loads((tmp_path / "final.json").read_text())


@pytest.mark.parametrize("method", ["start", "log", "finish"])
def test_a_failing_logger_warns_once_and_the_run_still_finishes(tmp_path, recorder, monkeypatch, capsys, method):
    monkeypatch.setattr(Recorder, "fail_in", method)
    train_tiny(RecorderPlugin(), out=tmp_path, **IMAGES)
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: logger 'test-recorder' failed in {method} (RuntimeError: {method} broke); "
                        "the run goes on without it"]
    assert "metrics" in json.loads((tmp_path / "final.json").read_text())
    before = {"start": [], "log": ["start"], "finish": ["start", "log", "log", "evaluation"]}[method]
    assert [call[0] for call in recorder.calls] == before  # dropped: called no more after it failed


def test_a_crashing_run_tells_its_loggers_why(tmp_path, recorder, register_plugin):
    register_plugin(CrashPlugin())
    with pytest.raises(PluginError):
        train_tiny(RecorderPlugin(), out=tmp_path, **{**IMAGES, "tricks": ["test-crash"]})
    method, final = recorder.calls[-1]
    assert method == "finish" and final["step"] == 0
    assert final["failed"] == "PluginError: trick plugin 'test-crash' failed in after_g_step: RuntimeError: boom"


class LogDLoss(Trick):
    """Logs D's loss after each D step: one value per seed on a stacked run."""

    name = "test-log-d-loss"
    batched = True

    def after_d_step(self, run):
        run.log("d_last", run.last["d_loss"])


class LogDLossPlugin:
    @hookimpl
    def register_tricks(self, register):
        register(LogDLoss)


def test_a_stacked_run_logs_each_seeds_own_value(tmp_path, register_plugin, recorder):
    register_plugin(LogDLossPlugin())
    register_plugin(RecorderPlugin())
    configs = [validate_run({**TINY, "seed": s, "name": f"s{s}", "tricks": ["test-log-d-loss"],
                             "loggers": ["test-recorder"]}, "t") for s in (0, 1)]
    train_seeds(configs, [tmp_path / "stacked0", tmp_path / "stacked1"], sweep="sw", arm="a")
    train(configs[1], tmp_path / "alone1")

    def d_last(folder):
        return [json.loads(line)["d_last"] for line in (folder / "metrics.jsonl").read_text().splitlines()
                if "d_loss" in line]

    assert d_last(tmp_path / "stacked1") == pytest.approx(d_last(tmp_path / "alone1"), rel=1e-4)
    assert d_last(tmp_path / "stacked0") != d_last(tmp_path / "stacked1")
    starts = [call[1:] for call in recorder.calls if call[0] == "start"]
    assert starts[:2] == [("s0", tmp_path / "stacked0", "sw", "a"), ("s1", tmp_path / "stacked1", "sw", "a")]


def test_run_log_refuses_a_value_that_is_not_one_per_seed():
    from ganx import Run

    stacked, alone = SimpleNamespace(seeds=2, logged={}), SimpleNamespace(seeds=None, logged={})
    with pytest.raises(ValueError, match=r"stacked run of 2 seeds takes one value per seed, a tensor of shape \(2,\)"):
        Run.log(stacked, "x", torch.tensor(1.0))
    with pytest.raises(ValueError, match="a float or a one-element tensor"):
        Run.log(alone, "x", torch.ones(3))
    Run.log(stacked, "x", torch.ones(2, requires_grad=True))
    Run.log(alone, "y", 0.5)
    assert not stacked.logged["x"].requires_grad and alone.logged == {"y": 0.5}


def test_a_logger_whose_package_is_missing_is_refused_in_one_line(tmp_path, ganx, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({**TINY, "loggers": ["tensorboard", "mlflow"]}))
    code, out, err = ganx("run", config, "--out", tmp_path / "out")
    assert code == 2 and not (tmp_path / "out").exists()
    assert err.strip() == (f"error: {config}: loggers[1]: logger 'mlflow' needs the mlflow package, which is not "
                           "installed: pip install 'ganx[mlflow]'")
