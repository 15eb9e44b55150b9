"""Pictures: generated samples (an image grid, or a 2-D scatter over the true modes), training and
metric curves of a run, and a sweep's montage and per-arm curves. Every PNG is written atomically."""

from __future__ import annotations

import io
from pathlib import Path

from .. import store
from ..components import Dataset


def save_samples(fake, dataset: Dataset, path: Path, title: str = "", labels=None) -> None:
    """Write ``path`` (PNG): up to 64 images as a grid, or up to 2,500 points as a scatter.

    With ``labels`` (a conditional run's classes), the grid has one row of 8 per class, and the
    scatter colours each point by its class.
    """
    png = samples_png(fake, dataset, title, labels)
    store.atomic_write(path, lambda f: f.write(png), mode="wb")


def samples_image(fake, dataset: Dataset, labels=None):
    """The picture :func:`save_samples` writes, as an HxWx3 uint8 array (what loggers get)."""
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(samples_png(fake, dataset, labels=labels))).convert("RGB"))


def samples_png(fake, dataset: Dataset, title: str = "", labels=None) -> bytes:
    """The PNG of :func:`save_samples`: a grid of images, or a scatter of points over the true modes."""
    if fake.dim() == 4:
        from torchvision.utils import save_image

        if labels is None:
            chosen = fake[:64]
        else:
            import torch

            chosen = torch.cat([fake[labels == c][:8] for c in range(int(labels.max()) + 1)])
        grid = chosen.detach().cpu().clamp(-1, 1) * 0.5 + 0.5
        buffer = io.BytesIO()
        save_image(grid, buffer, format="png", nrow=8)
        return buffer.getvalue()
    points = fake[:2500].detach().cpu().numpy()
    fig, ax = _pyplot().subplots(figsize=(4, 4), dpi=100)
    colours = {} if labels is None else {"c": labels[:2500].cpu().numpy(), "cmap": "tab20"}
    ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, label="generated", **colours)
    modes = dataset.modes()
    if modes is not None:
        centers = modes[0].cpu().numpy()
        ax.scatter(centers[:, 0], centers[:, 1], s=30, c="red", marker="x", label="true modes")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    return _png(fig)


TRAINING_PANELS = {
    "loss": ("d_loss", "g_loss"),
    "D output": ("d_real", "d_fake"),
    "grad norm": ("d_grad_norm", "g_grad_norm"),
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    """Write ``fig`` to ``path`` (PNG) and close it."""
    png = _png(fig)
    store.atomic_write(path, lambda f: f.write(png), mode="wb")


def _png(fig) -> bytes:
    """``fig`` as PNG bytes; the figure is closed, also when rendering fails (pyplot keeps open figures)."""
    buffer = io.BytesIO()
    try:
        fig.tight_layout()
        fig.savefig(buffer, format="png")
    finally:
        _pyplot().close(fig)
    return buffer.getvalue()


def _panels(count: int, width: int = 3, size: tuple[float, float] = (3.6, 2.8)):
    """A figure with ``count`` panels of ``size`` inches, ``width`` per row; returns (figure, the used axes)."""
    plt = _pyplot()
    rows = max(1, -(-count // width))
    cols = min(width, max(1, count))
    fig, axes = plt.subplots(rows, cols, figsize=(size[0] * cols, size[1] * rows), dpi=100, squeeze=False)
    flat = list(axes.flat)
    for ax in flat[count:]:
        ax.axis("off")
    return fig, flat[:count]


def save_curves(rows: list[dict], path: Path, title: str = "") -> bool:
    """Write ``path`` (PNG): one run's losses, D outputs, grad norms and each metric over steps.

    ``rows`` are the run's metrics.jsonl rows. Returns False (and writes nothing) if there are none.
    """
    training = {key for keys in TRAINING_PANELS.values() for key in keys}
    metrics = list(dict.fromkeys(k for row in rows for k in row if k != "step" and k not in training))
    panels = {name: keys for name, keys in TRAINING_PANELS.items() if any(k in row for row in rows for k in keys)}
    panels |= {metric: (metric,) for metric in metrics}
    if not panels:
        return False
    fig, axes = _panels(len(panels))
    for ax, (name, keys) in zip(axes, panels.items()):
        for key in keys:
            points = [(row["step"], row[key]) for row in rows if key in row]
            ax.plot(*zip(*points), marker="." if len(points) < 20 else None, label=key)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        if len(keys) > 1:
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    _save(fig, path)
    return True


def save_band_curves(curves: dict[str, dict[str, list[dict[int, float]]]], path: Path, title: str = "") -> None:
    """Write ``path`` (PNG): a panel per quantity, a line per arm (mean over seeds) in a min–max band.

    ``curves[quantity][arm]`` is one {step: value} mapping per seed.
    """
    import pandas as pd

    fig, axes = _panels(len(curves))
    for ax, (quantity, arms) in zip(axes, curves.items()):
        for arm, seeds in arms.items():
            frame = pd.DataFrame({i: pd.Series(seed, dtype=float) for i, seed in enumerate(seeds)}).sort_index()
            line = ax.plot(frame.index, frame.mean(axis=1), label=arm)[0]
            if frame.shape[1] > 1:
                ax.fill_between(frame.index, frame.min(axis=1), frame.max(axis=1), color=line.get_color(), alpha=0.2)
        ax.set_title(quantity, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    _save(fig, path)


def save_montage(images: dict[str, Path], path: Path, width: int = 4) -> None:
    """Write ``path`` (PNG): the given PNGs side by side, each titled with its label."""
    plt = _pyplot()
    fig, axes = _panels(len(images), width, size=(3.2, 3.4))
    for ax, (label, image) in zip(axes, images.items()):
        ax.imshow(plt.imread(image))
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    _save(fig, path)
