"""Running a sweep on Optuna studies: a coordinator enqueues every cell once, workers pop and train them.

The main study holds the cells of the table (arm × seed). With ``search``, each arm also has its
own tuning study (TPE, ``trials_per_arm`` enqueued trials); once an arm's tuning is finished, its
best parameters are re-run over the seeds in the main study. Everything lives in one storage
(by default journal files under ``results/<name>/``), so running the same command again resumes:
lost trials are failed and re-enqueued, finished cells are never re-run, and a cell that was
stopped or lost mid-trial continues from its last checkpoint.
"""

from __future__ import annotations

import difflib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from ..errors import UserError
from . import liveness, queue
from .config import Cell, Sweep

POLL_S = 1.0  # how often an idle worker looks again while other workers finish their trials


def sweep_dir(results: Path, name: str) -> Path:
    return Path(results) / name


@dataclass
class Studies:
    """The main study and, for ``search`` sweeps, one tuning study per arm."""

    main: Any
    tuning: dict[str, Any]
    rdb: bool

    def all(self) -> list:
        return [self.main, *self.tuning.values()]


@dataclass
class WorkerEnv:
    """What one worker process changes in every config it trains, and how it is stopped."""

    slot: int = 0
    threads: int = 0
    device: str | None = None
    on_outcome: Callable[[Cell, dict], None] | None = None
    ran: list = field(default_factory=list)

    def overrides(self, config) -> dict[str, Any]:
        out = {"device": self.device} if self.device else {}
        if self.threads and not config.threads:
            out["threads"] = self.threads
        return out


def make_pruner(name: str):
    import optuna

    return {
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=2),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(),
        "none": lambda: optuna.pruners.NopPruner(),
    }[name]()


def open_studies(sweep: Sweep, results: Path, storage: str | None = None) -> Studies:
    """Create or load the sweep's studies (``storage`` overrides the YAML's; None: journal files)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = storage or sweep.config.storage
    folder = sweep_dir(results, sweep.config.name)
    if url:
        main_storage = tune_storage = open_rdb(url)
    else:
        from .journal import open_journal

        main_storage, tune_storage = open_journal(folder / "study.journal"), open_journal(folder / "tuning.journal")
    direction = sweep.config.objective.direction
    pruner = sweep.config.pruner
    main_pruner = make_pruner("none" if sweep.config.search else pruner)  # a search prunes its tuning trials
    main = create_study(main_storage, sweep.config.name, direction, main_pruner)
    tuning = {}
    for arm in sweep.tuning:
        sampler = optuna.samplers.TPESampler(
            constant_liar=True, n_startup_trials=max(2, min(10, sweep.config.search.trials_per_arm // 3))
        )
        tuning[arm] = create_study(tune_storage, tuning_name(sweep, arm), direction, make_pruner(pruner), sampler)
    return Studies(main, tuning, bool(url))


def open_rdb(url: str):
    """The RDB storage with Optuna's heartbeat on. Processes creating the schema of a fresh database
    at the same moment collide once; the loser retries and finds the tables made."""
    import warnings

    import optuna

    from .storage import open_storage

    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return open_storage(url, heartbeat_interval=liveness.HEARTBEAT_S, grace_period=liveness.GRACE_S)
        except UserError as exc:
            if attempt == 4 or not any(s in str(exc) for s in ("UniqueViolation", "IntegrityError", "already exists")):
                raise
            time.sleep(0.5 * (attempt + 1))


def tuning_name(sweep: Sweep, arm: str) -> str:
    return f"{sweep.config.name}.tune.{arm}"


def create_study(storage, name: str, direction: str, pruner, sampler=None):
    """Create or load a study. Two processes creating one SQLite study at once race; the loser loads."""
    import optuna

    for attempt in range(5):
        try:
            return optuna.create_study(
                study_name=name, storage=storage, direction=direction, load_if_exists=True, pruner=pruner,
                sampler=sampler,
            )
        except Exception:
            if attempt == 4 or isinstance(storage, optuna.storages.JournalStorage):
                raise
            time.sleep(0.2 * (attempt + 1))


def open_study(sweep: Sweep, results: Path, storage: str | None = None):
    """The sweep's main study (the one the table reads)."""
    return open_studies(sweep, results, storage).main


def check_design(study, sweep: Sweep, force: bool = False) -> None:
    """Store the sweep's design on a new study; refuse a changed one with a diff unless ``force``."""
    stored = study.user_attrs.get("sweep")
    if stored is not None and stored != sweep.design and not force:
        raise changed_design(stored, sweep, "Re-run with --force to continue it anyway, or give the sweep a new name")
    if stored != sweep.design:
        study.set_user_attr("sweep", sweep.design)
        study.set_user_attr("arms", sweep.arms)
        if sweep.tuning:
            study.set_user_attr("tuning", {arm: tuning_name(sweep, arm) for arm in sweep.tuning})


def changed_design(stored: dict[str, Any], sweep: Sweep, what_to_do: str) -> UserError:
    """The refusal to mix a study made from another sweep design, with the diff."""
    def dump(d):
        return yaml.safe_dump(d, sort_keys=True).splitlines()

    diff = difflib.unified_diff(dump(stored), dump(sweep.design), "study", sweep.source, lineterm="", n=1)
    return UserError(f"{sweep.source}: study {sweep.config.name!r} was made from a different sweep; refusing to mix "
                     f"their results. {what_to_do}:\n" + "\n".join(diff))


def join(sweep: Sweep, results: Path, storage: str | None = None) -> Studies:
    """The studies of a sweep that ``ganx sweep`` has started, for a worker that only works (``ganx worker``).

    Nothing is created for a sweep that was never started (a mistyped name, folder or URL)."""
    studies = open_studies(sweep, results, storage) if started(sweep, results, storage) else None
    stored = studies.main.user_attrs.get("sweep") if studies else None
    if stored is None:
        raise UserError(f"{sweep.source}: sweep {sweep.config.name!r} has not been started in this storage; start it "
                        f"once with `ganx sweep {sweep.source}` (same --storage), then add workers")
    if stored != sweep.design:
        raise changed_design(stored, sweep, "A worker runs the sweep as it was started; use the same file")
    return studies


def started(sweep: Sweep, results: Path, storage: str | None = None) -> bool:
    """Whether the sweep's main study exists (without creating anything)."""
    import optuna

    url = storage or sweep.config.storage
    if not url:
        return (sweep_dir(results, sweep.config.name) / "study.journal").is_file()
    return sweep.config.name in optuna.get_all_study_names(open_rdb(url))


def outcome_attrs(sweep: Sweep) -> Callable[[Cell], dict[str, Any]]:
    """The attrs a final outcome carries, which the table reads."""

    def attrs(cell: Cell) -> dict[str, Any]:
        out = {"cell": cell.key, "arm": cell.arm, "seed": cell.seed}
        return out | ({"factors": sweep.factors[cell.arm]} if sweep.factors.get(cell.arm) else {})

    return attrs


def coordinate(sweep: Sweep, results: Path, storage: str | None = None, force: bool = False) -> Studies:
    """Open the studies, check the design, fail lost trials and enqueue every missing cell."""
    studies = open_studies(sweep, results, storage)
    check_design(studies.main, sweep, force)
    requeue(sweep, studies)
    return studies


def requeue(sweep: Sweep, studies: Studies) -> int:
    """Fail the trials whose worker died, then enqueue every cell with no outcome and nothing waiting
    or running (tuning cells, and the re-runs of every arm whose tuning is finished). Returns how
    many cells were enqueued."""
    for study in studies.all():
        queue.recover_lost(study, studies.rdb)
    retries, attrs = sweep.config.retries, outcome_attrs(sweep)
    if not sweep.tuning:
        return queue.enqueue_missing(studies.main, sweep.cells, retries, attrs)
    tuned = sum(queue.enqueue_missing(study, sweep.tuning[arm], retries, attrs)
                for arm, study in studies.tuning.items())
    return tuned + schedule_reruns(sweep, studies)


def best_params(study) -> dict[str, Any] | None:
    """The parameters of the arm's best completed tuning trial, or None if none completed."""
    try:
        return study.best_trial.user_attrs.get("params", {})
    except ValueError:
        return None


def schedule_reruns(sweep: Sweep, studies: Studies) -> int:
    """Enqueue the seed re-runs of every arm whose tuning is finished; returns how many were enqueued."""
    enqueued = 0
    for arm, study in studies.tuning.items():
        groups = queue.by_key(study)
        if all(any(queue.is_final(t) for t in groups.get(c.key, [])) for c in sweep.tuning[arm]):
            arm_cells = [c for c in sweep.cells if c.arm == arm]
            extra = {"params": best_params(study)}
            enqueued += queue.enqueue_missing(studies.main, arm_cells, sweep.config.retries, outcome_attrs(sweep),
                                              extra)
    return enqueued


def in_progress(studies: Studies) -> bool:
    """Whether any trial is waiting, or running in a worker not known to be dead."""
    from optuna.trial import TrialState

    return any(s.get_trials(deepcopy=False, states=(TrialState.WAITING, TrialState.RUNNING)) for s in studies.all())


def next_trial(sweep: Sweep, studies: Studies, worker: dict[str, Any]):
    """Pop a waiting trial for ``worker``: main study first (re-runs), then each arm's tuning study."""
    by_key = {c.key: c for c in sweep.cells} | {c.key: c for cells in sweep.tuning.values() for c in cells}
    for study in studies.all():
        trial = queue.pop(study, worker)
        if trial is not None:
            return study, trial, by_key.get(trial.user_attrs.get("queued"))
    return None, None, None


def work(sweep: Sweep, results: Path, studies: Studies, env: WorkerEnv) -> None:
    """The worker loop: train waiting trials until none is left (search: until every arm is re-run).

    When nothing is waiting, the loop waits for the trials other workers still run (a search's
    re-runs need every arm's tuning), and trains again the cells of any worker that died meanwhile,
    so it returns only once every cell has an outcome. With ``vectorize``, a popped seed cell trains
    together with the other waiting seeds of its arm.
    """
    from .batched import run_together
    from .trials import run_trial

    while True:
        study, trial, cell = next_trial(sweep, studies, liveness.identity(env.slot))
        if trial is not None:
            together = sweep.config.vectorize and run_together(study, trial, cell, sweep, results, studies.rdb, env)
            alone = together or [(cell, run_trial(study, trial, cell, sweep, results, studies.rdb, env))]
            for finished, outcome in alone:
                env.ran.append(outcome)
                if env.on_outcome and finished is not None:
                    env.on_outcome(finished, outcome)
            continue
        if requeue(sweep, studies):
            continue
        if not in_progress(studies):
            return
        time.sleep(POLL_S)


def run_sweep(sweep: Sweep, results: Path, progress: Callable[[Cell, dict], None] | None = None, *,
              storage: str | None = None, force: bool = False):
    """Coordinate, then work through every cell in this process; returns the main study."""
    studies = coordinate(sweep, results, storage, force)
    work(sweep, results, studies, WorkerEnv(on_outcome=progress))
    return studies.main
