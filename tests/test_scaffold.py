"""``ganx new-plugin NAME``: the package it writes installs, passes its own test and is listed;
bad input writes nothing."""

from __future__ import annotations

import pytest


def test_scaffolded_package_installs_passes_its_test_and_is_listed(plugin_env, tmp_path):
    done = plugin_env.ganx("new-plugin", "demo", "--into", str(tmp_path))
    root = tmp_path / "ganx-demo"
    assert "ganx-demo" in done.stdout
    plugin_env.install(root)

    tested = plugin_env.run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=plugin_env.root / "src" / "ganx-demo")
    assert "2 passed" in tested.stdout

    row = next(r for r in plugin_env.plugins() if r["name"] == "demo_drift")
    assert (row["category"], row["package"], row["version"], row["plugin"]) == (
        "trick", "ganx-demo", "0.1.0", "ganx-demo:demo"
    )


@pytest.mark.parametrize(
    "name, problem",
    [
        ("Demo", "use lowercase letters and digits"),
        ("my tricks", "use lowercase letters and digits"),
        ("2fast", "use lowercase letters and digits"),
        ("a--b", "use lowercase letters and digits"),
        ("ganx-foo", "leave out the 'ganx-' prefix"),
    ],
)
def test_a_bad_name_exits_2_and_writes_nothing(ganx, tmp_path, name, problem):
    code, _, err = ganx("new-plugin", name, "--into", tmp_path)
    assert code == 2
    assert problem in err
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_exits_2_and_is_left_untouched(ganx, tmp_path):
    (tmp_path / "ganx-demo").mkdir()
    (tmp_path / "ganx-demo" / "pyproject.toml").write_text("mine")
    code, _, err = ganx("new-plugin", "demo", "--into", tmp_path)
    assert code == 2
    assert "already exists; nothing was written" in err
    assert [p.name for p in (tmp_path / "ganx-demo").iterdir()] == ["pyproject.toml"]
    assert (tmp_path / "ganx-demo" / "pyproject.toml").read_text() == "mine"
