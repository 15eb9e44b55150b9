"""The public API plugin authors build on: it exists, it is documented, it is cheap to import,
and the built-ins use nothing else."""

from __future__ import annotations

import ast
import doctest
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import ganx

PLUGINS = Path(__file__).parent.parent / "plugins"

PUBLIC = {
    "hookimpl", "hookspecs", "Params", "Plugin", "Loss", "Trick", "Architecture", "Normalization", "Dataset",
    "Metric", "Run", "DBatch", "GBatch", "Evaluation", "TrainingHooks", "UserError", "TrainingFailure",
    "Initialization", "Logger", "atomic_write",
}  # fmt: skip


def test_the_public_names_are_exported():
    assert set(ganx.__all__) == PUBLIC
    assert all(hasattr(ganx, name) for name in PUBLIC)


@pytest.mark.parametrize("name", sorted(PUBLIC - {"hookimpl", "hookspecs"}))
def test_every_public_class_or_function_has_a_docstring(name):
    doc = inspect.getdoc(getattr(ganx, name))
    assert doc and len(doc) > 20


@pytest.mark.parametrize("base", ["Params", "Loss", "Trick", "Architecture", "Normalization", "Dataset", "Metric"])
def test_plugin_base_classes_carry_an_example(base):
    assert ">>>" in inspect.getdoc(getattr(ganx, base))


def test_the_examples_in_the_public_docstrings_run():
    import ganx.components

    result = doctest.testmod(ganx.components, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 20 and result.failed == 0


def test_importing_ganx_and_its_hookspecs_and_testing_kit_does_not_import_torch():
    code = "import sys, ganx, ganx.hookspecs, ganx.testing; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def ganx_imports(path: Path) -> list[str]:
    """Every absolute ``ganx...`` module a source file imports (at any depth: lazy imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return [m for m in found if m == "ganx" or m.startswith("ganx.")]


def test_built_in_plugins_import_only_the_public_api():
    allowed = lambda module: module == "ganx" or module == "ganx.plugins" or module.startswith("ganx.plugins.")  # noqa: E731
    sources = sorted(PLUGINS.rglob("*.py"))
    assert len(sources) > 5
    private = {f"{p.relative_to(PLUGINS)}: {m}" for p in sources for m in ganx_imports(p) if not allowed(m)}
    assert not private, "built-ins must use only `from ganx import ...`"


def test_the_testing_kit_is_documented_in_the_tutorial():
    tutorial = (Path(__file__).parent.parent / "docs" / "writing-plugins.md").read_text()
    assert "from ganx.testing import" in tutorial


def test_only_the_optuna_adapter_reaches_past_optunas_public_api():
    """``study._storage``, ``trial._trial_id``, ``optuna._...`` modules and the like appear in
    ``harness/sweep/optuna_adapter.py`` alone: outside it, no underscore attribute of anything but ``self``
    (and torch's ``_foreach`` kernels)."""
    core = Path(__file__).parent.parent / "harness"
    found = set()
    for path in sorted([*core.rglob("*.py"), *PLUGINS.rglob("*.py")]):
        if path.name == "optuna_adapter.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "torch"))):
                found.add(f"{path.name}:{node.lineno} .{node.attr}")
            modules = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            found |= {f"{path.name}:{node.lineno} {m}" for m in modules if m.startswith("optuna") and "._" in m}
    assert not found, "go through ganx.sweep.optuna_adapter"


def core_imports(path: Path, core: Path) -> list[str]:
    """Every ``ganx...`` module a core source file imports, relative imports resolved (lazy imports too)."""
    package = ["ganx", *path.parent.relative_to(core).parts]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found += [module] + [f"{module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def test_the_core_never_imports_the_built_in_plugins():
    """The core names no built-in: they register through the entry point, as a third party's do."""
    core = Path(__file__).parent.parent / "harness"
    found = {
        f"{path.relative_to(core)}: {module}"
        for path in sorted(core.rglob("*.py")) for module in core_imports(path, core)
        if module == "ganx.plugins" or module.startswith("ganx.plugins.")
    }
    assert "ganx.trainer" in core_imports(core / "sweep" / "batched.py", core)  # ``from .. import trainer``
    assert not found, "the core must not import ganx.plugins"


def test_a_plugin_built_with_bad_params_is_a_user_error_naming_each_field():
    from pydantic import Field

    class TopK(ganx.Trick):
        name = "top_k"

        class Params(ganx.Params):
            keep: float = Field(0.5, gt=0, le=1)

    assert TopK(keep=0.25).params.keep == 0.25
    with pytest.raises(ganx.UserError) as err:
        TopK(keep=2, kep=0.1)
    assert err.value.problems == [
        "trick top_k.keep: Input should be less than or equal to 1 (got 2)",
        "trick top_k.kep: unknown key; did you mean 'keep'? (valid: keep)",
    ]


def test_the_testing_kit_lists_the_catalogue():
    from ganx.testing import catalog

    assert "hinge" in catalog().names("loss") and catalog().get("trick", "ema").name == "ema"
