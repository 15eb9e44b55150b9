"""Loads plugins from the ``ganx`` entry-point group and collects what they register into a catalogue.

The built-ins in ``ganx.plugins`` are entry points of the ``ganx`` distribution itself, so they are
loaded exactly like a third party's. ``GANX_LOAD_PLUGINS=dist1,dist2`` loads only those
distributions (the built-ins always load); ``GANX_STRICT_PLUGINS=1`` re-raises a broken plugin.
"""

from __future__ import annotations

import difflib
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
    "trick": "register_tricks",
    "dataset": "register_datasets",
    "metric": "register_metrics",
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
    """'unknown loss plugin 'hing'; did you mean 'hinge'? valid: ...'."""
    close = difflib.get_close_matches(value, choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {value!r}{hint} (valid: {', '.join(choices) or 'none'})"


def _distribution_of(ep: metadata.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    return (dist.name, dist.version) if dist else ("?", "?")


def _wanted(package: str) -> bool:
    only = os.environ.get("GANX_LOAD_PLUGINS")
    if package == "ganx" or only is None:
        return True
    return package in {p.strip() for p in only.split(",")}


def load_entry_points(pm: pluggy.PluginManager) -> None:
    """Register every ``ganx`` entry point, each on its own: a broken one is a warning, not a crash."""
    for ep in metadata.entry_points(group="ganx"):
        package, version = _distribution_of(ep)
        if not _wanted(package) or pm.has_plugin(f"{package}:{ep.name}"):
            continue
        try:
            pm.register(ep.load(), name=f"{package}:{ep.name}")
        except Exception as exc:
            if os.environ.get("GANX_STRICT_PLUGINS") == "1":
                raise
            remedy = "this is a bug in ganx itself" if package == "ganx" else f"remove it with: pip uninstall {package}"
            print(
                f"warning: plugin {ep.name!r} from {package} {version} failed to load "
                f"({type(exc).__name__}: {exc}); skipped; {remedy}",
                file=sys.stderr,
            )


_pm: pluggy.PluginManager | None = None


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with entry points loaded on first use."""
    global _pm
    if _pm is None:
        _pm = pluggy.PluginManager("ganx")
        _pm.add_hookspecs(hookspecs)
        load_entry_points(_pm)
    return _pm


def _package_of(plugin_name: str) -> tuple[str, str]:
    """Entry points are registered as 'package:entry'; anything else was registered in-process."""
    package, sep, _ = plugin_name.partition(":")
    if sep:
        try:
            return package, metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return "(in-process)", ""


def get_catalog(pm: pluggy.PluginManager | None = None) -> Catalog:
    """Call every registration hook and collect the classes; duplicate names are a UserError."""
    pm = pm or get_plugin_manager()
    entries: dict[str, dict[str, Entry]] = {category: {} for category in CATEGORIES}
    problems = []
    for category, hook_name in CATEGORIES.items():
        # Call each implementation on its own so every class is attributed to its plugin.
        for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
            package, version = _package_of(impl.plugin_name)

            def register(cls: type[Plugin], category=category, plugin=impl.plugin_name, package=package, version=version):
                if not (isinstance(cls, type) and issubclass(cls, Plugin) and cls.category == category):
                    problems.append(f"plugin {plugin} registered {cls!r} as a {category}, but it is not one (register the class)")
                    return
                if cls.name in entries[category]:
                    other = entries[category][cls.name]
                    problems.append(
                        f"{category} {cls.name!r} is registered twice: by {other.plugin} ({other.package}) "
                        f"and by {plugin} ({package})"
                    )
                    return
                entries[category][cls.name] = Entry(cls, plugin, package, version)

            impl.function(**{arg: register for arg in impl.argnames})
    if problems:
        raise UserError(*problems)
    return Catalog(entries)
