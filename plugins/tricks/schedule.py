"""How often and how fast each network trains: k D steps, TTUR, batch layout, loss-driven balancing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ganx import Params, Trick

OptimizerName = Literal["adam", "adamw", "sgd", "rmsprop"]


class DSteps(Trick):
    """k D updates per G update: the k of Algorithm 1 (Goodfellow et al. 2014), WGAN's n_critic (ganhacks #14)."""

    name = "d_steps"
    batched = True  # sets the loop's shape in setup only

    class Params(Params):
        k: int = Field(5, ge=1)

    def setup(self, run):
        run.d_steps = self.params.k


class TTUR(Trick):
    """Two time-scale update rule (Heusel et al. 2017): separate learning rates for G and D, and
    optionally a different optimizer per network (ganhacks #9: SGD for D, Adam for G)."""

    name = "ttur"
    batched = True  # sets the loop's shape in setup only

    class Params(Params):
        lr_g: float = Field(1e-4, gt=0)
        lr_d: float = Field(4e-4, gt=0)
        optimizer_g: OptimizerName | None = Field(None, description="None = keep the configured one")
        optimizer_d: OptimizerName | None = None

    def setup(self, run):
        p = self.params
        for net, lr, name in (("g", p.lr_g, p.optimizer_g), ("d", p.lr_d, p.optimizer_d)):
            update = {"lr": lr} | ({"name": name} if name else {})
            run.optimizer[net] = run.optimizer[net].model_copy(update=update)


class SeparateBatches(Trick):
    """D sees real and fake in separate forward passes (ganhacks #4), or in one joint batch, which
    mixes their batch-norm statistics."""

    name = "separate_batches"
    batched = True  # sets the loop's shape in setup only

    class Params(Params):
        separate: bool = True

    def setup(self, run):
        run.joint_d_batch = not self.params.separate

    @classmethod
    def conflicts(cls, params, config) -> list[str]:
        if params.separate:  # the trainer's own loop already gives D two passes
            return ["separate_batches with separate: true changes nothing (D already sees real and fake in "
                    "separate passes); set separate: false for one joint batch, or drop the trick"]
        return []


class LossBalance(Trick):
    """ganhacks #11's schedule: "while lossD > A: train D; while lossG > B: train G".

    Every ``every`` steps the last losses are read (one host sync): a network whose loss is above
    its threshold gets ``max_steps`` updates per step until the next check, else its usual count.
    ganhacks advises against this; it is here so an ablation can show it.
    """

    name = "loss_balance"

    class Params(Params):
        d_threshold: float = Field(0.7, description="A: train D more while its loss is above this")
        g_threshold: float = Field(1.5, description="B: train G more while its loss is above this")
        max_steps: int = Field(5, ge=1, description="updates per step for a network over its threshold")
        every: int = Field(10, ge=1, description="steps between checks")

    def setup(self, run):
        self.base = None  # the usual counts, read once every trick's setup has run (order-free)
        self.seen = -1

    def state_dict(self):
        return {"base": self.base, "seen": self.seen}

    def load_state_dict(self, state):
        self.base, self.seen = state["base"], state["seen"]

    def after_g_step(self, run):
        if self.base is None:
            self.base = {"d_steps": run.d_steps, "g_steps": run.g_steps}
        if run.step % self.params.every or run.step == self.seen:
            return
        self.seen = run.step
        import torch

        d_loss, g_loss = torch.stack([run.last["d_loss"], run.last["g_loss"]]).tolist()
        p = self.params
        run.d_steps = p.max_steps if d_loss > p.d_threshold else self.base["d_steps"]
        run.g_steps = p.max_steps if g_loss > p.g_threshold else self.base["g_steps"]


TRICKS = (DSteps, TTUR, SeparateBatches, LossBalance)
