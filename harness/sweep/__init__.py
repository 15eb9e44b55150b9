"""Sweeps: the sweep YAML and its design, the cell queue on Optuna, workers, trials and liveness.

- ``config``: the sweep YAML (arms, grid, search, seeds) and its cells; ``design``: grid points,
  arm names and folders, the search space.
- ``runner``: the studies, the coordinator and the worker loop; ``workers``: worker processes;
  ``trials``: running and recording one cell; ``batched``: seeds trained together (``vectorize``).
- ``queue``: the cell queue (enqueue once, pop once, recover the lost); ``liveness``: is a
  worker alive; ``progress``: the live display.
- ``storage`` (database URLs), ``journal`` (journal files) and ``optuna_adapter`` (the one module
  that reaches past Optuna's public API); ``provenance``: what each trial records of its code.
"""
