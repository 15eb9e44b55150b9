"""The ablation table of a sweep: per arm, each metric's mean and CI (or s.e.) over seeds, Δ vs the
baseline with its p and minimum detectable effect, counts.

Grid sweeps add the marginal effect of each factor; search sweeps add Optuna's parameter importance;
``paired`` adds the comparison seed by seed; ``verdicts`` adds every metric's Δ with each arm's verdict.
The numbers come from :mod:`ganx.report.stats`; the renderings from :mod:`ganx.report.formats`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from . import stats
from .formats import Sheet, latex, markdown, number, rich

COLUMNS = ["trial", "arm", "seed", "state", "metric", "value", "error"]
OUTCOMES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")  # a seed counts as its best trial's state
FORMATS = ("rich", "markdown", "latex", "csv", "json")
IMPORTANCE = "optuna.importance.FanovaImportanceEvaluator(seed=0)"
# The protocol fields (see Metric.protocol) that must agree for two numbers of one metric to be compared.
COMPARABLE = ("samples", "fake_samples", "real_samples", "real_split", "reference", "features", "feature_layer",
              "feature_hash", "weights_sha256", "resize")


def level_label(level: Any) -> str:
    """A grid level as text: strings as they are, anything else (numbers, plugin specs) as JSON."""
    return level if isinstance(level, str) else json.dumps(level, sort_keys=True)


def trials_frame(study):
    """Tidy per-trial data: one row per (trial, metric) with arm, seed, state, value, error and grid factors.

    The factor axes (from the trials' ``factors`` user attr) are extra columns, listed in ``frame.attrs["factors"]``.
    """
    import pandas as pd

    from ..sweep.queue import is_final

    rows, axes = [], {}
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        if "arm" not in attrs or not is_final(trial):
            continue
        factors = {axis: level_label(level) for axis, level in (attrs.get("factors") or {}).items()}
        axes.update(dict.fromkeys(factors))
        base = {**factors, "trial": trial.number, "arm": attrs["arm"], "seed": attrs.get("seed"),
                "state": trial.state.name, "error": attrs.get("error", "")}
        metrics = attrs.get("metrics") or {}
        rows += (
            [{**base, "metric": m, "value": v} for m, v in metrics.items()]
            or [{**base, "metric": None, "value": None}]
        )
    factors = [a for a in axes if a not in COLUMNS]
    frame = pd.DataFrame(rows, columns=COLUMNS + factors)
    frame.attrs["factors"] = factors
    return frame


def seed_outcomes(frame):
    """One row per (arm, seed): the best state among its trials (a retried failure that completed is complete)."""
    rank = {state: i for i, state in enumerate(OUTCOMES)}
    trials = frame.drop_duplicates("trial")[["arm", "seed", "state"]]
    trials = trials.assign(rank=trials.state.map(rank).fillna(len(rank)))
    return trials.sort_values("rank", kind="stable").drop_duplicates(["arm", "seed"])


def completed(frame, metric: str):
    """Completed rows of ``metric`` with a finite value, one per (arm, seed) (the latest trial wins)."""
    rows = frame[(frame.state == "COMPLETE") & (frame.metric == metric)]
    rows = rows.drop_duplicates(["arm", "seed"], keep="last")
    values = rows.value.astype(float)
    return rows.assign(value=values)[values.map(math.isfinite).astype(bool)]  # bool even when empty


def expected_cells(study) -> dict[str, list]:
    """The seeds each arm of the sweep's design should have an outcome for (empty if the study has no design)."""
    seeds = (study.user_attrs.get("sweep") or {}).get("seeds", [0])
    return {arm: list(seeds) for arm in study.user_attrs.get("arms") or []}


def unfinished(study) -> list[str]:
    """The cells (``arm/sSEED``) of the design that have no outcome yet: still to run, or lost."""
    from ..sweep.queue import is_final

    done = {(t.user_attrs["arm"], t.user_attrs.get("seed")) for t in study.get_trials(deepcopy=False)
            if "arm" in t.user_attrs and is_final(t)}
    return [
        f"{arm}/s{seed}" for arm, seeds in expected_cells(study).items() for seed in seeds if (arm, seed) not in done
    ]


def summarize(frame, arms: list[str], metrics: list[str], ci: float = 0.95,
              expected: dict[str, list] | None = None) -> list[dict[str, Any]]:
    """Per arm: seeds complete/failed/pruned/missing (of those ``expected``) and each metric's
    :class:`~ganx.report.stats.Interval` (None if no value)."""
    outcomes = seed_outcomes(frame)
    done = {m: completed(frame, m) for m in metrics}
    out = []
    for arm in arms:
        mine = outcomes[outcomes.arm == arm]
        states = mine.state.value_counts()
        row: dict[str, Any] = {"arm": arm, "complete": int(states.get("COMPLETE", 0)),
                               "failed": int(states.get("FAIL", 0)), "pruned": int(states.get("PRUNED", 0)),
                               "missing": len(set((expected or {}).get(arm, [])) - set(mine.seed))}
        for metric in metrics:
            values = list(done[metric][done[metric].arm == arm].value)
            row[metric] = stats.t_interval(values, ci) if values else None
        out.append(row)
    return out


@dataclass(frozen=True)
class View:
    """What to show: metrics (the objective first) with their directions, the baseline arm, CI level, order,
    whether ± is the CI's half-width or the standard error (``se``), and whether to add the paired and
    verdicts sheets."""

    title: str
    objective: str
    metrics: list[str]
    directions: dict[str, str]
    baseline: str
    ci: float = 0.95
    sort: bool = False
    expected: dict[str, list] = field(default_factory=dict)  # arm -> the seeds the design runs
    se: bool = False
    paired: bool = False
    verdicts: bool = False

    @property
    def spread(self) -> str:
        """What ± means in this view's cells, for the notes."""
        return "its standard error" if self.se else f"half-width of its {self.ci:.0%} t-interval"


def interval_text(iv: stats.Interval, signed: bool = False, se: bool = False) -> str:
    """``mean ± half-width`` of the interval, or ``mean ± s.e.``; the mean alone if there is no spread."""
    mean = signed_number(iv.mean) if signed else number(iv.mean)
    if not math.isfinite(iv.lo):
        return mean
    return f"{mean} ± {number(iv.se if se else (iv.hi - iv.lo) / 2)}"


def signed_number(value: float) -> str:
    """A difference as text, "+" on gains."""
    return ("+" if value > 0 else "") + number(value)


def p_text(p: float, alpha: float) -> str:
    """A p-value, starred when significant."""
    return number(p) + ("*" if p < alpha else "")


def better(direction: str, a: float, b: float) -> bool:
    return a > b if direction == "maximize" else a < b


@dataclass(frozen=True)
class Verdict:
    """One arm against the baseline: the comparison, its Holm-adjusted p, the smallest adjusted p its
    seeds allow, and the minimum detectable effect at Holm's strictest level."""

    comparison: stats.Comparison | stats.Paired
    p: float
    floor: float
    detectable: float


def metric_values(frame, metric: str) -> dict[str, dict]:
    """Each arm's completed values of ``metric``, {seed: value}."""
    done = completed(frame, metric)
    return {arm: dict(zip(rows.seed, rows.value)) for arm, rows in done.groupby("arm", sort=False)}


def compare_arms(frame, arms: list[str], view: View, paired: bool = False,
                 metric: str | None = None) -> dict[str, Verdict]:
    """Each arm's objective (or ``metric``) against the baseline (unpaired, or seed by seed), Holm-adjusted
    across the compared arms."""
    values = metric_values(frame, metric or view.objective)
    base = values.get(view.baseline, {})
    results = {}
    for arm in arms:
        mine = values.get(arm, {})
        if arm == view.baseline or not mine or not base:
            continue
        if paired:
            found = stats.paired(mine, base, view.ci)
            if found:
                results[arm] = found
        else:
            results[arm] = stats.compare(list(mine.values()), list(base.values()), view.ci)
    alpha, k = 1 - view.ci, len(results)
    floors, detectables = [], []
    for arm, comparison in results.items():
        mine = list(values[arm].values())
        if paired:
            n = comparison.delta.n
            floors.append(stats.smallest_paired_p(n))
            detectables.append(comparison.delta.se * stats.detectable_factor(n - 1, alpha / k))
        else:
            floors.append(stats.smallest_p(len(mine), len(base)))
            detectables.append(stats.detectable(mine, list(base.values()), alpha / k))
    adjusted = stats.holm([c.p for c in results.values()])
    best_cases = stats.holm(floors)  # Holm is monotone in each p: each arm's best adjusted p, whatever the values
    return {arm: Verdict(comparison, p, floor, detectable) for (arm, comparison), p, floor, detectable
            in zip(results.items(), adjusted, best_cases, detectables)}


def ablation_sheet(frame, view: View) -> Sheet:
    """The main table: a row per arm, a column per metric, Δ, p and MDE for the objective, and the counts."""
    arms = list(dict.fromkeys([*view.expected, *frame.arm]))
    summary = summarize(frame, arms, view.metrics, view.ci, view.expected)
    if view.sort:
        sign = -1 if view.directions[view.objective] == "maximize" else 1
        summary.sort(key=lambda row: sign * row[view.objective].mean if row[view.objective] else math.inf)
    verdicts = compare_arms(frame, arms, view)
    alpha = 1 - view.ci
    arrows = {"maximize": "↑", "minimize": "↓"}
    header = ["arm"] + [f"{m} {arrows[view.directions[m]]}" for m in view.metrics]
    header += [f"Δ {view.objective}", "p (Holm)", "MDE", "n"]
    sheet = Sheet(view.title, header, [])
    for row in summary:
        cells = [row["arm"] + (" †" if incomplete(row) else "")] + [
            interval_text(row[m], se=view.se) if row[m] else "—" for m in view.metrics
        ]
        verdict = verdicts.get(row["arm"])
        cells += verdict_cells(verdict, view) if verdict else ["—", "—", "—"]
        sheet.rows.append(cells + [f"{row['complete']}/{row['failed']}/{row['pruned']}"])
    for column, metric in enumerate(view.metrics, 1):  # only arms whose every seed completed can be best
        means = [(r, row[metric].mean) for r, row in enumerate(summary) if row[metric] and not incomplete(row)]
        if len(means) > 1:
            best = means[0][1]
            for _, mean in means:
                best = mean if better(view.directions[metric], mean, best) else best
            sheet.bold |= {(r, column) for r, mean in means if mean == best}
    sheet.notes = [
        f"mean ± {view.spread} over completed seeds; ↑/↓: higher/lower is better; "
        f"bold: best per column among arms whose every seed completed; †: a seed failed or has no result; "
        f"n: seeds completed/failed/pruned; objective: {view.objective}.",
        test_note(verdicts, view, alpha),
        detectable_note(len(verdicts), alpha),
    ]
    sheet.warnings = [warning for row in summary if (warning := incomplete_warning(row, view.baseline))]
    sheet.warnings += significance_warnings(verdicts, alpha)
    return sheet


def verdict_cells(verdict: Verdict, view: View) -> list[str]:
    """Δ, p (starred when significant) and the minimum detectable effect ("—" where none can be)."""
    alpha = 1 - view.ci
    possible = verdict.floor < alpha
    detectable = number(verdict.detectable) if possible and math.isfinite(verdict.detectable) else "—"
    return [interval_text(verdict.comparison.delta, signed=True, se=view.se),
            p_text(verdict.p, alpha), detectable]


def detectable_note(compared: int, alpha: float) -> str:
    level = f"α = {alpha:.2g}" + (f"/{compared} (Holm's strictest step)" if compared > 1 else "")
    return (f"MDE: minimum detectable effect, the |Δ| this many seeds would detect {stats.POWER:.0%} of the time "
            f"at {level}, given the spread seen (a planning figure); —: no p these seeds allow is below {alpha:.2g}.")


def significance_warnings(verdicts: dict[str, Verdict], alpha: float) -> list[str]:
    """A plain warning when some arms cannot reach significance with the seeds they have, whatever the values."""
    stuck = {arm: v for arm, v in verdicts.items() if v.floor >= alpha}
    if not stuck:
        return []
    floors = sorted({number(v.floor) for v in stuck.values()})
    they, their = ("it has", "its") if len(stuck) == 1 else ("they have", "their")
    return [f"{', '.join(stuck)} cannot reach significance with the seeds {they}: the smallest p {their} test "
            f"can give, after Holm over {len(verdicts)} arm{'s' * (len(verdicts) != 1)}, is {' or '.join(floors)} "
            f"(not below {alpha:.2g}); run at least {stats.SMALL_N} seeds per arm (then Welch's t-test applies)"]


def paired_sheet(frame, view: View) -> Sheet | None:
    """Each arm against the baseline seed by seed, on the seeds both completed (``--paired``)."""
    if not view.paired:
        return None
    arms = list(dict.fromkeys([*view.expected, *frame.arm]))
    verdicts = compare_arms(frame, arms, view, paired=True)
    alpha = 1 - view.ci
    sheet = Sheet(f"{view.objective}, paired by seed against {view.baseline}",
                  ["arm", "pairs", "r", f"Δ {view.objective}", "p (Holm)", "MDE"], [])
    for arm, verdict in verdicts.items():
        r = verdict.comparison.r
        sheet.rows.append([arm, str(verdict.comparison.delta.n), number(r) if math.isfinite(r) else "—",
                           *verdict_cells(verdict, view)])
    tests = sorted({v.comparison.test for v in verdicts.values()})
    sheet.notes = [
        f"Δ: mean over the seeds both arms completed of (arm − {view.baseline}) ± {view.spread}; r: the two arms' "
        f"correlation across those seeds. p: two-sided, {', '.join(tests) or 'none'} "
        f"(exact sign-flip below {stats.SMALL_N} pairs), Holm-adjusted. Valid whenever the arms ran the same "
        "seeds; it is sharper than the unpaired test only when r > 0, as when a seed gives both arms the same "
        "initial weights and data stream (docs/statistics.md).",
        detectable_note(len(verdicts), alpha),
    ]
    unpaired = [arm for arm in arms if arm != view.baseline and arm not in verdicts]
    if unpaired:
        sheet.notes.append(f"not shown: {', '.join(unpaired)} (fewer than two seeds shared with {view.baseline})")
    sheet.warnings = significance_warnings(verdicts, alpha)
    return sheet


def verdicts_sheet(frame, view: View) -> Sheet | None:
    """Each arm against the baseline on every metric: Δ with its CI, the Holm-adjusted p, and a verdict
    (``--verdicts``)."""
    if not view.verdicts:
        return None
    arms = list(dict.fromkeys([*view.expected, *frame.arm]))
    found = {metric: compare_arms(frame, arms, view, metric=metric) for metric in view.metrics}
    alpha = 1 - view.ci
    header = ["arm"] + [c for m in view.metrics for c in (f"Δ {m} [{view.ci:.0%} CI]", f"p {m}")] + ["verdict"]
    sheet = Sheet(f"every metric against {view.baseline}", header, [])
    for arm in arms:
        verdicts = {m: found[m][arm] for m in view.metrics if arm in found[m]}
        if not verdicts:
            continue
        cells = [arm]
        for metric in view.metrics:
            verdict = verdicts.get(metric)
            if verdict:
                cells += [delta_text(verdict.comparison.delta), p_text(verdict.p, alpha)]
            else:
                cells += ["—", "—"]
        sheet.rows.append(cells + [verdict_text(verdicts, view.directions, alpha)])
    compared = max((len(f) for f in found.values()), default=0)
    sheet.notes = [
        f"Δ: arm mean − {view.baseline} mean, with its {view.ci:.0%} Welch CI. p: two-sided (Welch's t-test, or a "
        f"permutation test below {stats.SMALL_N} seeds), Holm-adjusted across the {compared} "
        f"arm{'s' * (compared != 1)} within each metric; * adjusted p < {alpha:.2g}.",
        f"verdict: helps or hurts where a metric's adjusted p < {alpha:.2g}, in its better or worse direction. "
        "\"no detectable effect\" means these seeds could not tell the arm from the baseline; it is not evidence "
        "of no effect (the main table's MDE says how large an effect they could have shown).",
    ]
    return sheet


def delta_text(delta: stats.Interval) -> str:
    """``+Δ [lo, hi]``, or Δ alone where there is no interval."""
    mean = signed_number(delta.mean)
    return mean if not math.isfinite(delta.lo) else f"{mean} [{number(delta.lo)}, {number(delta.hi)}]"


def verdict_text(verdicts: dict[str, Verdict], directions: dict[str, str], alpha: float) -> str:
    """"helps (m, ...)", "hurts (m, ...)", both, or "no detectable effect", from the significant metrics."""
    helps, hurts = [], []
    for metric, verdict in verdicts.items():
        if verdict.p < alpha and verdict.comparison.delta.mean != 0:
            side = helps if better(directions[metric], verdict.comparison.delta.mean, 0) else hurts
            side.append(metric)
    parts = [f"{word} ({', '.join(metrics)})" for word, metrics in (("helps", helps), ("hurts", hurts)) if metrics]
    return "; ".join(parts) or "no detectable effect"


def incomplete(row: dict[str, Any]) -> bool:
    return bool(row["failed"] or row["missing"])


def incomplete_warning(row: dict[str, Any], baseline: str) -> str | None:
    """What the table lacks for this arm: seeds with no result (not finished, or lost) and failed seeds."""
    parts = []
    if row["missing"]:
        parts.append(f"{row['missing']} seed{'s' * (row['missing'] != 1)} with no result yet "
                     "(run the sweep again to finish them)")
    if row["failed"]:
        parts.append(f"{row['failed']} failed seed{'s' * (row['failed'] != 1)} (`ganx table --format csv` shows why)")
    if not parts:
        return None
    who = f"the baseline arm {row['arm']!r}" if row["arm"] == baseline else f"arm {row['arm']!r}"
    return f"{who} is incomplete: " + " and ".join(parts) + "; its numbers rest on fewer seeds"


def protocol_warnings(study, metrics: list[str]) -> list[str]:
    """One warning per metric whose completed trials were measured under different protocols (sample counts,
    reference split or statistics, feature network or weights), naming the arms on each side."""
    from optuna.trial import TrialState

    warnings = []
    for metric in metrics:
        sides: dict[str, list[str]] = {}  # the COMPARABLE fields of a protocol, as JSON -> the arms measured so
        for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            attrs = trial.user_attrs
            if "arm" not in attrs or metric not in (attrs.get("metrics") or {}):
                continue
            protocol = (attrs.get("protocol") or {}).get(metric) or {}
            arms = sides.setdefault(json.dumps({k: protocol.get(k) for k in COMPARABLE}, sort_keys=True), [])
            arms += [] if attrs["arm"] in arms else [attrs["arm"]]
        protocols = {side: json.loads(side) for side in sides}
        differ = [k for k in COMPARABLE if len({json.dumps(p[k]) for p in protocols.values()}) > 1]
        if differ:
            described = "; ".join(
                f"{', '.join(arms)}: " + ", ".join(f"{k} {protocols[side][k]}" for k in differ)
                for side, arms in sides.items()
            )
            warnings.append(f"{metric} is not comparable across arms, measured under different protocols "
                            f"({described})")
    return warnings


def test_note(verdicts: dict[str, Verdict], view: View, alpha: float) -> str:
    """The footnote naming the test behind each p-value."""
    if not verdicts:
        return f"Δ: no arm could be compared with {view.baseline} (each side needs a completed seed)."
    tests: dict[str, list[str]] = {}
    for arm, verdict in verdicts.items():
        tests.setdefault(verdict.comparison.test, []).append(arm)
    names = {"welch": "Welch's t-test"}
    used = "; ".join(
        f"{names.get(test, f'{test} test of the mean difference (fewer than {stats.SMALL_N} seeds)')}"
        f" for {', '.join(arms)}"
        for test, arms in tests.items()
    )
    spread = "its standard error" if view.se else f"its {view.ci:.0%} Welch CI"
    return (
        f"Δ: arm mean − {view.baseline} mean of {view.objective} ± {spread}. "
        f"p: two-sided, {used}; Holm-adjusted across {len(verdicts)} arm{'s' * (len(verdicts) != 1)}; "
        f"* adjusted p < {alpha:.2g}."
    )


def effects_sheet(frame, view: View) -> Sheet | None:
    """Grid sweeps: the marginal effect of switching each factor from its first level, averaged over the others."""
    axes = frame.attrs.get("factors") or []
    if not axes:
        return None
    sheet = Sheet("marginal effect of each factor", ["factor: level vs first level"] + view.metrics, [])
    cells = {m: grid_cells(completed(frame, m), axes) for m in view.metrics}
    for position, axis in enumerate(axes):
        levels = list(dict.fromkeys(frame[axis].dropna()))
        for level in levels[1:]:
            row = [f"{axis}: {level} vs {levels[0]}"]
            for metric in view.metrics:
                effect = stats.marginal_effect(cells[metric], position, level, levels[0], view.ci)
                row.append(interval_text(effect, signed=True, se=view.se) if effect else "—")
            sheet.rows.append(row)
    sheet.notes = [
        "mean change when the factor is switched from its first level, averaged over every setting of the other "
        f"factors where both grid cells completed, ± {view.spread} as a contrast of cell means "
        "(Welch–Satterthwaite df)."
    ]
    return sheet


def grid_cells(done, axes: list[str]) -> dict[tuple, list[float]]:
    """Completed values grouped by their tuple of factor levels."""
    return {
        key if isinstance(key, tuple) else (key,): list(group.value) for key, group in done.groupby(axes, sort=False)
    }


def importance_sheet(tuning: dict, objective: str) -> Sheet | None:
    """Search sweeps: per arm, Optuna's hyperparameter importance for the objective, evaluator named."""
    import optuna

    searched = {
        arm: study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        for arm, study in tuning.items()
    }
    searched = {arm: trials for arm, trials in searched.items() if any(t.params for t in trials)}
    if not searched:
        return None
    importances, problems = {}, []
    for arm in searched:
        try:
            found = optuna.importance.get_param_importances(
                tuning[arm], evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
            )
            importances[arm] = {name: float(value) for name, value in found.items()}
        except (RuntimeError, ValueError) as exc:
            problems.append(f"{arm}: importance unavailable ({exc})")
    params = list(dict.fromkeys(name for found in importances.values() for name in found))
    rows = [[arm] + [number(found[p]) if p in found else "—" for p in params] for arm, found in importances.items()]
    counts = ", ".join(f"{arm} {len(trials)}" for arm, trials in searched.items())
    notes = [f"evaluator: {IMPORTANCE}; completed search trials per arm: {counts}; each row sums to 1."] + problems
    return Sheet(f"hyperparameter importance for {objective}", ["arm"] + params, rows, notes=notes)


def direction_of(metric: str, fallback: str) -> str:
    """The metric plugin's declared direction, or ``fallback`` (the objective's) if it declares none."""
    from ..plugin_manager import get_catalog

    try:
        return getattr(get_catalog().get("metric", metric), "direction", None) or fallback
    except UserError:
        return fallback


def study_view(study, frame, metrics: list[str] | None = None, baseline: str | None = None,
               ci: float = 0.95, sort: bool = False, se: bool = False, paired: bool = False,
               verdicts: bool = False) -> View:
    """Check the requested metrics and baseline against the study; a UserError lists the valid choices."""
    sweep = study.user_attrs.get("sweep") or {}
    objective = sweep.get("objective", {}).get("metric") or "objective"
    direction = sweep.get("objective", {}).get("direction", "maximize")
    known = [objective] + sorted(set(frame.metric.dropna()) - {objective})
    chosen = list(dict.fromkeys(metrics or known))
    problems = [f"--metric: unknown metric {m!r} (valid: {', '.join(known)})" for m in chosen if m not in known]
    arms = list(dict.fromkeys([*expected_cells(study), *frame.arm]))
    if baseline is not None and baseline not in arms:
        problems.append(f"--baseline: no arm named {baseline!r} (valid: {', '.join(arms) or 'none'})")
    if not 0 < ci < 1:
        problems.append(f"--ci: {ci} is not a confidence level between 0 and 1 (e.g. 0.95)")
    if problems:
        raise UserError(*problems)
    if objective not in chosen:
        chosen.insert(0, objective)
    baseline = baseline or ("baseline" if "baseline" in arms or not arms else arms[0])
    directions = {m: direction if m == objective else direction_of(m, direction) for m in chosen}
    return View(f"ganx sweep {sweep.get('name', study.study_name)}", objective, chosen, directions, baseline, ci, sort,
                expected_cells(study), se, paired, verdicts)


def study_sheets(study, frame, view: View, folder: Path | None = None) -> list[Sheet]:
    """The main table, then factor effects (grid) or parameter importance (search) where they apply."""
    from .studies import tuning_studies

    main = ablation_sheet(frame, view)
    main.warnings += protocol_warnings(study, view.metrics)
    extra = [paired_sheet(frame, view), verdicts_sheet(frame, view), effects_sheet(frame, view),
             importance_sheet(tuning_studies(study, folder), view.objective)]
    return [main] + [s for s in extra if s is not None]


def locations(folder: Path | None) -> list[str]:
    """Where the sweep's report and per-run pictures are (or how to make the report)."""
    if folder is None:
        return []
    report = folder / "report.md"
    return [
        f"report: {report}" if report.exists() else f"report: `ganx report {folder}` writes {report}",
        f"pictures per run: {folder / 'runs'}/<arm>-s<seed>/samples.png and curves.png",
    ]


def study_table(study, metrics: list[str] | None = None, baseline: str | None = None, ci: float = 0.95,
                sort: bool = False, folder: Path | None = None, se: bool = False, paired: bool = False,
                verdicts: bool = False):
    """The Rich rendering: every sheet, then where the report and pictures are."""
    from rich.console import Group
    from rich.text import Text

    from .studies import sweep_folder

    frame = trials_frame(study)
    view = study_view(study, frame, metrics, baseline, ci, sort, se, paired, verdicts)
    folder = folder or sweep_folder(study)
    tables = [rich(sheet) for sheet in study_sheets(study, frame, view, folder)]
    return Group(*tables, *(Text(line, style="dim") for line in locations(folder)))


def study_text(study, fmt: str, metrics: list[str] | None = None, baseline: str | None = None,
               ci: float = 0.95, sort: bool = False, folder: Path | None = None, se: bool = False,
               paired: bool = False, verdicts: bool = False) -> str:
    """The table as markdown or LaTeX, or the tidy per-trial data behind it as CSV or JSON."""
    frame = trials_frame(study)
    view = study_view(study, frame, metrics, baseline, ci, sort, se, paired, verdicts)
    if fmt in ("csv", "json"):
        tidy = frame[frame.metric.isin(view.metrics) | frame.metric.isna()].drop(columns="trial")
        return tidy.to_csv(index=False) if fmt == "csv" else tidy.to_json(orient="records", indent=2) + "\n"
    render = {"markdown": markdown, "latex": latex}[fmt]
    return "\n".join(render(sheet) for sheet in study_sheets(study, frame, view, folder))
