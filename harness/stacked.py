"""Stacked seeds: K seeds' runs as one :class:`ganx.Run` that the one training loop steps.

Each seed is built exactly as a separate run (:func:`ganx.trainer.build_run` from its own config,
so its weights, data indices and z come from its own seed). :func:`stack_runs` then stacks every
layer's weights seed-first and applies them with ``bmm``, so G and D take ``(K, batch, ...)``
batches. The loss runs per seed under ``torch.vmap`` and gives ``(K,)`` losses; their sum's
gradient is each seed's own, and one optimizer steps the stacked tensors (Adam(W), SGD and RMSprop
are elementwise, so each seed's slice updates exactly as its own optimizer would). The trainer's
loop (:func:`ganx.trainer.train_seeds`) steps the stacked run through the same hook points as any
run, and :func:`unstack` brings each seed's own run up to date before it is evaluated or
checkpointed. See docs/performance.md §7.

Layers stack if torch defines them elementwise, or if they say how (a ``stack_seeds`` method, as
``Maxout`` has). Plugins run on a stacked run only if they declare ``batched = True``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from .components import HOOK_POINTS, Loss, Run
from .config import RunConfig
from .hooks import overrides
from .plugin_manager import Catalog, get_catalog

ELEMENTWISE = ("Identity", "LeakyReLU", "ReLU", "Tanh", "Sigmoid", "ELU", "SiLU", "GELU", "Softplus")


class Unsupported(Exception):
    """These configs cannot train as one stacked model; the message says why (train them one by one)."""


def why_not(configs: list[RunConfig], catalog: Catalog | None = None) -> str | None:
    """Why these configs cannot be stacked, judged from the configs alone; None if they may be.

    Stacking can still find a layer it cannot stack (:class:`Unsupported`) when it builds the nets.
    """
    if len(configs) < 2:
        return "fewer than two seeds"
    seeds = [c.seed for c in configs]
    if len(set(seeds)) < len(seeds):
        return f"seeds repeat: {seeds}"
    shared = [{k: v for k, v in c.dump().items() if k not in ("name", "seed")} for c in configs]
    differ = sorted(k for other in shared[1:] for k in shared[0] if other[k] != shared[0][k])
    if differ:
        return f"the configs differ in {differ[0]}, not only in seed"
    first = configs[0]
    if first.labels != "none":
        return "conditional runs (labels) are not supported"
    options = [k for k in ("compile", "channels_last") if getattr(first, k)] + (["amp"] if first.amp != "off" else [])
    if options:
        return f"{options[0]} is not supported"
    catalog = catalog or get_catalog()
    for plugin in [catalog.create("loss", first.loss), *(catalog.create("trick", t) for t in first.tricks)]:
        hooked = [p for p in HOOK_POINTS if overrides(plugin, p)]
        if hooked and not plugin.batched:
            why = f"acts through the hook {hooked[0]} and does not declare batched = True"
            return f"{plugin.category} {plugin.name} {why}"
    return None


class StackedNet(nn.Module):
    """K copies of one ``nn.Sequential``, one per seed, as a single net over ``(K, batch, ...)`` inputs.

    Its parameters are the seeds' own, stacked seed first; ``links`` pairs each with the seeds' own.
    """

    def __init__(self, nets: list[nn.Module], role: str):
        super().__init__()
        if not all(isinstance(net, nn.Sequential) for net in nets):
            raise Unsupported(f"{role} is a {type(nets[0]).__name__}, not an nn.Sequential")
        self.stacked = nn.ParameterList()
        self.links: list[tuple[nn.Parameter, list[nn.Parameter]]] = []
        self.layers = [self.stack_layer([net[i] for net in nets], f"{role} layer {i}") for i in range(len(nets[0]))]

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def stack(self, params: list[nn.Parameter]) -> nn.Parameter:
        """One parameter of the K seeds as a single seed-first parameter of this net."""
        stacked = nn.Parameter(torch.stack([p.detach() for p in params]))
        self.stacked.append(stacked)
        self.links.append((stacked, params))
        return stacked

    def stack_layer(self, copies: list[nn.Module], where: str) -> Callable[[Tensor], Tensor]:
        """One layer of the K nets as a function of the stacked batch; Unsupported if it has no such form."""
        first = copies[0]
        if any(parametrize.is_parametrized(m) for m in first.modules()):
            raise Unsupported(f"{where} ({type(first).__name__}) is parametrized (e.g. spectral norm)")
        if hasattr(first, "stack_seeds"):
            return first.stack_seeds(copies, self)
        if isinstance(first, nn.Linear):
            weight = self.stack([m.weight for m in copies])  # (K, out, in)
            if first.bias is None:
                return lambda x: torch.bmm(x, weight.mT)
            bias = self.stack([m.bias for m in copies]).unsqueeze(1)
            return lambda x: torch.baddbmm(bias, x, weight.mT)
        if isinstance(first, nn.LayerNorm) and len(first.normalized_shape) == 1:
            return self.stack_layer_norm(copies, where)
        if type(first).__name__ in ELEMENTWISE and type(first) is getattr(nn, type(first).__name__):
            return first
        if isinstance(first, nn.Flatten) and (first.start_dim, first.end_dim) == (1, -1):
            return lambda x: x.flatten(2)
        raise Unsupported(f"{where} ({type(first).__name__}) cannot be stacked over seeds")

    def stack_layer_norm(self, copies: list[nn.LayerNorm], where: str) -> Callable[[Tensor], Tensor]:
        import torch.nn.functional as F

        shape, eps = copies[0].normalized_shape, copies[0].eps
        if copies[0].weight is None or copies[0].bias is None:
            if copies[0].weight is not None or copies[0].bias is not None:
                raise Unsupported(f"{where} (LayerNorm) has a weight or a bias but not both")
            return lambda x: F.layer_norm(x, shape, eps=eps)
        weight = self.stack([m.weight for m in copies]).unsqueeze(1)
        bias = self.stack([m.bias for m in copies]).unsqueeze(1)
        return lambda x: torch.addcmul(bias, F.layer_norm(x, shape, eps=eps), weight)

    def unstack(self, stacked_opt: torch.optim.Optimizer, seed_opts: list[torch.optim.Optimizer]) -> None:
        """Copy each seed's slice of the weights and of the optimizer state into its own net and optimizer."""
        with torch.no_grad():
            for stacked, params in self.links:
                state = stacked_opt.state.get(stacked, {})
                for k, (param, opt) in enumerate(zip(params, seed_opts)):
                    param.copy_(stacked[k])
                    opt.state[param] = {
                        key: (v[k] if v.shape == stacked.shape else v).clone() if torch.is_tensor(v) else v
                        for key, v in state.items()
                    }


class SeedLosses(Loss):
    """A loss applied to each seed's logits under ``torch.vmap``: ``(K, batch)`` logits to ``(K,)`` losses."""

    def __init__(self, loss: Loss):
        self.name, self.params, self.g_needs_real = loss.name, loss.params, loss.g_needs_real
        self.per_seed_d = torch.vmap(loss.d_loss)
        self.per_seed_g = torch.vmap(loss.g_loss if loss.g_needs_real else lambda fake: loss.g_loss(fake, None))
        logits = torch.zeros(2, 4)
        try:
            self.d_loss(logits, logits, logits, logits)
            self.g_loss(logits, logits if loss.g_needs_real else None)
        except Exception as exc:  # noqa: BLE001 (any failure under vmap means: train this loss per run)
            raise Unsupported(f"loss {loss.name} does not run under torch.vmap ({type(exc).__name__}: {exc})") from None

    def d_loss(self, real_logits, fake_logits, real_target, fake_target):
        return self.per_seed_d(real_logits, fake_logits, real_target, fake_target)

    def g_loss(self, fake_logits, real_logits):
        return self.per_seed_g(fake_logits) if real_logits is None else self.per_seed_g(fake_logits, real_logits)


def stack_runs(runs: list[Run]) -> Run:
    """The seeds' runs (built, set up) as one run over seed-stacked batches; the caller builds its optimizers.

    It draws each seed's real batches and z from that seed's own streams, in the order its own run would.
    """
    first = runs[0]
    stacked = dataclasses.replace(
        first,
        generator=StackedNet([run.generator for run in runs], "G"),
        discriminator=StackedNet([run.discriminator for run in runs], "D"),
        loss=SeedLosses(first.loss),
        sample_z=lambda n, generator=None: torch.stack([run.sample_z(n) for run in runs]),
        opt_g=None, opt_d=None, eval_generator=None, last={}, logged={}, seeds=len(runs),
    )
    stacked.sample_real = real_sampler(runs)
    return stacked


def real_sampler(runs: list[Run]) -> Callable[[int], Tensor]:
    """``sample_real`` of the stacked run: each seed's indices from its own generator, gathered at once
    from the seeds' shared data (the configs differ only in seed); per seed if one samples its own way."""
    if any("sample_real" in vars(run) for run in runs):  # a host-memory sampler
        return lambda n: torch.stack([run.sample_real(n) for run in runs])
    data = runs[0].data
    return lambda n: data[torch.stack([run.sample_indices(n) for run in runs])]


def unstack(stacked: Run, runs: list[Run]) -> None:
    """Bring every seed's own run up to date with the stacked one: weights, optimizer state, latest losses."""
    stacked.generator.unstack(stacked.opt_g, [run.opt_g for run in runs])
    stacked.discriminator.unstack(stacked.opt_d, [run.opt_d for run in runs])
    for k, run in enumerate(runs):
        run.step = stacked.step
        run.last = {key: value[k] for key, value in stacked.last.items()}
