"""How long the image metrics take on CPU, from 2k to 10k generated vs 10k real Fashion-MNIST samples.

The fakes are Fashion-MNIST train images (so every metric has real work to do). Each metric is
timed on a fresh evaluation, so the embedding of the fakes (shared by all metrics in a real
evaluation) is counted once, in its own row. Prints a table, then one JSON line per measurement.

    .venv/bin/python benchmarks/bench_metrics.py [--sizes 2000 5000 10000] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

METRICS = ("fid", "kid", "precision", "recall", "density", "coverage")


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 5000, 10_000])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("GANX_DATA_DIR", Path.home() / ".cache" / "ganx"))
    )
    parser.add_argument("--dataset", default="fashion-mnist")
    args = parser.parse_args()

    import torch

    from ganx import Evaluation
    from ganx.plugin_manager import get_catalog
    from ganx.plugins import features

    catalog = get_catalog()
    dataset = catalog.get("dataset", args.dataset)()
    pool, _ = dataset.load(args.data_dir, "train")

    def evaluation(n):
        return Evaluation(pool[:n], dataset, args.data_dir, torch.device("cpu"), seed=0)

    _, setup = timed(lambda: features.feature_space(evaluation(2)))  # classifier (cached) + real embedding
    rows = [{"metric": "setup (classifier, real embedding)", "fake": 0, "seconds": setup}]
    for n in args.sizes:
        _, seconds = timed(lambda: features.fake_embedding(evaluation(n)))
        rows.append({"metric": "embed fakes", "fake": n, "seconds": seconds})
        for name in METRICS:
            ev = evaluation(n)
            features.fake_embedding(ev)
            value, seconds = timed(lambda: catalog.get("metric", name)().compute(ev))
            rows.append({"metric": name, "fake": n, "seconds": seconds, "value": value})

    real = len(features.feature_space(evaluation(2)).real)
    print(f"{args.dataset}: {real} real test samples, {torch.get_num_threads()} CPU threads, torch {torch.__version__}")
    print(f"{'metric':<36}" + "".join(f"{n:>10}" for n in args.sizes))
    for name in ("embed fakes", *METRICS):
        times = {r["fake"]: r["seconds"] for r in rows if r["metric"] == name}
        print(f"{name:<36}" + "".join(f"{times[n]:>9.2f}s" for n in args.sizes))
    print(f"{'setup (classifier, real embedding)':<36}{setup:>9.2f}s (once per process)")
    for row in rows:
        print(json.dumps({"bench": "metrics", "dataset": args.dataset, "real": real, **row}))


if __name__ == "__main__":
    main()
