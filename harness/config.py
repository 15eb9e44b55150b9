"""The typed schema of one training run, and how YAML and ``--set`` become a validated config.

Every problem is reported as one line naming the file and field path; plugin params are checked
against the plugin's own ``Params`` schema.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import UserError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class Optimizer(Strict):
    """A torch optimizer and its settings (fields a given optimizer does not take are ignored)."""

    name: Literal["adam", "adamw", "sgd", "rmsprop"] = "adam"
    lr: float = Field(2e-4, gt=0)
    betas: tuple[float, float] = (0.5, 0.999)
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
    samples: int = Field(2500, gt=0)


class RunConfig(Strict):
    """Everything one training run needs."""

    name: str = Field("run", pattern=r"^[A-Za-z0-9_.-]+$")
    dataset: Spec
    arch: Pair = Field(default_factory=lambda: Pair.model_validate("mlp"))
    norm: Pair = Field(default_factory=lambda: Pair.model_validate("none"))
    loss: Spec = Field(default_factory=lambda: Spec.model_validate("nsgan"))
    tricks: list[Spec] = Field(default_factory=list)
    optimizer: Optimizers = Field(default_factory=Optimizers)
    steps: int = Field(gt=0)
    batch_size: int = Field(64, gt=0)
    latent_dim: int = Field(64, gt=0)
    seed: int = 0
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$")
    threads: int = Field(0, ge=0, description="torch CPU threads; 0 = torch's default")
    amp: Literal["off", "bf16", "fp16"] = Field("off", description="mixed precision (fp16: CUDA only, with a GradScaler)")
    channels_last: bool = Field(False, description="NHWC memory layout for conv archs (faster on recent GPUs)")
    compile: bool = Field(False, description="torch.compile G and D (pays off on long GPU runs)")
    log_every: int = Field(100, gt=0)
    data_dir: Path | None = None
    eval: Eval = Field(default_factory=Eval)
    metrics: list[Spec] = Field(default_factory=list)

    @field_validator("tricks", "metrics")
    @classmethod
    def _no_repeats(cls, specs: list[Spec]) -> list[Spec]:
        names = [s.name for s in specs]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        return specs

    def plugin_specs(self) -> list[tuple[str, str, Spec]]:
        """(field path, category, spec) for every plugin reference in the config."""
        return [
            ("dataset", "dataset", self.dataset),
            ("arch.g", "architecture", self.arch.g),
            ("arch.d", "architecture", self.arch.d),
            ("norm.g", "normalization", self.norm.g),
            ("norm.d", "normalization", self.norm.d),
            ("loss", "loss", self.loss),
            *((f"tricks[{i}]", "trick", s) for i, s in enumerate(self.tricks)),
            *((f"metrics[{i}]", "metric", s) for i, s in enumerate(self.metrics)),
        ]

    def dump(self) -> dict[str, Any]:
        """A plain dict that validates back to this config (plugin specs in their short form)."""
        out = self.model_dump(mode="json")
        for key in ("dataset", "loss"):
            out[key] = getattr(self, key).dump()
        for key in ("arch", "norm"):
            pair = getattr(self, key)
            out[key] = pair.g.dump() if pair.g == pair.d else {"g": pair.g.dump(), "d": pair.d.dump()}
        out["tricks"] = [s.dump() for s in self.tricks]
        out["metrics"] = [s.dump() for s in self.metrics]
        return out


# --- YAML -----------------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that rejects a mapping with the same key twice."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                mark = key_node.start_mark
                raise UserError(f"line {mark.line + 1}, column {mark.column + 1}: duplicate key {key!r}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML safely; syntax errors become a UserError naming ``source``, line and column."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except UserError as exc:
        raise UserError(f"{source}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise UserError(f"{source}: {where}{exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{source}: invalid YAML: {exc}") from None


def read_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file whose top level must be a mapping."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if path.is_dir():
        raise UserError(f"{path}: is a directory; expected a YAML file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None
    data = parse_yaml(text, str(path))
    if data is None:
        raise UserError(f"{path}: the file is empty; expected a mapping of settings")
    if not isinstance(data, dict):
        raise UserError(f"{path}: the top level is a {type(data).__name__}; expected a mapping of settings")
    return data


def apply_sets(data: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Apply ``--set key.path=value`` overrides (values parsed as YAML) to a copy of ``data``."""
    import copy

    data = copy.deepcopy(data)
    for assignment in assignments:
        key, sep, raw = assignment.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise UserError(f"--set {assignment!r}: expected KEY.PATH=VALUE, e.g. --set base.steps=200")
        value = parse_yaml(raw, f"--set {key}") if raw.strip() else None
        *parents, last = key.split(".")
        node = data
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {} if node.get(part) is None else _not_a_mapping(assignment, part)
            node = node[part]
        node[last] = value
    return data


def _not_a_mapping(assignment: str, part: str):
    raise UserError(f"--set {assignment!r}: {part!r} is not a mapping, so it has no sub-keys")


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
            shown = f" (got {got!r})" if not isinstance(got, dict | list) else ""
            lines.append(f"{_path(loc, prefix)}: {err['msg']}{shown}")
    return lines


def validate_run(data: dict[str, Any], source: str, catalog=None) -> RunConfig:
    """Validate a run config and every plugin's params; a UserError lists each problem."""
    from .plugin_manager import get_catalog, unknown_choice

    try:
        config = RunConfig.model_validate(data)
    except ValidationError as exc:
        raise UserError(*(f"{source}: {line}" for line in format_errors(exc, RunConfig))) from None
    catalog = catalog or get_catalog()
    problems = []
    for path, category, spec in config.plugin_specs():
        names = catalog.names(category)
        if spec.name not in names:
            problems.append(f"{source}: {path}: {unknown_choice(category + ' plugin', spec.name, names)}")
            continue
        cls = catalog.get(category, spec.name)
        try:
            cls.Params(**spec.params)
        except ValidationError as exc:
            problems += [f"{source}: {line}" for line in format_errors(exc, cls.Params, f"{path}.{spec.name}")]
    if not problems:
        kind = catalog.get("dataset", config.dataset.name).kind
        for path, category, spec in config.plugin_specs():
            if category == "metric" and kind not in catalog.get("metric", spec.name).kinds:
                problems.append(f"{source}: {path}: metric {spec.name!r} does not apply to {kind} datasets")
        problems += [f"{source}: {line}" for line in conflicts(config, catalog)]
    if problems:
        raise UserError(*problems)
    return config


def conflicts(config: RunConfig, catalog) -> list[str]:
    """Settings that are each valid but contradict each other, with the reason.

    Weight clipping (``wgan``'s ``clip`` or the ``weight_clip`` trick) with spectral norm on D: both
    bound D's Lipschitz constant, and under spectral norm the clip no longer sets the weights' scale
    (they are divided by their largest singular value); it only distorts them.
    """
    if config.norm.d.name != "spectral":
        return []
    return [
        f"{path}: {spec.name} weight clipping conflicts with norm.d: spectral (both bound D's Lipschitz constant, "
        "and spectral norm undoes the clip's scale); drop one of them"
        for path, category, spec in config.plugin_specs()
        if (category, spec.name) in (("loss", "wgan"), ("trick", "weight_clip"))
        and clips_d(catalog.get(category, spec.name).Params(**spec.params))
    ]


def clips_d(params) -> bool:
    """Whether these ``wgan``/``weight_clip`` params clamp D's weights (``weight_clip`` may clip G only)."""
    return getattr(params, "clip", 0) > 0 and getattr(params, "nets", "d") != "g"


def load_run(path: Path, sets: list[str] = (), catalog=None) -> RunConfig:
    """Read, override and validate a run config file."""
    return validate_run(apply_sets(read_mapping(path), list(sets)), str(path), catalog)
