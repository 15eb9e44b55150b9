"""Running a sweep as an Optuna study: every cell is enqueued once, then popped and trained.

The study lives in a storage (by default a journal file under ``results/<name>/``), so running the
same command again resumes: finished cells are not re-run, and a finished study just reports.
"""

from __future__ import annotations

import math
import traceback
from pathlib import Path
from typing import Any, Callable

from .errors import PluginError, TrainingFailure, UserError
from .sweep_config import Cell, Sweep

RETRIES = 3  # attempts per cell for failures that are not divergence (crashes, plugin errors)


def sweep_dir(results: Path, name: str) -> Path:
    return Path(results) / name


def open_study(sweep: Sweep, results: Path):
    """Create or load the sweep's Optuna study."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder = sweep_dir(results, sweep.config.name)
    if sweep.config.storage:
        from .storage import open_storage

        storage = open_storage(sweep.config.storage)
    else:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        folder.mkdir(parents=True, exist_ok=True)
        storage = JournalStorage(JournalFileBackend(str(folder / "study.journal")))
    study = optuna.create_study(
        study_name=sweep.config.name,
        storage=storage,
        direction=sweep.config.objective.direction,
        load_if_exists=True,
    )
    if "sweep" not in study.user_attrs:
        study.set_user_attr("sweep", sweep.raw)
    return study


def cell_trials(study) -> dict[str, list]:
    """Every trial of the study, grouped by its cell key."""
    by_cell: dict[str, list] = {}
    for trial in study.get_trials(deepcopy=False):
        if "cell" in trial.user_attrs:
            by_cell.setdefault(trial.user_attrs["cell"], []).append(trial)
    return by_cell


def needs_run(trials: list) -> bool:
    """A cell is (re-)enqueued if it has no trial, or only retryable failures under the limit."""
    from optuna.trial import TrialState

    if any(t.state != TrialState.FAIL for t in trials):
        return False
    if any(t.user_attrs.get("failure") == "diverged" for t in trials):
        return False
    return len(trials) < RETRIES


def enqueue_cells(study, cells: list[Cell]) -> int:
    """Enqueue each cell that still needs a run; returns how many were enqueued."""
    existing = cell_trials(study)
    todo = [c for c in cells if needs_run(existing.get(c.key, []))]
    for cell in todo:
        study.enqueue_trial({}, user_attrs={"cell": cell.key, "arm": cell.arm, "seed": cell.seed})
    return len(todo)


def pop_cell(study):
    """Take one waiting trial (race-safe: the storage lets only one process move it to RUNNING)."""
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    study_id = storage.get_study_id_from_name(study.study_name)
    for frozen in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, frozen.number)
        try:
            if storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                return optuna.Trial(study, trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def run_cell(study, trial, cell: Cell, sweep: Sweep, results: Path) -> dict[str, Any]:
    """Train one cell and record it in the study. Failures are recorded, never raised."""
    from optuna.trial import TrialState

    from .trainer import train

    out = sweep_dir(results, sweep.config.name) / "runs" / f"{cell.arm}-s{cell.seed}"
    trial.set_user_attr("run_dir", str(out))
    trial.set_user_attr("config", cell.config.dump())
    objective = sweep.config.objective.metric
    try:
        final = train(cell.config, out)
        value = final["metrics"][objective]
        if not math.isfinite(value):
            raise TrainingFailure(f"objective {objective} is {value}", cell.config.steps)
    except TrainingFailure as failure:
        return _fail(study, trial, "diverged", f"step {failure.step}: {failure.reason}")
    except (PluginError, UserError) as exc:
        return _fail(study, trial, "error", str(exc))
    except Exception as exc:  # a crash in one cell must not stop the sweep
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return _fail(study, trial, "error", f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})")
    trial.set_user_attr("metrics", final["metrics"])
    trial.set_user_attr("protocol", final["protocol"])
    study.tell(trial, value, state=TrialState.COMPLETE)
    return {"state": "COMPLETE", "metrics": final["metrics"]}


def _fail(study, trial, kind: str, reason: str) -> dict[str, Any]:
    from optuna.trial import TrialState

    trial.set_user_attr("failure", kind)
    trial.set_user_attr("error", reason)
    study.tell(trial, state=TrialState.FAIL)
    return {"state": "FAIL", "error": reason}


def run_sweep(sweep: Sweep, results: Path, progress: Callable[[Cell, dict], None] | None = None):
    """Enqueue what is missing, run every waiting cell, and return the study."""
    study = open_study(sweep, results)
    enqueue_cells(study, sweep.cells)
    cells = {c.key: c for c in sweep.cells}
    while (trial := pop_cell(study)) is not None:
        key = trial.user_attrs.get("cell")
        cell = cells.get(key)
        if cell is None:  # a cell of an older version of this sweep file
            _fail(study, trial, "error", f"cell {key!r} is not in {sweep.source}")
            continue
        outcome = run_cell(study, trial, cell, sweep, results)
        if progress:
            progress(cell, outcome)
    return study
