"""ganx-plugin-example: the ``ganx`` entry point of this package.

ganx loads this module and calls the hooks below once, when it builds its plugin catalogue.
"""

from ganx import hookimpl

from .losses import RelativisticStandard
from .tricks import Flooding


@hookimpl
def register_losses(register):
    register(RelativisticStandard)


@hookimpl
def register_tricks(register):
    register(Flooding)
