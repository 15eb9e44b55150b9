"""The ablation table: one row per arm, the mean ± std over seeds of each metric."""

from __future__ import annotations

from typing import Any

from rich.table import Table


def trials_frame(study):
    """Tidy per-trial data: one row per (arm, seed, metric) with the trial's state and value."""
    import pandas as pd

    rows = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        if "cell" not in attrs:
            continue
        base = {"arm": attrs["arm"], "seed": attrs["seed"], "state": trial.state.name, "error": attrs.get("error", "")}
        metrics = attrs.get("metrics") or {}
        rows += [{**base, "metric": m, "value": v} for m, v in metrics.items()] or [{**base, "metric": None, "value": None}]
    return pd.DataFrame(rows, columns=["arm", "seed", "state", "metric", "value", "error"])


def summarize(frame, arms: list[str], metrics: list[str]) -> list[dict[str, Any]]:
    """Per arm: n complete/failed/pruned and (mean, std) of each metric over completed seeds."""
    out = []
    for arm in arms:
        rows = frame[frame.arm == arm]
        states = rows.drop_duplicates("seed").state.value_counts()
        summary = {
            "arm": arm,
            "complete": int(states.get("COMPLETE", 0)),
            "failed": int(states.get("FAIL", 0)),
            "pruned": int(states.get("PRUNED", 0)),
        }
        done = rows[rows.state == "COMPLETE"]
        for metric in metrics:
            values = done[done.metric == metric].value.astype(float)
            summary[metric] = (values.mean(), values.std(ddof=1) if len(values) > 1 else 0.0) if len(values) else None
        out.append(summary)
    return out


def rich_table(title: str, summary: list[dict[str, Any]], metrics: list[str], objective: str) -> Table:
    table = Table(title=title)
    table.add_column("arm", style="bold")
    for metric in metrics:
        table.add_column(f"{metric} *" if metric == objective else metric, justify="right")
    table.add_column("n (ok/fail/pruned)", justify="right")
    for row in summary:
        cells = [f"{row[m][0]:.3g} ± {row[m][1]:.2g}" if row[m] else "—" for m in metrics]
        table.add_row(row["arm"], *cells, f"{row['complete']}/{row['failed']}/{row['pruned']}")
    table.caption = f"mean ± std over seeds; * objective ({objective})"
    return table


def study_table(study) -> Table:
    """The ablation table of a sweep's study (its settings are stored on the study)."""
    sweep = study.user_attrs["sweep"]
    frame = trials_frame(study)
    objective = sweep["objective"]["metric"]
    metrics = [objective] + sorted(set(frame.metric.dropna()) - {objective})
    arms = list(sweep.get("arms") or {"baseline": {}})
    return rich_table(f"ganx sweep {sweep['name']}", summarize(frame, arms, metrics), metrics, objective)
