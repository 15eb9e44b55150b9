"""SIGINT/SIGTERM stop a run at a step boundary with a checkpoint; --resume reproduces the full run."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ganx import Params, Trick, hookimpl
from ganx.resume import deferred_signals
from ganx.store import atomic_write, load_checkpoint, read_jsonl

ARMED = {"on": False}


class StopAt(Trick):
    """Sends this process one signal at the end of step ``at`` while armed (the test's deterministic 'kill')."""

    name = "test-stop-at"

    class Params(Params):
        at: int = 7
        signal: str = "SIGTERM"

    def after_g_step(self, run):
        if ARMED["on"] and run.step + 1 == self.params.at:
            ARMED["on"] = False  # once, though G may step several times in step ``at`` (a second signal kills)
            os.kill(os.getpid(), getattr(signal, self.params.signal))


class StopPlugin:
    @hookimpl
    def register_tricks(self, register):
        register(StopAt)


@pytest.fixture
def stop_trick(register_plugin):
    register_plugin(StopPlugin())
    yield ARMED
    ARMED["on"] = False


def config_file(tmp_path: Path, tiny: dict, **trick) -> Path:
    tiny.update(log_every=5, eval={"every": 10, "samples": 500}, tricks=[{"name": "test-stop-at", **trick}])
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(tiny))
    return path


def leftovers(folder: Path) -> list[str]:
    """Temp files of interrupted atomic writes (there must be none)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("sig, code", [("SIGTERM", 143), ("SIGINT", 130)])
def test_signal_stops_after_the_step_with_a_consistent_results_dir(ganx, tiny, tmp_path, stop_trick, sig, code):
    out = tmp_path / "out"
    stop_trick["on"] = True
    status, stdout, stderr = ganx("run", config_file(tmp_path, tiny, signal=sig), "--out", out)
    assert status == code, stderr
    assert f"ganx run --resume {out}" in stdout and "Traceback" not in stdout + stderr
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 7
    assert [row["step"] for row in read_jsonl(out / "metrics.jsonl")] == [5]
    assert not (out / "final.json").exists() and leftovers(out) == []


def test_resumed_run_ends_at_the_same_step_with_identical_results(ganx, tiny, tmp_path, stop_trick):
    config = config_file(tmp_path, tiny)
    assert ganx("run", config, "--out", tmp_path / "whole")[0] == 0
    stop_trick["on"] = True
    assert ganx("run", config, "--out", tmp_path / "cut")[0] == 143
    stop_trick["on"] = False
    code, stdout, stderr = ganx("run", "--resume", tmp_path / "cut")
    assert code == 0, stderr
    whole, cut = (json.loads((tmp_path / d / "final.json").read_text()) for d in ("whole", "cut"))
    assert cut["step"] == whole["step"] == 20
    assert cut["metrics"] == whole["metrics"]
    assert read_jsonl(tmp_path / "cut" / "metrics.jsonl") == read_jsonl(tmp_path / "whole" / "metrics.jsonl")


def test_resume_drops_metrics_rows_written_after_the_checkpoint(ganx, tiny, tmp_path, stop_trick):
    """A run killed (SIGKILL) after logging past its checkpoint resumes from the checkpoint's step."""
    config = config_file(tmp_path, tiny)
    assert ganx("run", config, "--out", tmp_path / "whole")[0] == 0
    stop_trick["on"] = True
    assert ganx("run", config, "--out", tmp_path / "cut")[0] == 143
    stop_trick["on"] = False
    with open(tmp_path / "cut" / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 10, "d_loss": 99.0}) + "\n" + '{"step": 15, "d_lo')  # then a torn line
    assert ganx("run", "--resume", tmp_path / "cut")[0] == 0
    assert read_jsonl(tmp_path / "cut" / "metrics.jsonl") == read_jsonl(tmp_path / "whole" / "metrics.jsonl")


def test_resume_of_a_finished_run_rewrites_the_same_results(ganx, tiny, tmp_path, stop_trick):
    config = config_file(tmp_path, tiny)
    assert ganx("run", config, "--out", tmp_path / "done")[0] == 0
    before = json.loads((tmp_path / "done" / "final.json").read_text())
    (tmp_path / "done" / "final.json").unlink()  # stopped between the last checkpoint and final.json
    assert ganx("run", "--resume", tmp_path / "done")[0] == 0
    assert json.loads((tmp_path / "done" / "final.json").read_text()) == before


def ganx_process(config: Path, out: Path, prelude: str = "") -> subprocess.CompletedProcess:
    """``ganx run config --out out`` in a separate process with the stop trick armed, after running ``prelude``."""
    script = (
        "import os, signal, sys; sys.path.insert(0, sys.argv[1]); import test_interrupt_resume as t; "
        "from ganx.plugin_manager import get_plugin_manager; get_plugin_manager().register(t.StopPlugin()); "
        f"t.ARMED['on'] = True; sys.argv = ['ganx', *sys.argv[2:]]\n{prelude}\nfrom ganx.cli import main; main()"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", script, str(Path(__file__).parent), "run", str(config), "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )


def test_sigterm_to_a_real_ganx_process(tiny, tmp_path):
    """The signal path in a separate process: exit 143, a message, a loadable checkpoint, no traceback."""
    out = tmp_path / "out"
    done = ganx_process(config_file(tmp_path, tiny), out)
    assert done.returncode == 143, done.stderr
    assert "Traceback" not in done.stdout + done.stderr and "--resume" in done.stdout
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 7 and leftovers(out) == []


# os.fsync, patched: once the first SIGTERM is sent, the next fsync (the checkpoint's) sends the second
# while the checkpoint is provably half written, then dawdles, so that unfixed the process surely dies there.
SECOND_SIGTERM_MID_WRITE = """
import time
real_fsync = os.fsync
def fsync(fd):
    if not t.ARMED['on']:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)
    real_fsync(fd)
os.fsync = fsync
"""


def test_a_second_sigterm_during_the_checkpoint_write_kills_only_once_it_is_written(tiny, tmp_path):
    out = tmp_path / "out"
    done = ganx_process(config_file(tmp_path, tiny), out, SECOND_SIGTERM_MID_WRITE)
    assert done.returncode == -signal.SIGTERM, done.stderr
    assert leftovers(out) == []
    assert load_checkpoint(out / "checkpoint.pt")["step"] == 7


def test_a_second_signal_is_not_deferred():
    with deferred_signals() as received:
        signal.raise_signal(signal.SIGINT)
        assert received == [signal.SIGINT]
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_during_a_file_write_acts_once_the_file_is_whole(tmp_path):
    def write(f):
        f.write("half ")
        signal.raise_signal(signal.SIGINT)
        f.write("and whole")

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "final.json", write)
    assert (tmp_path / "final.json").read_text() == "half and whole" and leftovers(tmp_path) == []


def test_disk_full_on_resume_is_an_error_and_leaves_the_files_intact(ganx, tiny, tmp_path, stop_trick, monkeypatch):
    out = tmp_path / "cut"
    stop_trick["on"] = True
    assert ganx("run", config_file(tmp_path, tiny), "--out", out)[0] == 143
    stop_trick["on"] = False
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    code, stdout, stderr = ganx("run", "--resume", out)
    # the machine's fault, not input
    assert code == 1 and "no space left on device" in stderr and "Traceback" not in stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(ganx, tiny, tmp_path, monkeypatch):
    """fsync fails from the second checkpoint on: the run errors and checkpoint.pt still holds step 10."""
    import ganx.store as store

    tiny.update(log_every=5, eval={"every": 10, "samples": 500})
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(tiny))
    real_save, saves = store.save_checkpoint, []

    def save_then_fill_disk(path, state):
        saves.append(state["step"])
        if len(saves) == 2:
            monkeypatch.setattr(
                os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device"))
            )
        real_save(path, state)

    monkeypatch.setattr(store, "save_checkpoint", save_then_fill_disk)
    code, stdout, stderr = ganx("run", config, "--out", tmp_path / "out")
    assert code == 1 and "checkpoint.pt: no space left on device" in stderr
    assert f"then continue with: ganx run --resume {tmp_path / 'out'}" in " ".join(stderr.split())
    assert load_checkpoint(tmp_path / "out" / "checkpoint.pt")["step"] == 10
    assert leftovers(tmp_path / "out") == []


# Plugins' own state (generators, buffers, EMA weights, counters) is in the checkpoint too.

STATEFUL = [
    {"name": "label_smoothing", "mode": "random"},
    {"name": "noisy_labels", "p": 0.2},
    {"name": "instance_noise", "std": 0.2},
    {"name": "replay_buffer", "mode": "fakes", "size": 48, "fraction": 0.5},
    {"name": "ema", "decay": 0.9},
    {"name": "dragan", "weight": 1.0},
    {"name": "loss_balance", "d_threshold": 1.35, "g_threshold": 0.7, "max_steps": 2, "every": 2},
    {"name": "failure_detector", "every": 3},
    {"name": "optimizer_schedule", "lr_decay": 1.01},
]
SWAP_D = {
    "name": "replay_buffer", "mode": "checkpoints", "net": "d", "keep": 3, "every": 2, "swap_prob": 0.7, "swap_for": 4
}


def identical(a, b) -> bool:
    """Equal to the last bit: tensors elementwise, containers item by item."""
    import torch

    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(identical(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(identical, a, b))
    return a == b


def stop_and_resume(ganx, tiny, tmp_path, stop_trick, tricks) -> tuple[Path, Path, dict]:
    """Train ``tricks`` whole, and again stopped after step 7 then resumed;
    returns both folders and the cut checkpoint."""
    config = config_file(tmp_path, tiny)
    config.write_text(
        yaml.safe_dump({**yaml.safe_load(config.read_text()), "tricks": [*tricks, {"name": "test-stop-at"}]})
    )
    assert ganx("run", config, "--out", tmp_path / "whole")[0] == 0
    stop_trick["on"] = True
    assert ganx("run", config, "--out", tmp_path / "cut")[0] == 143
    stop_trick["on"] = False
    cut_checkpoint = load_checkpoint(tmp_path / "cut" / "checkpoint.pt")
    code, _, stderr = ganx("run", "--resume", tmp_path / "cut")
    assert code == 0, stderr
    return tmp_path / "whole", tmp_path / "cut", cut_checkpoint


def assert_same_results(whole: Path, cut: Path) -> None:
    assert read_jsonl(cut / "metrics.jsonl") == read_jsonl(whole / "metrics.jsonl")
    assert json.loads((cut / "final.json").read_text()) == json.loads((whole / "final.json").read_text())
    assert identical(load_checkpoint(cut / "checkpoint.pt"), load_checkpoint(whole / "checkpoint.pt"))


def test_a_run_with_every_stateful_trick_resumes_bit_identically(ganx, tiny, tmp_path, stop_trick):
    whole, cut, stopped = stop_and_resume(ganx, tiny, tmp_path, stop_trick, STATEFUL)
    assert sorted(stopped["plugins"]) == [  # the loss (0) has none; optimizer_schedule follows run.step
        "1.label_smoothing", "2.noisy_labels", "3.instance_noise", "4.replay_buffer", "5.ema", "6.dragan",
        "7.loss_balance", "8.failure_detector",
    ]
    assert stopped["plugins"]["4.replay_buffer"]["filled"] == 48
    assert_same_results(whole, cut)


def test_a_run_stopped_while_an_old_d_is_swapped_in_resumes_bit_identically(ganx, tiny, tmp_path, stop_trick):
    whole, cut, stopped = stop_and_resume(ganx, tiny, tmp_path, stop_trick, [SWAP_D, {"name": "r1"}])
    assert stopped["loop"]["d_steps"] == 0 and stopped["plugins"]["1.replay_buffer"]["current"] is not None
    assert_same_results(whole, cut)


def test_a_run_with_diffaugment_and_ada_resumes_bit_identically(ganx, tmp_path, stop_trick):
    digits = {"name": "digits", "dataset": "digits", "arch": {"name": "dcgan", "g_widths": [16, 8], "d_widths": [8]},
              "steps": 20, "batch_size": 16, "latent_dim": 8, "device": "cpu", "metrics": []}
    ada = {"name": "diffaugment", "ada": True, "p": 0.5, "ada_interval": 3, "ada_kimg": 0.48}  # p moves by 0.1
    whole, cut, stopped = stop_and_resume(ganx, digits, tmp_path, stop_trick, [ada])
    assert stopped["plugins"]["1.diffaugment"]["d_steps"] == 1  # stopped 7 D steps in: one into an interval
    assert_same_results(whole, cut)


def test_a_checkpoint_without_plugin_state_still_resumes(ganx, tiny, tmp_path, stop_trick):
    """An older checkpoint (no plugin state, no loop counts) continues, with the plugins' state afresh."""
    from ganx.store import save_checkpoint

    config = config_file(tmp_path, tiny)
    config.write_text(
        yaml.safe_dump({**yaml.safe_load(config.read_text()), "tricks": [*STATEFUL, {"name": "test-stop-at"}]})
    )
    stop_trick["on"] = True
    assert ganx("run", config, "--out", tmp_path / "old")[0] == 143
    stop_trick["on"] = False
    state = load_checkpoint(tmp_path / "old" / "checkpoint.pt")
    save_checkpoint(
        tmp_path / "old" / "checkpoint.pt", {k: v for k, v in state.items() if k not in ("plugins", "loop")}
    )
    code, _, stderr = ganx("run", "--resume", tmp_path / "old")
    assert code == 0, stderr
    assert json.loads((tmp_path / "old" / "final.json").read_text())["step"] == 20


def test_plugin_state_the_run_cannot_take_is_a_config_mismatch(ganx, tiny, tmp_path, stop_trick):
    from ganx.store import save_checkpoint

    config = config_file(tmp_path, tiny)
    config.write_text(
        yaml.safe_dump({**yaml.safe_load(config.read_text()), "tricks": [{"name": "ema"}, {"name": "test-stop-at"}]})
    )
    stop_trick["on"] = True
    assert ganx("run", config, "--out", tmp_path / "out")[0] == 143
    stop_trick["on"] = False
    state = load_checkpoint(tmp_path / "out" / "checkpoint.pt")
    for plugins, named in [({"1.swa": state["plugins"]["1.ema"]}, "1.swa"), ({"1.ema": {"average": {}}}, "ema")]:
        save_checkpoint(tmp_path / "out" / "checkpoint.pt", {**state, "plugins": plugins})
        code, _, stderr = ganx("run", "--resume", tmp_path / "out")
        assert code == 2 and "does not fit this run's config" in stderr and named in stderr, stderr
