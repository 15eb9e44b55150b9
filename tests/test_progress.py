"""Live progress: ``ganx run``'s bar on a terminal, and the sweep's view of its running trials."""

from __future__ import annotations

import json
import re
import time
from io import StringIO
from types import SimpleNamespace

import optuna
from rich.console import Console

from ganx.run_progress import run_progress
from ganx.sweep.progress import Monitor

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ROW = {"d_loss": 1.25, "g_loss": 0.75, "d_real": 0.5, "d_fake": -0.5}


def terminal() -> tuple[Console, StringIO]:
    out = StringIO()
    return Console(force_terminal=True, file=out, width=200), out


def rendered(renderable) -> str:
    console = Console(file=StringIO(), width=200)
    console.print(renderable)
    return console.file.getvalue()


def test_ganx_run_on_a_terminal_shows_the_step_its_rate_the_eta_and_the_latest_losses_and_metrics():
    console, out = terminal()
    with run_progress(100, console) as progress:
        progress.step(10, ROW)
        time.sleep(0.05)
        progress.step(20, ROW)
        progress.evaluation(20, {"modes": 24})
    shown = ANSI.sub("", out.getvalue())
    assert "20/100" in shown
    assert re.search(r"[\d.]+ steps/s", shown)
    assert re.search(r"ETA \d+:\d\d:\d\d", shown)
    assert "d_loss=1.25" in shown and "g_loss=0.75" in shown and "modes=24" in shown


def test_ganx_run_piped_prints_plain_lines():
    out = StringIO()
    with run_progress(100, Console(file=out, width=80)) as progress:
        for step in range(5, 101, 5):
            progress.step(step, ROW)
        progress.evaluation(50, {"modes": 24})
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines if line.startswith("  step ")] == [f"{n}/100" for n in range(10, 101, 10)]
    assert "  evaluated at step 50/100  modes=24" in lines
    assert "\x1b[" not in out.getvalue()


def running_trial(tmp_path, steps: list[int]):
    """A study with one running trial of cell baseline/s0 whose run folder has log rows at ``steps``."""
    study = optuna.create_study()
    trial = study.ask()
    run_dir = tmp_path / "runs" / "baseline-s0"
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps({"step": s, **ROW}) + "\n" for s in steps))
    attrs = {"queued": "baseline/s0", "run_dir": str(run_dir), "config": {"steps": 100},
             "worker": {"host": "node1", "pid": 42}}
    for name, value in attrs.items():
        trial.set_user_attr(name, value)
    return SimpleNamespace(all=lambda: [study]), study, trial


def test_the_sweep_view_shows_a_running_trials_step_between_evaluations(tmp_path):
    studies, study, trial = running_trial(tmp_path, [10, 20])
    console, _ = terminal()
    monitor = Monitor(studies, total=4, console=console)
    monitor.poll()
    shown = rendered(monitor.bar)
    assert re.search(r"cells .*0/4", shown)
    assert re.search(r"baseline/s0 .*20/100 .*node1:42", shown)
    with open(tmp_path / "runs" / "baseline-s0" / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": 30, **ROW}) + "\n" + '{"step": 4')  # and a torn row being written
    monitor.poll()
    assert re.search(r"baseline/s0 .*30/100", rendered(monitor.bar))

    trial.set_user_attr("cell", "baseline/s0")
    trial.set_user_attr("metrics", {"modes": 24})
    study.tell(trial, 24)
    monitor.poll()
    shown = rendered(monitor.bar)
    assert re.search(r"cells .*1/4", shown) and "baseline/s0" not in shown


def test_the_sweep_view_piped_prints_one_line_per_finished_cell(tmp_path):
    studies, study, trial = running_trial(tmp_path, [10, 20])
    out = StringIO()
    monitor = Monitor(studies, total=4, console=Console(file=out, width=80))
    monitor.poll()
    assert out.getvalue() == ""
    trial.set_user_attr("cell", "baseline/s0")
    trial.set_user_attr("metrics", {"modes": 24})
    study.tell(trial, 24)
    monitor.poll()
    assert out.getvalue() == "[1/4] baseline/s0: ok  modes=24\n"
