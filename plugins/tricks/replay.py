"""Showing the networks their past (ganhacks #8): old fakes to D, or old checkpoints swapped in."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ganx import Params, Trick


class FakeReplay:
    """A ring buffer of past fakes on the device; a fraction of each D fake batch is drawn from it."""

    def __init__(self, size: int, fraction: float, rng):
        self.size, self.fraction, self.rng = size, fraction, rng
        self.buffer, self.filled, self.position = None, 0, 0

    def state_dict(self) -> dict:
        return {"rng": self.rng.get_state(), "buffer": self.buffer, "filled": self.filled, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.rng.set_state(state["rng"])
        self.buffer = None if state["buffer"] is None else state["buffer"].to(self.rng.device)
        self.filled, self.position = state["filled"], state["position"]

    def mix(self, fake):
        import torch

        fresh = fake[-self.size :]
        old = round(self.fraction * len(fake))
        if old and self.filled >= old:
            pick = torch.randint(self.filled, (old,), generator=self.rng, device=fake.device)
            fake = torch.cat([self.buffer[pick], fake[old:]])
        self.push(fresh)
        return fake

    def push(self, fresh) -> None:
        import torch

        if self.buffer is None:
            self.buffer = fresh.new_empty(self.size, *fresh.shape[1:])
        slots = (self.position + torch.arange(len(fresh), device=fresh.device)) % self.size
        self.buffer[slots] = fresh
        self.position = (self.position + len(fresh)) % self.size
        self.filled = min(self.filled + len(fresh), self.size)


class CheckpointSwap:
    """Every ``every`` steps: snapshot one network or, with probability ``swap_prob``, load an older
    snapshot into it for ``swap_for`` steps, during which only the other network trains."""

    def __init__(self, net: str, keep: int, every: int, swap_prob: float, swap_for: int, seed: int):
        import random

        self.net, self.keep, self.every, self.swap_prob, self.swap_for = net, keep, every, swap_prob, swap_for
        self.random = random.Random(seed)
        self.snapshots, self.current, self.until, self.seen = [], None, -1, -1
        self.steps_before = None  # the frozen network's step count while an old snapshot is in

    STATE = ("snapshots", "current", "until", "seen", "steps_before")

    def state_dict(self) -> dict:
        return {"random": self.random.getstate()} | {name: getattr(self, name) for name in self.STATE}

    def load_state_dict(self, state: dict) -> None:
        self.random.setstate(state["random"])
        for name in self.STATE:
            setattr(self, name, state[name])

    def module(self, run):
        return run.generator if self.net == "g" else run.discriminator

    def set_frozen(self, run, frozen: bool) -> None:
        steps = "g_steps" if self.net == "g" else "d_steps"
        if frozen:
            self.steps_before = getattr(run, steps)
        setattr(run, steps, 0 if frozen else self.steps_before)

    def tick(self, run) -> None:
        if run.step == self.seen:
            return
        self.seen = run.step
        module = self.module(run)
        restored = self.current is not None
        if restored:
            if run.step < self.until:
                return
            module.load_state_dict(self.current)
            self.current = None
            self.set_frozen(run, False)
        if run.step % self.every:
            return
        if not restored and self.snapshots and self.random.random() < self.swap_prob:
            self.current = snapshot(module)
            module.load_state_dict(self.random.choice(self.snapshots))
            self.until = run.step + self.swap_for
            self.set_frozen(run, True)
        else:
            self.snapshots = [*self.snapshots, snapshot(module)][-self.keep :]


def snapshot(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class ReplayBuffer(Trick):
    """Experience replay for D (Shrivastava et al. 2017; ganhacks #8).

    ``fakes``: a buffer of the last ``size`` fakes; ``fraction`` of each D fake batch is drawn from it.
    ``checkpoints``: every ``every`` steps a snapshot of ``net`` is kept (the last ``keep``); with
    probability ``swap_prob`` an old one is swapped in instead for ``swap_for`` steps, during which
    ``net`` is frozen and the other network trains against it; then the current weights come back.
    """

    name = "replay_buffer"

    class Params(Params):
        mode: Literal["fakes", "checkpoints"] = "fakes"
        size: int = Field(1000, ge=1, description="fakes: samples kept")
        fraction: float = Field(0.5, ge=0, le=1, description="fakes: share of D's fake batch from the buffer")
        net: Literal["g", "d"] = Field("g", description="checkpoints: which network is swapped")
        keep: int = Field(5, ge=1, description="checkpoints: snapshots kept")
        every: int = Field(500, ge=1, description="checkpoints: steps between snapshots / swap chances")
        swap_prob: float = Field(0.2, ge=0, le=1, description="checkpoints: chance of a swap at each chance")
        swap_for: int = Field(20, ge=1, description="checkpoints: steps an old checkpoint stays in")

    @classmethod
    def conflicts(cls, params, config) -> list[str]:
        if config.labels != "none" and params.mode == "fakes":
            return ["replay_buffer mode fakes keeps fakes without their class labels; use mode: checkpoints"]
        return []

    def setup(self, run):
        from ganx.plugins.randomness import own_rng

        p = self.params
        if p.mode == "fakes":
            self.replay = FakeReplay(p.size, p.fraction, own_rng(run, self.name))
        else:
            self.swap = CheckpointSwap(p.net, p.keep, p.every, p.swap_prob, p.swap_for, run.config.seed)

    def past(self):
        """What this mode remembers: the fakes buffer or the checkpoint swapper."""
        return self.replay if self.params.mode == "fakes" else self.swap

    def state_dict(self):
        return self.past().state_dict()

    def load_state_dict(self, state):
        self.past().load_state_dict(state)

    def d_inputs(self, real, fake, run):
        return (real, self.replay.mix(fake)) if self.params.mode == "fakes" else (real, fake)

    # The frozen network's own step hooks do not fire, so the other network's drive the swap.
    def after_d_step(self, run):
        if self.params.mode == "checkpoints" and self.params.net == "g":
            self.swap.tick(run)

    def after_g_step(self, run):
        if self.params.mode == "checkpoints" and self.params.net == "d":
            self.swap.tick(run)


TRICKS = (ReplayBuffer,)
