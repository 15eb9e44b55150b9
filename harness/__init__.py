"""ganx: a plugin-based experiment harness for GAN ablation studies.

Plugin authors import everything they need from here::

    from ganx import hookimpl, Trick, Params

This module, ``ganx.hookspecs`` and ``ganx.testing`` are the public API: see docs/writing-plugins.md
and docs/hooks.md. Everything else in ``ganx`` is internal and may change without notice.
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
from .store import atomic_write  # noqa: E402
from . import hookspecs  # noqa: E402

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
    "atomic_write",
    "hookimpl",
    "hookspecs",
]
