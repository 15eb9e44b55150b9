"""k-NN manifold metrics with batched ``torch.cdist``; memory stays at ``chunk × N`` distances.

Precision and recall: Kynkäänniemi et al. 2019, "Improved precision and recall metric for
assessing generative models". Density and coverage: Naeem et al. 2020, "Reliable fidelity and
diversity metrics for generative models". A point lies in the ball of a sample when its distance
is at most that sample's distance to its k-th nearest neighbour (itself excluded).
Torch-only: import lazily.
"""

from __future__ import annotations

import torch

CHUNK = 2048


def knn_radii(x: torch.Tensor, k: int, chunk: int = CHUNK) -> torch.Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row."""
    return torch.cat([torch.cdist(part, x).topk(k + 1, dim=1, largest=False).values[:, k] for part in x.split(chunk)])


def manifold_scores(real, fake, k: int, real_radii=None, chunk: int = CHUNK) -> dict[str, float]:
    """precision, recall, density and coverage of ``fake`` against ``real`` (rows are features).

    - precision: share of fakes inside some real ball
    - recall: share of reals inside some fake ball
    - density: mean over fakes of (number of real balls containing it) / k
    - coverage: share of reals whose ball contains at least one fake
    """
    real_radii = knn_radii(real, k, chunk) if real_radii is None else real_radii
    fake_radii = knn_radii(fake, k, chunk)
    in_real_balls = torch.zeros(len(fake), dtype=torch.long, device=fake.device)
    recalled = covered = 0
    for part, radii in zip(real.split(chunk), real_radii.split(chunk)):
        d = torch.cdist(part, fake)
        inside = d <= radii[:, None]
        in_real_balls += inside.sum(0)
        covered += int(inside.any(1).sum())
        recalled += int((d <= fake_radii[None, :]).any(1).sum())
    return {
        "precision": int((in_real_balls > 0).sum()) / len(fake),
        "recall": recalled / len(real),
        "density": int(in_real_balls.sum()) / (len(fake) * k),
        "coverage": covered / len(real),
    }
