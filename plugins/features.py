"""The domain feature space: a small CNN classifier trained once per dataset, cached on disk.

Its penultimate layer embeds images for FID, KID and precision/recall/density/coverage; its
output layer labels generated images for class coverage. It is also trained to tell noise from the
data (one extra class), so that noise lands far from every real image. Torch-only: import lazily.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ganx import Dataset, Evaluation, UserError, atomic_write

# Changing any of these trains (and caches) a new classifier: they are part of its hash.
RECIPE = {"net": "conv16-conv32-fc128", "optimizer": "adam", "steps": 800, "batch": 64, "lr": 2e-3, "seed": 0,
          "noise_batch": 16}
REFERENCE_SAMPLES = 10_000


class Classifier(nn.Module):
    """conv(16)-pool-conv(32)-pool(4×4)-fc(128); ``features`` is the 128-d penultimate layer.

    The head scores the ``classes`` of the data and one more, the last: noise."""

    num_features = 128

    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.classes = classes
        self.features = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
            nn.Flatten(), nn.Linear(32 * 16, self.num_features), nn.ReLU(),
        )  # fmt: skip
        self.head = nn.Linear(self.num_features, classes + 1)

    def forward(self, x):
        return self.head(self.features(x))


class Embedded(nn.Module):
    """The ``feature=`` module handed to torchmetrics: samples arrive already embedded by the classifier,
    so one pass of the extractor serves FID, KID and the manifold metrics alike."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features
        self.eval()

    def forward(self, x):
        return x.to(torch.float32)  # FID accumulates in float64 itself; KID's kernels are fine in float32


def noise(n: int, shape, g: torch.Generator):
    """``n`` noise images in [-1, 1]: uniform or Gaussian, each at its own random mean and scale."""
    size = (n, 1, 1, 1)
    uniform = torch.rand(size, generator=g) < 0.5
    centre, scale = torch.rand(size, generator=g) * 2 - 1, torch.rand(size, generator=g)
    x = torch.where(uniform, torch.rand((n, *shape), generator=g) * 2 - 1, torch.randn((n, *shape), generator=g))
    return (centre + scale * x).clamp(-1, 1)


def train_classifier(images, labels, classes: int, recipe: dict = RECIPE) -> Classifier:
    """Adam on cross-entropy over random minibatches, each with ``noise_batch`` noise images labelled as
    the extra class; seeded, so the same data and recipe give the same weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe["seed"])
        g = torch.Generator().manual_seed(recipe["seed"])
        model = Classifier(images.shape[1], classes)
        opt = torch.optim.Adam(model.parameters(), lr=recipe["lr"])
        for _ in range(recipe["steps"]):
            batch = torch.randint(len(images), (recipe["batch"],), generator=g)
            x = torch.cat([images[batch], noise(recipe["noise_batch"], images.shape[1:], g)])
            y = torch.cat([labels[batch], torch.full((recipe["noise_batch"],), classes)])
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval()


def embed(model: Classifier, images, device, chunk: int = 1000):
    """(penultimate features, logits of the data's classes) of ``images``, in chunks, without gradients."""
    model = model.to(device).eval()
    features, logits = [], []
    with torch.no_grad():
        for batch in images.split(chunk):
            h = model.features(batch.to(device, torch.float32))
            features.append(h)
            logits.append(model.head(h)[:, : model.classes])
    return torch.cat(features), torch.cat(logits)


_SUBSETS: dict[tuple, tuple] = {}


def real_samples(dataset: Dataset, data_dir: Path, split: str, n: int):
    """Up to ``n`` samples of ``split`` (a seed-0 subset if there are more), cached for the process."""
    key = (dataset.name, dataset.params.model_dump_json(), str(data_dir), split, n)
    if key not in _SUBSETS:
        x, labels = dataset.load(data_dir, split)
        if len(x) > n:
            keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))[:n]
            x, labels = x[keep], None if labels is None else labels[keep]
        _SUBSETS[key] = (x, labels)
    return _SUBSETS[key]


def digest(*tensors, recipe: dict = RECIPE) -> str:
    h = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode())
    for t in tensors:
        h.update(t.detach().cpu().contiguous().numpy())
    return h.hexdigest()[:16]


@dataclass
class FeatureSpace:
    """One dataset's classifier, its cache key and test accuracy, and the embedded real reference set."""

    model: Classifier
    key: str
    accuracy: float
    classes: int
    real: torch.Tensor
    real_labels: torch.Tensor
    radii: dict[int, torch.Tensor] = field(default_factory=dict)

    def protocol(self) -> dict:
        return {
            "features": f"ganx domain classifier, penultimate layer ({Classifier.num_features}-d)",
            "feature_hash": self.key,
            "classifier_test_accuracy": round(self.accuracy, 4),
            "real_samples": len(self.real),
            "real_split": "test",
        }


_SPACES: dict[tuple, FeatureSpace] = {}


def classifier(dataset: Dataset, data_dir: Path) -> tuple[Classifier, str, float]:
    """The dataset's classifier, loaded from ``<data_dir>/ganx-features/<hash>.pt`` or trained and saved there."""
    train_x, train_y = dataset.load(data_dir, "train")
    test_x, test_y = real_samples(dataset, data_dir, "test", REFERENCE_SAMPLES)
    if train_y is None or len(train_y.unique()) < 2:
        raise UserError(f"dataset {dataset.name!r}: the domain feature space needs class labels (at least 2 classes)")
    classes = int(max(train_y.max(), test_y.max())) + 1
    key = digest(train_x, train_y, test_x, test_y)
    path = Path(data_dir) / "ganx-features" / f"{key}.pt"
    model = Classifier(train_x.shape[1], classes)
    if path.exists():
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        return model.eval(), key, float(state["test_accuracy"])
    model = train_classifier(train_x, train_y, classes)
    _, logits = embed(model, test_x, "cpu")
    accuracy = (logits.argmax(1) == test_y).float().mean().item()
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "test_accuracy": accuracy, "recipe": json.dumps(RECIPE)}, buffer)
    atomic_write(path, lambda f: f.write(buffer.getvalue()), mode="wb")  # a failure is a UserError naming path
    return model, key, accuracy


def feature_space(ev: Evaluation) -> FeatureSpace:
    """The evaluation's feature space, built once per process per dataset, data dir and device."""
    key = (ev.dataset.name, ev.dataset.params.model_dump_json(), str(ev.data_dir), str(ev.device))
    if key not in _SPACES:
        model, digest_, accuracy = classifier(ev.dataset, ev.data_dir)
        real, labels = real_samples(ev.dataset, ev.data_dir, "test", REFERENCE_SAMPLES)
        features, _ = embed(model, real, ev.device)
        _SPACES[key] = FeatureSpace(model, digest_, accuracy, model.classes, features, labels)
    return _SPACES[key]


def fake_embedding(ev: Evaluation):
    """(features, logits) of the evaluation's fakes, computed once and shared by every image metric."""
    if "domain_fake" not in ev.cache:
        ev.cache["domain_fake"] = embed(feature_space(ev).model, ev.fake, ev.device)
    return ev.cache["domain_fake"]
