"""Plugins load through entry points like strangers, in-process registration works, and failures are contained."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from ganx import Loss, UserError, hookimpl, plugin_manager
from ganx.config import validate_run
from ganx.plugin_manager import get_catalog


class Doubled(Loss):
    name = "test-doubled"

    def d_loss(self, real_logits, fake_logits, real_target, fake_target):
        return 2 * (fake_logits - real_logits).mean()

    def g_loss(self, fake_logits, real_logits):
        return -2 * fake_logits.mean()


class InProcessPlugin:
    @hookimpl
    def register_losses(self, register):
        register(Doubled)


def test_builtins_are_listed_as_entry_points_of_ganx(ganx):
    code, out, _ = ganx("plugins", "--json")
    rows = json.loads(out)
    assert code == 0
    found = {(r["category"], r["name"]) for r in rows}
    assert {("loss", "nsgan"), ("architecture", "mlp"), ("dataset", "grid25"), ("metric", "modes")} <= found
    nsgan = next(r for r in rows if r["name"] == "nsgan")
    assert nsgan["plugin"] == "ganx:losses" and nsgan["package"] == "ganx"


def test_in_process_plugin_names_appear(register_plugin, ganx):
    assert "test-doubled" not in get_catalog().names("loss")
    register_plugin(InProcessPlugin())
    assert get_catalog().get("loss", "test-doubled") is Doubled
    rows = json.loads(ganx("plugins", "--json")[1])
    assert (
        {"name": "test-doubled", "category": "loss"}.items()
        <= next(r for r in rows if r["name"] == "test-doubled").items()
    )


def test_same_name_twice_is_an_error_naming_both(register_plugin):
    class Clash:
        @hookimpl
        def register_losses(self, register):
            register(type("Clash", (Doubled,), {"name": "nsgan"}))

    register_plugin(Clash())
    with pytest.raises(UserError) as err:
        get_catalog()
    assert "loss 'nsgan' is registered twice" in str(err.value)
    assert "ganx:losses" in str(err.value)


@pytest.mark.parametrize(
    "registered", [Doubled(), type("Lookalike", (), {"name": "test-lookalike", "category": "loss"})]
)
def test_registering_an_instance_or_a_non_plugin_class_is_an_error(register_plugin, registered):
    class Wrong:
        @hookimpl
        def register_losses(self, register):
            register(registered)

    register_plugin(Wrong())
    with pytest.raises(UserError, match="registered .* as a loss, but it is not one"):
        get_catalog()


def _fake_distribution(tmp_path, body: str):
    """A site dir holding an installed distribution 'ganx-broken' whose entry point module is ``body``."""
    dist = tmp_path / "ganx_broken-1.2.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ganx-broken\nVersion: 1.2\n")
    (dist / "entry_points.txt").write_text("[ganx]\nbroken = ganx_broken_plugin\n")
    (tmp_path / "ganx_broken_plugin.py").write_text(textwrap.dedent(body))
    return {**os.environ, "PYTHONPATH": str(tmp_path)}


def test_broken_entry_point_warns_and_the_rest_works(tmp_path):
    env = _fake_distribution(tmp_path, "raise ImportError('no module named torch_extras')\n")
    result = subprocess.run(
        [sys.executable, "-m", "ganx.cli", "plugins", "--json"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "ganx-broken" in result.stderr and "remove it with: pip uninstall ganx-broken" in result.stderr
    assert "Traceback" not in result.stderr
    assert any(r["name"] == "nsgan" for r in json.loads(result.stdout))

    strict = subprocess.run(
        [sys.executable, "-m", "ganx.cli", "plugins", "--json"],
        env={**env, "GANX_STRICT_PLUGINS": "1"},
        capture_output=True,
        text=True,
    )
    assert strict.returncode != 0 and "torch_extras" in strict.stderr


def ganx_cli(env: dict, *args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganx.cli", *args], env=env, cwd=cwd, capture_output=True, text=True)


def test_a_plugin_that_exits_on_import_is_a_warning_not_a_silent_exit(tmp_path, tiny):
    """``SystemExit(0)`` while importing a plugin does not end ganx; a config that needs it says why it is missing."""
    env = _fake_distribution(tmp_path, "raise SystemExit(0)\n")
    listed = ganx_cli(env, "plugins", "--json")
    assert listed.returncode == 0 and any(r["name"] == "nsgan" for r in json.loads(listed.stdout))
    assert listed.stderr.splitlines() == [
        "warning: plugin 'broken' from ganx-broken 1.2 failed to load (SystemExit: 0); skipped; "
        "remove it with: pip uninstall ganx-broken"
    ]
    (tmp_path / "run.yaml").write_text(json.dumps({**tiny, "loss": "broken-loss"}))
    run = ganx_cli(env, "run", "run.yaml", cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    [warning, error] = run.stderr.splitlines()
    assert warning.startswith("warning: plugin 'broken' from ganx-broken 1.2 failed to load")
    assert error.startswith("error: run.yaml: loss: unknown loss plugin 'broken-loss'")
    assert error.endswith("left out as broken: plugin 'broken' from ganx-broken 1.2 (see the warning above)")


def test_an_exception_in_a_register_hook_is_a_warning_naming_the_plugin(tmp_path):
    body = """
        from ganx import hookimpl

        @hookimpl
        def register_losses(register):
            raise ZeroDivisionError("boom")
    """
    env = _fake_distribution(tmp_path, body)
    listed = ganx_cli(env, "plugins")
    assert listed.returncode == 0 and "nsgan" in listed.stdout
    assert listed.stderr.splitlines() == [
        "warning: plugin 'broken' from ganx-broken 1.2 failed in register_losses (ZeroDivisionError: boom); "
        "skipped; remove it with: pip uninstall ganx-broken"
    ]
    strict = ganx_cli({**env, "GANX_STRICT_PLUGINS": "1"}, "plugins")
    assert strict.returncode != 0 and "ZeroDivisionError: boom" in strict.stderr


class HalfBroken:
    """Registers a loss, then fails registering its tricks."""

    @hookimpl
    def register_losses(self, register):
        register(Doubled)

    @hookimpl
    def register_tricks(self, register):
        raise SystemExit(3)


def test_a_plugin_whose_hook_raises_is_left_out_whole(register_plugin, tiny, capsys, monkeypatch):
    monkeypatch.setattr(plugin_manager, "_broken", {})
    register_plugin(HalfBroken())
    assert "test-doubled" not in get_catalog().names("loss")
    warning = "warning: in-process plugin 'HalfBroken' failed in register_tricks (SystemExit: 3); skipped\n"
    assert capsys.readouterr().err == warning
    with pytest.raises(UserError, match="left out as broken: in-process plugin 'HalfBroken'"):
        validate_run({**tiny, "loss": "test-doubled"}, "run.yaml")


def test_ctrl_c_while_registering_is_not_a_broken_plugin(register_plugin):
    class Interrupted:
        @hookimpl
        def register_losses(self, register):
            raise KeyboardInterrupt

    register_plugin(Interrupted())
    with pytest.raises(KeyboardInterrupt):
        get_catalog()


def test_listing_plugins_does_not_import_torch():
    code = (
        "import sys; from ganx.cli import main; sys.argv=['ganx','plugins','--json']\n"
        "try: main()\nexcept SystemExit: pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_plugins_name_shows_each_param_with_its_type_default_and_description(ganx):
    import json

    code, out, _ = ganx("plugins", "wgan", "--json")
    assert code == 0
    assert json.loads(out) == [{"category": "loss", "name": "wgan", "params": [{
        "name": "clip", "type": "float", "default": 0.01,
        "description": "clamp D's weights to [-clip, clip] after each D step; 0 = off"}]}]
    code, out, _ = ganx("plugins", "wgan")
    assert code == 0 and "clamp D's weights" in " ".join(out.split())
    code, _, err = ganx("plugins", "hnge")
    assert code == 2 and "did you mean 'hinge'" in err
