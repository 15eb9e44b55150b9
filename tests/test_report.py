"""``ganx report`` on a small real sweep: report.md with relative links to pictures that exist."""

from __future__ import annotations

import re

import yaml

from probe import CrashPlugin

PNG = b"\x89PNG\r\n\x1a\n"


def test_report_writes_markdown_with_existing_pictures(tmp_path, tiny, ganx, register_plugin, monkeypatch):
    register_plugin(CrashPlugin())
    monkeypatch.chdir(tmp_path)
    tiny |= {"steps": 20, "log_every": 5, "eval": {"samples": 300, "every": 10}}
    sweep = {
        "name": "rep",
        "base": tiny,
        "arms": {"baseline": {}, "wider": {"arch": {"hidden": [24, 24]}}, "crash": {"tricks": ["test-crash"]}},
        "seeds": [0, 1],
        "objective": {"metric": "modes"},
    }
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    code, out, _ = ganx("sweep", "sweep.yaml")
    assert code == 0 and "ganx report results/rep" in out
    for run in ("baseline-s0", "wider-s1"):
        assert (tmp_path / "results/rep/runs" / run / "curves.png").read_bytes().startswith(PNG)

    code, out, _ = ganx("report", "rep")
    assert code == 0 and "results/rep/report.md" in out
    report = (tmp_path / "results/rep/report.md").read_text()
    assert "| baseline |" in report and "| crash † | — | — | — | — | — | 0/2/0 |" in report
    assert report.count("> **warning:** arm 'crash' is incomplete: 2 failed seeds") == 1
    assert "- crash seed 0: trick plugin 'test-crash' failed in after_g_step: RuntimeError: boom" in report
    links = re.findall(r"\]\(([^)]+\.png)\)", report)
    assert {"report/samples.png", "report/curves.png", "runs/wider-s1/curves.png"} <= set(links)
    for link in links:
        picture = tmp_path / "results/rep" / link
        assert not link.startswith("/") and picture.read_bytes().startswith(PNG) and picture.stat().st_size > 1000

    code, out, _ = ganx("table", "rep")
    assert code == 0 and "report: results/rep/report.md" in out


def test_completed_runs_are_in_numeric_seed_order(tmp_path):
    from types import SimpleNamespace

    from optuna.trial import TrialState

    from ganx.report.document import completed_runs

    trials = [
        SimpleNamespace(user_attrs={"arm": "a", "seed": seed, "run_dir": f"runs/a-s{seed}"}) for seed in (10, 2, 1)
    ]
    study = SimpleNamespace(get_trials=lambda deepcopy, states: trials if states == (TrialState.COMPLETE,) else [])
    assert [seed for seed, _ in completed_runs(study, tmp_path)["a"]] == [1, 2, 10]


def test_a_failed_picture_write_still_closes_the_figure(tmp_path):
    import matplotlib.pyplot as plt
    import pytest

    from ganx.errors import UserError
    from ganx.report.pictures import save_curves

    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    before = len(plt.get_fignums())
    with pytest.raises(UserError, match="cannot write results"):
        save_curves([{"step": 1, "d_loss": 0.7, "g_loss": 0.6}], blocked / "curves.png")
    assert len(plt.get_fignums()) == before
