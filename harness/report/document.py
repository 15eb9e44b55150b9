"""``ganx report``: a sweep's ``report.md`` with its tables, a montage of samples and per-arm curves.

Pictures go to ``<sweep>/report/``; every link is relative, so the report renders on GitHub and in editors.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import store
from .formats import markdown
from .pictures import save_band_curves, save_montage
from .table import View, study_sheets, trials_frame

TRAINING = ("d_loss", "g_loss")


def completed_runs(study, folder: Path) -> dict[str, list[tuple[int, Path]]]:
    """Per arm, (seed, run folder) of each completed trial, in seed order."""
    from optuna.trial import TrialState

    runs: dict[str, list[tuple[int, Path]]] = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        attrs = trial.user_attrs
        if "arm" in attrs:
            path = Path(attrs.get("run_dir") or folder / "runs" / f"{attrs['arm']}-s{attrs.get('seed')}")
            runs.setdefault(attrs["arm"], []).append((attrs.get("seed"), path))
    return {arm: sorted(found, key=lambda pair: pair[0]) for arm, found in runs.items()}


def arm_curves(runs: dict[str, list[tuple[int, Path]]], quantities: list[str]) -> dict[str, dict[str, list[dict]]]:
    """``curves[quantity][arm]``: one {step: value} per seed, read from each run's metrics.jsonl."""
    curves: dict[str, dict[str, list[dict]]] = {q: {} for q in quantities}
    for arm, found in runs.items():
        for _, run_dir in found:
            log = run_dir / "metrics.jsonl"
            rows = store.read_jsonl(log) if log.is_file() else []
            for quantity in quantities:
                series = {row["step"]: row[quantity] for row in rows if quantity in row}
                if series:
                    curves[quantity].setdefault(arm, []).append(series)
    return {q: arms for q, arms in curves.items() if arms}


def link(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), Path(folder).resolve())).as_posix()


def failures(frame) -> list[str]:
    failed = frame[frame.state == "FAIL"].drop_duplicates("trial")
    return [f"- {row.arm} seed {row.seed}: {row.error or 'failed'}" for row in failed.itertuples()]


def write_report(study, folder: Path, view: View) -> Path:
    """Write ``folder/report.md`` and its pictures; returns the report's path."""
    folder, frame = Path(folder), trials_frame(study)
    pictures = folder / "report"
    runs = completed_runs(study, folder)
    lines = [f"# {view.title}", ""] + [markdown(sheet) for sheet in study_sheets(study, frame, view, folder)]

    samples = {f"{arm} (seed {found[0][0]})": found[0][1] / "samples.png" for arm, found in runs.items()}
    samples = {label: path for label, path in samples.items() if path.is_file()}
    if samples:
        save_montage(samples, pictures / "samples.png")
        lines += ["## Samples", "", "One sample picture per arm (its first completed seed).", "",
                  f"![samples per arm]({link(pictures / 'samples.png', folder)})", ""]

    curves = arm_curves(runs, view.metrics + list(TRAINING))
    if curves:
        save_band_curves(curves, pictures / "curves.png")
        lines += ["## Curves", "", "Mean over completed seeds per arm; the band spans their minimum to maximum.", "",
                  f"![curves per arm]({link(pictures / 'curves.png', folder)})", ""]

    run_links = {
        arm: [
            f"[seed {seed}]({link(run_dir / 'curves.png', folder)})"
            for seed, run_dir in found
            if (run_dir / "curves.png").is_file()
        ]
        for arm, found in runs.items()
    }
    if per_run := [f"- {arm}: {', '.join(links)}" for arm, links in run_links.items() if links]:
        lines += ["## Training curves per run", ""] + per_run + [""]
    if broken := failures(frame):
        lines += ["## Failed runs", ""] + broken + [""]
    report = folder / "report.md"
    store.write_text(report, "\n".join(lines))
    return report
