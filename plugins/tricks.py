"""Training tricks (ganhacks and friends), each acting only through the trainer's hook points."""

from __future__ import annotations

from ganx import hookimpl


@hookimpl
def register_tricks(register):
    pass
