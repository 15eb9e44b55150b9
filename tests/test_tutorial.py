"""docs/writing-plugins.md, followed literally: write each file it shows, run each ``console`` command it shows.

Blocks marked ``title="PATH"`` are files (written relative to the current directory); each ``$ `` line of a
``console`` block is run in a shell whose ``pip``, ``ganx`` and ``pytest`` belong to a throwaway venv layered
on ours. ``bash`` blocks (publishing to PyPI) need the network and are not run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

TUTORIAL = Path(__file__).parent.parent / "docs" / "writing-plugins.md"
BLOCK = re.compile(r'```(\w*)(?: title="([^"]+)")?\n(.*?)```', re.S)


def blocks() -> list[tuple[str, str | None, str]]:
    return BLOCK.findall(TUTORIAL.read_text())


def test_the_tutorial_marks_its_files_and_commands():
    files = [title for _, title, _ in blocks() if title]
    assert files == [
        "pyproject.toml", "ganx_mylab/losses.py", "ganx_mylab/tricks.py", "ganx_mylab/__init__.py",
        "tests/test_mylab.py", "sweep.yaml",
    ]  # fmt: skip
    assert "[project.entry-points.ganx]" in next(body for _, title, body in blocks() if title == "pyproject.toml")


def test_following_the_tutorial_gives_a_listed_tested_plugin_that_runs_in_a_sweep(plugin_env, tmp_path):
    cwd, outputs = tmp_path / "work", {}
    cwd.mkdir()
    for language, title, body in blocks():
        if title:
            (cwd / title).parent.mkdir(parents=True, exist_ok=True)
            (cwd / title).write_text(body)
        elif language == "console":
            for command in [line[2:] for line in body.splitlines() if line.startswith("$ ")]:
                done, cwd = plugin_env.shell(command, cwd)
                assert done.returncode == 0, f"$ {command}\n{done.stdout}\n{done.stderr}"
                outputs[command] = done.stdout

    listed = json.loads(outputs["ganx plugins --json"])
    promised = next(body for language, _, body in blocks() if language == "json")
    for row in map(json.loads, promised.splitlines()):
        assert row in listed

    assert re.search(r"\b2 passed\b", outputs["pytest tests"])

    journal = cwd / "results" / "mylab" / "study.journal"
    assert completed(journal) == {"nsgan/s0", "rahinge/s0", "rahinge-top-k/s0"}
    assert "rahinge-top-k" in outputs["ganx sweep sweep.yaml"]


def completed(journal: Path) -> set[str]:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="mylab", storage=JournalStorage(JournalFileBackend(str(journal))))
    return {t.user_attrs["cell"] for t in study.trials if t.state.name == "COMPLETE"}
