"""ganx sample: samples from a trained run's checkpoint, in the formats FID tools read."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ganx.config import validate_run
from ganx.trainer import train


def trained(tmp_path, tiny, **changes):
    out = tmp_path / "run"
    train(validate_run({**tiny, **changes}, "run.yaml"), out)
    return out


def test_npz_of_points_holds_n_float_samples_drawn_in_batches(tmp_path, tiny, ganx):
    run = trained(tmp_path, tiny)
    code, out, err = ganx("sample", run, "--n", "1234", "--out", tmp_path / "s.npz")
    assert code == 0, err
    x = np.load(tmp_path / "s.npz")["x"]
    assert x.shape == (1234, 2) and x.dtype == np.float32 and np.isfinite(x).all()
    assert "samples 1234/1234" in out


def test_images_become_uint8_nhwc_or_one_png_each(tmp_path, tiny, ganx):
    run = trained(tmp_path, tiny, dataset="digits", metrics=[])
    code, _, err = ganx("sample", run, "--n", "30", "--out", tmp_path / "s.npz")
    assert code == 0, err
    x = np.load(tmp_path / "s.npz")["x"]
    assert x.shape == (30, 8, 8, 1) and x.dtype == np.uint8
    code, _, err = ganx("sample", run, "--n", "7", "--format", "png-dir", "--out", tmp_path / "pngs")
    assert code == 0, err
    pngs = sorted((tmp_path / "pngs").iterdir())
    assert [p.name for p in pngs] == [f"{i:06d}.png" for i in range(7)]
    assert Image.open(pngs[0]).size == (8, 8)


def test_the_ema_generator_is_used_unless_told_otherwise(tmp_path, tiny, ganx):
    run = trained(tmp_path, tiny, tricks=[{"name": "ema", "decay": 0.5}])
    for flag in ("--ema", "--no-ema"):
        assert ganx("sample", run, "--n", "100", flag, "--out", tmp_path / f"{flag}.npz")[0] == 0
    ema, plain = (np.load(tmp_path / f"{flag}.npz")["x"] for flag in ("--ema", "--no-ema"))
    assert not np.allclose(ema, plain)
    assert ganx("sample", run, "--n", "100", "--out", tmp_path / "default.npz")[0] == 0
    assert np.array_equal(np.load(tmp_path / "default.npz")["x"], ema)


def test_truncation_keeps_every_latent_entry_within_the_bound(tmp_path, tiny):
    import torch

    from ganx.sampling import latent
    from ganx.trainer import build_run

    run, _, _ = build_run(validate_run(tiny, "run.yaml"))
    z = latent(run, 1000, torch.Generator().manual_seed(0), 0.5)
    assert z.shape == (1000, tiny["latent_dim"]) and z.abs().max() <= 0.5


def test_bad_requests_are_one_line_each(tmp_path, tiny, ganx):
    run = trained(tmp_path, tiny)
    cases = [
        (("sample", run, "--format", "png-dir"), "grid25 is a points dataset; use npz or grid"),
        (("sample", run, "--format", "jpeg"), "unknown format 'jpeg'"),
        (("sample", tmp_path, "--n", "5"), "no config.yaml"),
        (("sample", run, "--n", "0"), "must be positive"),
    ]
    for args, message in cases:
        code, _, err = ganx(*args)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


RING = {  # learns ring8's 8 classes (its mode indices) in about 2 s
    "dataset": "ring8", "arch": {"name": "mlp", "hidden": [64, 64]}, "latent_dim": 4, "batch_size": 64,
    "steps": 1500, "log_every": 500, "optimizer": {"lr": 1e-3}, "labels": "uniform",
    "eval": {"samples": 800}, "metrics": ["class_accuracy"],
}


def test_class_k_draws_every_sample_of_class_k(tmp_path, ganx):
    import torch

    from ganx.trainer import build_run

    run = trained(tmp_path, RING)
    centers, _ = build_run(validate_run(RING, "run.yaml"))[0].dataset.modes()
    for k in (2, 5):
        code, _, err = ganx("sample", run, "--n", "400", "--class", k, "--out", tmp_path / f"{k}.npz")
        assert code == 0, err
        drawn = np.load(tmp_path / f"{k}.npz")
        assert (drawn["y"] == k).all()
        nearest = torch.cdist(torch.from_numpy(drawn["x"]), centers.cpu()).argmin(1)
        assert (nearest == k).float().mean() > 0.7  # mode k, most of the time


def test_class_is_refused_for_an_unconditional_run_or_out_of_range(tmp_path, tiny, ganx):
    unconditional = trained(tmp_path / "u", tiny)
    conditional = trained(tmp_path / "c", RING, steps=10)
    cases = [
        (unconditional, "0", "is an unconditional run (labels: none)"),
        (conditional, "8", "--class 8: out of range; this run has classes 0 to 7"),
        (conditional, "-1", "--class -1: out of range"),
    ]
    for run, k, message in cases:
        code, _, err = ganx("sample", run, "--n", "5", "--class", k, "--out", tmp_path / "s.npz")
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "s.npz").exists()
