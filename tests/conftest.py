"""Shared fixtures: tiny configs, in-process plugin registration, and running the CLI in-process."""

from __future__ import annotations

import copy
import ipaddress
import socket
import sys

import pytest

from ganx import testing
from ganx.plugin_manager import get_plugin_manager

pytest_plugins = ["plugin_env"]  # the plugin_env fixture: throwaway venvs to install plugin packages into

TINY = {**testing.TINY, "log_every": 10}  # the plugin authors' tiny run, logging every 10 steps
OFF_MACHINE: list = []  # every connection or name lookup a test tried beyond this machine


def on_this_machine(host) -> bool:
    if not host or host in ("localhost", socket.gethostname()):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="session", autouse=True)
def _no_network():
    """No test reaches the network: a connection or name lookup beyond this machine is refused and recorded
    (PostgreSQL, SLURM and the local S3 server all listen on the loopback)."""
    connect, getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def refuse(what):
        OFF_MACHINE.append(what)
        raise OSError(f"tests open no network connection (tried {what})")

    def guarded_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not on_this_machine(address[0]):
            refuse(address)
        return connect(sock, address)

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not on_this_machine(host.decode() if isinstance(host, bytes) else host):
            refuse(host)
        return getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", guarded_connect)
        patch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
        yield


@pytest.fixture(autouse=True)
def _stays_on_this_machine(_no_network):
    tried = len(OFF_MACHINE)
    yield
    assert OFF_MACHINE[tried:] == [], f"the test tried to reach the network: {OFF_MACHINE[tried:]}"


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
