"""``ganx new-plugin NAME``: a ready-to-install ``ganx-NAME`` package with one trick and a passing test."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from .errors import UserError

NAME = re.compile(r"^[a-z][a-z0-9]*([-_][a-z0-9]+)*$")

PYPROJECT = Template('''\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "ganx-$name"
version = "0.1.0"
description = "A ganx plugin: $snake"
readme = "README.md"
requires-python = ">=3.10"
license = "MIT"
dependencies = ["ganx"]

# ganx loads every module named in this group; `ganx plugins` then lists what it registers.
[project.entry-points.ganx]
$snake = "$module"

[tool.setuptools]
packages = ["$module"]

[tool.pytest.ini_options]
pythonpath = ["."]  # the tests import $module without an install, too
''')

INIT = Template('''\
"""ganx-$name: ganx calls the hooks below once, when it builds its plugin catalogue.

Add a loss with ``register_losses``, a dataset with ``register_datasets``, and so on:
see docs/writing-plugins.md and docs/hooks.md in the ganx repository.
"""

from __future__ import annotations

from pydantic import Field

from ganx import Params, Trick, hookimpl


class Drift(Trick):
    """An example trick to replace with yours: ProGAN's drift penalty (Karras et al. 2018).

    Adds ``weight · E[D(x)²]`` to D's loss, so D's logits on real data do not drift far from 0.
    """

    name = "${snake}_drift"  # rename it with the trick you write

    class Params(Params):
        weight: float = Field(0.001, ge=0, description="ε, the weight of the drift penalty")

    def adjust_d_loss(self, d_loss, batch, run):
        return d_loss + self.params.weight * batch.real_logits.pow(2).mean()


@hookimpl
def register_tricks(register):
    register(Drift)
''')

TEST = Template('''\
"""Tests of ganx-$name, written with ganx's testing kit: they pass with or without the package installed."""

import torch

import $module
from ganx import DBatch
from ganx.testing import train_tiny


def test_the_penalty_is_weight_times_mean_squared_real_logit():
    trick = $module.Drift(weight=0.5)
    logits = torch.tensor([2.0, 0.0])
    batch = DBatch(real=None, fake=None, real_logits=logits, fake_logits=logits)
    assert trick.adjust_d_loss(torch.tensor(1.0), batch, run=None).item() == 1.0 + 0.5 * 2.0


def test_the_trick_changes_training_only_when_its_weight_is_not_zero():
    baseline = train_tiny($module).losses
    assert train_tiny($module, tricks=[{"name": "${snake}_drift", "weight": 0.0}]).losses == baseline
    assert train_tiny($module, tricks=[{"name": "${snake}_drift", "weight": 1.0}]).losses != baseline
''')

README = Template('''\
# ganx-$name

A plugin for ganx, the GAN ablation harness. It adds the trick `${snake}_drift`, an example (ProGAN's drift
penalty) to replace with your own trick.

```console
$$ pip install -e . pytest   # now `ganx plugins` lists it
$$ pytest                    # its tests, using ganx.testing
```

Use it in a run or sweep config: `tricks: [{name: ${snake}_drift, weight: 0.001}]`.
''')

GITIGNORE = "__pycache__/\n*.egg-info/\nbuild/\ndist/\n"


def new_plugin(name: str, parent: Path = Path(".")) -> Path:
    """Write ``parent/ganx-NAME/`` and return it; a bad name or an existing folder is a UserError."""
    if name.startswith("ganx-") or name.startswith("ganx_"):
        raise UserError(
            f"NAME {name!r}: leave out the 'ganx-' prefix, it is added for you (try: ganx new-plugin {name[5:]})"
        )
    if not NAME.match(name):
        raise UserError(
            f"NAME {name!r}: use lowercase letters and digits, separated by single '-' or '_', "
            "starting with a letter (e.g. 'my-tricks')"
        )
    root = Path(parent) / f"ganx-{name}"
    if root.exists():
        raise UserError(f"{root}: already exists; nothing was written (choose another NAME or remove it)")
    snake = name.replace("-", "_")
    module = f"ganx_{snake}"
    fields = {"name": name, "snake": snake, "module": module}
    files = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"{module}/__init__.py": INIT,
        f"tests/test_{snake}.py": TEST,
    }
    try:
        for path, template in files.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(template.substitute(fields))
        (root / ".gitignore").write_text(GITIGNORE)
    except OSError as exc:
        raise UserError(f"{root}: cannot write the package ({exc.strerror or exc})") from None
    return root
