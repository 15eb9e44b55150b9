"""Cell names: every cell of a sweep has its own key, run name and run folder, by construction; cells
that would be the same cell (equal grid values, or values with one name) are refused."""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ganx import UserError
from ganx.config import parse_yaml
from ganx.sweep.config import validate_sweep
from ganx.sweep.design import slug
from ganx.sweep.runner import run_sweep


def sweep(tiny, **changes):
    data = {"name": "t", "base": tiny, "seeds": [0, 1], "objective": {"metric": "modes"}, **changes}
    return validate_sweep(data, "s.yaml")


def assert_distinct(cells) -> None:
    for names in ([c.key for c in cells], [c.folder for c in cells], [c.config.name for c in cells]):
        assert len(set(names)) == len(names), names
    for cell in cells:
        assert re.fullmatch(r"(tune/)?[A-Za-z0-9_.-]+", cell.folder) and len(cell.folder) < 128


def all_cells(swept):
    return [*swept.cells, *(c for cells in swept.tuning.values() for c in cells)]


def test_arms_that_differ_only_outside_ascii_get_their_own_key_folder_and_run_name(tiny):
    swept = sweep(tiny, arms={"é": {}, "è": {}, "e": {}, "a-b": {}, "a_b": {}})
    assert_distinct(swept.cells)
    assert [c.folder for c in swept.cells if c.arm in ("e", "a-b")] == ["e-s0", "e-s1", "a-b-s0", "a-b-s1"]


def test_grid_values_that_differ_only_in_unsafe_characters_get_their_own_cells(tiny):
    search = {"trials_per_arm": 2, "parameters": {"latent_dim": {"values": [2, 3]}}}
    swept = sweep(tiny, grid={"data_dir": ["a/b", "a_b", "a b", "a/s1", "a"]}, search=search)
    assert len(swept.cells) == 10
    assert_distinct(all_cells(swept))


def test_plain_arm_names_keep_their_readable_folders(tiny):
    swept = sweep(tiny, arms={"baseline": {}, "wgan-gp": {"loss": "wgan-gp"}})
    assert [c.folder for c in swept.cells] == ["baseline-s0", "baseline-s1", "wgan-gp-s0", "wgan-gp-s1"]
    assert swept.cells[0].config.name == "t-baseline-s0"


def test_arms_that_differ_only_in_case_get_folders_apart_on_case_insensitive_file_systems(tiny):
    swept = sweep(tiny, arms={"a": {}, "A": {"loss": "hinge"}}, seeds=[0])
    folders = [c.folder for c in swept.cells]
    assert folders[0] == "a-s0" and folders[1].startswith("A--")
    assert len({f.lower() for f in folders}) == 2


@given(st.lists(st.text(min_size=1, max_size=120), min_size=2, max_size=6, unique=True))
def test_distinct_arm_names_never_share_a_slug(arms):
    slugs = [slug(arm) for arm in arms]
    assert len({s.lower() for s in slugs}) == len(slugs)  # apart on case-insensitive file systems too
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", s) and len(s) <= 100 for s in slugs)


@pytest.mark.parametrize("values, repeated", [
    ("[0.001, 1.0e-3]", "'0.001'"),
    ("[1, 1.0, true]", "'1.0', 'True'"),
    ("[[], none]", "'none'"),
    ("[{name: mlp, hidden: [8]}, {hidden: [8], name: mlp}]", "'mlp(hidden=8)'"),
    ("[a, a]", "'a'"),
])
def test_grid_values_that_make_the_same_cell_are_refused(tiny, values, repeated):
    with pytest.raises(UserError) as err:
        sweep(tiny, grid={"arch": parse_yaml(values, "grid")})
    assert err.value.problems == [
        f"s.yaml: grid: Value error, axis 'arch' lists {repeated} more than once "
        "(equal values, or values with the same name, make the same cell)"
    ]


def test_cells_whose_names_join_into_the_same_text_are_refused(tiny):
    with pytest.raises(UserError, match="several cells are named 'a=x,b=y,b=z'"):
        sweep(tiny, grid={"a": ["x,b=y", "x"], "b": ["z", "y,b=z"]})


def test_a_sweep_of_arms_alike_under_the_old_slug_writes_one_folder_per_cell(tmp_path, tiny):
    """é and è were both ``runs/_-s0``: now each trains into its own folder and keeps its own results."""
    data = {"name": "t", "base": {**tiny, "steps": 2}, "arms": {"é": {}, "è": {"latent_dim": 3}}, "seeds": [0],
            "objective": {"metric": "modes"}}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(data, allow_unicode=True))

    study = run_sweep(validate_sweep(data, "sweep.yaml"), tmp_path / "results")

    runs = sorted((tmp_path / "results" / "t" / "runs").iterdir())
    assert len(runs) == 2 and all((run / "final.json").exists() for run in runs)
    assert sorted(yaml.safe_load((run / "config.yaml").read_text())["latent_dim"] for run in runs) == [3, 4]
    assert sorted(t.user_attrs["cell"] for t in study.trials) == ["è/s0", "é/s0"]
    assert len({t.user_attrs["run_dir"] for t in study.trials}) == 2


def test_the_folder_names_in_the_docs_are_the_real_ones():
    assert [slug(arm) for arm in ("baseline", "loss=hinge,norm=batch", "é", "è")] == [
        "baseline", "loss-hinge_norm-batch--0c874cffd460", "e--4a99557e4033", "e--97c916cd9478"]
