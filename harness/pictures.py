"""Pictures of generated samples: an image grid, or a 2-D scatter over the true modes."""

from __future__ import annotations

from pathlib import Path

from . import store
from .components import Dataset


def save_samples(fake, dataset: Dataset, path: Path, title: str = "") -> None:
    """Write ``path`` (PNG): up to 64 images as a grid, or up to 2,500 points as a scatter."""
    if fake.dim() == 4:
        from torchvision.utils import save_image

        grid = fake[:64].detach().cpu().clamp(-1, 1) * 0.5 + 0.5
        store.atomic_write(path, lambda f: save_image(grid, f, format="png", nrow=8), mode="wb")
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = fake[:2500].detach().cpu().numpy()
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, label="generated")
    modes = dataset.modes()
    if modes is not None:
        centers = modes[0].cpu().numpy()
        ax.scatter(centers[:, 0], centers[:, 1], s=30, c="red", marker="x", label="true modes")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    store.atomic_write(path, lambda f: fig.savefig(f, format="png"), mode="wb")
    plt.close(fig)
