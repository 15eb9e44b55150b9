"""docs/hooks.md documents every hook with its exact signature (as datasette's docs test does), and nothing stale.

The signature is rebuilt from the hook's source (names, annotations and defaults as written), and
cross-checked against ``inspect.signature`` so a renamed or added argument cannot slip through.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path

import pluggy
import pytest

from ganx import (
    Architecture,
    Dataset,
    Initialization,
    Logger,
    Loss,
    Metric,
    Normalization,
    Plugin,
    TrainingHooks,
    hookimpl,
    hookspecs,
)
from ganx.components import HOOK_POINTS, STATE_METHODS
from ganx.plugin_manager import CATEGORIES, get_catalog

DOC = (Path(__file__).parent.parent / "docs" / "hooks.md").read_text()

HOOKSPECS = sorted((name, fn) for name, fn in vars(hookspecs).items() if hasattr(fn, "ganx_spec"))
TRAINING_HOOKS = [(name, getattr(TrainingHooks, name)) for name in HOOK_POINTS]
PLUGIN_METHODS = [
    (f"{cls.__name__}.{name}", getattr(cls, name))
    for cls, names in [
        (Loss, ["d_loss", "g_loss"]),
        (Architecture, ["build_generator", "build_discriminator"]),
        (Normalization, ["layer", "wrap"]),
        (Initialization, ["weight_", "apply"]),
        (Dataset, ["load", "modes"]),
        (Metric, ["compute", "protocol"]),
        (Logger, ["start", "log", "evaluation", "finish"]),
        (TrainingHooks, list(STATE_METHODS)),
        (Plugin, ["conflicts"]),
    ]
    for name in names
]


def written_signature(fn) -> str:
    """``def name(args) -> returns`` exactly as in the source."""
    node = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    line = f"def {node.name}({ast.unparse(node.args)}){returns}"
    assert [a.arg for a in node.args.args] == list(inspect.signature(getattr(fn, "__func__", fn)).parameters)
    return line


def documented() -> dict[str, str]:
    """Every ``def`` line inside a python code block of docs/hooks.md, by function name."""
    blocks = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)
    lines = [line.rstrip(":") for block in blocks for line in block.splitlines() if line.startswith("def ")]
    return {re.match(r"def (\w+)", line).group(1): line for line in lines}


def test_the_hookspecs_checked_here_are_all_the_plugin_manager_knows():
    pm = pluggy.PluginManager("ganx")
    pm.add_hookspecs(hookspecs)
    assert sorted(name for name in vars(pm.hook) if not name.startswith("_")) == [n for n, _ in HOOKSPECS]
    assert set(CATEGORIES.values()) <= {n for n, _ in HOOKSPECS}


@pytest.mark.parametrize(
    "name, fn", HOOKSPECS + TRAINING_HOOKS + PLUGIN_METHODS, ids=lambda x: x if isinstance(x, str) else ""
)
def test_hook_is_documented_with_its_exact_signature(name, fn):
    found = documented()
    short = name.rpartition(".")[2]
    assert short in found, f"docs/hooks.md does not document {name}"
    assert found[short] == written_signature(fn)


def test_docs_document_no_hook_that_does_not_exist():
    real = {name.rpartition(".")[2] for name, _ in HOOKSPECS + TRAINING_HOOKS + PLUGIN_METHODS}
    assert set(documented()) <= real


def test_training_hooks_are_documented_in_loop_order():
    positions = [DOC.index(f"def {name}(") for name in HOOK_POINTS]
    assert positions == sorted(positions)


# Version safety: hook arguments are only ever added, and an implementation may take fewer.


class TakesNothing:
    """A plugin written against a (hypothetical) older spec whose hook had no arguments."""

    calls = 0

    @staticmethod
    @hookimpl
    def register_losses():
        TakesNothing.calls += 1


def test_an_implementation_with_fewer_arguments_than_the_spec_is_called(register_plugin):
    register_plugin(TakesNothing)
    before = TakesNothing.calls
    assert "nsgan" in get_catalog().names("loss")
    assert TakesNothing.calls == before + 1


def test_a_hook_gaining_an_argument_keeps_old_implementations_working():
    class Future:
        """A later hookspec with one more argument than today's."""

        @pluggy.HookspecMarker("ganx")
        def register_losses(self, register, catalog_version):
            """"""

    seen = []

    class Today:
        @staticmethod
        @hookimpl
        def register_losses(register):
            register("today's loss")

    pm = pluggy.PluginManager("ganx")
    pm.add_hookspecs(Future)
    pm.register(Today)
    pm.hook.register_losses(register=seen.append, catalog_version=2)
    assert seen == ["today's loss"]


def test_an_implementation_asking_for_an_unknown_argument_is_refused_at_load():
    class Wrong:
        @staticmethod
        @hookimpl
        def register_losses(register, nonsense):
            pass

    pm = pluggy.PluginManager("ganx")
    pm.add_hookspecs(hookspecs)
    with pytest.raises(pluggy.PluginValidationError, match="nonsense"):
        pm.register(Wrong)
