"""Optimizer schedules: a momentum ramp and an exponential learning-rate decay (pylearn2's, as in
Goodfellow et al. 2014's MNIST run)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ganx import Params, Trick, UserError


class OptimizerSchedule(Trick):
    """At step t the learning rate is max(lr / lr_decay^t, min_lr) (pylearn2's ExponentialDecay), and
    the momentum rises in a straight line from the configured one to ``momentum`` between steps
    ``ramp_start`` and ``ramp_end`` (pylearn2's MomentumAdjustor). ``lr`` and the first momentum are
    the optimizer's own (``optimizer.g``/``optimizer.d``, after ``ttur``)."""

    name = "optimizer_schedule"

    class Params(Params):
        momentum: float | None = Field(
            None, ge=0, le=1, description="the final momentum; None = keep the configured one"
        )
        ramp_start: int = Field(0, ge=0, description="step at which the momentum starts to rise")
        ramp_end: int | None = Field(
            None, gt=0, description="step at which it reaches `momentum`; None = the run's steps"
        )
        lr_decay: float = Field(1.0, ge=1, description="the lr is divided by this after every step; 1 = constant")
        min_lr: float = Field(0.0, ge=0, description="the decay stops at this lr")
        nets: Literal["g", "d", "both"] = "both"

        @model_validator(mode="after")
        def _ramp(self):
            if self.ramp_end is not None and self.ramp_end <= self.ramp_start:
                raise ValueError(f"ramp_end ({self.ramp_end}) must come after ramp_start ({self.ramp_start})")
            return self

    def setup(self, run):
        self.ramp_end = self.params.ramp_end or run.config.steps

    def values(self, run, net: str) -> tuple[float, float]:
        """(lr, momentum) at ``run.step`` for ``net``."""
        p, spec = self.params, run.optimizer[net]
        lr = max(spec.lr * p.lr_decay**-run.step, p.min_lr)  # lr / decay^t overflows; this underflows to 0
        if p.momentum is None:
            return lr, spec.momentum
        progress = min(max((run.step - p.ramp_start) / max(self.ramp_end - p.ramp_start, 1), 0.0), 1.0)
        return lr, spec.momentum + progress * (p.momentum - spec.momentum)

    def apply(self, run, net: str, optimizer) -> None:
        if self.params.nets not in (net, "both"):
            return
        lr, momentum = self.values(run, net)
        for group in optimizer.param_groups:
            group["lr"] = lr
            if self.params.momentum is not None:
                if "momentum" not in group:
                    raise UserError(
                        f"tricks: optimizer_schedule ramps the momentum, which optimizer.{net}: "
                        f"{run.optimizer[net].name} has not (use sgd or rmsprop)"
                    )
                group["momentum"] = momentum

    def before_d_step(self, run):
        self.apply(run, "d", run.opt_d)

    def before_g_step(self, run):
        self.apply(run, "g", run.opt_g)


TRICKS = (OptimizerSchedule,)
