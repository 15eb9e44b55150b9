"""Running one popped trial of a sweep: its config and run folder, training, and recording the outcome.

A failure is recorded on the trial (``failure``: diverged, error, ...), never raised; a stop is, and
so is an :class:`~ganx.errors.EnvironmentFault` (a full disk, a lost database), which leaves the cell
runnable. A cell whose earlier attempt was stopped, lost or hit by a fault continues from that
attempt's checkpoint. A completed cell's files go to the sweep's artifact store, if it has one.
"""

from __future__ import annotations

import math
import traceback
from pathlib import Path
from typing import Any, Callable

import yaml

from ..errors import PluginError, TrainingFailure, UserError, environment_fault
from ..store import exclusive
from . import artifacts, liveness, optuna_adapter, queue
from .config import Cell, Sweep, with_params
from .design import label
from .runner import WorkerEnv, outcome_attrs, sweep_dir

RESUMABLE = ("interrupted", "lost", "fault")  # attempts whose checkpoint the next attempt continues
EXECUTION = ("device", "threads", "loggers")  # config keys that do not change what is trained


def run_trial(study, trial, cell: Cell | None, sweep: Sweep, results: Path, rdb: bool,
              env: WorkerEnv) -> dict[str, Any]:
    """Train one popped trial and record its outcome; failures are recorded, never raised (but a stop is)."""
    import optuna

    from ..trainer import train

    if cell is None:  # a cell of an older version of this sweep file (continued with --force)
        queue.close(study, trial, "removed", f"cell {trial.user_attrs.get('queued')!r} is not in {sweep.source}")
        return {"state": "FAIL", "error": "removed from the sweep"}

    def attempt() -> dict[str, Any]:
        config, out, resumed = prepare(study, trial, cell, sweep, results, env)
        return train(config, out, report=reporter(trial, sweep), resume=resumed is not None,
                     sweep=sweep.config.name, arm=cell.arm)

    try:
        with liveness.Heartbeat(study, trial, rdb), exclusive(run_folder(sweep, results, cell)):
            return record(study, trial, cell, sweep, attempt)
    except optuna.exceptions.UpdateFinishedTrialError:  # taken for lost while it ran (a stall, a clock)
        return {"state": "FAIL", "error": "this attempt was taken for lost; another attempt runs the cell"}


def run_folder(sweep: Sweep, results: Path, cell: Cell) -> Path:
    """Where ``cell`` writes its run: ``results/<sweep>/runs/<cell folder>`` (each attempt the same)."""
    return sweep_dir(results, sweep.config.name) / "runs" / cell.folder


def prepare(study, trial, cell: Cell, sweep: Sweep, results: Path, env: WorkerEnv) -> tuple[Any, Path, int | None]:
    """The trial's config and run folder, recorded on it, and the step it continues from (None: afresh)."""
    from .provenance import provenance

    params = search_params(trial, cell, sweep)
    if params is None:
        raise UserError("no tuning trial of this arm completed, so there is no best config to re-run")
    if params:
        trial.set_user_attr("params", params)
    config = cell_config(cell, params, env)
    out = run_folder(sweep, results, cell)
    set_attrs(trial, {"run_dir": str(out), "config": config.dump(), "seed": cell.seed, "provenance": provenance()})
    record_design(study, trial, cell, sweep)
    resumed = resume_point(study, trial, cell.key, config, out)
    if resumed is None:  # never continue the checkpoint of a crashed, diverged or other run
        (out / "checkpoint.pt").unlink(missing_ok=True)
    else:
        trial.set_user_attr("resumed_from", resumed)
    return config, out, resumed


def record_design(study, trial, cell: Cell, sweep: Sweep) -> None:
    """The cell's arm and grid levels as the trial's categorical params, so that Optuna's own tools
    (optuna-dashboard's importance, slice and parallel-coordinate plots) see the ablation."""
    from optuna.distributions import CategoricalDistribution

    if cell.tune is not None:  # a tuning trial's params are its searched ones
        return
    choices = {"arm": sweep.arms} | {axis: [label(v) for v in values] for axis, values in sweep.config.grid.items()}
    values = {"arm": cell.arm} | {axis: label(v) for axis, v in sweep.factors.get(cell.arm, {}).items()}
    for name, value in values.items():
        try:
            optuna_adapter.set_param(study, trial, name, value, CategoricalDistribution(choices[name]))
        except ValueError:  # a study continued with --force under other arms: its earlier choices differ
            return


def cell_config(cell: Cell, params: dict[str, Any], env: WorkerEnv):
    """The run config that trains ``cell``: with its searched ``params`` and this worker's device and threads."""
    config = with_params(cell, params).config if params else cell.config
    return config.model_copy(update=env.overrides(config))


def reporter(trial, sweep: Sweep) -> Callable[[int, dict[str, float]], None]:
    """The trainer's ``report``: the objective goes to the trial, which the pruner may stop."""
    import optuna

    objective = sweep.config.objective.metric

    def report(step: int, metrics: dict[str, float]) -> None:
        trial.set_user_attr("latest", {"step": step, **metrics})
        value = metrics.get(objective, math.nan)
        if math.isfinite(value):
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at step {step} ({objective} = {value:.4g})")

    return report


def record(study, trial, cell: Cell, sweep: Sweep, attempt: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run ``attempt`` (what ``train`` returns, or its exception) and record the trial's outcome.

    Failures are recorded, never raised; a stop closes the trial as ``interrupted`` and is raised.
    """
    import optuna
    from optuna.trial import TrialState

    from ..resume import Interrupted

    final_attrs = outcome_attrs(sweep)(cell)
    objective = sweep.config.objective.metric
    tried = len(queue.attempts(queue.by_key(study).get(cell.key, [])))
    try:
        final = attempt()
        value = final["metrics"][objective]
        if not math.isfinite(value):
            raise TrainingFailure(f"objective {objective} is {value}", final["step"])
        artifacts.upload(trial, Path(trial.user_attrs["run_dir"]), sweep.config.artifacts)
    except Interrupted as stop:
        queue.close(study, trial, "interrupted", str(stop))
        raise
    except optuna.TrialPruned as pruned:
        latest = {k: v for k, v in trial.user_attrs.get("latest", {}).items() if k != "step"}
        set_attrs(trial, {**final_attrs, "metrics": latest, "error": str(pruned)})
        study.tell(trial, state=TrialState.PRUNED)
        return {"state": "PRUNED", "error": str(pruned)}
    except TrainingFailure as failure:
        return fail(study, trial, final_attrs, "diverged", f"step {failure.step}: {failure.reason}")
    except (PluginError, UserError) as exc:
        stop_on_fault(study, trial, exc)
        return fail(study, trial, final_attrs, "error", str(exc))
    except Exception as exc:  # a crash in one cell must not stop the sweep; it is retried
        stop_on_fault(study, trial, exc)
        where = traceback.extract_tb(exc.__traceback__)[-1]
        reason = f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})"
        last_try = tried >= sweep.config.retries
        outcome = fail(study, trial, final_attrs if last_try else {}, "error", reason)
        if not last_try:
            rerun = cell.tune is None and "params" in trial.user_attrs
            queue.enqueue_missing(study, [cell], sweep.config.retries, outcome_attrs(sweep),
                                  {"params": trial.user_attrs["params"]} if rerun else None)
        return outcome
    set_attrs(trial, {**final_attrs, "metrics": final["metrics"], "protocol": final["protocol"]})
    study.tell(trial, value, state=TrialState.COMPLETE)
    return {"state": "COMPLETE", "metrics": final["metrics"]}


def stop_on_fault(study, trial, exc: BaseException) -> None:
    """If ``exc`` is a full disk or a lost database (a plugin's too), close the attempt as ``fault``,
    which is no retry, and raise it: it is the machine's failure, not the cell's."""
    if fault := environment_fault(exc):
        queue.close(study, trial, "fault", str(fault), quiet=True)
        raise fault from None


def resume_point(study, trial, key: str, config, out: Path) -> int | None:
    """The step this attempt continues from, or None to train afresh.

    Only an attempt after one that was stopped (SIGINT/SIGTERM) or lost (its worker died)
    continues, from the checkpoint in ``out``, and only if that checkpoint was written for this
    same config. The objective values the earlier attempt reported up to that step are reported
    again on ``trial``, so the pruner and the dashboard see the whole curve.
    """
    from ..store import load_checkpoint

    stopped = stopped_before(study, trial, key)
    if stopped is None or not (out / "checkpoint.pt").is_file() or not same_run(out / "config.yaml", config):
        return None
    try:
        step = int(load_checkpoint(out / "checkpoint.pt")["step"])
    except UserError:  # unreadable: train afresh
        return None
    for at, value in stopped.intermediate_values.items():
        if at <= step:
            trial.report(value, at)
    return step


def stopped_before(study, trial, key: str):
    """The attempt before ``trial`` if it was stopped or lost (its checkpoint may be continued), else None."""
    earlier = [t for t in queue.by_key(study).get(key, [])
               if t.number < trial.number and t.user_attrs.get("failure") != "duplicate"]
    if not earlier or earlier[-1].user_attrs.get("failure", "lost") not in RESUMABLE:  # heartbeat: no reason
        return None
    return earlier[-1]


def same_run(path: Path, config) -> bool:
    """Whether the run folder's ``config.yaml`` is ``config``, apart from the device and threads it ran on."""
    try:
        stored = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return False
    ours = yaml.safe_load(yaml.safe_dump(config.dump()))

    def trained(d: dict) -> dict:
        return {k: v for k, v in d.items() if k not in EXECUTION}

    return isinstance(stored, dict) and trained(stored) == trained(ours)


def search_params(trial, cell: Cell, sweep: Sweep) -> dict[str, Any] | None:
    """Tuning trials draw the search parameters; re-runs take the arm's best ones (None: no best)."""
    if not sweep.config.search:
        return {}
    if cell.tune is not None:
        return {path: param.suggest(trial, path) for path, param in sweep.config.search.parameters.items()
                if param.draws_for(cell.arm)}
    return trial.user_attrs.get("params")


def set_attrs(trial, attrs: dict[str, Any]) -> None:
    for key, value in attrs.items():
        trial.set_user_attr(key, value)


def fail(study, trial, final_attrs: dict[str, Any], kind: str, reason: str) -> dict[str, Any]:
    """Record a FAIL with its reason; ``final_attrs`` (cell, arm, seed) only if it is the cell's outcome."""
    from optuna.trial import TrialState

    set_attrs(trial, {**final_attrs, "failure": kind, "error": reason})
    study.tell(trial, state=TrialState.FAIL)
    return {"state": "FAIL", "error": reason}
