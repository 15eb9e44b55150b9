"""Metric plugins: exact on hand-built cases, equal to the published definitions, protocol recorded."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from ganx import Dataset, Evaluation, UserError
from ganx.config import validate_run
from ganx.plugin_manager import get_catalog
from ganx.plugins import features
from ganx.plugins.image_datasets import FashionMNIST
from ganx.plugins.manifold import manifold_scores
from ganx.plugins.parzen import SIGMAS
from ganx.trainer import train


def metric(name, **params):
    return get_catalog().get("metric", name)(**params)


def evaluation(fake, dataset, data_dir=None):
    data_dir = Path(data_dir or os.environ["GANX_DATA_DIR"])
    return Evaluation(fake=fake, dataset=dataset, data_dir=data_dir, device=torch.device("cpu"), seed=0)


def digits():
    return get_catalog().get("dataset", "digits")()


def skip_without_fashion_mnist():
    """Fashion-MNIST comes from Debian's dataset-fashion-mnist, which CI installs; skip elsewhere without it."""
    if (
        not all((FashionMNIST.system_dir / f"{n}.gz").exists() for n in FashionMNIST.FILES)
        and os.environ.get("CI") != "true"
    ):
        pytest.skip(f"{FashionMNIST.system_dir} is absent: apt-get install dataset-fashion-mnist")


# --- mixtures ------------------------------------------------------------------------------


def test_mixture_metrics_are_exact_on_hand_built_samples():
    ring = get_catalog().get("dataset", "ring8")(modes=4, std=0.01)  # modes at (1,0) (0,1) (-1,0) (0,-1)
    fake = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.02], [-1.05, 0.0]])
    ev = evaluation(fake, ring)
    assert metric("modes").compute(ev) == 2  # (-1, 0) has only a sample 5 std away
    assert metric("hq").compute(ev) == pytest.approx(80.0)
    p = np.array([3, 1, 1]) / 5  # nearest-mode histogram of ALL samples; mode 4 empty
    assert metric("reverse_kl").compute(ev) == pytest.approx(float((p * np.log(p * 4)).sum()))


# --- precision / recall / density / coverage -----------------------------------------------


def direct_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    """The published definitions, written out with full O(n²) distance matrices."""

    def dist(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    real_radius = np.sort(dist(real, real), axis=1)[:, k]  # column 0 is the point itself
    fake_radius = np.sort(dist(fake, fake), axis=1)[:, k]
    d = dist(real, fake)
    in_real_ball = d <= real_radius[:, None]
    return {
        "precision": in_real_ball.any(0).mean(),
        "recall": (d <= fake_radius[None, :]).any(1).mean(),
        "density": in_real_ball.sum(0).mean() / k,
        "coverage": (d.min(1) <= real_radius).mean(),
    }


@pytest.mark.parametrize("k", [3, 5])
def test_manifold_scores_match_the_direct_computation(k):
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 5)).astype(np.float32)
    fake = (rng.normal(size=(250, 5)) * 1.3 + 0.7).astype(np.float32)
    ours = manifold_scores(torch.from_numpy(real), torch.from_numpy(fake), k, chunk=64)
    expected = direct_prdc(real.astype(np.float64), fake.astype(np.float64), k)
    assert ours == pytest.approx(expected, abs=1e-9)
    assert 0 < ours["precision"] < 1 and 0 < ours["coverage"] < 1


# --- Parzen window -------------------------------------------------------------------------


class Fixed(Dataset):
    """A 1-D 'dataset' whose splits are given numbers."""

    name = "fixed"

    def load(self, data_dir, split):
        values = {"train": [0.5, 0.6], "test": [0.2, 0.9, 1.4]}[split]
        return torch.tensor(values)[:, None], None


def test_parzen_ll_on_1d_matches_a_hand_computation(tmp_path):
    fake = [0.0, 1.0]

    def log_p(x, s):
        return math.log(sum(math.exp(-((x - f) ** 2) / (2 * s * s)) / math.sqrt(2 * math.pi * s * s) for f in fake) / 2)

    sigma = max(SIGMAS, key=lambda s: (log_p(0.5, s) + log_p(0.6, s)) / 2)
    test = [log_p(x, sigma) for x in (0.2, 0.9, 1.4)]
    mean = sum(test) / 3
    stderr = math.sqrt(sum((t - mean) ** 2 for t in test) / 2) / math.sqrt(3)
    parzen = metric("parzen_ll")
    ev = evaluation(torch.tensor(fake)[:, None], Fixed(), tmp_path)
    assert parzen.compute(ev) == pytest.approx(mean, rel=1e-6)
    protocol = parzen.protocol(ev)
    assert protocol["sigma"] == pytest.approx(sigma)
    assert protocol["standard_error"] == pytest.approx(stderr, rel=1e-6)
    assert protocol["test_samples"] == 3 and protocol["validation_samples"] == 2


# --- the domain feature space ---------------------------------------------------------------


def test_fid_of_the_reference_against_itself_vanishes_and_against_noise_does_not():
    data_dir = Path(os.environ["GANX_DATA_DIR"])
    real, _ = features.real_samples(digits(), data_dir, "test", features.REFERENCE_SAMPLES)
    same = evaluation(real.clone(), digits())
    noise = evaluation(torch.rand_like(real) * 2 - 1, digits())
    fid_same, fid_noise = metric("fid").compute(same), metric("fid").compute(noise)
    assert abs(fid_same) < 1e-3 and fid_noise > 10
    # KID's unbiased estimator is not 0 on one set against itself; use fresh samples of the same digits.
    held_out = evaluation(digits().load(data_dir, "train")[0][:1000], digits())
    assert abs(metric("kid").compute(held_out)) < 0.02 * metric("kid").compute(noise)
    for name in ("precision", "recall", "coverage"):
        assert metric(name).compute(same) == 1.0
    assert metric("precision").compute(noise) < 0.5


def blurred(images, sigma: float = 0.5):
    """A separable 5-tap Gaussian blur, edges replicated."""
    from torch.nn.functional import conv2d, pad

    r = torch.arange(-2.0, 3.0)
    k = (-(r**2) / (2 * sigma**2)).exp()
    k = k / k.sum()
    images = conv2d(pad(images, (2, 2, 0, 0), mode="replicate"), k.view(1, 1, 1, 5))
    return conv2d(pad(images, (0, 0, 2, 2), mode="replicate"), k.view(1, 1, 5, 1))


def occluded(images):
    """A block of each image (rows h/4..3h/4, columns h/4..h/2) erased to the background."""
    images, h = images.clone(), images.shape[-1]
    images[..., h // 4 : 3 * h // 4, h // 4 : h // 2] = -1
    return images


@pytest.mark.parametrize("name", ["digits", "fashion-mnist"])
def test_real_images_beat_blurred_and_occluded_ones_which_beat_noise(name):
    """The domain metrics rank real > degraded > noise. Before the classifier learnt a noise class, uniform
    noise had a precision of 0.685 on Fashion-MNIST, above that of occluded clothes."""
    if name == "fashion-mnist":
        skip_without_fashion_mnist()
    dataset = get_catalog().get("dataset", name)()
    train, _ = dataset.load(Path(os.environ["GANX_DATA_DIR"]), "train")
    real = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:1000]]
    noise = torch.rand(real.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    sets = {"real": real, "blurred": blurred(real), "occluded": occluded(real), "noise": noise}
    scores = {}
    for label, images in sets.items():
        ev = evaluation(images, dataset)
        scores[label] = {m: metric(m).compute(ev) for m in ("fid", "precision", "recall")}
    for degraded in ("blurred", "occluded"):
        assert scores["real"]["fid"] < scores[degraded]["fid"] < scores["noise"]["fid"], (degraded, scores)
        for m in ("precision", "recall"):
            assert scores["real"][m] > scores[degraded][m] > scores["noise"][m], (degraded, m, scores)
    assert scores["noise"]["precision"] < 0.1


def test_image_metrics_record_their_protocol():
    ev = evaluation(torch.zeros(50, 1, 8, 8), digits())
    for name, k in (("precision", 3), ("density", 5), ("fid", None)):
        metric(name).compute(ev)
        protocol = metric(name).protocol(ev)
        assert protocol["fake_samples"] == 50 and protocol["real_samples"] == 297
        assert len(protocol["feature_hash"]) == 16 and 0.8 < protocol["classifier_test_accuracy"] <= 1
        assert protocol.get("k") == k
    assert metric("density", k=7).protocol(ev)["k"] == 7


def test_class_coverage_and_kl_count_the_predicted_classes():
    ev = evaluation(torch.zeros(5, 1, 8, 8), digits())
    logits = torch.nn.functional.one_hot(torch.tensor([0, 0, 0, 1, 2]), 10).float()
    ev.cache["domain_fake"] = (torch.zeros(5, 128), logits)
    assert metric("class_coverage").compute(ev) == 3
    p = np.array([0.6, 0.2, 0.2])
    assert metric("class_kl").compute(ev) == pytest.approx(float((p * np.log(p * 10)).sum()))
    assert metric("class_coverage").protocol(ev)["classes"] == 10


def test_the_classifier_is_trained_once_and_then_loaded_from_its_cache(monkeypatch):
    data_dir = Path(os.environ["GANX_DATA_DIR"])
    _, key, accuracy = features.classifier(digits(), data_dir)
    cached = data_dir / "ganx-features" / f"{key}.pt"
    stamp = cached.stat().st_mtime_ns

    def no_training(*args, **kwargs):
        raise AssertionError("the classifier was trained again")

    monkeypatch.setattr(features, "train_classifier", no_training)
    monkeypatch.setattr(features, "_SPACES", {})
    space = features.feature_space(evaluation(torch.zeros(2, 1, 8, 8), digits(), data_dir))
    assert (space.key, space.accuracy) == (key, accuracy)
    assert cached.stat().st_mtime_ns == stamp


def test_classifier_training_is_deterministic():
    images, labels = digits().load(Path("unused"), "train")
    recipe = {**features.RECIPE, "steps": 5}
    first, second = (features.train_classifier(images, labels, 10, recipe).state_dict() for _ in range(2))
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_unlabelled_data_has_no_feature_space(tmp_path):
    spiral = get_catalog().get("dataset", "spiral")(samples=10)
    with pytest.raises(UserError, match="needs class labels"):
        features.classifier(spiral, tmp_path)


# --- end to end ----------------------------------------------------------------------------

IMAGE_METRICS = ["fid", "kid", "precision", "recall", "density", "coverage", "class_coverage", "class_kl"]


def last_metrics(out: Path) -> dict:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return next(row for row in reversed(rows) if "fid" in row)


def test_a_digits_run_reports_every_image_metric(tmp_path):
    config = validate_run(
        {
            "dataset": "digits",
            "arch": {"name": "mlp", "hidden": [32]},
            "steps": 3,
            "batch_size": 16,
            "latent_dim": 8,
            "device": "cpu",
            "eval": {"samples": 300},
            "metrics": [*IMAGE_METRICS, "parzen_ll"],
        },
        "run.yaml",
    )
    final = train(config, tmp_path)
    row = last_metrics(tmp_path)
    assert set(IMAGE_METRICS) <= set(row) and all(math.isfinite(row[m]) for m in IMAGE_METRICS)
    assert final["protocol"]["kid"]["subset_size"] == 297  # digits' test split is the reference
    assert final["protocol"]["precision"]["k"] == 3


def test_a_short_dcgan_run_on_fashion_mnist_reports_image_metrics(tmp_path):
    """The acceptance run: the real Fashion-MNIST, a few DCGAN steps on CPU."""
    skip_without_fashion_mnist()
    arch = {"name": "dcgan", "g_widths": [32, 16], "d_widths": [16, 32]}
    config = validate_run(
        {
            "dataset": "fashion-mnist",
            "arch": arch,
            "steps": 4,
            "batch_size": 16,
            "latent_dim": 16,
            "device": "cpu",
            "eval": {"samples": 1000},
            "metrics": IMAGE_METRICS,
        },
        "run.yaml",
    )
    train(config, tmp_path)
    row = last_metrics(tmp_path)
    assert all(math.isfinite(row[m]) for m in IMAGE_METRICS)
    assert 1 <= row["class_coverage"] <= 10
