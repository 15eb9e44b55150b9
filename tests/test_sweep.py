"""Sweeps: every arm × seed cell runs once, re-running resumes, and a broken arm does not stop the rest."""

from __future__ import annotations

import pytest
import yaml

from ganx import UserError
from ganx.report.table import summarize, trials_frame
from ganx.sweep.config import load_sweep, merge, validate_sweep
from ganx.sweep.runner import open_study, run_sweep

from probe import CrashPlugin


def sweep_file(tmp_path, tiny, **changes):
    data = {
        "name": "t",
        "base": tiny,
        "arms": {"baseline": {}, "wider": {"arch": {"hidden": [24, 24]}}},
        "seeds": [0, 1],
        "objective": {"metric": "modes", "direction": "maximize"},
        **changes,
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_merge_changes_mappings_key_by_key_and_replaces_lists():
    base = {"arch": {"name": "mlp", "hidden": [8]}, "tricks": ["a"]}
    assert merge(base, {"arch": {"hidden": [4, 4]}, "tricks": ["b"]}) == {
        "arch": {"name": "mlp", "hidden": [4, 4]},
        "tricks": ["b"],
    }


def test_cells_are_arms_times_seeds_with_the_arm_applied(tmp_path, tiny):
    sweep = load_sweep(sweep_file(tmp_path, tiny))
    assert [c.key for c in sweep.cells] == ["baseline/s0", "baseline/s1", "wider/s0", "wider/s1"]
    assert [c.config.seed for c in sweep.cells] == [0, 1, 0, 1]
    assert sweep.cells[2].config.arch.g.params["hidden"] == [24, 24]


def test_objective_must_be_computed_and_seeds_unique(tmp_path, tiny):
    with pytest.raises(UserError) as err:
        load_sweep(sweep_file(tmp_path, tiny, objective={"metric": "fid"}, seeds=[1, 1]))
    text = "\n".join(err.value.problems)
    assert "seeds: Value error, seeds are repeated" in text
    with pytest.raises(UserError, match="objective.metric: 'fid' is not computed by arm 'baseline'"):
        load_sweep(sweep_file(tmp_path, tiny, objective={"metric": "fid"}))


def test_arm_errors_name_the_arm(tmp_path, tiny):
    with pytest.raises(UserError, match=r"arms.bad: loss: unknown loss plugin 'hnge'"):
        load_sweep(sweep_file(tmp_path, tiny, arms={"baseline": {}, "bad": {"loss": "hnge"}}))


def test_rerun_resumes_and_runs_nothing_new(tmp_path, tiny, ganx):
    path = sweep_file(tmp_path, tiny)
    code, out, _ = ganx("sweep", path, "--results", tmp_path / "results")
    assert code == 0 and out.count(": ok") == 4
    code, again, _ = ganx("sweep", path, "--results", tmp_path / "results")
    assert code == 0 and "nothing left to run" in again
    table = out[out.index("ganx sweep t"):]
    assert table in again
    study = open_study(load_sweep(path), tmp_path / "results")
    assert len(study.trials) == 4
    assert {t.user_attrs["cell"] for t in study.trials} == {"baseline/s0", "baseline/s1", "wider/s0", "wider/s1"}
    assert (tmp_path / "results/t/runs/wider-s1/samples.png").exists()


def test_a_crashing_arm_is_recorded_and_the_sweep_goes_on(tmp_path, tiny, register_plugin):
    register_plugin(CrashPlugin())
    sweep = validate_sweep(
        yaml.safe_load(
            sweep_file(tmp_path, tiny, arms={"baseline": {}, "crash": {"tricks": ["test-crash"]}}).read_text()
        ),
        "s.yaml",
    )
    study = run_sweep(sweep, tmp_path / "results")
    frame = trials_frame(study)
    crashed = frame[frame.arm == "crash"]
    assert set(crashed.state) == {"FAIL"}
    assert crashed.error.iloc[0] == "trick plugin 'test-crash' failed in after_g_step: RuntimeError: boom"
    rows = {r["arm"]: r for r in summarize(frame, ["baseline", "crash"], ["modes"])}
    assert (rows["baseline"]["complete"], rows["crash"]["failed"]) == (2, 2)
    assert rows["crash"]["modes"] is None


def test_a_base_problem_is_said_once_and_a_set_value_is_blamed_for_its_own(tmp_path, tiny):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "base": tiny, "objective": {"metric": "modes"},
                                    "arms": {"baseline": {}, "hinge": {"loss": "hinge"}, "bad": {"loss": "hnge"}}}))
    with pytest.raises(UserError) as err:
        load_sweep(path, ["base.steps=-1"])
    assert err.value.problems[0] == "--set base.steps=-1: base: steps: Input should be greater than 0 (got -1)"
    assert sum("steps" in p for p in err.value.problems) == 1
    assert any(p.startswith(f"{path}: arms.bad: loss: unknown loss plugin 'hnge'") for p in err.value.problems)


def test_a_problem_only_some_arms_share_with_an_incomplete_base_names_those_arms(tmp_path, tiny):
    base = {k: v for k, v in tiny.items() if k != "dataset"}  # every arm but c completes it
    data = {"name": "s", "base": base, "objective": {"metric": "modes"},
            "arms": {"a": {"dataset": "grid25"}, "b": {"dataset": "ring8"}, "c": {"loss": "hinge"}}}
    with pytest.raises(UserError) as err:
        validate_sweep(data, "s.yaml")
    assert err.value.problems == ["s.yaml: arms.c: dataset: required but missing"]


def test_the_sweep_usage_line_shows_no_hidden_argument(ganx):
    code, out, _ = ganx("sweep", "--help")
    usage = next(line for line in out.splitlines() if "Usage:" in line)
    assert code == 0 and " ".join(usage.split()) == "Usage: ganx sweep [OPTIONS] {FILE | validate FILE | schema}"


def test_each_trial_carries_its_arm_and_grid_levels_as_params_that_optunas_own_tools_read(tmp_path, tiny):
    import optuna

    sweep = validate_sweep({"name": "g", "base": tiny, "seeds": [0, 1], "objective": {"metric": "modes"},
                            "grid": {"loss": ["nsgan", "hinge"], "latent_dim": [2, 4]}}, "g.yaml")
    study = run_sweep(sweep, tmp_path / "results")
    assert {(t.params["loss"], t.params["latent_dim"], t.params["arm"]) for t in study.trials} == {
        (loss, str(latent), f"loss={loss},latent_dim={latent}") for loss in ("nsgan", "hinge") for latent in (2, 4)}
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    importance = optuna.importance.get_param_importances(study, evaluator=evaluator, params=["loss", "latent_dim"])
    assert set(importance) == {"loss", "latent_dim"}
