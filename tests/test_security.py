"""Nothing runs that the user did not install: safe YAML, no code from config keys, weights-only
checkpoints, masked storage passwords, atomic result files."""

from __future__ import annotations

import errno
import os
import pickle
from pathlib import Path

import pytest
import yaml

from ganx.config import parse_yaml, validate_run
from ganx.errors import EnvironmentFault, UserError
from ganx.store import atomic_write, load_checkpoint, write_json
from ganx.sweep.storage import masked


class Payload:
    """Unpickling this runs ``open(path, 'w')``: a stand-in for any code an attacker would run."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.mark.parametrize(
    "text",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "steps: !!python/object/apply:builtins.open ['{marker}', 'w']",
        "!!python/name:os.system",
        "x: !!python/object/new:builtins.open ['{marker}', 'w']",
    ],
)
def test_yaml_python_tags_are_refused(text, tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(UserError, match="python"):
        parse_yaml(text.format(marker=marker), "evil.yaml")
    assert not marker.exists()


@pytest.mark.parametrize(
    "evil",
    [
        {"loss": "os.system"},
        {"loss": {"name": "builtins:exec", "source": "open('x','w')"}},
        {"dataset": "subprocess.Popen"},
        {"tricks": [{"name": "importlib.import_module", "name_": "os"}]},
        {"__class__": "os.system"},
        {"optimizer": {"name": "torch.optim.Adam"}},
    ],
)
def test_no_config_key_can_import_code(evil, tiny, tmp_path, monkeypatch):
    """Plugin names are looked up in the catalogue of installed plugins, never imported."""
    import importlib

    from ganx.plugin_manager import get_catalog

    get_catalog()  # loading the installed plugins imports ganx's own modules; that is not the config's doing
    imported = []
    real_import = importlib.import_module
    monkeypatch.setattr(importlib, "import_module", lambda name, *a: imported.append(name) or real_import(name, *a))
    with pytest.raises(UserError):
        validate_run({**tiny, **evil}, "evil.yaml")
    assert imported == []


def test_a_checkpoint_with_a_code_payload_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "checkpoint.pt"
    evil.write_bytes(pickle.dumps({"step": 1, "generator": Payload(marker)}, protocol=2))
    with pytest.raises(UserError) as err:
        load_checkpoint(evil)
    assert str(err.value) == (
        f"{evil}: not a loadable ganx checkpoint (it would run io.open when loaded; "
        "the file is not trusted and will not be loaded)"
    )
    assert not marker.exists()


def test_a_torch_saved_checkpoint_with_a_code_payload_is_refused(tmp_path):
    import torch

    marker = tmp_path / "pwned"
    evil = tmp_path / "checkpoint.pt"
    torch.save({"step": 1, "generator": Payload(marker)}, evil)
    with pytest.raises(UserError) as err:
        load_checkpoint(evil)
    assert "it would run io.open when loaded; the file is not trusted" in str(err.value)
    assert "weights_only" not in str(err.value) and "trusted source" not in str(err.value)
    assert not marker.exists()
    torch.load(evil, weights_only=False)  # control: an unsafe load does run the payload
    assert marker.exists()


def test_a_resumed_run_refuses_a_malicious_checkpoint(ganx, tiny, tmp_path):
    import torch

    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text(yaml.safe_dump(tiny))
    marker = tmp_path / "pwned"
    torch.save({"step": 1, "generator": Payload(marker)}, out / "checkpoint.pt")
    code, stdout, stderr = ganx("run", "--resume", out)
    assert code == 2 and "checkpoint.pt" in stderr and not marker.exists()
    assert "io.open" in stderr and "weights_only" not in stderr and len(stderr.splitlines()) == 1


def test_a_corrupted_checkpoint_names_the_fault_not_torchs_unsafe_advice(tmp_path):
    bad = tmp_path / "checkpoint.pt"
    bad.write_bytes(pickle.dumps({"step": 1}, protocol=2)[:-5] + b"garbage")
    with pytest.raises(UserError) as err:
        load_checkpoint(bad)
    assert str(err.value).startswith(f"{bad}: not a loadable ganx checkpoint (corrupted: ")
    assert "weights_only" not in str(err.value)


@pytest.mark.parametrize(
    "url",
    ["postgresql://ganx:s3cr%40t@127.0.0.1:1/ganx", "postgresql+psycopg2://u:s3cret@localhost:1/db", "mysql://root:s3cret@db/x"],
)
def test_storage_passwords_are_masked(url):
    shown = masked(f"cannot open {url} (password for {url} rejected)")
    assert "s3cr" not in shown and ":***@" in shown


def test_a_sweep_on_unreachable_postgres_never_shows_the_password(ganx, tiny, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sweep = {"name": "s", "base": tiny, "objective": {"metric": "modes"}, "storage": "postgresql://u:pa55word@127.0.0.1:1/db"}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    code, out, err = ganx("sweep", "sweep.yaml")
    assert code == 2 and "postgresql://u:***@127.0.0.1:1/db" in err
    assert "pa55word" not in out + err
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "sweep.yaml"]
    assert all("pa55word" not in p.read_text(errors="replace") for p in written)


def test_result_files_are_replaced_atomically(tmp_path, monkeypatch):
    """A failed write leaves the old file whole and no temp file behind; a reader sees old or new."""
    path = tmp_path / "final.json"
    write_json(path, {"step": 10})
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(EnvironmentFault, match="final.json: no space left on device"):
        write_json(path, {"step": 20})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["final.json"]


def test_a_crash_mid_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("old: true\n")

    def half_then_crash(f):
        f.write("new: tr")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, half_then_crash)
    assert path.read_text() == "old: true\n" and [p.name for p in tmp_path.iterdir()] == ["config.yaml"]


def test_a_storage_error_that_quotes_the_url_never_shows_the_password(ganx, monkeypatch):
    import optuna

    url = "sqlite:///x.db"  # opens; the driver's later error quotes a URL with a password in it
    monkeypatch.setattr("ganx.report.studies.open_storage", lambda target: object())

    def refuse(storage, include_best_trial):
        raise RuntimeError(f"server refused postgresql://lab:pa55word@db/ganx and {url}")

    monkeypatch.setattr(optuna, "get_all_study_summaries", refuse)
    code, out, err = ganx("table", url)
    assert code == 2 and "cannot open this storage" in err and "lab:***@db" in err
    assert "pa55word" not in out + err


def test_no_test_reaches_the_network():
    """conftest refuses, for every test, a connection or name lookup beyond this machine."""
    import socket

    from conftest import OFF_MACHINE

    tried = len(OFF_MACHINE)
    with socket.socket() as sock, pytest.raises(OSError, match="tests open no network connection"):
        sock.connect(("192.0.2.1", 80))
    with pytest.raises(OSError, match="tests open no network connection"):
        socket.getaddrinfo("pypi.org", 443)
    assert OFF_MACHINE[tried:] == [("192.0.2.1", 80), "pypi.org"]
    del OFF_MACHINE[tried:]  # expected here; any other test that tries fails
