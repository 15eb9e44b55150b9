"""Training tricks (ganhacks and friends), each acting only through the trainer's hook points.

One module per group; see docs/catalog.md for every trick, its params and its source.
"""

from __future__ import annotations

from ganx import hookimpl

from . import (
    augment,
    classes,
    failure,
    generator,
    hybrid,
    labels,
    noise,
    optimizer,
    packing,
    pixels,
    regularize,
    replay,
    schedule,
)


@hookimpl
def register_tricks(register):
    for group in (
        labels, noise, augment, replay, schedule, optimizer, regularize, generator, packing, pixels, failure,
        classes, hybrid,
    ):
        for trick in group.TRICKS:
            register(trick)
