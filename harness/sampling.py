"""``ganx sample``: samples from a trained run's checkpoint, in what FID tools read.

``npz``: one array ``x`` (images as uint8 NHWC, like StudioGAN's ``samples.npz``; 2-D points as
float32); ``png-dir``: one PNG per image; ``grid``: one picture, as ``samples.png``. The EMA
generator is used when the run has one (``--no-ema`` for the trained G). A conditional run's samples
cycle through its classes, or are all of one class with ``--class K``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .errors import UserError

FORMATS = ("npz", "png-dir", "grid")
BATCH = 500


def sample(run_dir: Path, n: int, fmt: str, out: Path, *, ema: bool = True, truncation: float | None = None,
           device: str | None = None, progress: Callable[[int], None] | None = None,
           label: int | None = None) -> Path:
    """Draw ``n`` samples from the run in ``run_dir`` (all of class ``label`` if given) and write them to
    ``out`` as ``fmt``; returns ``out``."""
    import torch

    from .config import load_run
    from .resume import resume_from
    from .trainer import build_run, forward

    if fmt not in FORMATS:
        raise UserError(f"--format: unknown format {fmt!r} (valid: {', '.join(FORMATS)})")
    if n <= 0 or (truncation is not None and truncation <= 0):
        raise UserError("--n and --truncation must be positive")
    run_dir = Path(run_dir)
    for name in ("config.yaml", "checkpoint.pt"):
        if not (run_dir / name).is_file():
            raise UserError(f"{run_dir}: no {name}; expected a run's results folder (ganx run --out DIR)")
    config = load_run(run_dir / "config.yaml", [f"device={device}"] if device else [])
    run, hooks, _ = build_run(config)
    if label is not None and not run.num_classes:
        raise UserError(f"--class: {run_dir} is an unconditional run (labels: none); it has no classes")
    if label is not None and not 0 <= label < run.num_classes:
        raise UserError(f"--class {label}: out of range; this run has classes 0 to {run.num_classes - 1}")
    resume_from(run, run_dir / "checkpoint.pt", hooks.plugins)
    images = run.dataset.kind == "images"
    if fmt == "png-dir" and not images:
        raise UserError(f"--format png-dir: {config.dataset.name} is a points dataset; use npz or grid")
    g = run.eval_generator if ema and run.eval_generator is not None else run.generator
    g.eval()
    z_rng = torch.Generator(device=run.device)
    z_rng.manual_seed(config.seed + 2_000_003)  # not the evaluation's fixed z
    labels = torch.arange(n, device=run.device) % run.num_classes if run.num_classes else None  # classes in turn
    if label is not None:
        labels = torch.full((n,), label, device=run.device)
    chunks = []
    with torch.no_grad():
        for start in range(0, n, BATCH):
            z = latent(run, min(BATCH, n - start), z_rng, truncation)
            chunks.append(forward(g, z, None if labels is None else labels[start : start + len(z)]).float().cpu())
            if progress:
                progress(start + len(z))
    fake = torch.cat(chunks)
    write(fake, fmt, Path(out), run.dataset, images, None if labels is None else labels.cpu())
    return Path(out)


def latent(run, n: int, z_rng, truncation: float | None):
    """``n`` latent codes; with ``truncation``, each entry beyond ±T is drawn again (the truncation trick)."""
    z = run.sample_z(n, z_rng)
    if truncation is not None:
        while (outside := z.abs() > truncation).any():
            z[outside] = run.sample_z(n, z_rng)[outside]
    return z


def write(fake, fmt: str, out: Path, dataset, images: bool, labels=None) -> None:
    """Save the samples (and a conditional run's class labels, ``y`` in npz); a full disk or an
    unwritable folder is one error naming the path."""
    import io

    import numpy as np

    from .report.pictures import save_samples
    from .store import atomic_write

    if fmt == "grid":
        save_samples(fake, dataset, out, labels=labels)
        return
    if fmt == "npz":
        x = uint8_nhwc(fake) if images else fake.numpy().astype(np.float32)
        buffer = io.BytesIO()
        np.savez(buffer, x=x, **({} if labels is None else {"y": labels.numpy()}))
        atomic_write(out, lambda f: f.write(buffer.getvalue()), mode="wb")
        return
    from PIL import Image

    for i, image in enumerate(uint8_nhwc(fake)):
        picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        atomic_write(out / f"{i:06d}.png", lambda f, data=buffer.getvalue(): f.write(data), mode="wb")


def uint8_nhwc(fake):
    """Images in [-1, 1], NCHW, as uint8 NHWC (what torch-fidelity, clean-fid and StudioGAN read)."""
    import torch

    return ((fake.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
