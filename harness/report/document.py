"""``ganx report``: a sweep's report with its tables, a montage of samples, per-arm curves and provenance.

:func:`gather` collects what the report shows (writing the pictures to ``<sweep>/report/``) once;
``report.md`` links the pictures relatively, so it renders on GitHub and in editors, and ``report.html``
(:mod:`ganx.report.page`) is one self-contained page with them inlined.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import store
from .formats import Sheet, markdown
from .pictures import save_band_curves, save_montage
from .studies import cell_folder, missing_files
from .table import View, study_sheets, trials_frame

TRAINING = ("d_loss", "g_loss")
FORMATS = ("markdown", "html")


@dataclass
class Report:
    """What both renderings show; the pictures named here exist."""

    title: str
    sheets: list[Sheet]
    samples: Path | None  # the montage: one sample picture per arm
    curves: Path | None  # per-arm curves: mean over seeds, min-max band
    run_curves: dict[str, list[tuple[int, Path]]]  # per arm, (seed, that run's curves.png)
    failures: list[tuple[str, int, str]]  # (arm, seed, error)
    missing: list[str]  # completed cells whose files were not found, one line each
    provenance: list[dict]  # each distinct record of the code that produced the trials
    config: dict  # the sweep, as its YAML gave it


def completed_runs(study, folder: Path) -> dict[str, list[tuple[int, Path]]]:
    """Per arm, (seed, run folder) of each completed trial, in seed order."""
    from optuna.trial import TrialState

    runs: dict[str, list[tuple[int, Path]]] = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        attrs = trial.user_attrs
        if "arm" in attrs:
            runs.setdefault(attrs["arm"], []).append((attrs.get("seed"), cell_folder(study, trial, folder)))
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


def provenances(study) -> list[dict]:
    """The distinct ``provenance`` records (package versions, git commit) of the study's trials."""
    found = {}
    for trial in study.get_trials(deepcopy=False):
        if record := trial.user_attrs.get("provenance"):
            found.setdefault(json.dumps(record, sort_keys=True), record)
    return list(found.values())


def link(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), Path(folder).resolve())).as_posix()


def gather(study, folder: Path, view: View) -> Report:
    """Everything a report shows; writes the montage and the per-arm curves to ``folder/report/``."""
    folder, frame = Path(folder), trials_frame(study)
    pictures = folder / "report"
    runs = completed_runs(study, folder)

    samples = {f"{arm} (seed {found[0][0]})": found[0][1] / "samples.png" for arm, found in runs.items()}
    samples = {label: path for label, path in samples.items() if path.is_file()}
    if samples:
        save_montage(samples, pictures / "samples.png")
    curves = arm_curves(runs, view.metrics + list(TRAINING))
    if curves:
        save_band_curves(curves, pictures / "curves.png")
    run_curves = {arm: [(seed, run_dir / "curves.png") for seed, run_dir in found
                        if (run_dir / "curves.png").is_file()] for arm, found in runs.items()}
    failed = frame[frame.state == "FAIL"].drop_duplicates("trial")
    return Report(
        title=view.title,
        sheets=study_sheets(study, frame, view, folder),
        samples=pictures / "samples.png" if samples else None,
        curves=pictures / "curves.png" if curves else None,
        run_curves={arm: found for arm, found in run_curves.items() if found},
        failures=[(row.arm, row.seed, row.error or "failed") for row in failed.itertuples()],
        missing=missing_files(runs),
        provenance=provenances(study),
        config=study.user_attrs.get("sweep") or {},
    )


def provenance_line(record: dict) -> str:
    """``git <commit> · python <version> · torch <version> · ...``"""
    packages = [f"{name} {version}" for name, version in (record.get("packages") or {}).items()]
    return " · ".join([f"git {record.get('git') or 'unknown'}", f"python {record.get('python')}"] + packages)


def markdown_report(report: Report, folder: Path) -> str:
    """``report.md``: the tables, then the pictures linked relative to ``folder``, failures and provenance."""
    lines = [f"# {report.title}", ""] + [markdown(sheet) for sheet in report.sheets]
    if report.samples:
        lines += ["## Samples", "", "One sample picture per arm (its first completed seed).", "",
                  f"![samples per arm]({link(report.samples, folder)})", ""]
    if report.curves:
        lines += ["## Curves", "", "Mean over completed seeds per arm; the band spans their minimum to maximum.", "",
                  f"![curves per arm]({link(report.curves, folder)})", ""]
    if report.run_curves:
        lines += ["## Training curves per run", ""]
        lines += [f"- {arm}: " + ", ".join(f"[seed {seed}]({link(path, folder)})" for seed, path in found)
                  for arm, found in report.run_curves.items()] + [""]
    if report.failures:
        lines += ["## Failed runs", ""] + [f"- {arm} seed {seed}: {error}" for arm, seed, error in report.failures]
    if report.missing:
        lines += ["", "## Files not found", ""] + [f"- {line}" for line in report.missing]
        lines += [""]
    if report.provenance or report.config:
        lines += ["## Provenance", ""] + [f"- {provenance_line(record)}" for record in report.provenance] + [""]
        if report.config:
            lines += ["```yaml", yaml.safe_dump(report.config, sort_keys=False).rstrip(), "```", ""]
    return "\n".join(lines)


def write_report(study, folder: Path, view: View, fmt: str = "markdown") -> Path:
    """Write ``folder/report.md`` (or ``report.html``) and its pictures; returns the report's path."""
    from .page import html

    report = gather(study, folder, view)
    path = Path(folder) / ("report.html" if fmt == "html" else "report.md")
    store.write_text(path, html(report) if fmt == "html" else markdown_report(report, folder))
    return path
