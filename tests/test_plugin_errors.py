"""Errors point at the plugin: a crash inside one fails the trial naming it;
bad params are reported against its schema."""

from __future__ import annotations

import pytest
from pydantic import Field

from ganx import Params, Trick, UserError, hookimpl
from ganx.errors import PluginError
from ganx.plugins.architectures import MLP
from ganx.plugins.datasets import Grid
from ganx.plugins.losses import NonSaturating
from ganx.plugins.metrics import Modes
from ganx.sweep.config import validate_sweep
from ganx.sweep.runner import run_sweep
from ganx.testing import train_tiny


def broken(base: type, method: str) -> type:
    """A subclass of a built-in named 'broken' whose ``method`` raises."""

    def fail(self, *args):
        raise ZeroDivisionError("boom")

    return type(f"Broken{base.__name__}", (base,), {"name": "broken", method: fail})


def plugin_of(cls: type):
    plural = {"loss": "losses", "architecture": "architectures", "dataset": "datasets", "metric": "metrics"}
    hook = f"register_{plural[cls.category]}"

    class Plugin:
        pass

    setattr(Plugin, hook, hookimpl(staticmethod(lambda register: register(cls))))
    return Plugin


CASES = [
    (NonSaturating, "d_loss", {"loss": "broken"}),
    (NonSaturating, "g_loss", {"loss": "broken"}),
    (MLP, "build_generator", {"arch": {"g": "broken", "d": {"name": "mlp", "hidden": [16, 16]}}}),
    (MLP, "build_discriminator", {"arch": {"g": {"name": "mlp", "hidden": [16, 16]}, "d": "broken"}}),
    (Grid, "load", {"dataset": "broken"}),
    (Modes, "compute", {"metrics": ["broken"]}),
]


@pytest.mark.parametrize("base, method, changes", CASES, ids=[c[1] for c in CASES])
def test_an_exception_in_a_plugin_method_names_the_plugin_and_method(base, method, changes):
    cls = broken(base, method)
    with pytest.raises(PluginError) as err:
        train_tiny(plugin_of(cls), **changes)
    assert str(err.value) == f"{cls.category} plugin 'broken' failed in {method}: ZeroDivisionError: boom"


def test_a_sweep_trial_fails_with_the_plugins_name_in_its_reason(register_plugin, tiny, tmp_path):
    register_plugin(plugin_of(broken(NonSaturating, "g_loss")))
    data = {"name": "s", "base": {**tiny, "loss": "broken"}, "objective": {"metric": "modes"}}
    study = run_sweep(validate_sweep(data, "s.yaml"), tmp_path)
    [trial] = study.trials
    assert trial.state.name == "FAIL"
    assert trial.user_attrs["error"] == "loss plugin 'broken' failed in g_loss: ZeroDivisionError: boom"


class Scaled(Trick):
    name = "scaled"

    class Params(Params):
        factor: float = Field(1.0, gt=0, description="what the D loss is multiplied by")

    def adjust_d_loss(self, d_loss, batch, run):
        return self.params.factor * d_loss


class ScaledPlugin:
    @staticmethod
    @hookimpl
    def register_tricks(register):
        register(Scaled)


@pytest.mark.parametrize(
    "spec, problem",
    [
        ({"name": "scaled", "factor": 0}, "tricks[0].scaled.factor: Input should be greater than 0 (got 0)"),
        ({"name": "scaled", "factr": 2}, "tricks[0].scaled.factr: unknown key; did you mean 'factor'? (valid: factor)"),
        ({"name": "scaled", "factor": "big"}, "tricks[0].scaled.factor: Input should be a valid number"),
    ],
)
def test_invalid_plugin_params_are_reported_against_the_plugins_schema(spec, problem):
    with pytest.raises(UserError) as err:
        train_tiny(ScaledPlugin, tricks=[spec])
    assert any(problem in line for line in err.value.problems), err.value.problems


def test_ganx_run_reports_a_plugin_crash_in_one_line(register_plugin, tiny, tmp_path, ganx):
    import yaml

    register_plugin(plugin_of(broken(NonSaturating, "g_loss")))
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**tiny, "loss": "broken"}))
    code, out, err = ganx("run", path, "--out", tmp_path / "out")
    assert code == 1
    assert "run failed: loss plugin 'broken' failed in g_loss: ZeroDivisionError: boom" in " ".join(out.split())
    assert "Traceback" not in out + err
