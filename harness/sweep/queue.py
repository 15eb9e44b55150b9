"""The cell queue of one Optuna study: each cell is enqueued once, popped once, and recovered if lost.

A waiting trial carries ``queued`` (the cell key) and ``attempt``. Popping is race-safe in the
storage (only one process moves a trial from WAITING to RUNNING), and the winner records itself as
the trial's ``worker`` with its very next write, before anything else. A claim with no worker record
is taken as lost once it is older than :data:`ganx.sweep.liveness.CLAIM_S` (its worker died between those
two writes). Two coordinators that enqueue at the same moment can still both add a cell, so the
popper checks: a trial of a cell that already has an outcome, or whose lower-numbered copy of the
same attempt is waiting or running, is a duplicate, closed as FAIL (``failure: duplicate``) without
training. A copy whose twin failed (lost, say) is not a duplicate: it is the cell's next try.

A trial gets ``cell``, ``arm`` and ``seed`` (what the table reads) only with its *final* outcome:
complete, pruned, diverged, or a failure past the retry limit. Attempts that will be retried
(a crash, a lost worker, a stop by SIGINT/SIGTERM) stay out of the table.
"""

from __future__ import annotations

import warnings
from typing import Any

from . import liveness, optuna_adapter

NOT_ATTEMPTS = ("interrupted", "duplicate", "fault")  # failures that do not use up a retry (fault: disk, database)
RETRIED = ("lost", *NOT_ATTEMPTS)  # failures that leave the cell to run again (lost: up to the retry limit)


def key_of(trial) -> str | None:
    return trial.user_attrs.get("queued")


def is_final(trial) -> bool:
    """Whether the trial is its cell's outcome: complete, pruned, or a failure that is not retried.

    An attempt lost while it recorded its outcome may carry the outcome's attrs; its ``failure``
    (``lost``, or none where Optuna's heartbeat failed it) says that it is not the outcome.
    """
    from optuna.trial import TrialState

    attrs = trial.user_attrs
    return trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or (
        trial.state == TrialState.FAIL and "cell" in attrs and attrs.get("failure") not in (None, *RETRIED)
    )


def by_key(study) -> dict[str, list]:
    groups: dict[str, list] = {}
    for trial in study.get_trials(deepcopy=False):
        if key_of(trial):
            groups.setdefault(key_of(trial), []).append(trial)
    return groups


def attempts(trials: list) -> list:
    """The failed tries that count against the retry limit."""
    from optuna.trial import TrialState

    return [t for t in trials if t.state == TrialState.FAIL and t.user_attrs.get("failure") not in NOT_ATTEMPTS]


def pending(trials: list) -> bool:
    """The cell has an outcome, or a trial waiting or running for it."""
    from optuna.trial import TrialState

    return any(is_final(t) or t.state in (TrialState.WAITING, TrialState.RUNNING) for t in trials)


def enqueue_missing(study, cells: list, retries: int, outcome_attrs, extra: dict[str, Any] | None = None) -> int:
    """Enqueue every cell with no outcome and nothing waiting or running, up to ``retries`` re-tries.

    A cell whose retries are used up gets a final FAIL record (``outcome_attrs(cell)`` names it).
    Returns how many cells were enqueued.
    """
    from optuna.trial import TrialState, create_trial

    groups, enqueued = by_key(study), 0
    for cell in cells:
        trials = groups.get(cell.key, [])
        if pending(trials):
            continue
        tried = attempts(trials)
        if len(tried) > retries:
            last = tried[-1].user_attrs
            study.add_trial(create_trial(state=TrialState.FAIL, user_attrs={
                **outcome_attrs(cell), "queued": cell.key, "failure": "gave-up",
                "error": f"gave up after {len(tried)} attempts; last: {last.get('error', 'worker lost')}",
            }))
            continue
        attempt = max((t.user_attrs.get("attempt", 0) for t in trials), default=-1) + 1
        study.enqueue_trial({}, user_attrs={"queued": cell.key, "attempt": attempt, **(extra or {})})
        enqueued += 1
    return enqueued


def is_duplicate(study, frozen) -> bool:
    """Another trial is the real one for this cell (see the module docstring)."""
    from optuna.trial import TrialState

    key, attempt = key_of(frozen), frozen.user_attrs.get("attempt", 0)
    for other in by_key(study).get(key, []):
        if other.number == frozen.number:
            continue
        twin = other.user_attrs.get("attempt", 0) == attempt and other.number < frozen.number
        if is_final(other) or (twin and other.state in (TrialState.WAITING, TrialState.RUNNING)):
            return True
    return False


def pop(study, worker: dict[str, Any], keep=None):
    """Take one waiting trial for ``worker`` (:func:`ganx.sweep.liveness.identity`; one that ``keep(frozen)``
    accepts, if given), or None if there is none. Duplicates are closed."""
    import optuna
    from optuna.trial import TrialState

    while True:
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        waiting = [frozen for frozen in waiting if keep is None or keep(frozen)]
        if not waiting:
            return None
        for frozen in waiting:
            try:
                if not optuna_adapter.claim(study, frozen):
                    continue
                optuna_adapter.set_user_attr(study, frozen, "worker", worker)
            except optuna.exceptions.UpdateFinishedTrialError:  # taken, or reclaimed as ownerless
                continue
            if key_of(frozen) and is_duplicate(study, frozen):
                close(study, frozen, "duplicate", "this cell was enqueued twice; the other trial runs it")
                break
            return optuna_adapter.running_trial(study, frozen)


def close(study, trial, failure: str, error: str, quiet: bool = False) -> bool:
    """Mark an unfinished trial FAIL with its reason; False if another process finished it first, or
    (``quiet``) if the storage itself failed (the trial is then found lost later)."""
    import optuna

    try:
        optuna_adapter.set_user_attr(study, trial, "failure", failure)
        optuna_adapter.set_user_attr(study, trial, "error", error)
        return optuna_adapter.fail(study, trial)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    except Exception:
        if quiet:
            return False
        raise


def recover_lost(study, rdb: bool) -> int:
    """Fail the RUNNING trials whose worker is dead; returns how many. Their cells can then be re-enqueued."""
    import optuna
    from optuna.trial import TrialState

    if rdb:  # Optuna's heartbeat: trials silent for longer than the grace period
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            before = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
            optuna.storages.fail_stale_trials(study)
            lost = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,))) - before
    else:
        lost = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not liveness.alive(trial, rdb):
            worker = trial.user_attrs.get("worker")
            why = (f"worker {worker['host']}:{worker['pid']} died" if worker
                   else "its worker died before recording itself")
            lost += close(study, trial, "lost", why)
    return lost

