"""ganx: a plugin-based experiment harness for GAN ablation studies.

Plugin authors import everything they need from here::

    from ganx import hookimpl, Trick, Params
"""

import pluggy

hookimpl = pluggy.HookimplMarker("ganx")

from .components import (  # noqa: E402  (hookimpl must exist before plugins import it)
    Architecture,
    DBatch,
    Dataset,
    Evaluation,
    GBatch,
    Loss,
    Metric,
    Normalization,
    Params,
    Plugin,
    Run,
    Trick,
    TrainingHooks,
)
from .errors import TrainingFailure, UserError  # noqa: E402

__all__ = [
    "Architecture",
    "DBatch",
    "Dataset",
    "Evaluation",
    "GBatch",
    "Loss",
    "Metric",
    "Normalization",
    "Params",
    "Plugin",
    "Run",
    "Trick",
    "TrainingFailure",
    "TrainingHooks",
    "UserError",
    "hookimpl",
]
