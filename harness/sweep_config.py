"""The sweep YAML: a base run config, named arms that change it, seeds, and the objective.

Each arm × seed is a *cell*: one fully resolved, validated :class:`RunConfig`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from .config import RunConfig, Strict, apply_sets, format_errors, read_mapping, validate_run
from .errors import UserError


class Objective(Strict):
    metric: str
    direction: Literal["maximize", "minimize"] = "maximize"


class SweepConfig(Strict):
    """A sweep file. ``arms`` maps an arm name to changes merged into ``base``."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    base: dict[str, Any]
    arms: dict[str, dict[str, Any]] = Field(default_factory=lambda: {"baseline": {}})
    seeds: list[int] = Field(default=[0], min_length=1)
    objective: Objective
    storage: str | None = None

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds are repeated: {seeds}")
        return seeds

    @field_validator("arms")
    @classmethod
    def _arm_names(cls, arms: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        if not arms:
            raise ValueError("at least one arm is needed, e.g. baseline: {}")
        for arm, change in arms.items():
            if not str(arm).replace("-", "").replace("_", "").replace(".", "").isalnum():
                raise ValueError(f"arm name {arm!r} may only hold letters, digits, '-', '_' and '.'")
            if change is None:
                arms[arm] = {}
        return arms


@dataclass(frozen=True)
class Cell:
    """One trial of the design: an arm trained with one seed."""

    arm: str
    seed: int
    config: RunConfig

    @property
    def key(self) -> str:
        return f"{self.arm}/s{self.seed}"


def merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``change`` merged in: mappings merge key by key, anything else (lists too) replaces."""
    out = copy.deepcopy(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass
class Sweep:
    """A validated sweep: its settings, its cells in order, and the raw mapping it came from."""

    config: SweepConfig
    cells: list[Cell]
    raw: dict[str, Any]
    source: str

    @property
    def arms(self) -> list[str]:
        return list(self.config.arms)

    @property
    def metrics(self) -> list[str]:
        return [m.name for m in self.cells[0].config.metrics]


def validate_sweep(data: dict[str, Any], source: str, catalog=None) -> Sweep:
    """Validate the sweep and every arm's resolved run config; a UserError lists every problem."""
    try:
        sweep = SweepConfig.model_validate(data)
    except ValidationError as exc:
        raise UserError(*(f"{source}: {line}" for line in format_errors(exc, SweepConfig))) from None
    problems, cells = [], []
    for arm, change in sweep.arms.items():
        where = f"{source}: arms.{arm}" if change else f"{source}: base"
        try:
            config = validate_run(merge(sweep.base, change), where, catalog)
        except UserError as exc:
            problems += [p for p in exc.problems if p not in problems]
            continue
        metrics = [m.name for m in config.metrics]
        if sweep.objective.metric not in metrics:
            problems.append(
                f"{source}: objective.metric: {sweep.objective.metric!r} is not computed by arm {arm!r} "
                f"(its metrics: {', '.join(metrics) or 'none'})"
            )
        name = f"{sweep.name}-{arm}"
        cells += [Cell(arm, seed, config.model_copy(update={"seed": seed, "name": f"{name}-s{seed}"})) for seed in sweep.seeds]
    if problems:
        raise UserError(*problems)
    return Sweep(sweep, cells, data, source)


def load_sweep(path: Path, sets: list[str] = (), catalog=None) -> Sweep:
    """Read, override (``--set``) and validate a sweep file."""
    return validate_sweep(apply_sets(read_mapping(path), list(sets)), str(path), catalog)
