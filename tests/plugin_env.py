"""A throwaway virtual environment layered on the project's, for real ``pip install``/``uninstall`` of plugins.

The child venv sees every package of the running one (ganx included) through a ``.pth`` file, but
installs into its own prefix, so tests never change the shared venv and can be repeated. No
download happens: installs use ``--no-deps --no-build-isolation`` with the setuptools already here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest


class PluginEnv:
    def __init__(self, root: Path):
        self.root = root
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
        self.python = str(root / "venv" / "bin" / "python")
        child = subprocess.run(
            [self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        parent = sysconfig.get_paths()["purelib"]
        Path(child, "ganx-parent.pth").write_text(f"import site; site.addsitedir({parent!r})\n")

    def run(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """Run this venv's python with ``args``; output is captured as text."""
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        env.pop("PYTHONPATH", None)
        done = subprocess.run([self.python, *args], cwd=cwd or self.root, env=env, capture_output=True, text=True)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def install(self, source: Path) -> None:
        """``pip install`` a copy of ``source`` (the build leaves its droppings in the copy, not the repo)."""
        copy = self.root / "src" / Path(source).name
        if Path(source).resolve() != copy.resolve():
            shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        self.run("-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", str(copy))

    def uninstall(self, dist: str) -> None:
        self.run("-m", "pip", "uninstall", "-y", "-q", dist)

    def ganx(self, *args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
        return self.run("-m", "ganx.cli", *args, cwd=cwd, check=check)

    def shell(self, command: str, cwd: Path) -> tuple[subprocess.CompletedProcess, Path]:
        """Run a shell command line as a user would type it, with this venv's ``pip``, ``ganx`` and
        ``pytest`` first on PATH and pip kept offline. Returns the result and the directory it ended in."""
        bin_dir = self.root / "venv" / "bin"
        for tool, call in {"pip": "-m pip", "ganx": "-m ganx.cli", "pytest": "-m pytest -p no:cacheprovider"}.items():
            (bin_dir / tool).write_text(f'#!/bin/sh\nexec "{self.python}" {call} "$@"\n')
            (bin_dir / tool).chmod(0o755)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        env |= {"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        env.pop("PYTHONPATH", None)
        end = self.root / "cwd"
        script = 'cd "$1" && eval "$2" && pwd > "$3"'
        done = subprocess.run(
            ["bash", "-c", script, "_", str(cwd), command, str(end)], env=env, capture_output=True, text=True
        )
        return done, Path(end.read_text().strip()) if done.returncode == 0 else cwd

    def plugins(self) -> list[dict]:
        """The rows of ``ganx plugins --json``."""
        return json.loads(self.ganx("plugins", "--json").stdout)


@pytest.fixture
def plugin_env(tmp_path) -> PluginEnv:
    return PluginEnv(tmp_path / "env")
