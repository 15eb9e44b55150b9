"""The one place where ganx reaches past Optuna's public API: a study's storage and a trial's id.

Optuna has no public call to claim one given waiting trial (its own pop is private), to write an
attribute or a param of a trial that another process runs, or to fail such a trial. Each is a public method of
the study's storage, reached through ``study._storage`` and ``trial._trial_id``. Everything else in
ganx uses Optuna's public API; ``tests/test_public_api.py`` checks that no other module does this.
"""

from __future__ import annotations

from typing import Any


def claim(study, frozen) -> bool:
    """Move a waiting trial to RUNNING for this process; False if another process took it first.

    Raises ``optuna.exceptions.UpdateFinishedTrialError`` if it is finished already.
    """
    from optuna.trial import TrialState

    return study._storage.set_trial_state_values(frozen._trial_id, state=TrialState.RUNNING)


def running_trial(study, frozen):
    """The ``optuna.Trial`` of a trial this process claimed, to report to and ``tell``."""
    import optuna

    return optuna.Trial(study, frozen._trial_id)


def set_user_attr(study, trial, key: str, value: Any) -> None:
    """Set a user attr of any unfinished trial (a frozen one too, or one another process runs)."""
    study._storage.set_trial_user_attr(trial._trial_id, key, value)


def set_param(study, trial, name: str, value: Any, distribution) -> None:
    """Record ``value`` of ``distribution`` as the trial's param ``name`` without sampling it."""
    study._storage.set_trial_param(trial._trial_id, name, distribution.to_internal_repr(value), distribution)


def fail(study, trial) -> bool:
    """Mark an unfinished trial FAIL; False if another process changed its state first."""
    from optuna.trial import TrialState

    return study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)


def record_heartbeat(study, trial) -> None:
    """Optuna's own heartbeat of a running trial (RDB storage only)."""
    study._storage.record_heartbeat(trial._trial_id)


def storage(study):
    """The storage a study lives in, to open its sibling studies (a search sweep's tuning studies)."""
    return study._storage
