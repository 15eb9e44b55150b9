"""docs/catalog.md cannot drift: every built-in loss, architecture, normalization and trick, and each param,
is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganx.plugin_manager import get_catalog

DOC = (Path(__file__).parents[1] / "docs" / "catalog.md").read_text()
CATEGORIES = ("loss", "architecture", "normalization", "trick")
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
