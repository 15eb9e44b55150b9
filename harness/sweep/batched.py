"""``vectorize: true``: a worker trains the waiting seeds of one arm together, as one stacked model.

The worker that pops a seed cell claims the arm's other waiting seed cells, each by the same
storage transition as any pop (WAITING to RUNNING), so a cell is still trained exactly once however
many workers race. Only seeds that start afresh join: a cell continuing a stopped attempt's
checkpoint runs alone. Each claimed trial records its worker as it is popped, and gets a heartbeat
and the outcome of its own seed, recorded as a separate run's would be (see
:func:`ganx.trainer.train_seeds`).
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .. import trainer
from ..errors import EnvironmentFault
from ..store import exclusive
from . import liveness, queue
from .config import Cell, Sweep
from .runner import WorkerEnv
from .trials import cell_config, prepare, record, reporter, run_folder, search_params, stopped_before


def run_together(study, trial, cell: Cell | None, sweep: Sweep, results: Path, rdb: bool,
                 env: WorkerEnv) -> list[tuple[Cell, dict[str, Any]]] | None:
    """Train the popped ``trial`` with the other waiting seeds of its arm; each cell's recorded outcome.

    None, with nothing claimed, if they cannot train together (the caller runs ``trial`` alone):
    a tuning cell, a cell continuing a checkpoint, an arm that cannot be stacked, or
    no other seed waiting.
    """
    if cell is None or cell.tune is not None or stopped_before(study, trial, cell.key) is not None:
        return None
    params = search_params(trial, cell, sweep)
    seeds = {c.key: c for c in sweep.cells if c.arm == cell.arm and c.key != cell.key}
    if params is None or not seeds:
        return None
    if cannot_stack([cell_config(c, params, env) for c in (cell, next(iter(seeds.values())))]):
        return None

    def fresh_seed(frozen) -> bool:
        key = queue.key_of(frozen)
        return (key in seeds and frozen.user_attrs.get("params") == trial.user_attrs.get("params")
                and stopped_before(study, frozen, key) is None)

    claimed = [(trial, cell)]
    try:
        while (mate := queue.pop(study, liveness.identity(env.slot), keep=fresh_seed)) is not None:
            claimed.append((mate, seeds[queue.key_of(mate)]))
        if len(claimed) == 1:
            return None
        with ExitStack() as held:
            for claim, mate in claimed:
                held.enter_context(liveness.Heartbeat(study, claim, rdb))
                held.enter_context(exclusive(run_folder(sweep, results, mate)))
            outcomes = train_claimed(study, claimed, sweep, results, env)
            return [(c, record(study, t, c, sweep, lambda o=o: settle(o))) for (t, c), o in zip(claimed, outcomes)]
    except KeyboardInterrupt as stop:  # a signal (Interrupted: every seed's checkpoint is saved)
        for claim, _ in claimed:
            queue.close(study, claim, "interrupted", str(stop))
        raise
    except EnvironmentFault as fault:  # one seed's record met it: the seeds not yet recorded stay runnable
        for claim, _ in claimed:
            queue.close(study, claim, "fault", str(fault), quiet=True)
        raise


def cannot_stack(configs: list) -> str | None:
    """Why these seeds cannot train as one stacked model, found before any trial is claimed; None if they can."""
    from ..stacked import Unsupported  # imports torch

    try:
        trainer.Seeds.build(configs)  # why_not, then builds the seeds' nets and stacks their layers; trains nothing
    except Unsupported as reason:
        return str(reason)
    return None


def train_claimed(study, claimed: list, sweep: Sweep, results: Path, env: WorkerEnv) -> list:
    """Each claimed seed's outcome: what ``train`` returns, or the exception it raised (a crash: every seed's)."""
    try:
        runs = [prepare(study, t, c, sweep, results, env) for t, c in claimed]
        configs, outs = [config for config, _, _ in runs], [out for _, out, _ in runs]
        return trainer.train_seeds(configs, outs, reports=[reporter(t, sweep) for t, _ in claimed],
                                   sweep=sweep.config.name, arm=claimed[0][1].arm)
    except Exception as exc:  # recorded for every seed, and retried like any crash
        return [exc] * len(claimed)


def settle(outcome) -> dict[str, Any]:
    """A seed's outcome as ``record`` expects it from an attempt: returned, or raised."""
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome
