"""The Inception-v3 feature space of torch-fidelity: weights found offline, images embedded, reference cached.

Images go to uint8 exactly as ``ganx sample`` writes them, grey ones to RGB, and torch-fidelity's own
``FeatureExtractorInceptionV3`` resizes them to 299×299 and embeds them; the metrics then call
torch-fidelity's own functions, so they equal its ``calculate_metrics`` on the same images and
weights (docs/metrics.md). Torch-only: import lazily.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch_fidelity
from torch_fidelity.defaults import DEFAULTS
from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3, FeatureExtractorInceptionV3
from torch_fidelity.metric_fid import fid_features_to_statistics

from ganx import Dataset, Evaluation, UserError, atomic_write

WEIGHTS = URL_INCEPTION_V3.rsplit("/", 1)[1]  # weights-inception-2015-12-05-6726825d.pth
WEIGHTS_SHA256 = WEIGHTS.rsplit("-", 1)[1].split(".")[0]  # torch.hub's convention: the file's SHA-256 starts so
POOL, LOGITS = "2048", "logits_unbiased"  # torch-fidelity's layers: pool3 for FID/KID/PRC, unbiased logits for IS
BATCH, RNG_SEED = DEFAULTS["batch_size"], DEFAULTS["rng_seed"]  # 64 images a batch; seed 2020 for KID's subsets and IS
RESIZE = "uint8 RGB, then bilinear to 299×299 as TensorFlow 1 (torch-fidelity)"


def hub_checkpoints() -> Path:
    """torch-fidelity's own cache: torch.hub's checkpoints folder, where its download puts the weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def places(explicit: Path | None) -> list[Path]:
    """Where the weights are looked for, in order: the explicit path alone if given; else
    ``$GANX_WEIGHTS_DIR/<name>``, then torch-fidelity's cache."""
    if explicit is not None:
        return [Path(explicit).expanduser()]
    folder = os.environ.get("GANX_WEIGHTS_DIR")
    return [*([Path(folder).expanduser() / WEIGHTS] if folder else []), hub_checkpoints() / WEIGHTS]


def download_allowed() -> bool:
    return os.environ.get("GANX_ALLOW_DOWNLOAD") == "1"


def weights_problem(explicit: Path | None) -> str | None:
    """Why the weights cannot be had (one line), or None when a file is there or may be downloaded."""
    if any(path.is_file() for path in places(explicit)) or (explicit is None and download_allowed()):
        return None
    if explicit is not None:
        return f"no Inception weights file at {explicit} (torch-fidelity's {WEIGHTS}, SHA-256 {WEIGHTS_SHA256}…)"
    return (
        f"torch-fidelity's Inception weights {WEIGHTS} (SHA-256 {WEIGHTS_SHA256}…) are not in "
        f"{' nor '.join(str(path.parent) for path in places(None))}: put the file in $GANX_WEIGHTS_DIR, or give its "
        f"path as `weights:`; with internet, GANX_ALLOW_DOWNLOAD=1 or `ganx metrics prepare DATASET --allow-download` "
        f"downloads it from {URL_INCEPTION_V3}"
    )


def weights(explicit: Path | None) -> Path:
    """The weights file, found in :func:`places`, else downloaded into torch-fidelity's cache when allowed."""
    found = next((path for path in places(explicit) if path.is_file()), None)
    if found is not None:
        return found
    problem = weights_problem(explicit)
    if problem:
        raise UserError(problem)
    target = hub_checkpoints() / WEIGHTS
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(URL_INCEPTION_V3, str(target), hash_prefix=WEIGHTS_SHA256)
    return target


_HASHES: dict[tuple, str] = {}


def sha256(path: Path) -> str:
    """The first 16 hex digits of the file's SHA-256, computed once per path, size and time."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _HASHES[key] = digest.hexdigest()[:16]
    return _HASHES[key]


_NETWORKS: dict[tuple, FeatureExtractorInceptionV3] = {}


def network(path: Path, device) -> FeatureExtractorInceptionV3:
    """torch-fidelity's FID Inception network with the weights at ``path``, once per process and device."""
    key = (sha256(path), str(device))
    if key not in _NETWORKS:
        try:
            torch.load(path, map_location="cpu", weights_only=True)  # refuses a pickle that would run code
            net = FeatureExtractorInceptionV3("inception-v3-compat", [POOL, LOGITS],
                                              feature_extractor_weights_path=str(path))
        except Exception as exc:
            detail = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
            raise UserError(f"{path}: not torch-fidelity's Inception weights ({detail})") from None
        _NETWORKS[key] = net.to(device)
    return _NETWORKS[key]


def uint8_rgb(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] images as the uint8 N×3×H×W torch-fidelity reads: the bytes of ``ganx sample``
    (``round((x + 1) · 127.5)``), grey repeated to RGB as its loader's ``PIL.Image.convert("RGB")`` does."""
    x = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def embed(images: torch.Tensor, net: FeatureExtractorInceptionV3, device, progress=None) -> dict[str, torch.Tensor]:
    """Pool3 features and unbiased logits of ``images`` (float32, on the CPU), in torch-fidelity's batches."""
    out: dict[str, list] = {POOL: [], LOGITS: []}
    with torch.no_grad():
        for start in range(0, len(images), BATCH):
            pool, logits = net(uint8_rgb(images[start : start + BATCH].to(device)))
            out[POOL].append(pool.cpu())
            out[LOGITS].append(logits.cpu())
            if progress:
                progress(min(start + BATCH, len(images)), len(images))
    return {name: torch.cat(parts) for name, parts in out.items()}


def fake_features(ev: Evaluation, path: Path) -> dict[str, torch.Tensor]:
    """The evaluation's fakes embedded once, shared by every Inception metric with these weights."""
    key = ("inception", sha256(path))
    if key not in ev.cache:
        ev.cache[key] = embed(ev.fake, network(path, ev.device), ev.device)
    return ev.cache[key]


@dataclass
class Reference:
    """The real reference: pool3 features, torch-fidelity's FID statistics of them, and its cache key and file."""

    features: torch.Tensor
    mu: torch.Tensor
    sigma: torch.Tensor
    key: str
    path: Path


_REFERENCES: dict[tuple, Reference] = {}


def reference(dataset: Dataset, data_dir: Path, split: str, samples: int | None, path: Path, device,
              progress=None) -> Reference:
    """The reference of ``split`` (``samples`` of it, a seed-0 subset, or all): loaded from
    ``<data_dir>/ganx-inception/<key>.pt``, else embedded and saved there. The key hashes the dataset and its
    params, the split, ``samples``, the weights' SHA-256 and torch-fidelity's version."""
    from ganx.plugins.features import real_samples

    spec = {"dataset": dataset.name, "params": dataset.params.model_dump(mode="json"), "split": split,
            "samples": samples, "weights_sha256": sha256(path), "torch_fidelity": torch_fidelity.__version__}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    file = Path(data_dir) / "ganx-inception" / f"{key}.pt"
    if (key, str(file)) not in _REFERENCES:
        if file.is_file():
            saved = torch.load(file, map_location="cpu", weights_only=True)
        else:
            images, _ = real_samples(dataset, data_dir, split, samples or sys.maxsize)  # None: all of it
            features = embed(images, network(path, device), device, progress)[POOL]
            stats = fid_features_to_statistics(features)
            saved = {"features": features, **{name: torch.from_numpy(stats[name]) for name in ("mu", "sigma")}}
            buffer = io.BytesIO()
            torch.save(saved, buffer)
            atomic_write(file, lambda f: f.write(buffer.getvalue()), mode="wb")
        _REFERENCES[key, str(file)] = Reference(saved["features"], saved["mu"], saved["sigma"], key, file)
    return _REFERENCES[key, str(file)]
