"""Dispatching the trainer's hook points to the plugins (loss and tricks) that override them."""

from __future__ import annotations

from typing import Any

from .components import HOOK_POINTS, Plugin, TrainingHooks
from .errors import PluginError, TrainingFailure, UserError


def overrides(plugin: Plugin, point: str) -> bool:
    return getattr(type(plugin), point) is not getattr(TrainingHooks, point)


def blamed(plugin: Plugin, point: str, *args: Any) -> Any:
    """Call ``plugin.point(*args)``; an unexpected exception is re-raised naming the plugin."""
    try:
        return getattr(plugin, point)(*args)
    except (TrainingFailure, UserError, PluginError):
        raise
    except Exception as exc:
        raise PluginError(plugin, point, exc) from exc


class Hooks:
    """The plugins overriding each hook point, in order; non-overriders cost nothing per step."""

    def __init__(self, plugins: list[Plugin]):
        self.plugins = plugins  # the loss, then the tricks in config order
        self.points = {point: [p for p in plugins if overrides(p, point)] for point in HOOK_POINTS}

    def each(self, point: str, *args: Any) -> None:
        """Call a hook that returns nothing on every overriding plugin."""
        for plugin in self.points[point]:
            blamed(plugin, point, *args)

    def pipe(self, point: str, value: Any, *args: Any) -> Any:
        """Thread ``value`` through a hook that returns its replacement."""
        for plugin in self.points[point]:
            value = blamed(plugin, point, value, *args)
        return value

    def pipe_pair(self, point: str, first: Any, second: Any, *args: Any) -> tuple[Any, Any]:
        """Thread a (real, fake)-style pair through a hook that returns a replacement pair."""
        for plugin in self.points[point]:
            first, second = blamed(plugin, point, first, second, *args)
        return first, second
