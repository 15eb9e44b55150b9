"""The GAN training loop: Algorithm 1 of Goodfellow et al. 2014 (k D steps per G step).

Tricks never edit this loop; they act at the hook points of :class:`ganx.TrainingHooks`,
each of which is one visible call below.
"""

from __future__ import annotations

import os
import random
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .acceleration import FULL, Precision, accelerate, fits_on_device, host_sampler
from .components import DBatch, Evaluation, GBatch, Run
from .config import Optimizer, RunConfig
from .errors import PluginError, TrainingFailure, UserError
from .hooks import Hooks, blamed
from .loggers import RunLoggers
from .plugin_manager import Catalog, get_catalog

Report = Callable[[int, dict[str, float]], None]
# torch's messages
OUT_OF_MEMORY = ("out of memory", "not enough memory", "can't allocate memory", "size calculation overflowed")


def resolve_device(name: str):
    """``auto`` picks CUDA when available; asking for an absent CUDA GPU or MPS device is a UserError."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    present = {"cuda": torch.cuda.device_count(), "mps": int(torch.backends.mps.is_available())}.get(device.type)
    if present is not None and (device.index or 0) >= present:
        kind = {"cuda": "CUDA GPU", "mps": "Apple MPS device"}[device.type]
        found = f"only {present}" if present else "no"
        raise UserError(f"device: {name!r} was asked for but {found} {kind} is available (use 'cpu' or 'auto')")
    return device


def data_dir(config: RunConfig) -> Path:
    """The config's ``data_dir``, else ``$GANX_DATA_DIR``, else ``~/.cache/ganx``."""
    if config.data_dir:
        return Path(config.data_dir).expanduser()
    return Path(os.environ.get("GANX_DATA_DIR") or Path.home() / ".cache" / "ganx")


def build_optimizer(spec: Optimizer, params):
    """The configured optimizer; Adam(W) uses PyTorch's fused kernel (one call per step, not one per tensor)."""
    import torch

    params = list(params)
    fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    adam = dict(betas=spec.betas, eps=spec.eps, weight_decay=spec.weight_decay, fused=fused or None)
    make = {
        "adam": lambda: torch.optim.Adam(params, spec.lr, **adam),
        "adamw": lambda: torch.optim.AdamW(params, spec.lr, **adam),
        "sgd": lambda: torch.optim.SGD(params, spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay),
        "rmsprop": lambda: torch.optim.RMSprop(
            params, spec.lr, momentum=spec.momentum, eps=spec.eps, weight_decay=spec.weight_decay
        ),
    }
    return make[spec.name]()


@contextmanager
def memory_for(field: str):
    """Running out of memory inside the block becomes a UserError naming the config ``field`` to shrink."""
    try:
        yield
    except (MemoryError, RuntimeError, PluginError) as exc:
        cause = exc.__cause__ if isinstance(exc, PluginError) else exc
        text = str(cause)
        if not (isinstance(cause, MemoryError) or any(sign in text for sign in OUT_OF_MEMORY)):
            raise
        first = text.strip().splitlines()[0] if text.strip() else type(cause).__name__
        raise UserError(f"{field}: not enough memory to build it ({first}); make it smaller") from None


def build_run(config: RunConfig, catalog: Catalog | None = None) -> tuple[Run, Hooks, list]:
    """Seed everything, load the data, build G, D, the plugins and the optimizers."""
    import torch

    catalog = catalog or get_catalog()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    random.seed(config.seed)  # for plugins that use it; a checkpoint holds its state too
    device = resolve_device(config.device)
    dataset = catalog.create("dataset", config.dataset)
    with memory_for("dataset"):
        real, labels = blamed(dataset, "load", data_dir(config), "train")
        on_device = fits_on_device(real, device)
        data = real.to(device) if on_device else real
    conditional = {}
    if config.labels != "none":
        if labels is None:
            raise UserError(f"labels: dataset {dataset.name!r} has no class labels; use labels: none")
        labels = labels.to(data.device)
        frequencies = torch.bincount(labels).float().to(device)
        frequencies /= frequencies.sum()
        conditional = {"labels": labels, "num_classes": len(frequencies), "class_frequencies": frequencies}
    num_classes = [conditional["num_classes"]] if conditional else []
    shape = tuple(data.shape[1:])
    arch_g, arch_d = catalog.create("architecture", config.arch.g), catalog.create("architecture", config.arch.d)
    norm_g, norm_d = catalog.create("normalization", config.norm.g), catalog.create("normalization", config.norm.d)
    loss = catalog.create("loss", config.loss)
    tricks = [catalog.create("trick", spec) for spec in config.tricks]
    rng = torch.Generator(device=device)
    rng.manual_seed(config.seed)

    def sample_z(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, config.latent_dim, generator=generator or rng, device=device)

    with memory_for("arch.g"):
        generator = blamed(arch_g, "build_generator", config.latent_dim, shape, norm_g, *num_classes).to(device)
    with memory_for("arch.d"):
        discriminator = blamed(arch_d, "build_discriminator", shape, norm_d, *num_classes).to(device)
    init = {"g": catalog.create("initialization", config.init.g), "d": catalog.create("initialization", config.init.d)}
    blamed(init["g"], "apply", generator)
    blamed(init["d"], "apply", discriminator)

    run = Run(
        config=config,
        device=device,
        dataset=dataset,
        data=data,
        data_shape=shape,
        arch_g=arch_g,
        arch_d=arch_d,
        norm_g=norm_g,
        norm_d=norm_d,
        loss=loss,
        generator=generator,
        discriminator=discriminator,
        sample_z=sample_z,
        rng=rng,
        optimizer={"g": config.optimizer.g, "d": config.optimizer.d},
        init=init,
        **conditional,
    )
    if not on_device:
        run.sample_real = host_sampler(data, device, config.seed)
    hooks = Hooks([loss, *tricks])
    hooks.each("setup", run)
    accelerate(run, config)
    run.opt_g = build_optimizer(run.optimizer["g"], run.generator.parameters())
    run.opt_d = build_optimizer(run.optimizer["d"], run.discriminator.parameters())
    metrics = [catalog.create("metric", spec) for spec in config.metrics]
    return run, hooks, metrics


def real_batch(run: Run, n: int):
    """n real samples, and their class labels (None for an unconditional run)."""
    return run.sample_labeled(n) if run.num_classes else (run.sample_real(n), None)


def class_labels(run: Run, n: int):
    """n class labels for G to generate (None for an unconditional run)."""
    return run.sample_labels(n) if run.num_classes else None


def forward(net, x, labels):
    """``net(x)``, or ``net(x, labels)`` for a conditional run's G and D."""
    return net(x) if labels is None else net(x, labels)


def discriminate(run: Run, real, fake, real_labels=None, fake_labels=None):
    """D's logits on real and fake: two passes, or one joint batch when ``run.joint_d_batch``."""
    import torch

    if run.joint_d_batch:
        batch = 1 if run.seeds else 0  # a stacked run's batches are seed first
        labels = None if real_labels is None else torch.cat([real_labels, fake_labels])
        logits = forward(run.discriminator, torch.cat([real, fake], batch), labels)
        n_real, n_fake = real.shape[batch], fake.shape[batch]
        cut = logits.shape[-1] * n_real // (n_real + n_fake)  # D may pack samples (fewer logits)
        return logits[..., :cut], logits[..., cut:]
    return forward(run.discriminator, real, real_labels), forward(run.discriminator, fake, fake_labels)


def grad_norm(module, seeds: int | None = None):
    """The norm of all of ``module``'s gradients (a 0-d tensor), or of each seed's of a stacked net (``(K,)``)."""
    import torch

    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(seeds or ())
    lead = 1 if seeds else 0
    return torch.linalg.vector_norm(torch.stack([g.flatten(lead).norm(dim=-1) for g in grads], -1), dim=-1)


def backward(run: Run, net: str, loss, measure: bool, amp: Precision) -> None:
    """Gradients of ``loss`` for ``net`` ("d" or "g"), and their norm on log steps.

    A stacked run's loss holds one value per seed: their sum's gradient is each seed's own.
    """
    optimizer, module = (run.opt_d, run.discriminator) if net == "d" else (run.opt_g, run.generator)
    optimizer.zero_grad(set_to_none=True)
    amp.backward(loss.sum() if run.seeds else loss, optimizer)
    if measure:
        run.last[f"{net}_grad_norm"] = grad_norm(module, run.seeds)


def d_step(run: Run, hooks: Hooks, measure: bool, amp: Precision = FULL):
    """One discriminator update. Returns the detached D loss and D's logits on real and fake."""
    import torch

    n = run.batch_size
    with amp.autocast():
        real, real_labels = real_batch(run, n)
        fake_labels = class_labels(run, n)
        with torch.no_grad():
            fake = forward(run.generator, run.sample_z(n), fake_labels)
        real, fake = hooks.pipe_pair("d_inputs", real, fake, run)
        real_logits, fake_logits = discriminate(run, real, fake, real_labels, fake_labels)
        real_target, fake_target = hooks.pipe_pair(
            "d_targets", torch.ones_like(real_logits), torch.zeros_like(fake_logits), run
        )
        d_loss = blamed(run.loss, "d_loss", real_logits, fake_logits, real_target, fake_target)
        batch = DBatch(real, fake, real_logits, fake_logits, real_labels, fake_labels)
        d_loss = hooks.pipe("adjust_d_loss", d_loss, batch, run)
    run.last["real_logits"], run.last["fake_logits"] = real_logits.detach(), fake_logits.detach()
    backward(run, "d", d_loss, measure, amp)
    hooks.each("before_d_step", run)
    amp.step(run.opt_d)
    run.last["d_loss"] = d_loss.detach()
    hooks.each("after_d_step", run)
    return run.last["d_loss"], run.last["real_logits"], run.last["fake_logits"]


def g_step(run: Run, hooks: Hooks, measure: bool, amp: Precision = FULL):
    """One generator update. Returns the detached G loss."""
    n = run.batch_size
    with amp.autocast():
        z, fake_labels = run.sample_z(n), class_labels(run, n)
        fake = hooks.pipe("g_inputs", forward(run.generator, z, fake_labels), run)
        fake_logits = forward(run.discriminator, fake, fake_labels)
        real_logits = real_labels = None
        if run.loss.g_needs_real:
            real, real_labels = real_batch(run, n)
            real_logits = forward(run.discriminator, hooks.pipe("g_real_inputs", real, run), real_labels)
        g_loss = blamed(run.loss, "g_loss", fake_logits, real_logits)
        batch = GBatch(z, fake, fake_logits, real_logits, fake_labels, real_labels)
        g_loss = hooks.pipe("adjust_g_loss", g_loss, batch, run)
    backward(run, "g", g_loss, measure, amp)
    hooks.each("before_g_step", run)
    amp.step(run.opt_g)
    run.last["g_loss"] = g_loss.detach()
    hooks.each("after_g_step", run)
    return run.last["g_loss"]


def eval_labels(run: Run, n: int):
    """The classes of an evaluation's n fakes: each class in turn (None for an unconditional run)."""
    import torch

    return torch.arange(n, device=run.device) % run.num_classes if run.num_classes else None


def generate(run: Run, hooks: Hooks, n: int, chunk: int = 1000):
    """``n`` samples from a fixed z (the same at every evaluation), with G in eval mode; a conditional
    run's are of the classes :func:`eval_labels` gives."""
    import torch

    g = run.eval_generator or run.generator
    was_training = g.training
    g.eval()
    hooks.each("before_eval", run)
    z_rng = torch.Generator(device=run.device)
    z_rng.manual_seed(run.config.seed + 1_000_003)
    labels = eval_labels(run, n)
    with torch.no_grad():
        z = run.sample_z(n, z_rng)
        fake = torch.cat([
            forward(g, z[i : i + chunk], None if labels is None else labels[i : i + chunk]) for i in range(0, n, chunk)
        ])
    g.train(was_training)
    return fake


def evaluate(run: Run, hooks: Hooks, metrics: list) -> tuple[dict[str, float], dict[str, Any], Any]:
    """Compute every configured metric on freshly generated samples."""
    fake = generate(run, hooks, run.config.eval.samples)
    ev = Evaluation(
        fake=fake, dataset=run.dataset, data_dir=data_dir(run.config), device=run.device, seed=run.config.seed,
        labels=eval_labels(run, len(fake)),
    )
    values = {m.name: float(blamed(m, "compute", ev)) for m in metrics}
    protocol = {m.name: blamed(m, "protocol", ev) for m in metrics}
    hooks.each("after_eval", run, values)
    return values, protocol, fake


class LossLog:
    """Per-step D loss, G loss, D(x) and D(G(z)), averaged over each log row, per seed.

    A step only keeps references to its detached tensors; they are summed (in float64, so that
    folding at a checkpoint cannot change a mean's last bits) on the device every
    ``FOLD`` steps, so the hot loop does no tensor work for logging and a row costs one host sync.
    A stacked run's values carry a leading seed dimension, and its sums have one column per seed.
    """

    KEYS = ("d_loss", "g_loss", "d_real", "d_fake")
    FOLD = 64

    def __init__(self, seeds: int | None = None):
        self.seeds, self.sums, self.count, self.pending = seeds, None, 0, []

    def add(self, d_loss, g_loss, real_logits, fake_logits) -> None:
        self.pending.append((d_loss, g_loss, real_logits, fake_logits))
        self.count += 1
        if len(self.pending) == self.FOLD:
            self.fold()

    def fold(self) -> None:
        import torch

        if not self.pending:
            return
        d_loss, g_loss, real_logits, fake_logits = zip(*self.pending)
        sums = torch.stack([
            torch.stack(d_loss).double().sum(0), torch.stack(g_loss).double().sum(0),
            self.sigmoid_means_sum(real_logits), self.sigmoid_means_sum(fake_logits),
        ])
        self.sums = sums if self.sums is None else self.sums + sums
        self.pending = []

    def sigmoid_means_sum(self, logits):
        """Sum over steps of each step's mean D output, sigmoid(logit); one batched op when shapes agree."""
        import torch

        batch = 1 if self.seeds else 0
        if len({x.shape for x in logits}) == 1:
            return torch.stack(logits).float().sigmoid().flatten(batch + 1).mean(-1).double().sum(0)
        return torch.stack([x.float().sigmoid().flatten(batch).mean(-1) for x in logits]).double().sum(0)

    @property
    def total(self):
        """The four sums over the steps so far (None before the first step); a resume restores it."""
        self.fold()
        return self.sums

    @total.setter
    def total(self, sums) -> None:
        self.sums, self.pending = sums, []

    def seed_total(self, k: int):
        """Seed k's four sums so far, as its own run's log keeps them (for its checkpoint)."""
        total = self.total
        return total[:, k].clone() if self.seeds and total is not None else total

    def flush(self, run: Run) -> list[dict[str, float]]:
        """Each seed's row: its means since the last flush, and its grad norms of this step."""
        means = (self.total / self.count).reshape(len(self.KEYS), -1).T.tolist()
        self.sums, self.count = None, 0
        norms = {k: run.last[k].reshape(-1).tolist() for k in ("d_grad_norm", "g_grad_norm") if k in run.last}
        return [dict(zip(self.KEYS, row)) | {k: v[seed] for k, v in norms.items()} for seed, row in enumerate(means)]


def check_finite(row: dict[str, float], step: int) -> dict[str, float]:
    """The log row of ``step`` (1-based, as logged), or TrainingFailure naming its first non-finite value."""
    import math

    bad = [k for k, v in row.items() if not math.isfinite(v)]
    if bad:
        raise TrainingFailure(f"non-finite {bad[0]} ({row[bad[0]]})", step)
    return row


@dataclass
class Seeds:
    """What one loop trains: each seed's own run (with its hooks and metrics), and the run it steps:
    that same run for one seed, or all of them stacked (:mod:`ganx.stacked`)."""

    own: list[tuple[Run, Hooks, list]]
    run: Run
    hooks: Hooks

    @classmethod
    def build(cls, configs: list[RunConfig], catalog: Catalog | None = None) -> Seeds:
        """Build each seed's run; stack them if there are several (Unsupported, before any is built, if they can't)."""
        if len(configs) == 1:
            run, hooks, metrics = build_run(configs[0], catalog)
            return cls([(run, hooks, metrics)], run, hooks)
        from . import stacked  # imports torch

        reason = stacked.why_not(configs, catalog)
        if reason:
            raise stacked.Unsupported(reason)
        own = [build_run(config, catalog) for config in configs]
        run = stacked.stack_runs([seed_run for seed_run, _, _ in own])
        run.opt_g = build_optimizer(run.optimizer["g"], run.generator.parameters())
        run.opt_d = build_optimizer(run.optimizer["d"], run.discriminator.parameters())
        return cls(own, run, own[0][1])  # a batched plugin's hooks: the first seed's instance

    def sync(self) -> None:
        """Bring each seed's own run up to date (before it is evaluated or checkpointed)."""
        if self.run.seeds:
            from .stacked import unstack

            unstack(self.run, [seed_run for seed_run, _, _ in self.own])

    def logged(self) -> list[dict[str, float]]:
        """Each seed's :meth:`ganx.Run.log` values since the last log row, as floats (then forgotten):
        those logged on its own run, and its slice of those logged on the stacked run."""
        rows = []
        for k, (seed_run, _, _) in enumerate(self.own):
            row = {name: float(value) for name, value in seed_run.logged.items()}
            if self.run.seeds:
                row |= {name: float(value[k]) for name, value in self.run.logged.items()}
            rows.append(row)
            seed_run.logged.clear()
        self.run.logged.clear()
        return rows


@contextmanager
def told_on_crash(loggers: list[RunLoggers], run: Run):
    """Tell the loggers still live that the run ended, with the exception escaping the block (re-raised)."""
    try:
        yield
    except BaseException as exc:
        reason = " ".join(f"{type(exc).__name__}: {exc}".split())
        for seed_loggers in loggers:
            seed_loggers.finish({"failed": reason, "step": run.step})
        raise


Outcome = dict[str, Any] | TrainingFailure  # a seed's final.json content, or how it diverged


def train(
    config: RunConfig,
    out: Path | None = None,
    *,
    catalog: Catalog | None = None,
    report: Report | None = None,
    resume: bool = False,
    progress: Report | None = None,
    sweep: str | None = None,
    arm: str | None = None,
) -> dict[str, Any]:
    """Train one GAN; write results into ``out`` if given. Returns the final metrics and protocol.

    ``report(step, metrics)`` is called after every evaluation (a sweep uses it for pruning), and
    ``progress(step, row)`` after every log row (``ganx run`` shows it). The config's loggers log a
    run with an ``out`` folder, told the ``sweep`` and ``arm`` it belongs to (a sweep cell's).
    With ``resume``, training continues from ``out/checkpoint.pt``. SIGINT/SIGTERM stop the run
    after the current step with a checkpoint saved, raising :class:`ganx.resume.Interrupted`.
    Raises TrainingFailure if the run diverges.
    """
    [outcome] = train_seeds([config], [out], catalog=catalog, reports=[report], progress=[progress], resume=resume,
                            sweep=sweep, arm=arm)
    if isinstance(outcome, TrainingFailure):
        raise outcome
    return outcome


def train_seeds(
    configs: list[RunConfig],
    outs: list[Path | None] | None = None,
    *,
    catalog: Catalog | None = None,
    reports: list[Report | None] | None = None,
    progress: list[Report | None] | None = None,
    resume: bool = False,
    sweep: str | None = None,
    arm: str | None = None,
) -> list[Outcome]:
    """The training loop: configs that differ only in ``seed``, each writing to its ``outs`` folder.

    One config is one run. Several train as one stacked model (:mod:`ganx.stacked`), stepped by this
    same loop; each seed's results equal its separate run's, up to float reduction order.
    Raises :class:`ganx.stacked.Unsupported`, before anything is written, if they cannot be stacked.
    ``reports[k]`` and ``progress[k]`` are seed k's callbacks, as :func:`train`'s, and ``sweep`` and
    ``arm`` what its loggers are told. ``resume`` (one config only) continues from
    ``outs[0]/checkpoint.pt``. Returns each seed's outcome: its final metrics and protocol, or the
    TrainingFailure it diverged with (a seed fails alone).
    SIGINT/SIGTERM stop after the current step with every live seed's checkpoint saved, raising
    :class:`ganx.resume.Interrupted`.
    """
    from . import results
    from .resume import Interrupted, deferred_signals, resume_from, run_state

    catalog = catalog or get_catalog()
    seeds = Seeds.build(configs, catalog)
    run, hooks, config = seeds.run, seeds.hooks, configs[0]
    amp_d, amp_g = Precision(config.amp, run.device.type), Precision(config.amp, run.device.type)
    log, start = LossLog(run.seeds), 0
    if resume:
        (out,) = outs
        start, log.total, log.count = resume_from(run, Path(out) / "checkpoint.pt", hooks.plugins)
    outs, none = outs or [None] * len(configs), [None] * len(configs)
    reports, progress = reports or none, progress or none
    writers = [results.RunWriter(out, c, start if resume else None) if out else None for c, out in zip(configs, outs)]
    loggers = [RunLoggers(c, out, sweep, arm, catalog) for c, out in zip(configs, outs)]
    outcomes: list[Outcome | None] = list(none)
    finals: list[tuple | None] = list(none)

    def live() -> list[int]:
        return [k for k, outcome in enumerate(outcomes) if outcome is None]

    def fail(k: int, failure: TrainingFailure) -> None:
        outcomes[k] = failure
        if writers[k]:
            writers[k].finish({"failed": failure.reason, "step": failure.step})
        loggers[k].finish({"failed": failure.reason, "step": failure.step})

    def evaluate_seed(k: int) -> None:
        seed_run, seed_hooks, metrics = seeds.own[k]
        try:
            finals[k] = evaluate(seed_run, seed_hooks, metrics)
        except TrainingFailure as failure:
            fail(k, failure)

    def checkpoint() -> None:  # after seeds.sync()
        for k in live():
            if writers[k]:
                seed_run, seed_hooks, _ = seeds.own[k]
                writers[k].checkpoint(run_state(seed_run, log.seed_total(k), log.count, seed_hooks.plugins))

    with told_on_crash(loggers, run), deferred_signals() as signals:
        for step in range(start, config.steps):
            run.step = step
            measure = (step + 1) % config.log_every == 0
            try:
                for _ in range(run.d_steps):
                    d_step(run, hooks, measure, amp_d)
                for _ in range(run.g_steps):
                    g_step(run, hooks, measure, amp_g)
            except TrainingFailure as failure:  # raised by a hook of the stepped run: it speaks for all its seeds
                for k in live():
                    fail(k, failure)
                break
            last = run.last  # this step's, or a frozen network's latest (kept in checkpoints)
            log.add(last["d_loss"], last["g_loss"], last["real_logits"], last["fake_logits"])

            if measure or step + 1 == config.steps:
                rows, logged = log.flush(run), seeds.logged()
                for k in live():
                    try:
                        row = check_finite(rows[k], step + 1)
                    except TrainingFailure as failure:
                        fail(k, failure)
                        continue
                    row |= {name: value for name, value in logged[k].items() if name not in row}
                    if writers[k]:
                        writers[k].log({"step": step + 1, **row})
                    loggers[k].log(step + 1, row)
                    if progress[k]:
                        progress[k](step + 1, row)
            if (config.eval.every and (step + 1) % config.eval.every == 0) or step + 1 == config.steps:
                seeds.sync()
                for k in live():
                    evaluate_seed(k)
                    if outcomes[k] is None:
                        values, _, fake = finals[k]
                        if writers[k]:
                            writers[k].log({"step": step + 1, **values})
                        seed_run = seeds.own[k][0]
                        labels = eval_labels(seed_run, len(fake))
                        loggers[k].evaluation(step + 1, values, fake, seed_run.dataset, labels)
                checkpoint()
                for k in live():
                    if reports[k]:
                        reports[k](step + 1, finals[k][0])
            if not live():
                break
            if signals and step + 1 < config.steps:
                seeds.sync()
                checkpoint()
                raise Interrupted(signals[0], step + 1)
    with told_on_crash(loggers, run):
        for k in live():
            if finals[k] is None:  # resumed from the final checkpoint of a run stopped before final.json
                evaluate_seed(k)
        for k in live():
            values, protocol, fake = finals[k]
            outcomes[k] = {"step": config.steps, "metrics": values, "protocol": protocol}
            if writers[k]:
                seed_run = seeds.own[k][0]
                writers[k].samples(fake, seed_run.dataset, eval_labels(seed_run, len(fake)))
                writers[k].finish(outcomes[k])
            loggers[k].finish(outcomes[k])
    return outcomes
