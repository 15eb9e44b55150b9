"""Compute utilization on PacGAN's 2-D setup (b): achieved FLOP/s of ganx's training / measured GEMM peak.

FLOPs per step are counted by ``torch.utils.flop_counter`` over one D step and one G step
(forward and backward matmuls; Adam and elementwise ops are not counted, as usual). The peak
is ``torch.mm`` on 1024×1024 float32 at the same thread count; rounds alternate the two.

    python benchmarks/bench_utilization.py [--threads 1] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
import bench_overhead
from timing import report

from ganx.config import validate_run
from ganx.trainer import train


def step_flops(build, batch: int, latent: int) -> int:
    """Matmul FLOPs of one D step plus one G step of the networks ``build()`` makes."""
    from torch.utils.flop_counter import FlopCounterMode

    g, d = build()
    real = torch.randn(batch, 2)
    with FlopCounterMode(display=False) as counter:
        with torch.no_grad():
            fake = g(torch.randn(batch, latent))
        d_loss = F.softplus(-d(real)).mean() + F.softplus(d(fake)).mean()
        d_loss.backward()
        F.softplus(-d(g(torch.randn(batch, latent)))).mean().backward()
    return counter.get_total_flops()


def gemm_flops_per_s(n: int = 1024, seconds: float = 0.5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b)
        calls += 1
    return 2 * n**3 * calls / (time.perf_counter() - start)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args(argv)
    setup = next(s for s in bench_overhead.setups(False) if s.label.startswith("(b)"))
    flops = step_flops(setup.build, setup.config["batch_size"], setup.config["latent_dim"])
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        config = validate_run({**setup.config, "threads": threads, "steps": args.steps}, "bench")
        train(config)  # warm-up
        achieved, peaks = [], []
        for _ in range(args.rounds):
            peaks.append(gemm_flops_per_s())
            start = time.perf_counter()
            train(config)
            achieved.append(flops * args.steps / (time.perf_counter() - start))
        rows.append({
            "setup": setup.label,
            "threads": threads,
            "gflop_per_step": flops / 1e9,
            "achieved_gflop_s": statistics.median(achieved) / 1e9,
            "gemm_peak_gflop_s": statistics.median(peaks) / 1e9,
            "utilization": statistics.median(a / p for a, p in zip(achieved, peaks)),
        })
    report("compute utilization: achieved FLOP/s of ganx training / torch.mm peak (same threads, same run)", rows)
    return rows


if __name__ == "__main__":
    main()
