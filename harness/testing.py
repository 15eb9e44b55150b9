"""A testing kit for plugin authors: register a plugin in-process and train a tiny GAN with it.

A plugin's test is a few lines, with no install step and no files left behind::

    import ganx_foo
    from ganx.testing import train_tiny

    def test_flooding_keeps_d_loss_above_the_flood_level():
        result = train_tiny(ganx_foo, tricks=[{"name": "flooding", "level": 0.5}])
        assert min(row["d_loss"] for row in result.losses) >= 0.5

The tiny run trains an MLP on the 25-Gaussian grid for 20 steps (about a second on a CPU, once torch is
imported) and computes the three mixture metrics. Importing this module does not import torch.
"""

from __future__ import annotations

import copy
import json
import tempfile
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

TINY: dict[str, Any] = {
    "name": "tiny",
    "dataset": "grid25",
    "arch": {"name": "mlp", "hidden": [16, 16]},
    "steps": 20,
    "batch_size": 32,
    "latent_dim": 4,
    "log_every": 5,
    "device": "cpu",
    "eval": {"samples": 500},
    "metrics": ["modes", "hq", "reverse_kl"],
}


@dataclass
class TinyResult:
    """What a tiny training produced.

    Attributes:
        metrics: the final value of each metric, e.g. ``{"modes": 7.0, "hq": 41.2, ...}``.
        log: the rows of ``metrics.jsonl`` in order: loss rows (``step``, ``d_loss``, ``g_loss``,
            ``d_real``, ``d_fake``, grad norms) every ``log_every`` steps, and metric rows.
        config: the validated run config that was trained.
    """

    metrics: dict[str, float]
    log: list[dict[str, Any]]
    config: Any

    @property
    def losses(self) -> list[dict[str, Any]]:
        """The loss rows of :attr:`log` (those with a ``d_loss``)."""
        return [row for row in self.log if "d_loss" in row]


@contextmanager
def registered(*plugins: object) -> Iterator[None]:
    """Register plugin objects (modules or classes with ``@hookimpl`` functions) for the ``with`` block.

    A plugin already loaded (for instance through its installed entry point) is left as it is, so
    a test behaves the same whether or not the package is pip-installed.

    Example::

        with registered(ganx_foo):
            assert "flooding" in catalog().names("trick")
    """
    from .plugin_manager import get_plugin_manager

    pm = get_plugin_manager()
    added = [p for p in plugins if not pm.is_registered(p)]
    for plugin in added:
        pm.register(plugin)
    try:
        yield
    finally:
        for plugin in added:
            if pm.is_registered(plugin):  # a plugin whose registration hook raised was left out already
                pm.unregister(plugin)


def catalog():
    """Every plugin ganx knows now, built-in, installed or registered: ``names(category)`` lists a
    category (``"loss"``, ``"trick"``, …) and ``get(category, name)`` returns the registered class.

    Example: ``assert catalog().get("loss", "rsgan") is RelativisticStandard``.
    """
    from .plugin_manager import get_catalog

    return get_catalog()


def tiny_config(**changes: Any) -> dict[str, Any]:
    """The tiny run config as a dict; each of ``changes`` replaces that top-level key whole.

    Example: ``tiny_config(loss="rsgan", tricks=["flooding"], steps=50)``.
    """
    return copy.deepcopy({**TINY, **changes})


def train_tiny(*plugins: object, out: Path | str | None = None, **changes: Any) -> TinyResult:
    """Register ``plugins``, validate :func:`tiny_config` with ``changes``, and train it.

    Invalid params raise :class:`ganx.UserError` exactly as ``ganx run`` reports them; a diverging
    run raises :class:`ganx.TrainingFailure`; an exception in a plugin raises a ``PluginError``
    naming the plugin. ``out`` keeps the results folder (a temporary one is used otherwise).
    """
    from .config import validate_run
    from .trainer import train

    with ExitStack() as stack:
        stack.enter_context(registered(*plugins))
        folder = Path(out) if out is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        config = validate_run(tiny_config(**changes), "ganx.testing.train_tiny")
        final = train(config, folder)
        lines = (folder / "metrics.jsonl").read_text().splitlines()
    return TinyResult(metrics=final["metrics"], log=[json.loads(line) for line in lines], config=config)
