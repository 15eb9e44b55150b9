"""Interleaved timing and reporting shared by the benchmarks.

The machine is noisy (2 shared cores), so every comparison alternates its contenders in one run
and reports the median of the per-round ratios; absolute times are printed for context only.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable


def interleave(contenders: dict[str, Callable[[], object]], rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Wall seconds of each contender per round, calling them in turn (order flipped every round)."""
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            contenders[name]()
    seconds = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            contenders[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def median_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median over rounds of numerator[i] / denominator[i]."""
    return statistics.median(a / b for a, b in zip(numerator, denominator))


def report(title: str, rows: list[dict]) -> None:
    """Print ``rows`` as an aligned table, then one JSON line per row tagged with ``bench``."""
    print(f"\n## {title}")
    if rows:
        columns = list(dict.fromkeys(k for row in rows for k in row))
        cells = [[_fmt(row.get(c, "")) for c in columns] for row in rows]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
        print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
        for r in cells:
            print("  ".join(v.ljust(w) for v, w in zip(r, widths)))
    for row in rows:
        print(json.dumps({"bench": title, **row}))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
