"""Metrics computed from generated samples; each declares its direction and protocol."""

from __future__ import annotations

from ganx import Evaluation, Metric, hookimpl
from ganx.plugins.image_metrics import (
    FID,
    KID,
    ClassCoverage,
    ClassKL,
    Coverage,
    Density,
    InceptionFID,
    InceptionKID,
    InceptionPrecision,
    InceptionRecall,
    InceptionScore,
    IntraFID,
    Precision,
    Recall,
)
from ganx.plugins.parzen import ParzenLL


def mode_assignment(ev: Evaluation):
    """(nearest mode index, is-high-quality) per sample, shared by the three mixture metrics.

    PacGAN (Lin et al. 2018): a sample is high quality if it lies within 3 standard deviations
    of its nearest mode.
    """
    import torch

    if "mode_assignment" not in ev.cache:
        centers, std = ev.dataset.modes()
        fake = ev.fake.reshape(len(ev.fake), -1).float().cpu()
        dist = torch.cdist(fake, centers.float())
        nearest, index = dist.min(1)
        ev.cache["mode_assignment"] = (index, nearest / std < 3)
    return ev.cache["mode_assignment"]


class MixtureMetric(Metric):
    kinds = ("points",)

    def protocol(self, ev):
        _, std = ev.dataset.modes()
        return {"samples": len(ev.fake), "definition": "PacGAN", "hq_radius": f"3 std ({3 * std:g})"}


class Modes(MixtureMetric):
    """Number of modes with at least one high-quality sample."""

    name = "modes"
    direction = "maximize"

    def compute(self, ev):
        index, hq = mode_assignment(ev)
        return float(index[hq].unique().numel())


class HighQuality(MixtureMetric):
    """Percentage of high-quality samples."""

    name = "hq"
    direction = "maximize"

    def compute(self, ev):
        _, hq = mode_assignment(ev)
        return 100.0 * hq.float().mean().item()


class ReverseKL(MixtureMetric):
    """KL(histogram of the samples' nearest modes ‖ uniform over modes), in nats."""

    name = "reverse_kl"
    direction = "minimize"

    def compute(self, ev):
        import torch

        index, _ = mode_assignment(ev)
        k = len(ev.dataset.modes()[0])
        p = torch.bincount(index, minlength=k).double() / len(index)
        p = p[p > 0]
        return float((p * (p * k).log()).sum())


class ClassAccuracy(Metric):
    """A conditional run's share of fakes recognised as the class they were generated for: by the
    domain classifier (images), or by their nearest mode (mixtures, whose labels are mode indices)."""

    name = "class_accuracy"
    direction = "maximize"

    @classmethod
    def conflicts(cls, params, config) -> list[str]:
        return [] if config.labels != "none" else ["class_accuracy needs a conditional run (labels: uniform)"]

    def predicted(self, ev: Evaluation):
        if ev.dataset.kind == "points":
            return mode_assignment(ev)[0]
        from ganx.plugins.features import fake_embedding

        return fake_embedding(ev)[1].argmax(1)

    def compute(self, ev):
        return float((self.predicted(ev).cpu() == ev.labels.cpu()).float().mean())

    def protocol(self, ev):
        judge = "nearest mode" if ev.dataset.kind == "points" else "domain classifier"
        protocol = {"samples": len(ev.fake), "classes": int(ev.labels.max()) + 1, "judge": judge}
        if ev.dataset.kind == "images":
            from ganx.plugins.features import feature_space

            protocol |= feature_space(ev).protocol()
        return protocol


@hookimpl
def register_metrics(register):
    builtins = (Modes, HighQuality, ReverseKL, FID, KID, Precision, Recall, Density, Coverage)
    inception = (InceptionFID, InceptionKID, InceptionScore, InceptionPrecision, InceptionRecall)
    for metric in (*builtins, ClassCoverage, ClassKL, ClassAccuracy, IntraFID, *inception, ParzenLL):
        register(metric)
