"""The sweep YAML: a base run config, named arms and/or a grid that change it, seeds, the objective,
an optional search space, and how to execute it (pruner, workers, devices, storage, launcher).

Each arm × seed is a *cell*: one fully resolved, validated :class:`RunConfig`. With ``search``, each
arm also has ``trials_per_arm`` tuning cells, and its seed cells re-run the arm's best parameters.
"""

from __future__ import annotations

import copy
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from ..config import SEED_LIMIT, RunConfig, Strict, apply_sets, blame_sets, format_errors, read_mapping, validate_run
from ..errors import UserError
from .design import SearchParam, design_arms, repeats, set_path, slug
from .slurm import check_option

EXECUTION_KEYS = (  # how a sweep runs, not what it measures
    "workers", "workers_per_gpu", "devices", "storage", "vectorize", "artifacts", "launcher",
)
MAX_CELLS = 10_000  # arms × (seeds + tuning trials), counted before any cell is built
Seed = Annotated[int, Field(ge=0, lt=SEED_LIMIT)]


class Objective(Strict):
    metric: str
    direction: Literal["maximize", "minimize"] = "maximize"


class Search(Strict):
    """Equal-budget tuning per arm (Lucic et al. 2018): TPE trials, then the best re-run over ``seeds``."""

    trials_per_arm: int = Field(gt=0, description="tuning trials every arm gets (the same budget for all)")
    seed: Seed = Field(1000, description="seed of tuning trial k is seed + k, apart from the re-run seeds")
    parameters: dict[str, SearchParam] = Field(min_length=1, description="dotted run-config path -> W&B-style entry")

    @model_validator(mode="after")
    def _seeds_fit(self) -> "Search":
        if self.seed + self.trials_per_arm > SEED_LIMIT:
            raise ValueError(f"the last tuning trial's seed, seed + trials_per_arm - 1, must be below {SEED_LIMIT}")
        return self


class Artifacts(Strict):
    """An Optuna artifact store that receives each completed cell's files, so reports work from any machine."""

    url: str = Field(description="a folder (file:///shared/ganx-artifacts, or a plain path) or s3://bucket/prefix")
    checkpoints: bool = Field(False, description="upload checkpoint.pt too (large)")

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: str) -> str:
        if "://" in url and not url.startswith(("file://", "s3://")):
            raise ValueError(f"{url!r}: expected a folder, file:///PATH or s3://BUCKET/PREFIX")
        return url


class SlurmLauncher(Strict):
    """``ganx sweep FILE`` submits a SLURM job array, as ``--slurm N --slurm-opt KEY=VALUE ...`` would."""

    tasks: int = Field(gt=0, description="array tasks, each running workers until every cell has a result")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="sbatch options, text or whole numbers, e.g. partition: gpu, gpus-per-task: 1, time: '04:00:00'",
    )

    @field_validator("options")
    @classmethod
    def _options(cls, options: dict[str, Any]) -> dict[str, Any]:
        for key, value in options.items():
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise ValueError(f"{key}: expected text or a whole number (got {value!r})")
            if key == "time" and not isinstance(value, str):
                raise ValueError(f"time: quote it, e.g. time: '04:00:00' (YAML reads an unquoted 4:00:00 as a number; "
                                 f"got {value})")
            try:
                check_option(key.replace("-", "_"), str(value))
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        return options


class Launcher(Strict):
    """Where ``ganx sweep FILE`` sends the sweep's workers instead of running them here."""

    slurm: SlurmLauncher


class SweepConfig(Strict):
    """A sweep file. ``arms`` maps an arm name to changes merged into ``base``; ``grid`` crosses them with axes."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    base: dict[str, Any]
    arms: dict[str, dict[str, Any]] = Field(default_factory=lambda: {"baseline": {}})
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="dotted path -> values; full factorial")
    seeds: list[Seed] = Field(default=[0], min_length=1)
    objective: Objective
    search: Search | None = None
    pruner: Literal["median", "hyperband", "none"] = "none"
    retries: int = Field(2, ge=0, description="re-runs of a cell whose worker died or that crashed")
    workers: int = Field(1, gt=0, description="worker processes on this machine")
    workers_per_gpu: int | None = Field(
        None, gt=0, description="workers on each device instead (K × devices workers; no devices: K workers)"
    )
    devices: list[str] = Field(default_factory=list, description="GPU indices (or cpu), one per worker in turn")
    storage: str | None = Field(None, description="Optuna storage URL; default: a journal file under results/<name>/")
    vectorize: bool = Field(
        False, description="train the waiting seeds of an arm together as one batched model where they allow it"
    )
    artifacts: Artifacts | None = Field(None, description="upload each completed cell's files to this store")
    launcher: Launcher | None = Field(None, description="submit the workers to a cluster (as --slurm N)")

    @field_validator("grid")
    @classmethod
    def _axes(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for axis, values in grid.items():
            if not values:
                raise ValueError(f"axis {axis!r} has no values")
            if twins := repeats(values):
                raise ValueError(f"axis {axis!r} lists {', '.join(map(repr, twins))} more than once "
                                 "(equal values, or values with the same name, make the same cell)")
        return grid

    @field_validator("devices", mode="before")
    @classmethod
    def _device_names(cls, devices: Any) -> Any:
        return [str(d) for d in devices] if isinstance(devices, list) else devices

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
    """One trial of the design: an arm trained with one seed (``tune`` k: the arm's k-th tuning trial)."""

    arm: str
    seed: int
    config: RunConfig
    tune: int | None = None
    resolved: dict[str, Any] | None = field(default=None, compare=False, repr=False)  # base + arm + grid, as written

    @property
    def key(self) -> str:
        return f"{self.arm}/t{self.tune}" if self.tune is not None else f"{self.arm}/s{self.seed}"

    @property
    def folder(self) -> str:
        return f"tune/{slug(self.arm)}-t{self.tune}" if self.tune is not None else f"{slug(self.arm)}-s{self.seed}"


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
    arms: list[str]
    tuning: dict[str, list[Cell]]
    factors: dict[str, dict[str, Any]]

    @property
    def summary(self) -> str:
        """``4 arms × 3 seeds = 12 cells`` (+ the tuning budget of a search sweep)."""
        arms, seeds, cells = len(self.arms), len(self.config.seeds), len(self.cells)
        text = f"{arms} arm{'s' * (arms != 1)} × {seeds} seed{'s' * (seeds != 1)} = {cells} cell{'s' * (cells != 1)}"
        if self.config.search:
            text += f", after {self.config.search.trials_per_arm} tuning trials per arm"
        return text

    @property
    def design(self) -> dict[str, Any]:
        """The raw mapping without the keys that only say how to execute it (for the changed-YAML check)."""
        out = {k: v for k, v in self.raw.items() if k not in EXECUTION_KEYS}
        out["base"] = {k: v for k, v in (out.get("base") or {}).items() if k not in ("device", "threads", "loggers")}
        return out

    @property
    def metrics(self) -> list[str]:
        return [m.name for m in self.cells[0].config.metrics]


def validate_sweep(data: dict[str, Any], source: str, catalog=None) -> Sweep:
    """Validate the sweep and every arm's resolved run config; a UserError lists every problem."""
    try:
        sweep = SweepConfig.model_validate(data)
    except ValidationError as exc:
        raise UserError(*(f"{source}: {line}" for line in format_errors(exc, SweepConfig))) from None
    check_size(sweep, source)
    if sweep.workers_per_gpu and "workers" in sweep.model_fields_set:
        raise UserError(f"{source}: workers_per_gpu: give it or workers, not both (K workers per GPU makes K × GPUs "
                        "workers)")
    if sweep.vectorize and sweep.pruner != "none" and not sweep.search:
        raise UserError(f"{source}: vectorize: an arm's seeds train together, so pruner {sweep.pruner!r} cannot stop "
                        "one of them (use pruner: none, or vectorize: false)")
    problems, cells, arms, tuning, factors = [], [], [], {}, {}
    for path, param in (sweep.search.parameters.items() if sweep.search else ()):
        unknown = [arm for arm in param.arms or () if arm not in sweep.arms or "arms" not in data]
        if unknown and "arms" not in data:
            problems.append(f"{source}: search.parameters.{path}.arms: this sweep has no arms (a grid's cells "
                            "all draw every parameter)")
        elif unknown:
            problems.append(f"{source}: search.parameters.{path}.arms: no arm named {unknown[0]!r} "
                            f"(valid: {', '.join(sweep.arms)})")
    failing: dict[str, list[str]] = {}  # a resolved config's problem -> where it failed (base, arms.x, ...)
    design = design_arms(sweep.arms, sweep.grid, "arms" in data)
    check_names([arm for arm, _, _ in design], source)
    for arm, change, point in design:
        where = (
            f"{source}: " + (f"arms.{arm.split(',')[0]}" if change else "base") + (f" (cell {arm})" if point else "")
        )
        resolved = merge(sweep.base, change)
        try:
            for path, value in point.items():
                resolved = set_path(resolved, path, value)
            config = validate_run(resolved, where, catalog)
            if sweep.search:
                example = resolved
                for path, param in sweep.search.parameters.items():
                    if param.draws_for(arm):
                        example = set_path(example, path, param.example())
                validate_run(example, f"{source}: search.parameters", catalog)
        except UserError as exc:
            for problem in exc.problems:
                if problem.startswith(f"{where}: "):
                    failing.setdefault(problem.removeprefix(f"{where}: "), []).append(where)
                elif problem not in problems:
                    problems.append(problem)
            continue
        metrics = [m.name for m in config.metrics]
        if sweep.objective.metric not in metrics:
            problems.append(
                f"{source}: objective.metric: {sweep.objective.metric!r} is not computed by arm {arm!r} "
                f"(its metrics: {', '.join(metrics) or 'none'})"
            )
        name = f"{sweep.name}-{slug(arm)}"
        arms.append(arm)
        factors[arm] = point
        written = resolved if sweep.search else None  # what search paths apply to
        cells += [
            Cell(arm, seed, config.model_copy(update={"seed": seed, "name": f"{name}-s{seed}"}), resolved=written)
            for seed in sweep.seeds
        ]
        if sweep.search:
            first = sweep.search.seed
            tuning[arm] = [
                Cell(arm, first + k, config.model_copy(update={"seed": first + k, "name": f"{name}-t{k}"}), tune=k,
                     resolved=written)
                for k in range(sweep.search.trials_per_arm)
            ]
    in_base = base_problems(sweep.base, catalog) if failing else set()
    problems = [  # a problem of base itself that every arm repeats: said once
        line for rest, wheres in failing.items()
        for line in ([f"{source}: base: {rest}"] if rest in in_base and len(wheres) == len(design)
                     else [f"{w}: {rest}" for w in wheres])
    ] + problems
    if problems:
        raise UserError(*problems)
    return Sweep(sweep, cells, data, source, arms, tuning, factors)


def check_size(sweep: SweepConfig, source: str) -> None:
    """Refuse a design of more than MAX_CELLS cells, counted from the axis lengths before any is built."""
    arms = len(sweep.arms) * math.prod(len(values) for values in sweep.grid.values())
    trials = sweep.search.trials_per_arm if sweep.search else 0
    cells = arms * (len(sweep.seeds) + trials)
    if cells > MAX_CELLS:
        raise UserError(
            f"{source}: the design has {cells:,} cells ({arms:,} arms × ({len(sweep.seeds)} seeds + {trials} "
            f"tuning trials)); at most {MAX_CELLS:,} are allowed, so split it into several sweeps"
        )


def check_names(arms: list[str], source: str) -> None:
    """Refuse two grid cells that get the same arm name (values whose labels join into the same text)."""
    twins = sorted(arm for arm, count in Counter(arms).items() if count > 1)
    if twins:
        raise UserError(f"{source}: grid: several cells are named {twins[0]!r}; give the values distinct names")


def base_problems(base: dict[str, Any], catalog) -> set[str]:
    """The problems of ``base`` validated alone (an incomplete base that every arm completes has some too)."""
    try:
        validate_run(base, "base", catalog)
    except UserError as exc:
        return {problem.removeprefix("base: ") for problem in exc.problems}
    return set()


def with_params(cell: Cell, params: dict[str, Any], catalog=None) -> Cell:
    """The cell with searched parameters set, re-validated. The dotted paths apply to the config as the
    sweep file writes it (base, arm and grid merged), as validation checked them."""
    if cell.resolved is not None:
        data = {**cell.resolved, "seed": cell.seed, "name": cell.config.name}
    else:
        data = cell.config.dump()
    for path, value in params.items():
        data = set_path(data, path, value)
    return Cell(cell.arm, cell.seed, validate_run(data, f"cell {cell.key}", catalog), cell.tune, cell.resolved)


def schema() -> dict[str, Any]:
    """The JSON Schema of the sweep YAML (published as docs/sweep.schema.json)."""
    out = SweepConfig.model_json_schema()
    out["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    out["title"] = "ganx sweep"
    # In a file, ``base`` may also name a run config file; load_sweep reads it before validation.
    base = out["properties"]["base"]
    out["properties"]["base"] = {
        "title": base.get("title", "Base"),
        "anyOf": [
            {k: v for k, v in base.items() if k != "title"},
            {"type": "string", "description": "path of a run config file, relative to the sweep file"},
        ],
    }
    return out


def load_sweep(path: Path, sets: list[str] = (), catalog=None) -> Sweep:
    """Read, override (``--set``) and validate a sweep file.

    ``base`` may name a run config file instead (relative to the sweep file), to ablate it unchanged.
    """
    data = read_mapping(path)
    if isinstance(data.get("base"), str):
        try:
            data["base"] = read_mapping(Path(path).parent / data["base"])
        except UserError as exc:
            raise UserError(*(f"{path}: base: {problem}" for problem in exc.problems)) from None
    try:
        return validate_sweep(apply_sets(data, list(sets)), str(path), catalog)
    except UserError as exc:
        raise UserError(*blame_sets(exc.problems, str(path), list(sets))) from None
