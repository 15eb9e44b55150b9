"""Image metrics in the dataset's own feature space (see plugins/features.py and docs/metrics.md).

Every metric of one evaluation shares one embedding of the fakes (``ev.cache``) and the
process-wide embedding of the real test split.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, field_validator

from ganx import Evaluation, Metric, Params, UserError


class DomainMetric(Metric):
    kinds = ("images",)

    def protocol(self, ev):
        from ganx.plugins.features import feature_space

        return {"fake_samples": len(ev.fake), **feature_space(ev).protocol()}


class FID(DomainMetric):
    """Fréchet distance between Gaussians fitted to real and fake features (torchmetrics)."""

    name = "fid"
    direction = "minimize"

    def compute(self, ev):
        from ganx.plugins.features import fake_embedding, feature_space

        return frechet_distance(feature_space(ev).real, fake_embedding(ev)[0])


def frechet_distance(real, fake) -> float:
    """The Fréchet distance between Gaussians fitted to two sets of features (torchmetrics' FID)."""
    from torchmetrics.image.fid import FrechetInceptionDistance

    from ganx.plugins.features import Embedded

    fid = FrechetInceptionDistance(feature=Embedded(real.shape[1]))
    fid.update(real.cpu(), real=True)
    fid.update(fake.cpu(), real=False)
    return float(fid.compute())


class IntraFID(DomainMetric):
    """A conditional run's intra-class FID (Miyato & Koyama 2018): the mean over classes of the FID
    between its fakes generated for a class and the real test samples of that class."""

    name = "intra_fid"
    direction = "minimize"

    @classmethod
    def conflicts(cls, params, config) -> list[str]:
        return [] if config.labels != "none" else ["intra_fid compares classes, so it needs labels: uniform"]

    def compute(self, ev):
        from ganx.plugins.features import fake_embedding, feature_space

        space, fake = feature_space(ev), fake_embedding(ev)[0]
        fids = [
            frechet_distance(space.real[space.real_labels == c], fake[ev.labels == c]) for c in range(space.classes)
        ]
        return sum(fids) / len(fids)

    def protocol(self, ev):
        return {**super().protocol(ev), "classes": int(ev.labels.max()) + 1,
                "fake_samples_per_class": len(ev.fake) // (int(ev.labels.max()) + 1)}


class KID(DomainMetric):
    """Kernel (cubic polynomial) MMD² between real and fake features, averaged over random subsets."""

    name = "kid"
    direction = "minimize"

    class Params(Params):
        subsets: int = Field(100, gt=0)

    def compute(self, ev):
        import warnings

        import torch
        from torchmetrics.image.kid import KernelInceptionDistance

        from ganx.plugins.features import Embedded, fake_embedding, feature_space

        space, fake = feature_space(ev), fake_embedding(ev)[0]
        size = min(1000, len(space.real), len(fake))
        with warnings.catch_warnings():  # "will save all extracted features": they are 128-d, that is fine
            warnings.simplefilter("ignore", UserWarning)
            kid = KernelInceptionDistance(
                feature=Embedded(space.real.shape[1]), subsets=self.params.subsets, subset_size=size
            )
        kid.update(space.real.cpu(), real=True)
        kid.update(fake.cpu(), real=False)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(ev.seed)
            mean, std = kid.compute()
        ev.cache["kid"] = {"subset_size": size, "subsets": self.params.subsets, "kid_std": float(std)}
        return float(mean)

    def protocol(self, ev):
        return {**super().protocol(ev), **ev.cache.get("kid", {})}


class ManifoldMetric(DomainMetric):
    """One of the four k-NN manifold scores; those sharing k are computed in one pass."""

    default_k: ClassVar[int]

    class Params(Params):
        k: int | None = Field(None, gt=0, description="neighbourhood size (default: the published one)")

    @property
    def k(self) -> int:
        return self.params.k or self.default_k

    def compute(self, ev):
        from ganx.plugins.features import fake_embedding, feature_space
        from ganx.plugins.manifold import knn_radii, manifold_scores

        space, key = feature_space(ev), ("manifold", self.k)
        if key not in ev.cache:
            if self.k not in space.radii:
                space.radii[self.k] = knn_radii(space.real, self.k)
            ev.cache[key] = manifold_scores(space.real, fake_embedding(ev)[0], self.k, space.radii[self.k])
        return ev.cache[key][self.name]

    def protocol(self, ev):
        return {**super().protocol(ev), "k": self.k}


class Precision(ManifoldMetric):
    """Share of fakes inside the real k-NN manifold (Kynkäänniemi et al. 2019, k=3)."""

    name, default_k = "precision", 3


class Recall(ManifoldMetric):
    """Share of reals inside the fake k-NN manifold (Kynkäänniemi et al. 2019, k=3)."""

    name, default_k = "recall", 3


class Density(ManifoldMetric):
    """Mean number of real k-NN balls holding a fake, over k (Naeem et al. 2020, k=5)."""

    name, default_k = "density", 5


class Coverage(ManifoldMetric):
    """Share of real k-NN balls that hold at least one fake (Naeem et al. 2020, k=5)."""

    name, default_k = "coverage", 5


def class_histogram(ev: Evaluation):
    """Counts of the classifier's predicted class over the fakes."""
    import torch

    from ganx.plugins.features import fake_embedding, feature_space

    _, logits = fake_embedding(ev)
    return torch.bincount(logits.argmax(1).cpu(), minlength=feature_space(ev).classes)


class ClassMetric(DomainMetric):
    def protocol(self, ev):
        from ganx.plugins.features import feature_space

        return {**super().protocol(ev), "classes": feature_space(ev).classes}


class ClassCoverage(ClassMetric):
    """Number of classes the domain classifier assigns to at least one fake."""

    name = "class_coverage"
    direction = "maximize"

    def compute(self, ev):
        return float((class_histogram(ev) > 0).sum())


class ClassKL(ClassMetric):
    """KL(histogram of the fakes' predicted classes ‖ uniform), in nats; 0 = all classes equally often."""

    name = "class_kl"
    direction = "minimize"

    def compute(self, ev):
        counts = class_histogram(ev).double()
        p = counts[counts > 0] / counts.sum()
        return float((p * (p * len(counts)).log()).sum())


class InceptionFID(Metric):
    """FID in Inception-v3 pool features (torchmetrics + torch-fidelity), from weights you provide.

    ganx never downloads the weights: ``weights`` must be a local copy of torch-fidelity's
    ``weights-inception-2015-12-05-6726825d.pth``.
    """

    name = "fid_inception"
    direction = "minimize"
    kinds = ("images",)

    class Params(Params):
        weights: Path

        @field_validator("weights")
        @classmethod
        def _exists(cls, path: Path) -> Path:
            if not path.expanduser().is_file():
                raise ValueError(f"no weights file at {path}; ganx never downloads Inception weights")
            return path.expanduser()

    def compute(self, ev):
        import torch

        from ganx.plugins.features import REFERENCE_SAMPLES, real_samples

        try:
            from torchmetrics.image.fid import FrechetInceptionDistance

            fid = FrechetInceptionDistance(
                feature=2048, normalize=True, feature_extractor_weights_path=str(self.params.weights)
            )
        except ModuleNotFoundError as exc:
            raise UserError(f"fid_inception: {exc} (pip install torch-fidelity)") from None
        real, _ = real_samples(ev.dataset, ev.data_dir, "test", REFERENCE_SAMPLES)
        for images, is_real in ((real, True), (ev.fake, False)):
            for batch in images.split(200):
                batch = batch.float().cpu().clamp(-1, 1) * 0.5 + 0.5
                fid.update(batch.expand(-1, 3, -1, -1) if batch.shape[1] == 1 else batch, real=is_real)
        ev.cache["fid_inception_real"] = len(real)
        return float(fid.compute().to(torch.float64))

    def protocol(self, ev):
        import hashlib

        with open(self.params.weights, "rb") as f:
            weights_hash = hashlib.file_digest(f, "sha256").hexdigest()[:16]
        return {
            "fake_samples": len(ev.fake),
            "real_samples": ev.cache.get("fid_inception_real"),
            "real_split": "test",
            "features": "Inception-v3 pool3 (2048-d), torch-fidelity port",
            "feature_hash": weights_hash,
        }
