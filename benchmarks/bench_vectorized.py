"""Vectorized seeds: K seeds of one arm stacked into one model against K separate runs.

For each model size, ``ganx.trainer.train_seeds`` trains K seeds together (stacked), and
``ganx.trainer.train`` trains the same K configs one after another, interleaved at one thread.
``speedup`` is the median over rounds of (time of the K separate runs) / (time of the stacked one),
both whole calls (setup and final sampling included). Before timing, the benchmark checks that the
stacked seeds' final metrics equal the separate runs' (``same_result``).

    python benchmarks/bench_vectorized.py [--quick] [--k 8]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from timing import interleave, median_ratio, report

from ganx.config import validate_run
from ganx.trainer import train, train_seeds

# (label, hidden widths of G and D, batch size, latent dim, steps per timed call)
SIZES = [
    ("(a) 2x32, batch 64", [32, 32], 64, 2, 1000),
    ("3x64, batch 128", [64, 64, 64], 128, 8, 400),
    ("3x128, batch 256", [128, 128, 128], 256, 16, 150),
    ("3x256, batch 256", [256, 256, 256], 256, 32, 60),
]


def configs(hidden: list[int], batch: int, latent: int, steps: int, k: int) -> list:
    base = {
        "dataset": "ring8", "arch": {"name": "mlp", "hidden": hidden}, "batch_size": batch, "latent_dim": latent,
        "steps": steps, "threads": 1, "device": "cpu", "log_every": 100, "eval": {"samples": 1000},
        "metrics": ["modes"],
    }
    return [validate_run({**base, "seed": seed, "name": f"bench-s{seed}"}, "bench") for seed in range(k)]


def same_result(runs: list) -> bool:
    short = [c.model_copy(update={"steps": 20, "log_every": 10}) for c in runs[:3]]
    together = [t["metrics"] for t in train_seeds(short)]
    separate = [train(c)["metrics"] for c in short]
    return all(math.isclose(t[m], s[m], rel_tol=1e-4, abs_tol=1e-6) for t, s in zip(together, separate) for m in s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and rounds, two sizes")
    parser.add_argument("--k", type=int, default=8, help="seeds trained together")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for label, hidden, batch, latent, steps in SIZES[:2] if args.quick else SIZES:
        steps = steps // 4 if args.quick else steps
        runs = configs(hidden, batch, latent, steps, args.k)
        seconds = interleave({
            "separate": lambda runs=runs: [train(c) for c in runs],
            "vectorized": lambda runs=runs: train_seeds(runs),
        }, rounds=1 if args.quick else args.rounds)
        step_ms = {name: 1e3 * min(s) / (steps * args.k) for name, s in seconds.items()}
        rows.append({
            "setup": label, "k": args.k, "steps": steps,
            "separate_ms_per_seed_step": round(step_ms["separate"], 4),
            "vectorized_ms_per_seed_step": round(step_ms["vectorized"], 4),
            "speedup": round(median_ratio(seconds["separate"], seconds["vectorized"]), 3),
            "same_result": same_result(runs),
        })
    report(f"vectorized seeds, K={args.k} vs {args.k} separate runs (1 thread)", rows)


if __name__ == "__main__":
    main()
