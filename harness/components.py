"""The base classes a plugin subclasses, and the typed context the trainer hands to tricks.

Importing this module does not import torch: plugin modules stay cheap to load, so that
``ganx plugins`` and ``ganx --help`` are instant. Import torch inside methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import torch
    from numpy import ndarray
    from torch import Tensor, nn

    from .config import RunConfig



class Params(BaseModel):
    """Base of every plugin's params schema: unknown keys are errors, floats finite, values frozen.

    Declare a plugin's params as a nested ``class Params(ganx.Params)`` of pydantic fields. ganx
    validates a config's ``{name: ..., key: value}`` against it, and reports a bad value or an unknown
    key against the field path (``tricks[0].my_clip.max_norm: ...``). Give each field a default and
    a ``description``.

    >>> from pydantic import Field
    >>> from ganx import Params
    >>> class ClipParams(Params):
    ...     max_norm: float = Field(1.0, gt=0, description="clip D's gradient norm to this")
    >>> ClipParams(max_norm=5)
    ClipParams(max_norm=5.0)
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Plugin:
    """A named catalogue entry with a params schema.

    Subclasses set ``name`` and may declare ``class Params(ganx.Params)``. ``Plugin(**params)``
    validates the params and stores them as ``self.params``; invalid ones raise :class:`ganx.UserError`
    with one line per problem, as a config file's would (``trick top_k.keep: ...``).
    Each training run gets fresh instances, so a plugin may keep per-run state on ``self``.
    """

    name: ClassVar[str]
    category: ClassVar[str]
    Params: ClassVar[type[Params]] = Params

    def __init__(self, **params: Any):
        from pydantic import ValidationError

        try:
            self.params = self.Params(**params)
        except ValidationError as exc:
            from .config import format_errors
            from .errors import UserError

            where = f"{getattr(self, 'category', 'plugin')} {getattr(self, 'name', type(self).__name__)}"
            raise UserError(*format_errors(exc, self.Params, where)) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"

    @classmethod
    def conflicts(cls, params: Params, config: RunConfig) -> list[str]:
        """Why this plugin, set with ``params``, contradicts the rest of ``config`` (the validated
        ``RunConfig``): one reason each, or ``[]``. ganx asks every plugin of a config before anything
        runs, and refuses the config with each reason (exit 2). Override it to declare a conflict.

        >>> from ganx import Trick
        >>> class NeedsBigBatch(Trick):
        ...     name = "my_big_batch"
        ...     @classmethod
        ...     def conflicts(cls, params, config):
        ...         return ["needs batch_size >= 64"] if config.batch_size < 64 else []
        >>> NeedsBigBatch.conflicts(NeedsBigBatch.Params(), type("Config", (), {"batch_size": 32}))
        ['needs batch_size >= 64']
        """
        return []


@dataclass
class DBatch:
    """What the discriminator saw in one D step: its inputs, its logits, and (conditional runs) their labels."""

    real: Tensor
    fake: Tensor
    real_logits: Tensor
    fake_logits: Tensor
    real_labels: Tensor | None = None
    fake_labels: Tensor | None = None


@dataclass
class GBatch:
    """What one G step produced: the latent codes, the fakes, D's logits on them, and (conditional
    runs) the labels the fakes were generated for and the real batch's labels."""

    z: Tensor
    fake: Tensor
    fake_logits: Tensor
    real_logits: Tensor | None
    fake_labels: Tensor | None = None
    real_labels: Tensor | None = None


class SampleZ(Protocol):
    """How a run draws latent codes: ``sample_z(n)`` from the run's own generator, or
    ``sample_z(n, generator)`` from another one (the fixed z of every evaluation)."""

    def __call__(self, n: int, generator: torch.Generator | None = None) -> Tensor: ...


@dataclass
class Run:
    """The live state of one training run, handed to every trick hook.

    Tricks may replace ``generator``/``discriminator`` or ``sample_z`` (a :class:`SampleZ`), edit
    ``optimizer`` and set ``batch_size`` (the real and fake samples each step draws; the config's
    ``batch_size`` at first) in :meth:`TrainingHooks.setup`, and may change ``d_steps``/``g_steps`` at
    any time; the trainer reads them afresh every step. A trick that builds a new G or D starts its
    weights with ``init["g"]`` or ``init["d"]`` (the config's :class:`Initialization`).

    A conditional run (config ``labels``) has ``num_classes`` > 0 and the dataset's ``labels``; its G
    and D are called ``G(z, labels)`` and ``D(x, labels)``.

    ``seeds`` is None for one seed's run. When K seeds train as one stacked model (a sweep's
    ``vectorize: true``), the hooks of plugins that declare ``batched = True`` get a run with
    ``seeds = K``: its batches are ``(K, batch, ...)``, its logits ``(K, batch)``, its losses ``(K,)``,
    and its nets' parameters are the seeds' own stacked seed first.
    """

    config: RunConfig
    device: torch.device
    dataset: Dataset
    data: Tensor
    data_shape: tuple[int, ...]
    arch_g: Architecture
    arch_d: Architecture
    norm_g: Normalization
    norm_d: Normalization
    loss: Loss
    generator: nn.Module
    discriminator: nn.Module
    sample_z: SampleZ
    rng: torch.Generator
    optimizer: dict[str, Any]
    init: dict[str, Initialization] = field(default_factory=dict)
    opt_g: torch.optim.Optimizer | None = None
    opt_d: torch.optim.Optimizer | None = None
    eval_generator: nn.Module | None = None
    batch_size: int = 0  # 0: the config's
    step: int = 0
    d_steps: int = 1
    g_steps: int = 1
    joint_d_batch: bool = False
    last: dict[str, Tensor] = field(default_factory=dict)
    seeds: int | None = None
    labels: Tensor | None = None
    num_classes: int = 0
    class_frequencies: Tensor | None = None
    logged: dict[str, Any] = field(default_factory=dict)  # run.log's values since the last log row

    def __post_init__(self):
        self.batch_size = self.batch_size or self.config.batch_size

    def log(self, name: str, value: float | Tensor) -> None:
        """Add ``value`` to the next log row as ``name``: metrics.jsonl and every logger get it.

        ``value`` is a float or a one-element tensor; a tensor is kept as it is (detached) and read
        only when the row is written, so logging every step costs no host sync. The latest value
        before a row wins. On a stacked run (``seeds`` = K) pass one value per seed, a ``(K,)`` tensor.
        """
        if self.seeds and getattr(value, "shape", None) != (self.seeds,):
            raise ValueError(f"run.log({name!r}) on a stacked run of {self.seeds} seeds takes one value per "
                             f"seed, a tensor of shape ({self.seeds},); got {value!r}")
        if not self.seeds and getattr(value, "numel", lambda: 1)() != 1:
            raise ValueError(f"run.log({name!r}) takes a float or a one-element tensor; got shape {value.shape}")
        self.logged[name] = value.detach() if hasattr(value, "detach") else value

    def sample_indices(self, n: int) -> Tensor:
        """The dataset indices of a batch of n real samples, drawn from the run's generator."""
        import torch

        return torch.randint(len(self.data), (n,), generator=self.rng, device=self.data.device)

    def sample_real(self, n: int) -> Tensor:
        """A batch of n real samples, drawn by index from the dataset tensor."""
        return self.data[self.sample_indices(n)]

    def sample_labeled(self, n: int) -> tuple[Tensor, Tensor]:
        """A conditional run's batch of n real samples and their class labels."""
        idx = self.sample_indices(n)
        return self.data[idx].to(self.device), self.labels[idx].to(self.device)

    def sample_labels(self, n: int) -> Tensor:
        """A conditional run's n class labels for G: uniform, or at the data's class frequencies."""
        import torch

        if self.config.labels == "frequency":
            return torch.multinomial(self.class_frequencies, n, replacement=True, generator=self.rng)
        return torch.randint(self.num_classes, (n,), generator=self.rng, device=self.device)


class TrainingHooks:
    """The trainer's hook points. Every method is a no-op by default; override the ones you need.

    The trainer calls only the hooks a plugin overrides, in the order the plugins are listed
    (the loss first, then ``tricks`` in config order). See docs/hooks.md for the loop.

    ``batched = True`` declares that the plugin's hooks also act correctly on a stacked run
    (:attr:`Run.seeds` is K; see :class:`Run`): on each seed's slice exactly as on that seed's own
    run, drawing no randomness, keeping no per-seed state. ``setup`` always runs on each seed's own
    run. A sweep with ``vectorize: true`` stacks the seeds of an arm only if every plugin that
    overrides a hook declares it.
    """

    batched: ClassVar[bool] = False

    def setup(self, run: Run) -> None:
        """Once, after G and D are built and before the optimizers are: wrap models, set schedules."""

    def d_inputs(self, real: Tensor, fake: Tensor, run: Run) -> tuple[Tensor, Tensor]:
        """D step: the real and (detached) fake batches about to enter D; return replacements."""
        return real, fake

    def d_targets(self, real_target: Tensor, fake_target: Tensor, run: Run) -> tuple[Tensor, Tensor]:
        """D step: the targets D is trained towards (1 for real, 0 for fake); return replacements."""
        return real_target, fake_target

    def adjust_d_loss(self, d_loss: Tensor, batch: DBatch, run: Run) -> Tensor:
        """D step: the scalar D loss before backward; return it with any penalty added."""
        return d_loss

    def before_d_step(self, run: Run) -> None:
        """D step: after backward, before ``opt_d.step()`` (gradients are in place)."""

    def after_d_step(self, run: Run) -> None:
        """D step: after ``opt_d.step()``."""

    def g_inputs(self, fake: Tensor, run: Run) -> Tensor:
        """G step: the fake batch about to enter D; return a replacement."""
        return fake

    def g_real_inputs(self, real: Tensor, run: Run) -> Tensor:
        """G step, only for a loss that needs real logits (``g_needs_real``): the real batch about to
        enter D; return a replacement."""
        return real

    def adjust_g_loss(self, g_loss: Tensor, batch: GBatch, run: Run) -> Tensor:
        """G step: the scalar G loss before backward; return it with any term added."""
        return g_loss

    def before_g_step(self, run: Run) -> None:
        """G step: after backward, before ``opt_g.step()``."""

    def after_g_step(self, run: Run) -> None:
        """G step: after ``opt_g.step()``; ``run.last`` holds this step's detached losses."""

    def before_eval(self, run: Run) -> None:
        """Before samples are drawn for evaluation (G is already in eval mode)."""

    def after_eval(self, run: Run, metrics: dict[str, float]) -> None:
        """After the metrics of one evaluation are computed; may raise TrainingFailure."""

    def state_dict(self) -> dict[str, Any]:
        """This plugin's per-run state for a checkpoint: tensors and plain data only; {} for none."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """On resume, after :meth:`setup`: restore what :meth:`state_dict` returned."""


STATE_METHODS = ("state_dict", "load_state_dict")  # called by the checkpoint code, not the loop
HOOK_POINTS = tuple(
    name for name, value in vars(TrainingHooks).items()
    if callable(value) and not name.startswith("_") and name not in STATE_METHODS
)


class Loss(Plugin, TrainingHooks):
    """A GAN objective, written from D's logits (D has no final sigmoid).

    ``g_needs_real`` asks the trainer to pass D's logits on a real batch to :meth:`g_loss`
    (relativistic losses). ``uses_targets = False`` declares that :meth:`d_loss` ignores
    ``real_target``/``fake_target`` (Wasserstein, hinge): ganx then refuses a config that combines the
    loss with a trick that sets D's targets (overrides ``d_targets``), since that trick would change
    nothing. A loss may also override any hook of :class:`TrainingHooks`.
    Register it with the ``register_losses`` hook (docs/hooks.md).

    >>> import torch
    >>> import torch.nn.functional as F
    >>> from ganx import Loss
    >>> class LeastSquares(Loss):  # Mao et al. 2017
    ...     name = "my_lsgan"
    ...     def d_loss(self, real_logits, fake_logits, real_target, fake_target):
    ...         return F.mse_loss(real_logits, real_target) + F.mse_loss(fake_logits, fake_target)
    ...     def g_loss(self, fake_logits, real_logits):
    ...         return F.mse_loss(fake_logits, torch.ones_like(fake_logits))
    >>> LeastSquares().g_loss(torch.zeros(4), None).item()
    1.0
    """

    category = "loss"
    g_needs_real: ClassVar[bool] = False
    uses_targets: ClassVar[bool] = True

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor, real_target: Tensor, fake_target: Tensor) -> Tensor:
        """The discriminator's loss; ``*_target`` are the (possibly smoothed) labels."""
        raise NotImplementedError

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None) -> Tensor:
        """The generator's loss."""
        raise NotImplementedError


class Trick(Plugin, TrainingHooks):
    """A training trick: overrides one or more hooks of :class:`TrainingHooks`.

    Tricks act only through those hook points (docs/hooks.md lists when each fires). Register a
    trick with the ``register_tricks`` hook; each run gets a fresh instance, so per-run state
    (an RNG, a buffer) lives on ``self``, created in :meth:`TrainingHooks.setup` and, if it changes
    while training, checkpointed through :meth:`TrainingHooks.state_dict`.

    >>> import torch
    >>> from pydantic import Field
    >>> from ganx import Params, Trick
    >>> class ClipD(Trick):
    ...     name = "my_clip"
    ...     class Params(Params):
    ...         max_norm: float = Field(1.0, gt=0, description="clip D's gradient norm to this")
    ...     def before_d_step(self, run):
    ...         torch.nn.utils.clip_grad_norm_(run.discriminator.parameters(), self.params.max_norm)
    >>> ClipD(max_norm=5).params.max_norm
    5.0
    """

    category = "trick"
    kinds: ClassVar[tuple[str, ...]] = ("points", "images")  # the dataset kinds it applies to


class Normalization(Plugin):
    """What goes after each hidden linear/conv layer, and what wraps the layer itself.

    Architectures call :meth:`layer` after each hidden layer and :meth:`wrap` around it.

    >>> from torch import nn
    >>> from ganx import Normalization
    >>> class Batch(Normalization):
    ...     name = "my_batch"
    ...     def layer(self, num_features, spatial):
    ...         return nn.BatchNorm2d(num_features) if spatial else nn.BatchNorm1d(num_features)
    >>> Batch().layer(16, spatial=True)
    BatchNorm2d(16, ...)
    """

    category = "normalization"

    def layer(self, num_features: int, spatial: bool) -> nn.Module:
        """The norm layer for ``num_features`` channels (``spatial``: a conv feature map)."""
        from torch import nn

        return nn.Identity()

    def wrap(self, module: nn.Module) -> nn.Module:
        """Wrap a linear/conv layer (e.g. spectral norm); identity by default."""
        return module


class Initialization(Plugin):
    """How a network's weights start: every linear and conv layer's weight is drawn by :meth:`weight_`,
    its bias set to 0, and every norm layer's scale set to 1 and shift to 0 (as DCGAN does).

    ganx applies it to G and D once they are built, before any trick's ``setup``. Draw from torch's
    global RNG: the trainer has seeded it with the run's seed.

    >>> import torch
    >>> from torch import nn
    >>> from ganx import Initialization
    >>> class Ones(Initialization):
    ...     name = "my_ones"
    ...     def weight_(self, weight):
    ...         nn.init.ones_(weight)
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    >>> Ones().apply(net)
    >>> net[2].weight.tolist(), net[2].bias.tolist()
    ([[1.0, 1.0, 1.0]], [0.0])
    """

    category = "initialization"

    def weight_(self, weight: Tensor) -> None:
        """Fill one layer's weight in place (a parametrized layer's, e.g. spectral norm's, original weight)."""
        raise NotImplementedError

    def apply(self, net: nn.Module) -> None:
        """Initialize every linear, conv and norm layer of ``net``."""
        import torch
        from torch import nn
        from torch.nn.utils import parametrize

        layers = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                  nn.ConvTranspose3d)  # fmt: skip
        norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.InstanceNorm1d, nn.InstanceNorm2d,
                 nn.InstanceNorm3d, nn.GroupNorm, nn.LayerNorm)  # fmt: skip
        with torch.no_grad():
            for module in net.modules():
                if isinstance(module, layers):
                    parametrized = parametrize.is_parametrized(module, "weight")
                    self.weight_(module.parametrizations.weight.original if parametrized else module.weight)
                elif isinstance(module, norms) and getattr(module, "weight", None) is not None:
                    module.weight.fill_(1.0)
                if isinstance(module, layers + norms) and getattr(module, "bias", None) is not None:
                    module.bias.zero_()


class Architecture(Plugin):
    """Builds G and D. D returns one logit per sample, shape ``(batch,)``.

    G maps ``(batch, latent_dim)`` to ``(batch, *data_shape)`` in [-1, 1]; D has no final sigmoid.

    An architecture is conditional if its builders also take ``num_classes``: for a config with
    ``labels``, ganx passes it, and calls the nets it gets as ``G(z, labels)`` and ``D(x, labels)``
    (labels: ``(batch,)`` class indices). For ``labels: none`` it passes no ``num_classes``.

    >>> import torch
    >>> from torch import nn
    >>> from ganx import Architecture
    >>> class Linear(Architecture):
    ...     name = "my_linear"
    ...     def build_generator(self, latent_dim, data_shape, norm):
    ...         return nn.Sequential(nn.Linear(latent_dim, data_shape[0]), nn.Tanh())
    ...     def build_discriminator(self, data_shape, norm):
    ...         return nn.Sequential(norm.wrap(nn.Linear(data_shape[0], 1)), nn.Flatten(0))
    >>> from ganx import Normalization  # the base class: no norm layer, no wrapping
    >>> Linear().build_discriminator((2,), Normalization())(torch.zeros(8, 2)).shape
    torch.Size([8])
    """

    category = "architecture"

    def build_generator(self, latent_dim: int, data_shape: tuple[int, ...], norm: Normalization) -> nn.Module:
        raise NotImplementedError

    def build_discriminator(self, data_shape: tuple[int, ...], norm: Normalization) -> nn.Module:
        raise NotImplementedError


class Dataset(Plugin):
    """A data source. ``kind`` is ``"points"`` (vectors, e.g. 2-D mixtures) or ``"images"`` (C×H×W).

    :meth:`load` returns the whole split as one tensor; the trainer samples batches from it by index.
    Cache downloads or decoded files under ``data_dir`` (write them with :func:`ganx.atomic_write`).

    >>> import math
    >>> from pathlib import Path
    >>> import torch
    >>> from ganx import Dataset, Params
    >>> class Circle(Dataset):
    ...     name = "my_circle"
    ...     kind = "points"
    ...     class Params(Params):
    ...         n: int = 1000
    ...     def load(self, data_dir, split):
    ...         rng = torch.Generator().manual_seed(int(split == "test"))
    ...         angle = torch.rand(self.params.n, generator=rng) * 2 * math.pi
    ...         return torch.stack([angle.cos(), angle.sin()], 1), None
    >>> real, labels = Circle(n=10).load(Path("."), "train")
    >>> real.shape, labels
    (torch.Size([10, 2]), None)
    """

    category = "dataset"
    kind: ClassVar[Literal["points", "images"]] = "points"

    def load(self, data_dir: Path, split: Literal["train", "test"]) -> tuple[Tensor, Tensor | None]:
        """All samples of ``split`` as one float tensor scaled to [-1, 1], and labels or None."""
        raise NotImplementedError

    def modes(self) -> tuple[Tensor, float] | None:
        """For mixtures: the mode centres (K×D) and the per-mode std; None otherwise."""
        return None


@dataclass
class Evaluation:
    """What metrics get at one evaluation: the fakes, the data, and a cache shared between metrics."""

    fake: Tensor
    dataset: Dataset
    data_dir: Path
    device: torch.device
    seed: int
    cache: dict[str, Any] = field(default_factory=dict)
    labels: Tensor | None = None  # a conditional run's: the class each fake was generated for


class Metric(Plugin):
    """A number computed from generated samples.

    ``direction`` says which way is better; ``kinds`` lists the dataset kinds it applies to.
    Work shared by several metrics (features of the fakes) can be kept in ``ev.cache``.

    >>> from pathlib import Path
    >>> import torch
    >>> from ganx import Evaluation, Metric
    >>> class MeanNorm(Metric):
    ...     name = "my_mean_norm"
    ...     direction = "minimize"
    ...     kinds = ("points",)
    ...     def compute(self, ev):
    ...         return ev.fake.norm(dim=1).mean().item()
    >>> ev = Evaluation(fake=torch.tensor([[3.0, 4.0]]), dataset=None, data_dir=Path("."),
    ...                 device=torch.device("cpu"), seed=0)
    >>> MeanNorm().compute(ev)
    5.0
    """

    category = "metric"
    direction: ClassVar[Literal["maximize", "minimize"]] = "maximize"
    kinds: ClassVar[tuple[str, ...]] = ("points", "images")

    def compute(self, ev: Evaluation) -> float:
        raise NotImplementedError

    def protocol(self, ev: Evaluation) -> dict[str, Any]:
        """How the number was produced (sample counts, feature extractor and hash, k, ...)."""
        return {"samples": len(ev.fake)}


class Logger(Plugin):
    """Sends one run's progress where researchers look (TensorBoard, MLflow, W&B, ...).

    A config lists its loggers (``loggers: [tensorboard]``); each run gets fresh instances, for
    each seed. ganx calls :meth:`start` once, :meth:`log` for every row of metrics.jsonl, :meth:`evaluation`
    after every evaluation, and :meth:`finish` once at the end, whether the run finished, diverged,
    crashed or was stopped. A logger that raises is dropped with one warning; the run goes on.

    >>> from ganx import Logger
    >>> class Print(Logger):
    ...     name = "my_print"
    ...     def log(self, step, values):
    ...         print(step, values)
    >>> Print().log(100, {"d_loss": 0.69})
    100 {'d_loss': 0.69}
    """

    category = "logger"

    def start(self, config: RunConfig, out: Path, sweep: str | None, arm: str | None) -> None:
        """Before the first step: the run's config, its results folder, and in a sweep its name and the arm."""

    def log(self, step: int, values: dict[str, float]) -> None:
        """Every log row: the step (1-based, as in metrics.jsonl) and the row's values."""

    def evaluation(self, step: int, metrics: dict[str, float], samples: ndarray) -> None:
        """After every evaluation: its metrics, and a picture of the samples (an HxWx3 uint8 array)."""

    def finish(self, final: dict[str, Any]) -> None:
        """Once, at the end: final.json's content, or ``{"failed": reason, "step": step}``."""
