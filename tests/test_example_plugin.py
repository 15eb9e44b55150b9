"""examples/ganx-plugin-example: pip-installed it shows up in ``ganx plugins`` and runs in a sweep;
uninstalled it is gone."""

from __future__ import annotations

from pathlib import Path

import yaml

EXAMPLE = Path(__file__).parent.parent / "examples" / "ganx-plugin-example"

SWEEP = {
    "name": "example",
    "base": {
        "dataset": "grid25",
        "arch": {"name": "mlp", "hidden": [16, 16]},
        "loss": "rsgan",
        "steps": 20,
        "batch_size": 32,
        "latent_dim": 4,
        "device": "cpu",
        "eval": {"samples": 500},
        "metrics": ["modes"],
    },
    "arms": {"flooding": {"tricks": [{"name": "flooding", "level": 0.2}]}},
    "objective": {"metric": "modes"},
}


def completed_cells(journal: Path) -> dict[str, str]:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    study = optuna.load_study(study_name="example", storage=JournalStorage(JournalFileBackend(str(journal))))
    return {t.user_attrs["cell"]: t.state.name for t in study.trials}


def test_installed_example_is_listed_runs_in_a_sweep_and_is_gone_once_uninstalled(plugin_env, tmp_path):
    plugin_env.install(EXAMPLE)
    rows = {(r["category"], r["name"]): r for r in plugin_env.plugins()}
    for key in [("loss", "rsgan"), ("trick", "flooding")]:
        assert rows[key]["package"] == "ganx-plugin-example"
        assert rows[key]["version"] == "0.1.0"
        assert rows[key]["plugin"] == "ganx-plugin-example:example"

    sweep = tmp_path / "example.yaml"
    sweep.write_text(yaml.safe_dump(SWEEP))
    plugin_env.ganx("sweep", str(sweep), "--results", str(tmp_path / "results"))
    assert completed_cells(tmp_path / "results" / "example" / "study.journal") == {"flooding/s0": "COMPLETE"}

    plugin_env.uninstall("ganx-plugin-example")
    names = {r["name"] for r in plugin_env.plugins()}
    assert "rsgan" not in names and "flooding" not in names
    again = plugin_env.ganx("sweep", str(sweep), "--results", str(tmp_path / "again"), check=False)
    assert again.returncode == 2
    assert "unknown loss plugin 'rsgan'" in again.stderr


def test_the_example_passes_its_own_tests_when_installed(plugin_env):
    plugin_env.install(EXAMPLE)
    done = plugin_env.run(
        "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=plugin_env.root / "src" / EXAMPLE.name
    )
    assert " passed" in done.stdout and "failed" not in done.stdout
