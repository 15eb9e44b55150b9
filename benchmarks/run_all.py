"""Run every benchmark (``make bench``) and print a summary of the headline figures against the goals.

Each benchmark runs in its own process and prints its own table and JSON lines; the summary
at the end repeats the ratios. Budget: under 15 minutes on the 2-core CPU machine.

    python benchmarks/run_all.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent

# (script, arguments, arguments with --quick); a script that is not there yet is skipped.
BENCHMARKS = [
    ("bench_cli.py", [], ["--rounds", "3"]),
    ("bench_overhead.py", [], ["--quick"]),
    ("bench_utilization.py", [], ["--rounds", "2", "--steps", "40"]),
    ("bench_sweep_scaling.py", [], ["--rounds", "1", "--steps", "600"]),
    ("bench_metrics.py", [], ["--sizes", "2000"]),
    ("bench_vectorized.py", [], ["--quick"]),
    ("bench_sweep_vectorized.py", [], ["--rounds", "1", "--seeds", "4", "--steps", "1000"]),
]


def headline(row: dict) -> tuple[str, str, str] | None:
    """(figure, value, goal) for the rows that have a goal in issue 9."""
    bench = row["bench"]
    if bench.startswith("harness overhead"):
        goal = ">= 0.93" if row["setup"].startswith("(a)") else ">= 0.97"
        return (
            f"overhead {row['setup'][:3]} tricks={row['tricks']}",
            f"{row['ratio']:.3f}",
            goal if row["tricks"] == "none" else "-",
        )
    if bench.startswith("compute utilization"):
        return f"utilization (b), {row['threads']} thread", f"{row['utilization']:.1%}", ">= 50%"
    if bench.startswith("sweep scaling"):
        return f"sweep 2 vs 1 workers, threads={row['threads']}", f"{row['speedup']:.2f}x", ">= 1.8x"
    if bench.startswith("CLI start-up"):
        value = f"{row['median_s']:.3f} s, torch imported: {row['imports_torch']}"
        return row["command"], value, f"<= {row['goal_s']} s, no torch"
    if bench == "metrics":
        return f"metric {row['metric']}, {row['fake']} fakes", f"{row['seconds']:.2f} s", "-"
    if bench.startswith("sweep vectorize"):
        return f"sweep vectorize on/off, {row['cells']} MLP cells", f"{row['speedup']:.2f}x", "-"
    if bench.startswith("vectorized seeds"):
        goal = ">= 4x" if row["setup"].startswith("(a)") else "-"
        return (
            f"vectorized seeds K={row['k']}, {row['setup']}",
            f"{row['speedup']:.2f}x, same result: {row['same_result']}",
            goal,
        )
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run with fewer steps and rounds")
    args = parser.parse_args()
    rows, started = [], time.perf_counter()
    for script, full, quick in BENCHMARKS:
        if not (HERE / script).exists():
            print(f"\n# {script}: not present, skipped")
            continue
        print(f"\n# {script}", flush=True)
        proc = subprocess.Popen([sys.executable, str(HERE / script), *(quick if args.quick else full)],
                                stdout=subprocess.PIPE, text=True)
        for line in proc.stdout:
            print(line, end="", flush=True)
            if line.startswith("{"):
                rows.append(json.loads(line))
        if proc.wait():
            print(f"# {script} failed with exit code {proc.returncode}")
    figures = [h for h in map(headline, rows) if h]
    print(f"\n## summary (all benchmarks took {time.perf_counter() - started:.0f} s)")
    width = max(len(f) for f, _, _ in figures) if figures else 0
    for figure, value, goal in figures:
        print(f"{figure.ljust(width)}  {value:<36}  goal {goal}")


if __name__ == "__main__":
    main()
