"""Image metrics, in the dataset's own feature space (plugins/features.py) or in Inception-v3's through
torch-fidelity (plugins/inception.py); see docs/metrics.md.

Every metric of one evaluation shares one embedding of the fakes per feature space (``ev.cache``) and
the process-wide embedding of the real reference.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from ganx import Evaluation, Metric, Params


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


class InceptionMetric(Metric):
    """An Inception-v3 metric computed by torch-fidelity (plugins/inception.py), from weights found offline."""

    kinds = ("images",)
    layer: ClassVar[str] = "2048"  # torch-fidelity's name of the feature layer

    class Params(Params):
        weights: Path | None = Field(
            None, description="torch-fidelity's Inception weights (default: $GANX_WEIGHTS_DIR, then its cache)"
        )

    @classmethod
    def conflicts(cls, params, config) -> list[str]:
        from ganx.plugins.inception import weights_problem

        problem = weights_problem(params.weights)
        return [f"{cls.name}: {problem}"] if problem else []

    def features(self, ev):
        from ganx.plugins.inception import fake_features, weights

        return fake_features(ev, weights(self.params.weights))

    def protocol(self, ev):
        import torch_fidelity

        from ganx.plugins.inception import RESIZE, sha256, weights

        return {
            "fake_samples": len(ev.fake), "features": f"Inception-v3 (torch-fidelity {torch_fidelity.__version__})",
            "feature_layer": self.layer, "weights_sha256": sha256(weights(self.params.weights)), "resize": RESIZE,
        }


class ReferenceMetric(InceptionMetric):
    """An Inception metric against a real reference, whose features are cached per dataset and split."""

    class Params(InceptionMetric.Params):
        split: Literal["train", "test"] = "test"
        real_samples: int | None = Field(None, gt=0, description="reference size (default: the whole split)")

    def reference(self, dataset, data_dir, device, progress=None):
        from ganx.plugins.inception import reference, weights

        path = weights(self.params.weights)
        return reference(dataset, data_dir, self.params.split, self.params.real_samples, path, device, progress)

    def prepare(self, dataset, data_dir, device, progress=None) -> str:
        """Compute and cache the reference (``ganx metrics prepare``); a line saying what and where."""
        ref = self.reference(dataset, data_dir, device, progress)
        return f"{len(ref.features)} {self.params.split} images of {dataset.name}: {ref.path}"

    def protocol(self, ev):
        ref = self.reference(ev.dataset, ev.data_dir, ev.device)
        return {**super().protocol(ev), "real_samples": len(ref.features), "real_split": self.params.split,
                "reference": ref.key}


class InceptionFID(ReferenceMetric):
    """FID in Inception-v3 pool3 features (Heusel et al. 2017), computed by torch-fidelity."""

    name = "fid_inception"
    direction = "minimize"

    def compute(self, ev):
        from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

        ref = self.reference(ev.dataset, ev.data_dir, ev.device)
        real = {"mu": ref.mu.numpy(), "sigma": ref.sigma.numpy()}
        fake = fid_features_to_statistics(self.features(ev)[self.layer])
        return fid_statistics_to_metric(fake, real, verbose=False)[KEY_METRIC_FID]


class InceptionKID(ReferenceMetric):
    """KID in Inception-v3 pool3 features (Bińkowski et al. 2018): torch-fidelity's cubic-kernel unbiased MMD²."""

    name = "kid_inception"
    direction = "minimize"

    class Params(ReferenceMetric.Params):
        subsets: int = Field(100, gt=0)
        subset_size: int = Field(1000, gt=1, description="capped at the number of fakes and of reals")

    def compute(self, ev):
        from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

        from ganx.plugins.inception import RNG_SEED

        real, fake = self.reference(ev.dataset, ev.data_dir, ev.device).features, self.features(ev)[self.layer]
        size = min(self.params.subset_size, len(real), len(fake))
        kid = kid_features_to_metric(fake, real, kid_subsets=self.params.subsets, kid_subset_size=size,
                                     rng_seed=RNG_SEED, verbose=False)
        ev.cache["kid_inception"] = {"subsets": self.params.subsets, "subset_size": size,
                                     "kid_std": kid[KEY_METRIC_KID_STD], "rng_seed": RNG_SEED}
        return kid[KEY_METRIC_KID_MEAN]

    def protocol(self, ev):
        return {**super().protocol(ev), **ev.cache.get("kid_inception", {})}


class InceptionScore(InceptionMetric):
    """Inception Score (Salimans et al. 2016): exp E[KL(p(y|x) ‖ p(y))] over ``splits`` shares of the fakes,
    averaged; torch-fidelity's, on its unbiased logits."""

    name = "is"
    direction = "maximize"
    layer = "logits_unbiased"

    class Params(InceptionMetric.Params):
        splits: int = Field(10, gt=0)

    def compute(self, ev):
        from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_features_to_metric

        from ganx.plugins.inception import RNG_SEED

        score = isc_features_to_metric(self.features(ev)[self.layer], self.params.splits, True, RNG_SEED)
        ev.cache["is"] = {"splits": self.params.splits, "is_std": score[KEY_METRIC_ISC_STD], "rng_seed": RNG_SEED}
        return score[KEY_METRIC_ISC_MEAN]

    def protocol(self, ev):
        return {**super().protocol(ev), **ev.cache.get("is", {})}


class InceptionManifold(ReferenceMetric):
    """Precision or recall in Inception-v3 pool3 features (Kynkäänniemi et al. 2019), computed together by
    torch-fidelity's ``prc``."""

    direction = "maximize"

    class Params(ReferenceMetric.Params):
        k: int = Field(3, gt=0, description="neighbourhood size")

    def compute(self, ev):
        from torch_fidelity.metric_prc import prc_features_to_metric

        key = ("prc_inception", self.params.model_dump_json())  # precision and recall alike
        if key not in ev.cache:
            real, fake = self.reference(ev.dataset, ev.data_dir, ev.device).features, self.features(ev)[self.layer]
            ev.cache[key] = prc_features_to_metric(fake, real, prc_neighborhood=self.params.k, save_cpu_ram=True,
                                                   verbose=False)
        return ev.cache[key][self.name.removesuffix("_inception")]

    def protocol(self, ev):
        return {**super().protocol(ev), "k": self.params.k}


class InceptionPrecision(InceptionManifold):
    """Share of fakes inside the real k-NN manifold, in Inception-v3 pool3 features (torch-fidelity)."""

    name = "precision_inception"


class InceptionRecall(InceptionManifold):
    """Share of reals inside the fake k-NN manifold, in Inception-v3 pool3 features (torch-fidelity)."""

    name = "recall_inception"
