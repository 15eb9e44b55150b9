"""The base classes a plugin subclasses, and the typed context the trainer hands to tricks.

Importing this module does not import torch: plugin modules stay cheap to load, so that
``ganx plugins`` and ``ganx --help`` are instant. Import torch inside methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import torch
    from torch import Tensor, nn

    from .config import RunConfig


class Params(BaseModel):
    """Base of every plugin's params schema: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Plugin:
    """A named catalogue entry with a params schema.

    Subclasses set ``name`` and may declare ``class Params(ganx.Params)``. ``Plugin(**params)``
    validates the params (raising pydantic's ``ValidationError``) and stores them as ``self.params``.
    Each training run gets fresh instances, so a plugin may keep per-run state on ``self``.
    """

    name: ClassVar[str]
    category: ClassVar[str]
    Params: ClassVar[type[Params]] = Params

    def __init__(self, **params: Any):
        self.params = self.Params(**params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"


@dataclass
class DBatch:
    """What the discriminator saw in one D step: its inputs and its logits."""

    real: Tensor
    fake: Tensor
    real_logits: Tensor
    fake_logits: Tensor


@dataclass
class GBatch:
    """What one G step produced: the latent codes, the fakes, and D's logits on them."""

    z: Tensor
    fake: Tensor
    fake_logits: Tensor
    real_logits: Tensor | None


@dataclass
class Run:
    """The live state of one training run, handed to every trick hook.

    Tricks may replace ``generator``/``discriminator`` or ``sample_z`` and edit ``optimizer``
    in :meth:`TrainingHooks.setup`, and may change ``d_steps``/``g_steps`` at any time;
    the trainer reads them afresh every step.
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
    sample_z: Callable[[int], Tensor]
    rng: torch.Generator
    optimizer: dict[str, Any]
    opt_g: torch.optim.Optimizer | None = None
    opt_d: torch.optim.Optimizer | None = None
    eval_generator: nn.Module | None = None
    step: int = 0
    d_steps: int = 1
    g_steps: int = 1
    joint_d_batch: bool = False
    last: dict[str, Tensor] = field(default_factory=dict)

    def sample_real(self, n: int) -> Tensor:
        """A batch of n real samples, drawn by index from the dataset tensor."""
        import torch

        idx = torch.randint(len(self.data), (n,), generator=self.rng, device=self.data.device)
        return self.data[idx]


class TrainingHooks:
    """The trainer's hook points. Every method is a no-op by default; override the ones you need.

    The trainer calls only the hooks a plugin overrides, in the order the plugins are listed
    (the loss first, then ``tricks`` in config order). See docs/hooks.md for the loop.
    """

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


HOOK_POINTS = tuple(
    name for name in vars(TrainingHooks) if not name.startswith("_")
)


class Loss(Plugin, TrainingHooks):
    """A GAN objective, written from D's logits (D has no final sigmoid).

    ``g_needs_real`` asks the trainer to pass D's logits on a real batch to :meth:`g_loss`
    (relativistic losses). A loss may also override any hook of :class:`TrainingHooks`.
    """

    category = "loss"
    g_needs_real: ClassVar[bool] = False

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor, real_target: Tensor, fake_target: Tensor) -> Tensor:
        """The discriminator's loss; ``*_target`` are the (possibly smoothed) labels."""
        raise NotImplementedError

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None) -> Tensor:
        """The generator's loss."""
        raise NotImplementedError


class Trick(Plugin, TrainingHooks):
    """A training trick: overrides one or more hooks of :class:`TrainingHooks`."""

    category = "trick"


class Normalization(Plugin):
    """What goes after each hidden linear/conv layer, and what wraps the layer itself."""

    category = "normalization"

    def layer(self, num_features: int, spatial: bool) -> nn.Module:
        """The norm layer for ``num_features`` channels (``spatial``: a conv feature map)."""
        from torch import nn

        return nn.Identity()

    def wrap(self, module: nn.Module) -> nn.Module:
        """Wrap a linear/conv layer (e.g. spectral norm); identity by default."""
        return module


class Architecture(Plugin):
    """Builds G and D. D returns one logit per sample, shape ``(batch,)``."""

    category = "architecture"

    def build_generator(self, latent_dim: int, data_shape: tuple[int, ...], norm: Normalization) -> nn.Module:
        raise NotImplementedError

    def build_discriminator(self, data_shape: tuple[int, ...], norm: Normalization) -> nn.Module:
        raise NotImplementedError


class Dataset(Plugin):
    """A data source. ``kind`` is ``"points"`` (vectors, e.g. 2-D mixtures) or ``"images"`` (C×H×W)."""

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


class Metric(Plugin):
    """A number computed from generated samples.

    ``direction`` says which way is better; ``kinds`` lists the dataset kinds it applies to.
    """

    category = "metric"
    direction: ClassVar[Literal["maximize", "minimize"]] = "maximize"
    kinds: ClassVar[tuple[str, ...]] = ("points", "images")

    def compute(self, ev: Evaluation) -> float:
        raise NotImplementedError

    def protocol(self, ev: Evaluation) -> dict[str, Any]:
        """How the number was produced (sample counts, feature extractor and hash, k, ...)."""
        return {"samples": len(ev.fake)}
