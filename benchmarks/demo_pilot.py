"""The pilot behind the demo's setup (docs/reproductions.md, "The demo's setup").

Trains the NS-GAN baseline of ``sweeps/tricks.yaml`` under a few settings of the latent size, learning
rate and G's activation, for 3 seeds each, and prints modes, high-quality samples, reverse KL and the
interior modes covered: of the 9 modes inside the 5 × 5 grid, how many have a high-quality sample. A
baseline that covers only the 16 on the outline gives every trick the same failure to start from.

    python benchmarks/demo_pilot.py [--steps 6000] [--seeds 0,1,2] [--only A,G]
"""

from __future__ import annotations

import argparse
import json
import statistics

from ganx import Metric, hookimpl
from ganx.config import validate_run
from ganx.plugin_manager import get_plugin_manager
from ganx.plugins.metrics import mode_assignment
from ganx.trainer import train

BASE = {
    "dataset": "grid25", "threads": 1, "batch_size": 100, "loss": "nsgan", "norm": {"g": "batch", "d": "none"},
    "log_every": 500, "eval": {"samples": 2500}, "metrics": ["modes", "hq", "reverse_kl", "interior_modes"],
}
MLP = {"name": "mlp", "hidden": [128, 128, 128]}
RELU_G = {"g": {**MLP, "activation": "relu"}, "d": MLP}
SETUPS = {  # name: (what changes from the old demo, config)
    "A": ("the old demo: z ∈ R¹⁶, lr 1e-3", {"arch": MLP, "latent_dim": 16, "lr": 1e-3}),
    "B": ("lr 2e-4", {"arch": MLP, "latent_dim": 16, "lr": 2e-4}),
    "E": ("ReLU G, lr 5e-4", {"arch": RELU_G, "latent_dim": 16, "lr": 5e-4}),
    "F": ("ReLU G, lr 2e-4", {"arch": RELU_G, "latent_dim": 16, "lr": 2e-4}),
    "C": ("ReLU G, z ∈ R², lr 2e-4", {"arch": RELU_G, "latent_dim": 2, "lr": 2e-4}),
    "G": ("z ∈ R², lr 2e-4 (the demo now)", {"arch": MLP, "latent_dim": 2, "lr": 2e-4}),
}


class InteriorModes(Metric):
    """Modes off the grid's outline (|x|, |y| < 4) with at least one high-quality sample (9 at most)."""

    name = "interior_modes"
    direction = "maximize"
    kinds = ("points",)

    def compute(self, ev):
        index, hq = mode_assignment(ev)
        centers, _ = ev.dataset.modes()
        inside = (centers.abs() < centers.abs().max() - 1e-6).all(1)
        return float(inside[index[hq].unique()].sum())

    def protocol(self, ev):
        return {"samples": len(ev.fake)}


class Plugin:
    @hookimpl
    def register_metrics(register):
        register(InteriorModes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--only", default=",".join(SETUPS))
    args = parser.parse_args()
    get_plugin_manager().register(Plugin)
    print("| setup | change | modes | interior modes (of 9) | hq % | reverse KL |")
    print("|---|---|---|---|---|---|")
    for name in args.only.split(","):
        change, setup = SETUPS[name]
        rows = []
        for seed in map(int, args.seeds.split(",")):
            optimizer = {"name": "adam", "lr": setup["lr"], "betas": [0.5, 0.999]}
            config = validate_run({**BASE, "arch": setup["arch"], "latent_dim": setup["latent_dim"],
                                   "optimizer": optimizer, "steps": args.steps, "seed": seed}, "pilot")
            rows.append(train(config)["metrics"])
            print(json.dumps({"setup": name, "seed": seed, **rows[-1]}), flush=True)
        mean = {key: statistics.fmean(row[key] for row in rows) for key in rows[0]}
        print(f"| {name} | {change} | {mean['modes']:.1f} | {mean['interior_modes']:.1f} | {mean['hq']:.1f} | "
              f"{mean['reverse_kl']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
