"""A recording trick for tests: trains a run and hands back its live state and per-step losses."""

from __future__ import annotations

from collections import Counter

import torch

from ganx import Trick, hookimpl
from ganx.trainer import train


class Probe(Trick):
    """Keeps the run, G's weights before training, each step's (d_loss, g_loss), and update counts."""

    name = "test-probe"
    last = None

    def setup(self, run):
        Probe.last = self
        self.run = run
        self.g_before = [p.detach().clone() for p in run.generator.parameters()]
        self.losses, self.d_updates, self.g_updates = [], Counter(), Counter()

    def after_d_step(self, run):
        self.d_updates[run.step] += 1

    def after_g_step(self, run):
        self.g_updates[run.step] += 1
        self.losses.append(torch.stack([run.last["d_loss"], run.last["g_loss"]]))

    def g_changed(self) -> bool:
        return any(not torch.equal(a, b) for a, b in zip(self.g_before, self.run.generator.parameters()))


class ProbePlugin:
    @hookimpl
    def register_tricks(self, register):
        register(Probe)


def probed_train(config_dict: dict, register_plugin) -> Probe:
    """Train ``config_dict`` with the probe appended to its tricks; return the probe."""
    from ganx.config import validate_run

    register_plugin(ProbePlugin())
    tricks = [*config_dict.get("tricks", []), "test-probe"]
    train(validate_run({**config_dict, "tricks": tricks}, "test"))
    return Probe.last


class Crash(Trick):
    """Raises in its first G step: a plugin fault, which fails the run naming the plugin."""

    name = "test-crash"

    def after_g_step(self, run):
        raise RuntimeError("boom")


class CrashPlugin:
    @hookimpl
    def register_tricks(self, register):
        register(Crash)
