"""CLI start-up: wall time of ``ganx --help`` and ``ganx plugins`` in fresh processes, and whether they import torch.

Each command runs in a new interpreter, as a user's shell would start it; ``python -c pass`` is
timed in the same rounds for reference (the interpreter's own start-up).

    python benchmarks/bench_cli.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from timing import interleave, report

# Runs the CLI like the console script does, then says whether torch got imported.
PROBE = """
import sys
from ganx.cli import main
sys.argv = ["ganx", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print("torch imported:", "torch" in sys.modules, file=sys.stderr)
"""

COMMANDS = {"ganx --help": ["--help"], "ganx plugins": ["plugins"]}
GOALS = {"ganx --help": 0.3, "ganx plugins": 0.5}


def ganx_script() -> str:
    """The installed ``ganx`` console script next to this interpreter."""
    return str(Path(sys.executable).with_name("ganx"))


def run(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    contenders = {"python -c pass": lambda: run([sys.executable, "-c", "pass"])}
    for label, cli_args in COMMANDS.items():
        contenders[label] = lambda cli_args=cli_args: run([ganx_script(), *cli_args])
    seconds = interleave(contenders, args.rounds)
    rows = []
    for label, cli_args in COMMANDS.items():
        probe = run([sys.executable, "-c", PROBE, *cli_args])
        rows.append({
            "command": label,
            "median_s": statistics.median(seconds[label]),
            "min_s": min(seconds[label]),
            "goal_s": GOALS[label],
            "python_startup_s": statistics.median(seconds["python -c pass"]),
            "imports_torch": "torch imported: True" in probe.stderr,
        })
    report("CLI start-up: wall seconds in a fresh process (median of interleaved rounds)", rows)
    return rows


if __name__ == "__main__":
    main()
