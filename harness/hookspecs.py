"""The whole extension surface of ganx: one registration hook per plugin category.

Each hook receives a ``register`` callback and calls it once per class it contributes::

    @hookimpl
    def register_losses(register):
        register(MyLoss)

Every hook fires once when the catalogue is built (on the first command that needs plugins),
is not ``firstresult``, and returns nothing. A class's ``name`` must be unique in its category.
Hooks only ever gain arguments, never lose them, so an implementation may accept fewer.
"""

from typing import Callable

import pluggy

from .components import Architecture, Dataset, Initialization, Logger, Loss, Metric, Normalization, Trick

hookspec = pluggy.HookspecMarker("ganx")


@hookspec
def register_losses(register: Callable[[type[Loss]], None]) -> None:
    """Register :class:`ganx.Loss` subclasses (a D loss and a G loss from logits).

    :param register: call with each Loss subclass.
    """


@hookspec
def register_architectures(register: Callable[[type[Architecture]], None]) -> None:
    """Register :class:`ganx.Architecture` subclasses (builders of G and D).

    :param register: call with each Architecture subclass.
    """


@hookspec
def register_normalizations(register: Callable[[type[Normalization]], None]) -> None:
    """Register :class:`ganx.Normalization` subclasses (the norm layer or weight wrapper in G and D).

    :param register: call with each Normalization subclass.
    """


@hookspec
def register_initializations(register: Callable[[type[Initialization]], None]) -> None:
    """Register :class:`ganx.Initialization` subclasses (how G's and D's weights start).

    :param register: call with each Initialization subclass.
    """


@hookspec
def register_tricks(register: Callable[[type[Trick]], None]) -> None:
    """Register :class:`ganx.Trick` subclasses (training tricks acting at the trainer's hook points).

    :param register: call with each Trick subclass.
    """


@hookspec
def register_datasets(register: Callable[[type[Dataset]], None]) -> None:
    """Register :class:`ganx.Dataset` subclasses (loaders returning one tensor scaled to [-1, 1]).

    :param register: call with each Dataset subclass.
    """


@hookspec
def register_metrics(register: Callable[[type[Metric]], None]) -> None:
    """Register :class:`ganx.Metric` subclasses (numbers computed from generated samples).

    :param register: call with each Metric subclass.
    """


@hookspec
def register_loggers(register: Callable[[type[Logger]], None]) -> None:
    """Register :class:`ganx.Logger` subclasses (where a run also logs: TensorBoard, MLflow, W&B).

    :param register: call with each Logger subclass.
    """
