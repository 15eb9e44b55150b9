"""docs/catalog.md cannot drift: every built-in loss, architecture, normalization, trick and logger, and each
param, is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganx.plugin_manager import get_catalog

DOC = (Path(__file__).parents[1] / "docs" / "catalog.md").read_text()
CATEGORIES = ("loss", "architecture", "normalization", "initialization", "trick", "logger")
BUILT_IN = [
    (category, name)
    for category in CATEGORIES
    for name in get_catalog().names(category)
    if get_catalog().entries[category][name].package == "ganx"
]


@pytest.mark.parametrize("category, name", BUILT_IN)
def test_plugin_and_its_params_are_documented(category, name):
    row = next((line for line in DOC.splitlines() if line.startswith(f"| `{name}` |")), None)
    assert row, f"docs/catalog.md has no row for {category} {name!r}"
    for param in get_catalog().get(category, name).Params.model_fields:
        assert f"`{param}`" in row, f"docs/catalog.md: {name}'s param {param!r} is missing from its row"


@pytest.mark.parametrize("folder", ["harness", "harness/sweep", "harness/report"])
def test_the_readme_layout_table_names_every_core_module(folder):
    """A newcomer finds any core file in one hop from the README's "Where things live" table."""
    root = Path(__file__).parents[1]
    row = next(line for line in (root / "README.md").read_text().splitlines() if line.startswith(f"| `{folder}/` |"))
    modules = sorted(p.stem for p in (root / folder).glob("*.py") if p.stem != "__init__")
    assert [m for m in modules if f"`{m}`" not in row] == []
