"""Stopping a run that has failed (ganhacks #10), instead of paying for the rest of it."""

from __future__ import annotations

from pydantic import Field

from ganx import Params, TrainingFailure, Trick


def total_grad_norm(module):
    """The 2-norm of all of ``module``'s gradients, as a device tensor (no host sync)."""
    import torch

    grads = [p.grad for p in module.parameters() if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())


class FailureDetector(Trick):
    """Raise TrainingFailure when D's loss stays near 0, a gradient norm exceeds ``max_grad_norm``,
    or a loss is not finite (ganhacks #10). Checks every ``every`` steps, one host sync each."""

    name = "failure_detector"

    class Params(Params):
        every: int = Field(50, ge=1, description="steps between checks")
        d_loss_floor: float = Field(1e-3, ge=0, description="|D loss| below this counts as collapsed")
        patience: int = Field(3, ge=1, description="consecutive collapsed checks before failing")
        max_grad_norm: float = Field(100.0, gt=0)

    def setup(self, run):
        self.collapsed, self.seen, self.norms = 0, -1, {}
        self.device = run.device

    def state_dict(self):
        return {"collapsed": self.collapsed, "seen": self.seen, "norms": self.norms}

    def load_state_dict(self, state):
        self.collapsed, self.seen = state["collapsed"], state["seen"]
        self.norms = {net: norm.to(self.device) for net, norm in state["norms"].items()}

    def checking(self, run) -> bool:
        """Whether this step is checked: steps ``every``, ``2 * every``, ... (1-based, as logged)."""
        return (run.step + 1) % self.params.every == 0

    def before_d_step(self, run):
        if self.checking(run):
            self.norms["D"] = total_grad_norm(run.discriminator)

    def before_g_step(self, run):
        if self.checking(run):
            self.norms["G"] = total_grad_norm(run.generator)

    def after_g_step(self, run):
        if not self.checking(run) or run.step == self.seen:
            return
        self.seen = run.step
        import math

        import torch

        names = ["d_loss", "g_loss", *(f"{net} gradient norm" for net in self.norms)]
        values = torch.stack([run.last["d_loss"], run.last["g_loss"], *self.norms.values()]).float().tolist()
        self.norms = {}
        p, step = self.params, run.step + 1
        for name, value in zip(names, values):
            if not math.isfinite(value):
                raise TrainingFailure(f"non-finite {name} ({value})", step)
            if name.endswith("norm") and value > p.max_grad_norm:
                raise TrainingFailure(f"{name} {value:.3g} > {p.max_grad_norm:g}", step)
        self.collapsed = self.collapsed + 1 if abs(values[0]) < p.d_loss_floor else 0
        if self.collapsed >= p.patience:
            raise TrainingFailure(f"D loss ~0 (|{values[0]:.2g}| < {p.d_loss_floor:g}) for {p.patience} checks", step)


TRICKS = (FailureDetector,)
