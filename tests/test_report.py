"""``ganx report`` on a small real sweep: report.md with relative links to pictures that exist, and
report.html, one self-contained page that headless Chromium renders without console errors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
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
    assert "| baseline |" in report and "| crash † | — | — | — | — | — | — | 0/2/0 |" in report
    assert report.count("> **warning:** arm 'crash' is incomplete: 2 failed seeds") == 1
    assert "- crash seed 0: trick plugin 'test-crash' failed in after_g_step: RuntimeError: boom" in report
    assert "## Provenance" in report and "· torch " in report and "objective:\n  metric: modes" in report
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


def needs(reason_missing: str | None) -> None:
    """Skip on a laptop without the tool; under CI=true the test must run."""
    if reason_missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run this test: {reason_missing}")
        pytest.skip(reason_missing)


ARMS = ("baseline", "wider", "crash")


def html_report(tmp_path, tiny, ganx, register_plugin, monkeypatch) -> str:
    """Run a 3-arm sweep (one arm fails) and ``ganx report --format html``; returns the page."""
    register_plugin(CrashPlugin())
    monkeypatch.chdir(tmp_path)
    tiny |= {"steps": 20, "log_every": 5, "eval": {"samples": 300, "every": 10}}
    sweep = {"name": "page", "base": tiny, "seeds": [0, 1], "objective": {"metric": "modes"},
             "arms": {"baseline": {}, "wider": {"arch": {"hidden": [24, 24]}}, "crash": {"tricks": ["test-crash"]}}}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    assert ganx("sweep", "sweep.yaml")[0] == 0
    code, out, err = ganx("report", "page", "--format", "html")
    assert code == 0 and "results/page/report.html (self-contained)" in out, err
    return (tmp_path / "results/page/report.html").read_text()


def test_html_report_is_one_self_contained_page(tmp_path, tiny, ganx, register_plugin, monkeypatch):
    page = html_report(tmp_path, tiny, ganx, register_plugin, monkeypatch)
    links = re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]*)""", page)
    assert len(links) == 2 and all(link.startswith("data:image/png;base64,") for link in links)  # nothing outside
    assert "http" not in re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page)
    for arm in ARMS:
        assert f"<tr><td>{arm}" in page
    assert "crash seed 0: trick plugin &#39;test-crash&#39; failed" in page  # escaped by jinja2
    assert "git " in page and "torch " in page and "objective:" in page  # provenance and the sweep's config
    assert not (tmp_path / "results/page/report.md").exists()


def test_html_report_renders_in_headless_chromium(tmp_path, tiny, ganx, register_plugin, monkeypatch):
    browser = shutil.which("chromium")
    needs(None if browser else "chromium is not installed (run as root: .ci/system-packages.sh)")
    html_report(tmp_path, tiny, ganx, register_plugin, monkeypatch)
    shown = subprocess.run(
        [browser, "--headless", "--disable-gpu", "--no-sandbox", f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--dump-dom", (tmp_path / "results/page/report.html").as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    console = [line for line in shown.stderr.splitlines() if ":CONSOLE" in line]  # any message, "Uncaught" or not
    assert console == [], console
    dom = shown.stdout
    table = dom[dom.index('<table class="sheet" data-sortable="true">') :].split("</table>")[0]  # the script ran
    assert set(re.findall(r"<tr><td>(?:<strong>)?([a-z]+)", table)) == set(ARMS)
