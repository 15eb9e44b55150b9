"""Loads plugins from the ``ganx`` entry-point group and collects what they register into a catalogue.

The built-ins in ``ganx.plugins`` are entry points of the ``ganx`` distribution itself, so they are
loaded exactly like a third party's. ``GANX_LOAD_PLUGINS=dist1,dist2`` loads only those
distributions (the built-ins always load). A plugin that breaks, on import (even with ``SystemExit``)
or in a registration hook, is a one-line warning and is left out; ``GANX_STRICT_PLUGINS=1`` re-raises.
"""

from __future__ import annotations

import difflib
import functools
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .components import Plugin
from .errors import UserError

CATEGORIES = {
    "loss": "register_losses",
    "architecture": "register_architectures",
    "normalization": "register_normalizations",
    "initialization": "register_initializations",
    "trick": "register_tricks",
    "dataset": "register_datasets",
    "metric": "register_metrics",
    "logger": "register_loggers",
}


@dataclass(frozen=True)
class Entry:
    """One registered class, and where it came from."""

    cls: type[Plugin]
    plugin: str
    package: str
    version: str

    @property
    def name(self) -> str:
        return self.cls.name

    @property
    def category(self) -> str:
        return self.cls.category


class Catalog:
    """Every registered plugin class, by category and name."""

    def __init__(self, entries: dict[str, dict[str, Entry]]):
        self.entries = entries

    def names(self, category: str) -> list[str]:
        return sorted(self.entries[category])

    def get(self, category: str, name: str) -> type[Plugin]:
        """The class registered as ``name``; a UserError listing the choices if there is none."""
        try:
            return self.entries[category][name].cls
        except KeyError:
            raise UserError(unknown_choice(f"{category} plugin", name, self.names(category))) from None

    def create(self, category: str, spec: Any) -> Plugin:
        """An instance from a config spec (an object with ``name`` and ``params``)."""
        return self.get(category, spec.name)(**spec.params)

    def __iter__(self):
        for by_name in self.entries.values():
            yield from by_name.values()


def unknown_choice(what: str, value: str, choices: list[str]) -> str:
    """'unknown loss plugin 'hing'; did you mean 'hinge'? valid: ...', naming any plugins left out as broken."""
    close = difflib.get_close_matches(value, choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    broken = ""
    if what.endswith("plugin") and _broken:
        broken = f"; left out as broken: {', '.join(_broken.values())} (see the warning above)"
    return f"unknown {what} {value!r}{hint} (valid: {', '.join(choices) or 'none'}){broken}"


def _distribution_of(ep: metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    return (dist.name, dist.version) if dist else ("?", "?")


def _wanted(package: str) -> bool:
    only = os.environ.get("GANX_LOAD_PLUGINS")
    if package == "ganx" or only is None:
        return True
    return package in {p.strip() for p in only.split(",")}


_broken: dict[str, str] = {}  # plugin name -> how warnings name it, for each plugin left out as broken


def _leave_out(plugin: str, label: str, package: str, failure: str, exc: BaseException) -> None:
    """Warn in one line that ``plugin`` broke, and go on without it (re-raise under ``GANX_STRICT_PLUGINS=1``).

    ``SystemExit`` is a fault like any other here; KeyboardInterrupt is never passed in.
    """
    if os.environ.get("GANX_STRICT_PLUGINS") == "1":
        raise exc
    _broken[plugin] = label
    remedies = {"ganx": "; this is a bug in ganx itself", "(in-process)": ""}
    remedy = remedies.get(package, f"; remove it with: pip uninstall {package}")
    reason = " ".join(f"{type(exc).__name__}: {exc}".split())
    print(f"warning: {label} {failure} ({reason}); skipped{remedy}", file=sys.stderr)


def load_entry_points(pm: pluggy.PluginManager) -> None:
    """Register every ``ganx`` entry point, each on its own: a broken one is a warning, not a crash."""
    for ep in metadata.entry_points(group="ganx"):
        package, version = _distribution_of(ep)
        name = f"{package}:{ep.name}"
        if not _wanted(package) or pm.has_plugin(name):
            continue
        try:
            pm.register(ep.load(), name=name)
        except (Exception, SystemExit) as exc:
            _leave_out(name, f"plugin {ep.name!r} from {package} {version}", package, "failed to load", exc)


_pm: pluggy.PluginManager | None = None


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with entry points loaded on first use."""
    global _pm
    if _pm is None:
        _pm = pluggy.PluginManager("ganx")
        _pm.add_hookspecs(hookspecs)
        load_entry_points(_pm)
    return _pm


@functools.cache
def _package_of(plugin_name: str) -> tuple[str, str]:
    """Entry points are registered as 'package:entry'; anything else was registered in-process."""
    package, sep, _ = plugin_name.partition(":")
    if sep:
        try:
            return package, metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return "(in-process)", ""


def _label(pm: pluggy.PluginManager, plugin_name: str) -> str:
    """How a warning names a plugin: by entry point and distribution, or by what was registered in-process."""
    package, version = _package_of(plugin_name)
    if package != "(in-process)":
        return f"plugin {plugin_name.partition(':')[2]!r} from {package} {version}"
    plugin = pm.get_plugin(plugin_name)
    return f"in-process plugin {getattr(plugin, '__qualname__', type(plugin).__qualname__)!r}"


def _registrations(pm: pluggy.PluginManager) -> list[tuple[str, str, Any]]:
    """(plugin, category, registered class) in call order. A plugin whose hook raises is left out whole."""
    registered: list[tuple[str, str, Any]] = []
    for category, hook_name in CATEGORIES.items():
        # Call each implementation on its own (through pluggy, which passes only the arguments it
        # asks for), so every class, and every fault, is attributed to its plugin.
        impls = list(reversed(getattr(pm.hook, hook_name).get_hookimpls()))
        for impl in impls:
            plugin = impl.plugin_name
            alone = pm.subset_hook_caller(hook_name, remove_plugins=[i.plugin for i in impls if i is not impl])

            def register(cls: Any, plugin=plugin, category=category) -> None:
                registered.append((plugin, category, cls))

            try:
                alone(register=register)
            except (Exception, SystemExit) as exc:
                _leave_out(plugin, _label(pm, plugin), _package_of(plugin)[0], f"failed in {hook_name}", exc)
                pm.unregister(name=plugin)
                registered[:] = [r for r in registered if r[0] != plugin]
    return registered


def get_catalog(pm: pluggy.PluginManager | None = None) -> Catalog:
    """Call every registration hook and collect the classes; duplicate names are a UserError."""
    pm = pm or get_plugin_manager()
    entries: dict[str, dict[str, Entry]] = {category: {} for category in CATEGORIES}
    problems = []
    for plugin, category, cls in _registrations(pm):
        package, version = _package_of(plugin)
        if not (isinstance(cls, type) and issubclass(cls, Plugin) and cls.category == category):
            problems.append(
                f"plugin {plugin} registered {cls!r} as a {category}, but it is not one (register the class)"
            )
        elif cls.name in entries[category]:
            other = entries[category][cls.name]
            problems.append(
                f"{category} {cls.name!r} is registered twice: by {other.plugin} ({other.package}) "
                f"and by {plugin} ({package})"
            )
        else:
            entries[category][cls.name] = Entry(cls, plugin, package, version)
    if problems:
        raise UserError(*problems)
    return Catalog(entries)
