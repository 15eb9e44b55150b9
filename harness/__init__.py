"""ganx: a plugin-based experiment harness for GAN ablation studies.

Plugin authors import everything they need from here::

    from ganx import hookimpl, Trick, Params

This module, ``ganx.hookspecs`` and ``ganx.testing`` are the public API: see docs/writing-plugins.md
and docs/hooks.md. Everything else in ``ganx`` is internal and may change without notice.
"""

from typing import TYPE_CHECKING

# The names below load on first use (PEP 562), so ``ganx --help`` does not pay for pydantic and pluggy.
_HOME = {
    **dict.fromkeys(
        ("Architecture", "DBatch", "Dataset", "Evaluation", "GBatch", "Initialization", "Logger", "Loss", "Metric",
         "Normalization", "Params", "Plugin", "Run", "Trick", "TrainingHooks"),
        "components",
    ),
    "TrainingFailure": "errors",
    "UserError": "errors",
    "atomic_write": "store",
}

if TYPE_CHECKING:
    import pluggy

    from . import hookspecs
    from .components import (
        Architecture,
        Dataset,
        DBatch,
        Evaluation,
        GBatch,
        Initialization,
        Logger,
        Loss,
        Metric,
        Normalization,
        Params,
        Plugin,
        Run,
        TrainingHooks,
        Trick,
    )
    from .errors import TrainingFailure, UserError
    from .store import atomic_write

    hookimpl: pluggy.HookimplMarker


def __getattr__(name: str):
    import importlib

    if name == "hookimpl":
        import pluggy

        value = pluggy.HookimplMarker("ganx")
    elif name == "hookspecs":
        value = importlib.import_module(".hookspecs", __name__)
    elif name in _HOME:
        value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
    else:
        raise AttributeError(f"module 'ganx' has no attribute {name!r}")
    globals()[name] = value
    return value


__all__ = [
    "Architecture",
    "DBatch",
    "Dataset",
    "Evaluation",
    "GBatch",
    "Initialization",
    "Logger",
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
