"""Shared fixtures: tiny configs, in-process plugin registration, and running the CLI in-process."""

from __future__ import annotations

import copy
import sys

import pytest

from ganx import testing
from ganx.plugin_manager import get_plugin_manager

pytest_plugins = ["plugin_env"]  # the plugin_env fixture: throwaway venvs to install plugin packages into

TINY = {**testing.TINY, "log_every": 10}  # the plugin authors' tiny run, logging every 10 steps


@pytest.fixture
def tiny():
    """A fresh dict of a valid run config that trains in well under a second."""
    return copy.deepcopy(TINY)


@pytest.fixture(autouse=True)
def _data_dir(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GANX_DATA_DIR", str(tmp_path_factory.getbasetemp() / "data"))


@pytest.fixture
def register_plugin():
    """Register a plugin object (module or class with @hookimpl functions) for one test."""
    pm = get_plugin_manager()
    added = []

    def register(plugin):
        pm.register(plugin)
        added.append(plugin)
        return plugin

    yield register
    for plugin in added:
        if pm.is_registered(plugin):  # a plugin whose hook raised was left out already
            pm.unregister(plugin)


@pytest.fixture
def ganx(monkeypatch, capsys):
    """Run the ``ganx`` CLI in-process; returns (exit code, stdout, stderr)."""
    from ganx.cli import main

    def invoke(*args: str):
        monkeypatch.setattr(sys, "argv", ["ganx", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        return code, out.out, out.err

    return invoke
