"""The experimental design of a sweep: arms × grid cells, and the search space of the tuning protocol.

A grid is a full factorial over named axes (dotted paths into the run config); each combination
becomes an arm named readably after its values, e.g. ``loss=hinge,norm=instance``. A search space
is written as W&B-style parameter entries and sampled through Optuna's distributions.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import math
import re
import unicodedata
from typing import Any, Literal

from pydantic import Field, model_validator

from ..config import Strict
from ..errors import UserError

SLUG_WIDTH = 80  # folder names stay far below the file systems' 255 bytes

DISTRIBUTIONS = (
    "constant",
    "categorical",
    "int_uniform",
    "uniform",
    "q_uniform",
    "log_uniform",
    "log_uniform_values",
)


def label(value: Any) -> str:
    """A short readable name for one grid value: ``hinge``, ``none``, ``a+b``, ``mlp(hidden=[8])``."""
    if isinstance(value, list):
        return "+".join(label(v) for v in value) or "none"
    if isinstance(value, dict):
        rest = ",".join(f"{k}={label(v)}" for k, v in value.items() if k != "name")
        if "name" in value:
            return f"{value['name']}({rest})" if rest else str(value["name"])
        return f"({rest})"
    return str(value)


def slug(arm: str) -> str:
    """An arm name made safe for run names and folders, distinct for distinct arms by construction.

    A short name of lowercase letters, digits, ``_``, ``.`` and single ``-`` is its own slug
    (``baseline``). Any other name gets a readable ASCII form, ``--`` and a hash of the exact name
    (``loss=hinge,norm=batch`` → ``loss-hinge_norm-batch--0c874cffd460``, ``DCGAN`` →
    ``DCGAN--…``), which a name of the first kind cannot look like since it holds no ``--``. Slugs
    differ even ignoring case, so folders stay apart on case-insensitive file systems (macOS, Windows).
    """
    if len(arm) <= SLUG_WIDTH and "--" not in arm and re.fullmatch(r"[a-z0-9_.-]+", arm):
        return arm
    readable = unicodedata.normalize("NFKD", arm).encode("ascii", "ignore").decode().replace("=", "-")
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", readable)[:SLUG_WIDTH] or "_"
    return f"{readable}--{hashlib.sha256(arm.encode(errors='surrogatepass')).hexdigest()[:12]}"


def repeats(values: list[Any]) -> list[str]:
    """The labels of values that equal an earlier one or share its label: each would make the same cell."""
    seen, names, out = set(), set(), []
    for value in values:
        key, name = frozen(value), label(value)
        if key in seen or name in names:
            out.append(name)
        seen.add(key)
        names.add(name)
    return out


def frozen(value: Any) -> Any:
    """A hashable stand-in for a YAML value, equal exactly when the values are (so 1, 1.0 and true are one)."""
    if isinstance(value, dict):
        return ("mapping", frozenset((frozen(k), frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(frozen(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", frozenset(value))
    return value


def set_path(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``data`` with the dotted ``path`` set to ``value`` (missing mappings are created, and a
    plugin named by a string becomes ``{name: ...}`` to take params).

    A whole-number part indexes a list written in ``data``, e.g. ``optimizer.betas.0`` or ``tricks.0.p``.
    """
    out = copy.deepcopy(data)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        slot = list_index(node, key, path) if isinstance(node, list) else key
        if isinstance(node, dict) and key not in node:
            node[key] = {}
        if isinstance(node[slot], str) or (isinstance(node, dict) and not isinstance(node[slot], (dict, list))):
            node[slot] = {"name": node[slot]}
        elif not isinstance(node[slot], (dict, list)):
            raise UserError(f"{path}: {key!r} is {node[slot]!r}, which has no parts to set")
        node = node[slot]
    node[list_index(node, last, path) if isinstance(node, list) else last] = copy.deepcopy(value)
    return out


def list_index(node: list, key: str, path: str) -> int:
    """``key`` as an index of the list ``node``; a UserError naming ``path`` if it is not one."""
    if not key.isdigit() or int(key) >= len(node):
        where = f"0 to {len(node) - 1}" if node else "it is empty"
        raise UserError(f"{path}: {key!r} is not an index of {node!r} ({where})")
    return int(key)


def grid_points(grid: dict[str, list[Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Every combination of the axes, in order, as (name, {path: value}). Names must differ."""
    if not grid:
        return [("", {})]
    axes = list(grid)
    points = []
    for values in itertools.product(*(grid[axis] for axis in axes)):
        name = ",".join(f"{axis}={label(v)}" for axis, v in zip(axes, values))
        points.append((name, dict(zip(axes, values))))
    return points


def design_arms(arms: dict[str, dict[str, Any]], grid: dict[str, list[Any]], explicit_arms: bool):
    """(arm name, arm change, grid values) for every arm × grid point; grid values win over the arm."""
    out = []
    for arm, change in arms.items():
        for point, values in grid_points(grid):
            name = ",".join(part for part in (arm if explicit_arms or not grid else "", point) if part)
            out.append((name, change, values))
    return out


class SearchParam(Strict):
    """One W&B-style parameter entry. Bounds are inclusive."""

    distribution: Literal[DISTRIBUTIONS] | None = None
    value: Any = None
    values: list[Any] | None = None
    min: int | float | None = None
    max: int | float | None = None
    q: float | None = None
    arms: list[str] | None = Field(None, min_length=1, description="only these arms draw it (default: every arm)")

    @model_validator(mode="after")
    def _complete(self) -> "SearchParam":
        kind = self.kind
        if kind == "constant" and self.value is None:
            raise ValueError("a constant needs 'value'")
        if kind == "categorical" and not self.values:
            raise ValueError("a categorical needs a non-empty 'values' list")
        if kind not in ("constant", "categorical"):
            if self.min is None or self.max is None:
                raise ValueError(f"{kind} needs 'min' and 'max'")
            if self.min > self.max:
                raise ValueError(f"min ({self.min}) is above max ({self.max})")
            if kind == "int_uniform" and not (float(self.min).is_integer() and float(self.max).is_integer()):
                raise ValueError("int_uniform needs whole-number min and max")
            if kind == "log_uniform_values" and self.min <= 0:
                raise ValueError("log_uniform_values needs min > 0")
            if kind == "q_uniform" and not self.q:
                raise ValueError("q_uniform needs 'q' (the step)")
        return self

    @property
    def kind(self) -> str:
        """The distribution, inferred as W&B does when it is not given."""
        if self.distribution:
            return self.distribution
        if self.value is not None:
            return "constant"
        if self.values is not None:
            return "categorical"
        return "int_uniform" if isinstance(self.min, int) and isinstance(self.max, int) else "uniform"

    def draws_for(self, arm: str) -> bool:
        """Whether ``arm`` (a name of ``arms``, or a grid cell ``arm,axis=level``) draws this parameter."""
        return self.arms is None or arm.split(",")[0] in self.arms

    def suggest(self, trial, name: str) -> Any:
        """Draw this parameter for an Optuna trial (TPE chooses, the distribution bounds it)."""
        kind = self.kind
        if kind == "constant":
            return self.value
        if kind == "categorical":
            if all(v is None or isinstance(v, (bool, int, float, str)) for v in self.values):
                return trial.suggest_categorical(name, self.values)
            index = trial.suggest_categorical(name, list(range(len(self.values))))  # lists and mappings
            return copy.deepcopy(self.values[index])
        if kind == "int_uniform":
            return trial.suggest_int(name, int(self.min), int(self.max))
        if kind == "uniform":
            return trial.suggest_float(name, self.min, self.max)
        if kind == "q_uniform":
            return trial.suggest_float(name, self.min, self.max, step=self.q)
        if kind == "log_uniform":  # W&B: min and max are natural-log exponents
            return trial.suggest_float(name, math.exp(self.min), math.exp(self.max), log=True)
        return trial.suggest_float(name, self.min, self.max, log=True)

    def example(self) -> Any:
        """One valid value, used to check that the parameter's path gives a valid run config."""
        kind = self.kind
        if kind == "constant":
            return self.value
        if kind == "categorical":
            return self.values[0]
        if kind == "int_uniform":
            return int(self.min)
        return math.exp(self.min) if kind == "log_uniform" else self.min
