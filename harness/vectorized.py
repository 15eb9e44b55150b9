"""Vectorized seeds: K seeds of one arm trained in one process as one batched model.

Each seed is built exactly as a separate run (:func:`ganx.trainer.build_run` from its own config,
so its weights, data indices and z come from its own seed). Then every layer's weights are stacked
seed-first and applied with ``bmm``, and one optimizer steps the stacked tensors: Adam(W), SGD and
RMSprop are elementwise, so each seed's slice updates exactly as its own optimizer would. The loss
runs per seed under ``torch.vmap``. A seed's results equal those of its separate run up to float
reduction order; its results folder, checkpoint (resumable by ``ganx run --resume``) and outcome
are the same too. A seed whose losses turn non-finite fails alone. See docs/performance.md §7.

    outcomes = train_seeds(configs, outs)   # vectorized when supported, else one train() per seed
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .components import HOOK_POINTS
from .config import RunConfig
from .errors import TrainingFailure
from .hooks import overrides
from .plugin_manager import Catalog, get_catalog
from .trainer import LossLog, Report

if TYPE_CHECKING:
    from torch import Tensor, nn

ELEMENTWISE = ("Identity", "LeakyReLU", "ReLU", "Tanh", "Sigmoid", "ELU", "SiLU", "GELU", "Softplus")
Outcome = dict[str, Any] | TrainingFailure  # a seed's final.json content, or how it diverged


class Unsupported(Exception):
    """These configs cannot train as one batched model; the message says why (train them one by one)."""


def why_not(configs: list[RunConfig], catalog: Catalog | None = None) -> str | None:
    """Why these configs cannot be vectorized, judged from the configs alone; None if they may be.

    Training can still find a layer it cannot stack (:class:`Unsupported`) before it starts.
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
    options = [k for k in ("compile", "channels_last") if getattr(first, k)] + (["amp"] if first.amp != "off" else [])
    if options:
        return f"{options[0]} is not supported"
    catalog = catalog or get_catalog()
    loss = catalog.create("loss", first.loss)
    hooked = [p for p in HOOK_POINTS if overrides(loss, p)]
    if hooked:
        return f"loss {loss.name} acts through the hook {hooked[0]}"
    for spec in first.tricks:
        trick = catalog.create("trick", spec)
        if not trick.batched:
            return f"trick {trick.name} is not supported (it does not declare batched = True)"
        acting = [p for p in HOOK_POINTS if p != "setup" and overrides(trick, p)]
        if acting:  # a batched trick only shapes the loop in setup; a hook would be skipped here
            return f"trick {trick.name} declares batched = True but acts through the hook {acting[0]}"
    return None


class StackedNet:
    """K copies of one ``nn.Sequential``, one per seed, as a single net over ``(K, batch, ...)`` inputs.

    ``links`` pairs each stacked tensor (seed first) with the seeds' own parameters it came from.
    """

    def __init__(self, nets: list[nn.Module], role: str):
        from torch import nn

        if not all(isinstance(net, nn.Sequential) for net in nets):
            raise Unsupported(f"{role} is a {type(nets[0]).__name__}, not an nn.Sequential")
        self.links: list[tuple[Tensor, list[nn.Parameter]]] = []
        self.layers = [self.stack_layer([net[i] for net in nets], f"{role} layer {i}") for i in range(len(nets[0]))]

    def __call__(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list[Tensor]:
        return [stacked for stacked, _ in self.links]

    def stack(self, params: list[nn.Parameter]) -> Tensor:
        import torch

        stacked = torch.stack([p.detach() for p in params]).requires_grad_()
        self.links.append((stacked, params))
        return stacked

    def stack_layer(self, copies: list[nn.Module], where: str) -> Callable[[Tensor], Tensor]:
        """One layer of the K nets as a function of the stacked batch; Unsupported if it has no such form."""
        import torch
        import torch.nn.functional as F
        from torch import nn
        from torch.nn.utils import parametrize

        from .plugins.layers import Logits, Maxout, Reshape

        first = copies[0]
        if parametrize.is_parametrized(first) or any(parametrize.is_parametrized(m) for m in first.modules()):
            raise Unsupported(f"{where} ({type(first).__name__}) is parametrized (e.g. spectral norm)")
        if isinstance(first, nn.Linear):
            weight = self.stack([m.weight for m in copies])  # (K, out, in)
            if first.bias is None:
                return lambda x: torch.bmm(x, weight.mT)
            bias = self.stack([m.bias for m in copies]).unsqueeze(1)
            return lambda x: torch.baddbmm(bias, x, weight.mT)
        if isinstance(first, Maxout):
            linear = self.stack_layer([m.linear for m in copies], where)
            return lambda x: linear(x).unflatten(-1, (first.out_features, first.pieces)).amax(-1)
        if isinstance(first, nn.LayerNorm) and len(first.normalized_shape) == 1:
            shape, eps = first.normalized_shape, first.eps
            if first.weight is None or first.bias is None:
                if first.weight is not None or first.bias is not None:
                    raise Unsupported(f"{where} (LayerNorm) has a weight or a bias but not both")
                return lambda x: F.layer_norm(x, shape, eps=eps)
            weight = self.stack([m.weight for m in copies]).unsqueeze(1)
            bias = self.stack([m.bias for m in copies]).unsqueeze(1)
            return lambda x: torch.addcmul(bias, F.layer_norm(x, shape, eps=eps), weight)
        if type(first).__name__ in ELEMENTWISE and type(first) is getattr(nn, type(first).__name__):
            return first
        if isinstance(first, nn.Flatten) and (first.start_dim, first.end_dim) == (1, -1):
            return lambda x: x.flatten(2)
        if isinstance(first, Reshape):
            return lambda x: x.view(*x.shape[:2], *first.shape)
        if isinstance(first, Logits):
            return lambda x: x.reshape(x.shape[:2])
        raise Unsupported(f"{where} ({type(first).__name__}) cannot be stacked over seeds")

    def grad_norms(self) -> Tensor:
        """Each seed's gradient norm over all its parameters, shape (K,)."""
        import torch

        grads = [s.grad for s in self.parameters() if s.grad is not None]
        return torch.linalg.vector_norm(torch.stack([g.flatten(1).norm(dim=1) for g in grads], 1), dim=1)

    def unstack(self, stacked_opt, seed_opts: list) -> None:
        """Copy each seed's slice of the weights and of the optimizer state into its own net and optimizer."""
        import torch

        with torch.no_grad():
            for stacked, params in self.links:
                state = stacked_opt.state.get(stacked, {})
                for k, (param, opt) in enumerate(zip(params, seed_opts)):
                    param.copy_(stacked[k])
                    opt.state[param] = {
                        key: (v[k] if v.shape == stacked.shape else v).clone() if torch.is_tensor(v) else v
                        for key, v in state.items()
                    }


def per_seed_losses(loss) -> tuple[Callable, Callable]:
    """The loss's d_loss and g_loss mapped over seeds with ``torch.vmap``: (K, batch) logits -> (K,) losses."""
    import torch

    d_loss = torch.vmap(loss.d_loss)
    g_loss = torch.vmap(loss.g_loss) if loss.g_needs_real else torch.vmap(lambda fake: loss.g_loss(fake, None))
    logits = torch.zeros(2, 4)
    try:
        d_loss(logits, logits, logits, logits)
        g_loss(logits, logits) if loss.g_needs_real else g_loss(logits)
    except Exception as exc:  # noqa: BLE001 (any failure under vmap means: train this loss per run)
        raise Unsupported(f"loss {loss.name} does not run under torch.vmap ({type(exc).__name__}: {exc})") from None
    return d_loss, g_loss


class Seeds:
    """The K seeds' own runs (for sampling, evaluation and checkpoints) and their stacked G, D and optimizers."""

    def __init__(self, configs: list[RunConfig], catalog: Catalog | None = None):
        from .trainer import build_optimizer, build_run

        reason = why_not(configs, catalog)
        if reason:
            raise Unsupported(reason)
        built = [build_run(config, catalog) for config in configs]
        self.runs, self.hooks, self.metrics = (list(parts) for parts in zip(*built))
        first = self.runs[0]
        self.g = StackedNet([run.generator for run in self.runs], "G")
        self.d = StackedNet([run.discriminator for run in self.runs], "D")
        self.d_loss, self.g_loss = per_seed_losses(first.loss)
        self.opt_g = build_optimizer(first.optimizer["g"], self.g.parameters())
        self.opt_d = build_optimizer(first.optimizer["d"], self.d.parameters())
        self.batch, self.joint, self.g_needs_real = (
            first.config.batch_size, first.joint_d_batch, first.loss.g_needs_real
        )
        self.last: dict[str, Tensor] = {}

    def real(self) -> Tensor:
        import torch

        return torch.stack([run.sample_real(self.batch) for run in self.runs])

    def z(self) -> Tensor:
        import torch

        return torch.stack([run.sample_z(self.batch) for run in self.runs])

    def discriminate(self, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        import torch

        if self.joint:
            return self.d(torch.cat([real, fake], 1)).split([real.shape[1], fake.shape[1]], 1)
        return self.d(real), self.d(fake)

    def update(self, net: str, losses: Tensor, measure: bool) -> None:
        """Backward the sum of the seeds' losses (each seed's gradient is its own) and step."""
        optimizer, stacked = (self.opt_d, self.d) if net == "d" else (self.opt_g, self.g)
        optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        if measure:
            self.last[f"{net}_grad_norm"] = stacked.grad_norms()
        optimizer.step()

    def d_step(self, measure: bool) -> tuple[Tensor, Tensor, Tensor]:
        """One D update of every seed, drawing from each seed's streams in the trainer's order."""
        import torch

        real = self.real()
        with torch.no_grad():
            fake = self.g(self.z())
        real_logits, fake_logits = self.discriminate(real, fake)
        d_loss = self.d_loss(real_logits, fake_logits, torch.ones_like(real_logits), torch.zeros_like(fake_logits))
        self.update("d", d_loss, measure)
        return d_loss.detach(), real_logits.detach(), fake_logits.detach()

    def g_step(self, measure: bool) -> Tensor:
        fake_logits = self.d(self.g(self.z()))
        if self.g_needs_real:
            g_loss = self.g_loss(fake_logits, self.d(self.real()))
        else:
            g_loss = self.g_loss(fake_logits)
        self.update("g", g_loss, measure)
        return g_loss.detach()

    def unstack(self) -> None:
        """Bring every seed's own G, D and optimizers up to date (before evaluating or checkpointing)."""
        self.g.unstack(self.opt_g, [run.opt_g for run in self.runs])
        self.d.unstack(self.opt_d, [run.opt_d for run in self.runs])


class SeedLossLog(LossLog):
    """The trainer's loss log with one column per seed: per-step (K,) losses and (K, batch) logits."""

    def fold(self) -> None:
        import torch

        if not self.pending:
            return
        d_loss, g_loss, real_logits, fake_logits = (torch.stack(x).float() for x in zip(*self.pending))
        sums = torch.stack([d_loss.double().sum(0), g_loss.double().sum(0),
                            *(x.sigmoid().flatten(2).mean(2).double().sum(0) for x in (real_logits, fake_logits))])
        self.sums = sums if self.sums is None else self.sums + sums
        self.pending = []

    def seed_total(self, k: int):
        """Seed k's four sums so far, as the trainer's LossLog keeps them (for its checkpoint)."""
        self.fold()
        return None if self.sums is None else self.sums[:, k].clone()

    def flush_rows(self, last: dict[str, Tensor]) -> list[dict[str, float]]:
        """One row per seed: the means since the last flush and the last measured grad norms."""
        self.fold()
        means = (self.sums / self.count).T.tolist()
        self.sums, self.count = None, 0
        norms = {key: v.tolist() for key, v in last.items()}
        return [dict(zip(LossLog.KEYS, row)) | {key: v[k] for key, v in norms.items()} for k, row in enumerate(means)]


def train_vectorized(
    configs: list[RunConfig], outs: list[Path | None] | None = None, *, catalog: Catalog | None = None,
    reports: list[Report] | None = None,
) -> list[Outcome]:
    """Train configs that differ only in ``seed`` as one batched model; each writes to its ``outs`` folder.

    ``reports[k](step, metrics)`` is called after each of seed k's evaluations, as ``train``'s ``report``.

    Returns each seed's outcome: what :func:`ganx.trainer.train` returns, or the TrainingFailure it
    would raise. Raises :class:`Unsupported` (before anything is trained or written) if the seeds
    cannot be stacked. SIGINT/SIGTERM stop after the current step with every live seed's checkpoint
    saved, raising :class:`ganx.resume.Interrupted`; each seed then resumes as a separate run.
    """
    from . import results
    from .resume import Interrupted, deferred_signals, run_state
    from .trainer import check_finite, evaluate

    seeds = Seeds(configs, catalog)
    config, runs = configs[0], seeds.runs
    writers = [results.RunWriter(out, c) if out else None for c, out in zip(configs, outs or [None] * len(configs))]
    outcomes: list[Outcome | None] = [None] * len(configs)
    finals: list[tuple] = [()] * len(configs)
    log = SeedLossLog()

    def live() -> list[int]:
        return [k for k, outcome in enumerate(outcomes) if outcome is None]

    def checkpoint() -> None:  # after seeds.unstack()
        for k in live():
            if writers[k]:
                writers[k].checkpoint(run_state(runs[k], log.seed_total(k), log.count))

    with deferred_signals() as signals:
        for step in range(config.steps):
            for run in runs:
                run.step = step
            measure = (step + 1) % config.log_every == 0
            for _ in range(runs[0].d_steps):
                d_loss, d_real, d_fake = seeds.d_step(measure)
            for _ in range(runs[0].g_steps):
                g_loss = seeds.g_step(measure)
            log.add(d_loss, g_loss, d_real, d_fake)

            if measure or step + 1 == config.steps:
                rows = log.flush_rows(seeds.last)
                for k in live():
                    try:
                        row = check_finite(rows[k], step + 1)
                    except TrainingFailure as failure:
                        outcomes[k] = failure
                        if writers[k]:
                            writers[k].finish({"failed": failure.reason, "step": failure.step})
                        continue
                    if writers[k]:
                        writers[k].log({"step": step + 1, **row})
                if not live():
                    break
            if (config.eval.every and (step + 1) % config.eval.every == 0) or step + 1 == config.steps:
                seeds.unstack()
                for k in live():
                    finals[k] = evaluate(runs[k], seeds.hooks[k], seeds.metrics[k])
                    if writers[k]:
                        writers[k].log({"step": step + 1, **finals[k][0]})
                checkpoint()
                for k in live() if reports else ():
                    reports[k](step + 1, finals[k][0])
            if signals and step + 1 < config.steps:
                seeds.unstack()
                checkpoint()
                raise Interrupted(signals[0], step + 1)
    for k in live():
        values, protocol, fake = finals[k]
        outcomes[k] = {"step": config.steps, "metrics": values, "protocol": protocol}
        if writers[k]:
            writers[k].samples(fake, runs[k].dataset)
            writers[k].finish(outcomes[k])
    return outcomes


def train_seeds(
    configs: list[RunConfig], outs: list[Path | None] | None = None, *, catalog: Catalog | None = None
) -> list[Outcome]:
    """Each config's outcome: trained together by :func:`train_vectorized` when they allow it, else one by one."""
    from .trainer import train

    try:
        return train_vectorized(configs, outs, catalog=catalog)
    except Unsupported:
        pass
    outcomes: list[Outcome] = []
    for config, out in zip(configs, outs or [None] * len(configs)):
        try:
            outcomes.append(train(config, out, catalog=catalog))
        except TrainingFailure as failure:
            outcomes.append(failure)
    return outcomes
