"""Harness overhead: ganx's ``train()`` against the hand-written loop in ``plain.py``, same math.

For each setup, ganx and the plain loop train from the same seed for the same steps at one
thread, interleaved. ``ratio`` is the median over rounds of steps/s (ganx) / steps/s (plain), the
plain loop using the same fused Adam as ganx: the harness's own overhead. ``vs_default`` compares
with the plain loop on PyTorch's default Adam, what a hand-written script usually gets. Before
timing, the final G weights of ganx and the plain loop are compared: equal proves the same math.

    python benchmarks/bench_overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
import plain
from timing import interleave, median_ratio, report

from ganx import Dataset, Trick, hookimpl
from ganx.config import Spec, validate_run
from ganx.plugin_manager import get_catalog, get_plugin_manager
from ganx.trainer import train

TRICKS = ["label_smoothing", "noisy_labels", "instance_noise", "replay_buffer"]


class BenchImages(Dataset):
    """4,096 uniform-noise 1×28×28 images: a DCGAN step costs the same whatever the pixels are."""

    name = "bench-images"
    kind = "images"

    def load(self, data_dir, split):
        return torch.rand(4096, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1, None


class Capture(Trick):
    """Keeps the run's generator, so that its final weights can be compared (no per-step hooks)."""

    name = "bench-capture"
    generator = None

    def setup(self, run):
        Capture.generator = run.generator


@hookimpl
def register_datasets(register):
    register(BenchImages)


@hookimpl
def register_tricks(register):
    register(Capture)


@dataclass
class Setup:
    label: str
    config: dict
    build: object  # () -> (G, D) built with torch.nn, the same layers as the ganx config
    steps: int


def setups(quick: bool) -> list[Setup]:
    base = {"threads": 1, "device": "cpu", "seed": 0, "log_every": 100, "eval": {"samples": 1000}}
    leaky = partial(nn.LeakyReLU, 0.2)
    scale = 4 if quick else 1
    return [
        Setup(
            "(a) mlp 2x32, batch 64",
            {
                **base,
                "dataset": "ring8",
                "arch": {"name": "mlp", "hidden": [32, 32]},
                "latent_dim": 2,
                "batch_size": 64,
            },
            lambda: (plain.mlp_g(2, [32, 32], 2, False, leaky), plain.mlp_d(2, [32, 32], 0)),
            2000 // scale,
        ),
        Setup(
            "(b) pacgan G 4x400 BN, D maxout 3x200x5, batch 100",
            {
                **base, "dataset": "grid25", "latent_dim": 2, "batch_size": 100,
                "arch": {"g": {"name": "mlp", "hidden": [400] * 4, "activation": "relu"},
                         "d": {"name": "mlp", "hidden": [200] * 3, "maxout": 5}},
                "norm": {"g": "batch", "d": "none"},
            },
            lambda: (plain.mlp_g(2, [400] * 4, 2, True, nn.ReLU), plain.mlp_d(2, [200] * 3, 5)),
            120 // scale,
        ),
        Setup(
            "(c) dcgan 28x28, batch 64",
            {**base, "dataset": "bench-images", "arch": "dcgan", "norm": "batch", "latent_dim": 100, "batch_size": 64},
            lambda: (plain.dcgan_g(100), plain.dcgan_d()),
            8 // min(scale, 2),
        ),
    ]


def contenders(setup: Setup, tricks: bool, steps: int):
    """(ganx, plain) callables training ``steps`` steps of ``setup``."""
    spec = {**setup.config, "steps": steps, "tricks": TRICKS if tricks else []}
    config = validate_run(spec, "bench")
    data = get_catalog().create("dataset", config.dataset).load(None, "train")[0]
    kwargs = {
        "steps": steps,
        "batch": config.batch_size,
        "latent": config.latent_dim,
        "tricks": tricks,
        "eval_samples": 1000,
    }

    def ganx_run():
        return train(config)

    def plain_run(fused=True):
        return plain.train(data, setup.build, fused=fused, **kwargs)

    return ganx_run, plain_run, config


def same_math(setup: Setup, tricks: bool) -> bool:
    """Whether ganx and the plain loop end with identical G weights after a few steps."""
    _, plain_run, config = contenders(setup, tricks, steps=5)
    train(config.model_copy(update={"tricks": [*config.tricks, Spec.model_validate("bench-capture")]}))
    ours, theirs = Capture.generator.state_dict().values(), plain_run().state_dict().values()
    return len(ours) == len(theirs) and all(torch.equal(a, b) for a, b in zip(ours, theirs))


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and rounds (a smoke run)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="abc", help="which setups, e.g. 'ab'")
    args = parser.parse_args(argv)
    get_plugin_manager().register(sys.modules[__name__], name="bench-overhead")
    torch.set_num_threads(1)
    rows = []
    for setup in setups(args.quick):
        if setup.label[1] not in args.only:
            continue
        for tricks in (False, True):
            ganx_run, plain_run, _ = contenders(setup, tricks, setup.steps)
            seconds = interleave(
                {"ganx": ganx_run, "plain": plain_run, "default": partial(plain_run, None)},
                2 if args.quick else args.rounds,
            )
            rows.append({
                "setup": setup.label,
                "tricks": "demo" if tricks else "none",
                "steps": setup.steps,
                "plain_ms_per_step": 1000 * min(seconds["plain"]) / setup.steps,
                "ganx_ms_per_step": 1000 * min(seconds["ganx"]) / setup.steps,
                "ratio": 1 / median_ratio(seconds["ganx"], seconds["plain"]),
                "vs_default": 1 / median_ratio(seconds["ganx"], seconds["default"]),
                "same_math": same_math(setup, tricks),
            })
    report("harness overhead: steps/s ganx / steps/s plain (median of interleaved rounds, 1 thread)", rows)
    return rows


if __name__ == "__main__":
    main()
