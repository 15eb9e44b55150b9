"""The typed schema of one training run, and how YAML and ``--set`` become a validated config.

Every problem is reported as one line naming the file and field path; plugin params are checked
against the plugin's own ``Params`` schema.
"""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from .components import TrainingHooks
from .errors import UserError
from .safe_yaml import apply_sets, parse_yaml, read_mapping, short  # noqa: F401 (parse_yaml: re-exported)

SEED_LIMIT = 2**32  # seeds are 0 <= seed < 2**32; derived seeds (seed * 1_000_003 + 2**32) still fit torch's 64 bits
MAX_BATCH = 65_536  # batch_size and latent_dim
MAX_EVAL_SAMPLES = 100_000  # twice the 50k of the FID protocol
MAX_THREADS = 1024  # libgomp aborts the process far above this


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Spec(Strict):
    """A plugin reference: ``NAME`` or ``{name: NAME, ...params}``."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"name": value}
        if isinstance(value, dict) and "params" not in value:
            rest = {k: v for k, v in value.items() if k != "name"}
            return {"name": value.get("name"), "params": rest}
        return value

    def dump(self) -> str | dict[str, Any]:
        return {"name": self.name, **self.params} if self.params else self.name


class Pair(Strict):
    """One spec per network: ``SPEC`` (the same for G and D) or ``{g: SPEC, d: SPEC}``."""

    g: Spec
    d: Spec

    @model_validator(mode="before")
    @classmethod
    def _same_for_both(cls, value: Any) -> Any:
        if isinstance(value, dict) and value and set(value) <= {"g", "d"}:
            return value
        return {"g": value, "d": value}


Beta = Annotated[float, Field(ge=0, lt=1)]


class Optimizer(Strict):
    """A torch optimizer and its settings (fields a given optimizer does not take are ignored)."""

    name: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    lr: float = Field(2e-4, gt=0)
    betas: tuple[Beta, Beta] = (0.5, 0.999)
    momentum: float = Field(0.0, ge=0, le=1)
    weight_decay: float = Field(0.0, ge=0)
    eps: float = Field(1e-8, gt=0)


class Optimizers(Strict):
    """``{g: OPT, d: OPT}``, or one optimizer for both."""

    g: Optimizer = Field(default_factory=Optimizer)
    d: Optimizer = Field(default_factory=Optimizer)

    @model_validator(mode="before")
    @classmethod
    def _same_for_both(cls, value: Any) -> Any:
        if isinstance(value, dict) and value and not set(value) <= {"g", "d"}:
            return {"g": value, "d": value}
        return value


class Eval(Strict):
    """When and on how many samples the metrics are computed (always also at the last step)."""

    every: int = Field(0, ge=0, description="steps between evaluations; 0 = only at the end")
    samples: int = Field(2500, gt=0, le=MAX_EVAL_SAMPLES)


PLUGIN_FIELDS = {"dataset": "dataset", "arch": "architecture", "norm": "normalization", "init": "initialization",
                 "loss": "loss", "tricks": "trick", "metrics": "metric", "loggers": "logger"}  # key -> category


class RunConfig(Strict):
    """Everything one training run needs."""

    name: str = Field("run", pattern=r"^[A-Za-z0-9_.-]+$")
    dataset: Spec
    arch: Pair = Field(default_factory=lambda: Pair.model_validate("mlp"))
    norm: Pair = Field(default_factory=lambda: Pair.model_validate("none"))
    init: Pair = Field(default_factory=lambda: Pair.model_validate("default"))
    loss: Spec = Field(default_factory=lambda: Spec.model_validate("nsgan"))
    tricks: list[Spec] = Field(default_factory=list)
    labels: Literal["none", "uniform", "frequency"] = Field(
        "none", description="class labels, for a conditional GAN: none (unconditional), or G's labels drawn "
                            "uniformly or at the data's class frequencies (D sees each sample's label)"
    )
    optimizer: Optimizers = Field(default_factory=Optimizers)
    steps: int = Field(gt=0)
    batch_size: int = Field(64, gt=0, le=MAX_BATCH)
    latent_dim: int = Field(64, gt=0, le=MAX_BATCH)
    seed: int = Field(0, ge=0, lt=SEED_LIMIT)
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$")
    threads: int = Field(0, ge=0, le=MAX_THREADS, description="torch CPU threads; 0 = torch's default")
    amp: Literal["off", "bf16", "fp16"] = Field(
        "off", description="mixed precision (fp16: CUDA only, with a GradScaler)"
    )
    channels_last: bool = Field(False, description="NHWC memory layout for conv archs (faster on recent GPUs)")
    compile: bool = Field(False, description="torch.compile G and D (pays off on long GPU runs)")
    log_every: int = Field(100, gt=0)
    data_dir: Path | None = None
    eval: Eval = Field(default_factory=Eval)
    metrics: list[Spec] = Field(default_factory=list)
    loggers: list[Spec] = Field(
        default_factory=list, description="where the run also logs: tensorboard, mlflow, wandb (docs/catalog.md)"
    )

    @field_validator("tricks", "metrics", "loggers")
    @classmethod
    def _no_repeats(cls, specs: list[Spec]) -> list[Spec]:
        names = [s.name for s in specs]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        return specs

    def plugin_specs(self) -> list[tuple[str, str, Spec]]:
        """(field path, category, spec) for every plugin reference in the config."""
        return specs_of({key: getattr(self, key) for key in PLUGIN_FIELDS})

    def dump(self) -> dict[str, Any]:
        """A plain dict that validates back to this config (plugin specs in their short form)."""
        out = self.model_dump(mode="json")
        for key in ("dataset", "loss"):
            out[key] = getattr(self, key).dump()
        for key in ("arch", "norm", "init"):
            pair = getattr(self, key)
            out[key] = pair.g.dump() if pair.g == pair.d else {"g": pair.g.dump(), "d": pair.d.dump()}
        out["tricks"] = [s.dump() for s in self.tricks]
        out["metrics"] = [s.dump() for s in self.metrics]
        out["loggers"] = [s.dump() for s in self.loggers]
        return out


def specs_of(fields: dict[str, Any]) -> list[tuple[str, str, Spec]]:
    """(field path, category, spec) for each plugin field given: a Spec, a Pair or a list of Specs."""
    out = []
    for key, value in fields.items():
        category = PLUGIN_FIELDS[key]
        if isinstance(value, Pair):
            out += [(f"{key}.g", category, value.g), (f"{key}.d", category, value.d)]
        elif isinstance(value, list):
            out += [(f"{key}[{i}]", category, spec) for i, spec in enumerate(value)]
        else:
            out.append((key, category, value))
    return out


def well_formed_specs(data: Any) -> list[tuple[str, str, Spec]]:
    """The plugin references that are well formed on their own, in a config whose schema failed."""
    fields = {}
    for key in PLUGIN_FIELDS:
        try:
            fields[key] = _field_type(key).validate_python(data[key])
        except (KeyError, TypeError, ValidationError):
            continue
    return specs_of(fields)


@cache
def _field_type(key: str) -> TypeAdapter:
    return TypeAdapter(RunConfig.model_fields[key].annotation)


# --- validation -----------------------------------------------------------------------------


def _field_names(model: type[BaseModel], loc: tuple) -> list[str]:
    """The valid keys of the model found by following ``loc`` (for 'did you mean' hints)."""
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return []
        inner = field.annotation
        for candidate in getattr(inner, "__args__", ()) or (inner,):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                model = candidate
                break
        else:
            return []
    return list(model.model_fields)


def _path(loc: tuple, prefix: str = "") -> str:
    out = prefix
    for part in loc:
        out = f"{out}[{part}]" if isinstance(part, int) else (f"{out}.{_key(part)}" if out else _key(part))
    return out or "(top level)"


def _key(part: object) -> str:
    """A key as written, or quoted when it is empty or holds spaces or control characters (one line)."""
    text = str(part)
    return text if text and text.isprintable() and " " not in text else repr(text)


def format_errors(exc: ValidationError, model: type[BaseModel], prefix: str = "") -> list[str]:
    """One line per pydantic error: 'field.path: what is wrong (what would be valid)'."""
    lines = []
    for err in exc.errors():
        loc = err["loc"]
        if err["type"] == "extra_forbidden":
            *parent, key = loc
            valid = _field_names(model, tuple(parent))
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            lines.append(f"{_path(loc, prefix)}: unknown key{hint} (valid: {', '.join(valid)})")
        elif err["type"] == "missing":
            lines.append(f"{_path(loc, prefix)}: required but missing")
        else:
            got = err.get("input")
            shown = f" (got {short(repr(got))})" if not isinstance(got, dict | list) else ""
            lines.append(f"{_path(loc, prefix)}: {err['msg']}{shown}")
    return lines


def validate_run(data: dict[str, Any], source: str, catalog=None) -> RunConfig:
    """Validate a run config and every plugin's params; a UserError lists every problem at once."""
    from .plugin_manager import get_catalog

    catalog = catalog or get_catalog()
    try:
        config = RunConfig.model_validate(data)
    except ValidationError as exc:
        problems = format_errors(exc, RunConfig) + plugin_problems(well_formed_specs(data), catalog)
        raise UserError(*(f"{source}: {line}" for line in problems)) from None
    problems = plugin_problems(config.plugin_specs(), catalog)
    if not problems:
        kind = catalog.get("dataset", config.dataset.name).kind
        for path, category, spec in config.plugin_specs():
            if kind not in getattr(catalog.get(category, spec.name), "kinds", (kind,)):  # metrics, tricks
                problems.append(f"{path}: {category} {spec.name!r} does not apply to {kind} datasets")
        problems += conflicts(config, catalog) + ignored_targets(config, catalog) + unconditional(config, catalog)
    if problems:
        raise UserError(*(f"{source}: {line}" for line in problems))
    return config


def plugin_problems(specs: list[tuple[str, str, Spec]], catalog) -> list[str]:
    """An unknown plugin, or params its own ``Params`` schema refuses, for each (path, category, spec)."""
    from .plugin_manager import unknown_choice

    problems = []
    for path, category, spec in specs:
        names = catalog.names(category)
        if spec.name not in names:
            problems.append(f"{path}: {unknown_choice(category + ' plugin', spec.name, names)}")
            continue
        cls = catalog.get(category, spec.name)
        try:
            cls.Params(**spec.params)
        except ValidationError as exc:
            problems += format_errors(exc, cls.Params, f"{path}.{spec.name}")
    return problems


def conflicts(config: RunConfig, catalog) -> list[str]:
    """Settings that are each valid but contradict each other: what every plugin of ``config`` declares
    through :meth:`ganx.Plugin.conflicts`, each reason prefixed with the plugin's field path."""
    problems, asked = [], set()
    for path, category, spec in config.plugin_specs():
        if (category, spec.name, repr(spec.params)) in asked:  # arch/norm: one spec for G and D is asked once
            continue
        asked.add((category, spec.name, repr(spec.params)))
        cls = catalog.get(category, spec.name)
        try:
            reasons = cls.conflicts(cls.Params(**spec.params), config)
            reasons = [reasons] if isinstance(reasons, str) else reasons  # one reason, returned bare
            problems += [f"{path}: {' '.join(str(reason).split())}" for reason in reasons]
        except Exception as exc:  # a plugin's own bug, named like any plugin failure
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())
            problems.append(f"{path}: {category} plugin {spec.name!r} failed in conflicts: {detail}")
    return problems


def ignored_targets(config: RunConfig, catalog) -> list[str]:
    """Tricks that set D's targets (override ``d_targets``) under a loss whose ``d_loss`` ignores them
    (``uses_targets = False``): they would change nothing."""
    loss = catalog.get("loss", config.loss.name)
    if loss.uses_targets:
        return []
    return [
        f"{path}: {spec.name} changes nothing with loss {loss.name}, whose d_loss ignores its targets"
        for path, category, spec in config.plugin_specs()
        if category == "trick" and catalog.get(category, spec.name).d_targets is not TrainingHooks.d_targets
    ]


def unconditional(config: RunConfig, catalog) -> list[str]:
    """For a conditional run (``labels``), the architectures that cannot take class labels: their
    builder has no ``num_classes`` argument."""
    import inspect

    if config.labels == "none":
        return []
    problems = []
    for path, spec, builder in (("arch.g", config.arch.g, "build_generator"),
                                ("arch.d", config.arch.d, "build_discriminator")):
        if "num_classes" not in inspect.signature(getattr(catalog.get("architecture", spec.name), builder)).parameters:
            problems.append(f"{path}: architecture {spec.name!r} is not conditional ({builder} takes no "
                            f"num_classes), so it cannot serve labels: {config.labels}")
    return problems


def load_run(path: Path, sets: list[str] = (), catalog=None) -> RunConfig:
    """Read, override and validate a run config file."""
    try:
        return validate_run(apply_sets(read_mapping(path), list(sets)), str(path), catalog)
    except UserError as exc:
        raise UserError(*blame_sets(exc.problems, str(path), list(sets))) from None


def blame_sets(problems: list[str], source: str, sets: list[str]) -> list[str]:
    """Each ``source: field: ...`` problem whose field a ``--set KEY=VALUE`` wrote names that ``--set``
    instead of the file (``--set base.steps=-1: base: steps: ...``)."""
    keys = {assignment.partition("=")[0]: assignment for assignment in sets}
    blamed = []
    for problem in problems:
        rest = problem.removeprefix(f"{source}: ")
        field = ".".join(rest.split(": ")[:-1])  # 'base: steps' -> 'base.steps'
        matching = [key for key in keys if field == key or field.startswith((f"{key}.", f"{key}["))]
        culprit = keys[max(matching, key=len)] if matching else None  # the most specific --set
        blamed.append(f"--set {culprit}: {rest}" if culprit and rest != problem else problem)
    return blamed
