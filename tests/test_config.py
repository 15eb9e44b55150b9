"""Config validation: every mistake is one line naming the field, with exit code 2 and no traceback."""

from __future__ import annotations

import pytest
import yaml

from ganx import Loss, Trick, UserError, hookimpl
from ganx.config import Spec, apply_sets, load_run, validate_run


def problems(data) -> str:
    with pytest.raises(UserError) as err:
        validate_run(data, "run.yaml")
    return "\n".join(err.value.problems)


def test_valid_config_and_plugin_shorthand(tiny):
    config = validate_run(tiny, "run.yaml")
    assert config.loss == Spec(name="nsgan") == Spec.model_validate({"name": "nsgan"})
    assert config.arch.g == config.arch.d == Spec(name="mlp", params={"hidden": [16, 16]})
    assert validate_run(config.dump(), "again") == config


def test_unknown_key_suggests_the_close_match(tiny):
    tiny["stpes"] = tiny.pop("steps")
    text = problems(tiny)
    assert "run.yaml: stpes: unknown key; did you mean 'steps'?" in text
    assert "steps: required but missing" in text


def test_unknown_nested_key(tiny):
    tiny["eval"] = {"sample": 10}
    assert "eval.sample: unknown key; did you mean 'samples'?" in problems(tiny)


def test_unknown_plugin_lists_the_choices(tiny):
    tiny["loss"] = "nsgn"
    text = problems(tiny)
    assert "loss: unknown loss plugin 'nsgn'; did you mean 'nsgan'?" in text and "valid: " in text


def test_plugin_params_are_checked_against_its_schema(tiny):
    tiny["arch"] = {"name": "mlp", "hidden": "wide", "widht": 3}
    text = problems(tiny)
    assert "arch.g.mlp.hidden" in text
    assert "arch.g.mlp.widht: unknown key" in text


def test_separate_g_and_d_specs(tiny):
    tiny["norm"] = {"g": "batch", "d": "none"}
    config = validate_run(tiny, "run.yaml")
    assert (config.norm.g.name, config.norm.d.name) == ("batch", "none")


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("steps", 0, "steps: Input should be greater than 0"),
        ("batch_size", "ten", "batch_size: Input should be a valid integer"),
        ("device", "gpu", "device: String should match pattern"),
        ("tricks", ["ls", {"name": "x"}], "tricks[1]: unknown trick plugin 'x'"),
        ("metrics", ["modes", "modes"], "metrics: Value error, listed more than once: modes"),
    ],
)
def test_bad_values_name_the_field(tiny, key, value, fragment):
    tiny[key] = value
    assert fragment in problems(tiny)


def test_yaml_duplicate_key_names_the_line(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("dataset: grid25\nsteps: 5\nsteps: 6\n")
    with pytest.raises(UserError, match=r"run.yaml: line 3, column 1: duplicate key 'steps'"):
        load_run(path)


def test_set_overrides_parse_yaml_values():
    data = apply_sets({"base": {"steps": 5}}, ["base.steps=200", "seeds=[0,1]", "base.arch.hidden=[8, 8]", "name=x"])
    assert data == {"base": {"steps": 200, "arch": {"hidden": [8, 8]}}, "seeds": [0, 1], "name": "x"}
    with pytest.raises(UserError, match="expected KEY.PATH=VALUE"):
        apply_sets({}, ["steps"])


def test_cli_reports_every_problem_with_exit_2(tmp_path, tiny, ganx):
    tiny["loss"] = "hing"
    tiny["steps"] = -1
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny))
    code, out, err = ganx("run", path)
    assert code == 2
    assert "Traceback" not in err + out
    assert f"{path}: steps: Input should be greater than 0" in err
    assert not (tmp_path / "results").exists()


def test_cli_missing_file_and_directory(tmp_path, ganx):
    code, _, err = ganx("run", tmp_path / "nope.yaml")
    assert code == 2 and "nope.yaml: no such file" in err
    code, _, err = ganx("run", tmp_path)
    assert code == 2 and "is a directory" in err


def test_weight_clip_on_g_only_does_not_conflict_with_spectral_norm_on_d(tiny):
    tiny["norm"] = {"g": "none", "d": "spectral"}
    tiny["tricks"] = [{"name": "weight_clip", "nets": "g"}]
    assert validate_run(tiny, "run.yaml").tricks[0].params == {"nets": "g"}
    tiny["tricks"] = [{"name": "weight_clip", "nets": "both"}]
    assert "tricks[0]: weight_clip weight clipping conflicts with norm.d: spectral" in problems(tiny)


class NeedsBigBatches(Trick):
    """A third party's trick that declares its own conflict, and one whose declaration is broken."""

    name = "test-big-batches"

    @classmethod
    def conflicts(cls, params, config):
        return [f"needs batch_size >= 64 (got {config.batch_size})"] if config.batch_size < 64 else []


class BrokenDeclaration(Trick):
    name = "test-broken-declaration"

    @classmethod
    def conflicts(cls, params, config):
        raise KeyError("norm")


class ThirdParty:
    @hookimpl
    def register_tricks(self, register):
        register(NeedsBigBatches)
        register(BrokenDeclaration)


def test_a_third_party_plugin_declares_its_own_conflicts(tiny, register_plugin):
    register_plugin(ThirdParty())
    tiny.update(batch_size=32, tricks=["test-big-batches", "test-broken-declaration"])
    assert problems(tiny).splitlines() == [
        "run.yaml: tricks[0]: needs batch_size >= 64 (got 32)",
        "run.yaml: tricks[1]: trick plugin 'test-broken-declaration' failed in conflicts: KeyError: 'norm'",
    ]
    tiny.update(batch_size=64, tricks=["test-big-batches"])
    assert validate_run(tiny, "run.yaml").batch_size == 64


class Energy(Loss):
    """A third party's loss whose d_loss ignores D's targets, and a trick that sets them."""

    name = "test-energy"
    uses_targets = False


class FlipAll(Trick):
    name = "test-flip-all"

    def d_targets(self, real_target, fake_target, run):
        return fake_target, real_target


class TargetPlugins:
    @hookimpl
    def register_losses(self, register):
        register(Energy)

    @hookimpl
    def register_tricks(self, register):
        register(FlipAll)


def test_a_trick_setting_targets_is_refused_with_any_loss_that_ignores_them(tiny, register_plugin):
    register_plugin(TargetPlugins())
    tiny.update(loss="test-energy", tricks=["test-flip-all"])
    assert problems(tiny) == (
        "run.yaml: tricks[0]: test-flip-all changes nothing with loss test-energy, whose d_loss ignores its targets"
    )
    tiny.update(loss="nsgan")
    assert validate_run(tiny, "run.yaml").tricks[0].name == "test-flip-all"


def test_shipped_run_configs_validate():
    from pathlib import Path

    folder = Path(__file__).parent.parent / "sweeps" / "runs"
    paths = sorted(folder.glob("*.yaml"))
    assert paths
    for path in paths:
        assert load_run(path).steps > 0


def test_odd_keys_are_quoted_so_each_problem_stays_on_one_line(tiny):
    tiny["\n"] = 1
    tiny["two words"] = 2
    text = problems(tiny)
    assert "run.yaml: '\\n': unknown key" in text and "run.yaml: 'two words': unknown key" in text
    assert len(text.splitlines()) == 2


def test_a_problem_a_set_value_caused_names_the_set_not_the_file(tmp_path, tiny):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**tiny, "batch_size": 0}))
    with pytest.raises(UserError) as err:
        load_run(path, ["steps=-1", "loss=hnge"])
    blamed = {p.split(": ")[1]: p.split(": ")[0] for p in err.value.problems}
    assert blamed == {"batch_size": f"{path}", "steps": "--set steps=-1", "loss": "--set loss=hnge"}
