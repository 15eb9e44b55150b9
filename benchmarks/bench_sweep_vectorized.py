"""Sweep trials per minute with ``vectorize: true`` / ``false``, on a small all-MLP sweep (one worker).

Each round runs the whole sweep through the CLI in a fresh results folder, alternating the two
settings, so start-up, storage and evaluation are counted as a user sees them.

    python benchmarks/bench_sweep_vectorized.py [--rounds 2] [--seeds 8] [--steps 2000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from timing import interleave, median_ratio, report


def sweep_yaml(seeds: int, steps: int) -> dict:
    return {
        "name": "vectorized",
        "base": {
            "dataset": "ring8", "arch": {"name": "mlp", "hidden": [32, 32]}, "steps": steps, "batch_size": 64,
            "latent_dim": 8, "log_every": 100, "eval": {"samples": 1000}, "metrics": ["modes"], "threads": 1,
        },
        "arms": {"nsgan": {}, "hinge": {"loss": "hinge"}},
        "seeds": list(range(seeds)),
        "objective": {"metric": "modes", "direction": "maximize"},
    }


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args(argv)
    ganx = str(Path(sys.executable).with_name("ganx"))
    cells = 2 * args.seeds
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "vectorized.yaml"
        spec.write_text(yaml.safe_dump(sweep_yaml(args.seeds, args.steps)))
        runs = iter(range(10**6))

        def sweep(vectorize: bool):
            results = Path(tmp) / f"results-{next(runs)}"
            subprocess.run([ganx, "sweep", str(spec), "--workers", "1", "--results", str(results),
                            "--set", f"vectorize={str(vectorize).lower()}"], check=True, capture_output=True)

        seconds = interleave({"off": lambda: sweep(False), "on": lambda: sweep(True)}, args.rounds, warmup=0)
    rows = [{
        "cells": cells,
        "steps_per_cell": args.steps,
        "trials_per_min_off": 60 * cells / min(seconds["off"]),
        "trials_per_min_on": 60 * cells / min(seconds["on"]),
        "speedup": median_ratio(seconds["off"], seconds["on"]),
    }]
    report("sweep vectorize: trials/min with vectorize on / off, 2 MLP arms, 1 worker, 1 thread", rows)
    return rows


if __name__ == "__main__":
    main()
