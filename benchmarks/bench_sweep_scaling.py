"""Sweep scaling: trials per minute of one small sweep with ``--workers 2`` / ``--workers 1``.

Each round runs the whole sweep through the CLI in a fresh results folder, alternating the worker
counts. In the ``auto`` row the base config sets no ``threads``, so ganx splits the cores between
the workers (1 worker: torch's default, all cores); in the ``1`` row every run uses one thread,
which isolates the scaling of the processes themselves.

    python benchmarks/bench_sweep_scaling.py [--rounds 2] [--cells 8]
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


def sweep_yaml(cells: int, steps: int, threads: int) -> dict:
    return {
        "name": "scaling",
        "base": {
            "dataset": "ring8", "arch": {"name": "mlp", "hidden": [128, 128]}, "steps": steps, "batch_size": 64,
            "latent_dim": 8, "log_every": 100, "eval": {"samples": 1000}, "metrics": ["modes"],
            **({"threads": threads} if threads else {}),
        },
        "arms": {"baseline": {}, "label_smoothing": {"tricks": ["label_smoothing"]}},
        "seeds": list(range(cells // 2)),
        "objective": {"metric": "modes", "direction": "maximize"},
    }


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args(argv)
    ganx = str(Path(sys.executable).with_name("ganx"))
    rows = []
    for threads in (0, 1):
        with tempfile.TemporaryDirectory() as tmp:
            spec = Path(tmp) / "scaling.yaml"
            spec.write_text(yaml.safe_dump(sweep_yaml(args.cells, args.steps, threads)))
            runs = iter(range(10**6))

            def sweep(workers: int, spec=spec, runs=runs, tmp=tmp):
                results = Path(tmp) / f"results-{next(runs)}"
                subprocess.run([ganx, "sweep", str(spec), "--workers", str(workers), "--results", str(results)],
                               check=True, capture_output=True)

            seconds = interleave({1: lambda: sweep(1), 2: lambda: sweep(2)}, args.rounds, warmup=0)
        rows.append({
            "threads": threads or "auto",
            "cells": args.cells,
            "steps_per_cell": args.steps,
            "trials_per_min_1_worker": 60 * args.cells / min(seconds[1]),
            "trials_per_min_2_workers": 60 * args.cells / min(seconds[2]),
            "speedup": median_ratio(seconds[1], seconds[2]),
        })
    report("sweep scaling: trials/min with --workers 2 / --workers 1 (median of interleaved rounds)", rows)
    return rows


if __name__ == "__main__":
    main()
