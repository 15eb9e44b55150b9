"""The ablation table on fixture studies with hand-chosen values: numbers, counts, bold, formats, CLI."""

from __future__ import annotations

import io
import json
import math
import re
from itertools import combinations
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState, create_trial

from ganx.report.formats import Sheet, latex, markdown
from ganx.report.table import (
    ablation_sheet,
    effects_sheet,
    study_sheets,
    study_text,
    study_view,
    summarize,
    trials_frame,
)

GOLDEN = Path(__file__).parent / "golden"
T975 = {2: 4.302652729911275, 4: 2.7764451051977987, 6: 2.4469118511449692}
MODES = {"baseline": [20.0, 22.0, 21.0], "wider": [24.0, 25.0, 23.0], "hinge": [19.0, 18.0, 21.0]}
REVERSE_KL = {"baseline": [0.5, 0.6, 0.7], "wider": [0.4, 0.5, 0.3], "hinge": [0.2, 0.3, 0.1]}


def trial(arm, seed, state=TrialState.COMPLETE, factors=None, params=None, protocol=None, **metrics):
    attrs = {"cell": f"{arm}/s{seed}", "arm": arm, "seed": seed, "run_dir": f"results/fx/runs/{arm}-s{seed}"}
    if metrics:
        attrs["metrics"] = metrics
    if protocol:
        attrs["protocol"] = protocol
    if factors:
        attrs["factors"] = factors
    if state == TrialState.FAIL:
        attrs |= {"failure": "diverged", "error": "step 7: non-finite d_loss (nan)"}
    value = metrics.get("modes") if state == TrialState.COMPLETE else None
    distributions = {name: optuna.distributions.FloatDistribution(1e-5, 1e-2, log=True) for name in params or {}}
    return create_trial(state=state, value=value, user_attrs=attrs, params=params, distributions=distributions)


def new_study(storage=None, name="fx"):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    study.set_user_attr("sweep", {"name": name, "objective": {"metric": "modes", "direction": "maximize"}})
    return study


def arms_study(storage=None):
    """Three arms × three seeds; a retried failure, one diverged and one pruned seed."""
    study = new_study(storage)
    study.add_trial(trial("baseline", 0, TrialState.FAIL))  # retried below: the seed counts as completed
    for arm in MODES:
        for seed, (modes, kl) in enumerate(zip(MODES[arm], REVERSE_KL[arm])):
            study.add_trial(trial(arm, seed, modes=modes, reverse_kl=kl))
    study.add_trial(trial("hinge", 3, TrialState.FAIL))
    study.add_trial(trial("wider", 3, TrialState.PRUNED))
    return study


def sheet_of(study, **options):
    frame = trials_frame(study)
    return ablation_sheet(frame, study_view(study, frame, **options))


def exact_p(arm, baseline):
    pooled, k = arm + baseline, len(arm)
    observed = abs(sum(arm) / k - sum(baseline) / len(baseline))
    rest = lambda c: [pooled[i] for i in range(len(pooled)) if i not in c]  # noqa: E731
    gaps = [
        abs(sum(pooled[i] for i in c) / k - sum(rest(c)) / len(rest(c))) for c in combinations(range(len(pooled)), k)
    ]
    return sum(g >= observed - 1e-12 for g in gaps) / len(gaps)


def test_means_intervals_and_counts_match_a_hand_computation():
    rows = {r["arm"]: r for r in summarize(trials_frame(arms_study()), list(MODES), ["modes", "reverse_kl"])}
    half = T975[2] / math.sqrt(3)  # every arm's modes have sd 1
    assert rows["wider"]["modes"].mean == 24.0
    assert rows["wider"]["modes"].hi - 24.0 == pytest.approx(half, rel=1e-9)
    assert rows["hinge"]["modes"].mean == pytest.approx(58 / 3)
    assert [(rows[a]["complete"], rows[a]["failed"], rows[a]["pruned"]) for a in MODES] == [
        (3, 0, 0), (3, 0, 1), (3, 1, 0)
    ]


def test_delta_p_values_and_holm_match_a_hand_computation():
    sheet = sheet_of(arms_study())
    assert sheet.header == ["arm", "modes ↑", "reverse_kl ↓", "Δ modes", "p (Holm)", "MDE", "n"]
    rows = {row[0].removesuffix(" †"): row for row in sheet.rows}
    assert rows["hinge"][0] == "hinge †" and rows["wider"][0] == "wider"  # a failed seed marks the arm; pruned does not
    p_wider, p_hinge = exact_p(MODES["wider"], MODES["baseline"]), exact_p(MODES["hinge"], MODES["baseline"])
    assert p_wider == pytest.approx(0.1)
    low, high = sorted([p_wider, p_hinge])
    holm = {low: min(1, 2 * low), high: max(min(1, 2 * low), high)}  # step-down over two arms
    assert rows["wider"][4] == f"{holm[p_wider]:.3g}" and rows["hinge"][4] == f"{holm[p_hinge]:.3g}"
    welch_half = T975[4] * math.sqrt(2 / 3)  # baseline and wider both have variance 1, n 3
    assert rows["wider"][3] == f"+3 ± {welch_half:.3g}"
    assert rows["baseline"][1:] == [f"21 ± {T975[2] / math.sqrt(3):.3g}", "0.6 ± 0.248", "—", "—", "—", "3/0/0"]
    assert rows["hinge"][6] == "3/1/0" and rows["wider"][6] == "3/0/1"
    assert "exact permutation test of the mean difference (fewer than 5 seeds) for wider, hinge" in sheet.notes[1]
    assert "Holm-adjusted across 2 arms" in sheet.notes[1]


def test_three_seeds_a_side_are_flagged_as_unable_to_reach_significance():
    sheet = sheet_of(arms_study())
    rows = {row[0].removesuffix(" †"): row for row in sheet.rows}
    assert rows["wider"][5] == rows["hinge"][5] == "—"  # no minimum detectable effect: nothing is detectable
    # 3 vs 3 seeds: the exact test's smallest p is 2 / C(6, 3) = 0.1, and Holm over 2 arms doubles it
    assert ("wider, hinge cannot reach significance with the seeds they have: the smallest p their test can give, "
            "after Holm over 2 arms, is 0.2 (not below 0.05); run at least 5 seeds per arm") in sheet.warnings[-1]


def test_with_enough_seeds_the_table_gives_the_minimum_detectable_effect():
    from scipy.stats import t

    study = new_study()
    values = {"baseline": [20.0, 22.0, 21.0, 23.0, 19.0], "wider": [24.0, 25.0, 23.0, 26.0, 22.0]}
    for arm, modes in values.items():
        for seed, m in enumerate(modes):
            study.add_trial(trial(arm, seed, modes=m))
    sheet = sheet_of(study)
    wider = next(row for row in sheet.rows if row[0] == "wider")
    se = math.sqrt(2.5 / 5 + 2.5 / 5)  # both variances 2.5, n 5: Welch df = 8
    assert wider[4] == f"{(t.ppf(0.975, 8) + t.ppf(0.8, 8)) * se:.3g}"
    assert not any("cannot reach significance" in w for w in sheet.warnings)


def test_the_significance_bound_is_holm_adjusted_per_arm_when_seed_counts_differ():
    study = new_study()
    base = [20.0, 21.0, 22.0, 23.0, 24.0]
    for seed, value in enumerate(base):
        study.add_trial(trial("baseline", seed, modes=value))
        for k, arm in enumerate(["a", "b", "c", "d"]):  # far above the baseline: Welch p is tiny
            study.add_trial(trial(arm, seed, modes=value + 40 + k + seed % 2))
    for seed in range(3):  # 3 vs 5 seeds: its exact test cannot go below 1 / C(8, 3) = 1/56
        study.add_trial(trial("few", seed, modes=60.0 + seed))
    sheet = sheet_of(study)
    few = next(row for row in sheet.rows if row[0] == "few")
    assert few[3] == f"{1 / 56:.3g}*"  # ranked last by Holm, it keeps its own p: significant
    assert few[4] != "—" and not any("cannot reach significance" in w for w in sheet.warnings)


def test_se_shows_standard_errors_in_place_of_interval_half_widths():
    sheet = sheet_of(arms_study(), se=True)
    rows = {row[0].removesuffix(" †"): row for row in sheet.rows}
    assert rows["baseline"][1] == f"21 ± {1 / math.sqrt(3):.3g}"  # sd 1, n 3
    assert rows["wider"][3] == f"+3 ± {math.sqrt(2 / 3):.3g}"
    assert sheet.notes[0].startswith("mean ± its standard error")


def test_the_paired_sheet_compares_arms_seed_by_seed():
    from scipy.stats import ttest_rel

    study = new_study()
    base = [20.0, 22.0, 21.0, 25.0, 18.0, 24.0]
    arm = [b + d for b, d in zip(base, [1.0, 2.0, 1.5, 1.0, 2.5, 1.5])]  # a small gain on widely spread seeds
    for seed, (a, b) in enumerate(zip(arm, base)):
        study.add_trial(trial("baseline", seed, modes=b))
        study.add_trial(trial("wider", seed, modes=a))
    study.add_trial(trial("wider", 9, modes=30.0))  # a seed the baseline lacks is left out of the pairs
    frame = trials_frame(study)
    view = study_view(study, frame, paired=True)
    unpaired, paired = study_sheets(study, frame, view)[:2]
    assert paired.header == ["arm", "pairs", "r", "Δ modes", "p (Holm)", "MDE"]
    row = paired.rows[0]
    assert row[:2] == ["wider", "6"]
    assert row[4] == f"{ttest_rel(arm, base).pvalue:.3g}*"
    assert float(row[2]) > 0.9
    assert not next(r for r in unpaired.rows if r[0] == "wider")[4].endswith("*")  # unpaired: not significant


def test_the_verdicts_sheet_tests_every_metric_and_names_what_helps_and_what_hurts():
    from scipy.stats import ttest_ind

    study = new_study()
    study.set_user_attr("arms", ["baseline", "wider", "same"])
    modes = {"baseline": [20.0, 21.0, 22.0, 20.0, 21.0, 22.0], "wider": [25.0, 26.0, 24.0, 25.0, 26.0, 24.0],
             "same": [21.0, 20.0, 22.0, 20.0, 22.0, 21.0]}
    kl = {"baseline": [0.10, 0.12, 0.11, 0.10, 0.12, 0.11], "wider": [0.30, 0.32, 0.31, 0.30, 0.32, 0.31],
          "same": [0.11, 0.10, 0.12, 0.12, 0.10, 0.11]}  # reverse KL: lower is better, so wider hurts it
    for arm in modes:
        for seed, (m, k) in enumerate(zip(modes[arm], kl[arm])):
            study.add_trial(trial(arm, seed, modes=m, reverse_kl=k))
    frame = trials_frame(study)
    view = study_view(study, frame, verdicts=True)
    sheet = next(s for s in study_sheets(study, frame, view) if s.title == "every metric against baseline")
    assert sheet.header == ["arm", "Δ modes [95% CI]", "p modes", "Δ reverse_kl [95% CI]", "p reverse_kl", "verdict"]
    rows = {row[0]: row for row in sheet.rows}
    assert set(rows) == {"wider", "same"}  # the baseline is not compared with itself
    assert rows["wider"][-1] == "helps (modes); hurts (reverse_kl)"
    assert rows["same"][-1] == "no detectable effect"
    raw = [ttest_ind(kl[arm], kl["baseline"], equal_var=False).pvalue for arm in ("wider", "same")]
    assert rows["wider"][4] == f"{min(1.0, 2 * min(raw)):.3g}*"  # Holm over 2 arms within the metric
    assert rows["wider"][1].startswith("+4 [") and rows["same"][2] == "1"
    assert "not evidence of no effect" in sheet.notes[1]
    assert "every metric" not in " ".join(s.title for s in study_sheets(study, frame, study_view(study, frame)))


def test_best_per_column_follows_each_metrics_direction():
    study = new_study()
    for arm in MODES:
        for seed, (modes, kl) in enumerate(zip(MODES[arm], REVERSE_KL[arm])):
            study.add_trial(trial(arm, seed, modes=modes, reverse_kl=kl))
    sheet = sheet_of(study)
    arms = [row[0] for row in sheet.rows]
    assert sheet.bold == {(arms.index("wider"), 1), (arms.index("hinge"), 2)}  # most modes, least reverse KL


def test_an_arm_with_failed_seeds_is_marked_and_never_bold_over_complete_arms():
    study = new_study()
    for arm in ("baseline", "wider"):
        for seed, (modes, kl) in enumerate(zip(MODES[arm], REVERSE_KL[arm])):
            study.add_trial(trial(arm, seed, modes=modes, reverse_kl=kl))
    study.add_trial(trial("lucky", 0, modes=99.0, reverse_kl=0.01))  # the best numbers, from 1 of 3 seeds
    study.add_trial(trial("lucky", 1, TrialState.FAIL))
    study.add_trial(trial("lucky", 2, TrialState.FAIL))
    sheet = sheet_of(study)
    arms = [row[0] for row in sheet.rows]
    assert arms == ["baseline", "wider", "lucky †"]
    assert sheet.bold == {(1, 1), (1, 2)}  # wider: best of the complete arms in both columns
    assert sheet.warnings[0] == ("arm 'lucky' is incomplete: 2 failed seeds (`ganx table --format csv` shows why); "
                                 "its numbers rest on fewer seeds")


def design_study(arms, seeds):
    """A study as a sweep leaves it: its design names the arms and seeds."""
    study = new_study()
    study.set_user_attr(
        "sweep", {"name": "fx", "seeds": seeds, "objective": {"metric": "modes", "direction": "maximize"}}
    )
    study.set_user_attr("arms", arms)
    return study


def test_an_arm_with_no_result_at_all_is_a_row_and_a_warning_above_the_table():
    from ganx.report.table import unfinished

    study = design_study(["baseline", "wider"], [0, 1])
    study.add_trial(trial("wider", 0, modes=24.0))
    study.add_trial(trial("wider", 1, modes=25.0))
    assert unfinished(study) == ["baseline/s0", "baseline/s1"]
    sheet = sheet_of(study)
    assert [row[0] for row in sheet.rows] == ["baseline †", "wider"]
    assert sheet.rows[0][1] == "—" and sheet.rows[0][-1] == "0/0/0"
    assert sheet.warnings == ["the baseline arm 'baseline' is incomplete: 2 seeds with no result yet "
                              "(run the sweep again to finish them); its numbers rest on fewer seeds"]
    assert study_text(study, "markdown").startswith("> **warning:** the baseline arm 'baseline' is incomplete")
    assert study_text(study, "latex").startswith("% warning: the baseline arm 'baseline' is incomplete")
    study.add_trial(trial("baseline", 0, modes=20.0))
    study.add_trial(trial("baseline", 1, TrialState.FAIL))  # a final outcome: no longer unfinished, still marked
    assert unfinished(study) == [] and sheet_of(study).rows[0][0] == "baseline †"


def test_arms_measured_under_different_protocols_are_flagged_above_the_table():
    """FID is biased in N and depends on the reference and the weights: such numbers are never compared silently."""
    study = new_study()
    for arm, fakes in (("baseline", 10_000), ("wider", 10_000), ("hinge", 5_000)):
        for seed in range(2):
            protocol = {"fake_samples": fakes, "real_samples": 10_000, "weights_sha256": "6726825d", "kid_std": seed}
            study.add_trial(trial(arm, seed, protocol={"modes": protocol}, modes=20.0 + seed))
    frame = trials_frame(study)
    warnings = study_sheets(study, frame, study_view(study, frame))[0].warnings
    assert warnings[-1] == ("modes is not comparable across arms, measured under different protocols "
                            "(baseline, wider: fake_samples 10000; hinge: fake_samples 5000)")
    assert "> **warning:** modes is not comparable across arms" in study_text(study, "markdown")
    same = new_study()  # kid_std differs between seeds, but it is a result, not part of the protocol
    for seed in range(2):
        same.add_trial(trial("baseline", seed, protocol={"modes": {"fake_samples": 10, "kid_std": seed}}, modes=20.0))
    assert study_sheets(same, trials_frame(same), study_view(same, trials_frame(same)))[0].warnings == []


def test_table_exits_non_zero_while_cells_are_unfinished(tmp_path, ganx):
    storage = f"sqlite:///{tmp_path / 'fx.db'}"
    study = design_study(["baseline", "wider"], [0])
    built = optuna.create_study(study_name="fx", storage=storage, direction="maximize")
    for key, value in study.user_attrs.items():
        built.set_user_attr(key, value)
    built.add_trial(trial("wider", 0, modes=24.0))
    code, out, err = ganx("table", storage, "--format", "markdown")
    assert code == 1 and "the baseline arm 'baseline' is incomplete" in out, (out, err)
    built.add_trial(trial("baseline", 0, modes=20.0))
    code, out, _ = ganx("table", storage, "--format", "markdown")
    assert code == 0 and "incomplete" not in out


def test_sort_baseline_and_metric_options():
    sheet = sheet_of(arms_study(), sort=True, baseline="wider", metrics=["modes"])
    assert [row[0] for row in sheet.rows] == ["wider", "baseline", "hinge †"]
    assert sheet.header[-4] == "Δ modes" and sheet.rows[0][2] == "—" and sheet.rows[1][2].startswith("-3 ± ")


def test_five_seeds_use_welch_and_significant_arms_are_starred():
    from scipy.stats import t, ttest_ind

    study = new_study()
    good, base = [30.0, 31.0, 32.0, 33.0, 34.0], [20.0, 21.0, 22.0, 23.0, 25.0]
    for seed, (a, b) in enumerate(zip(good, base)):
        study.add_trial(trial("baseline", seed, modes=b))
        study.add_trial(trial("good", seed, modes=a))
    sheet = sheet_of(study)
    se2 = 2.5 / 5 + 3.7 / 5  # sample variances 10/4 and 14.8/4
    half = t.ppf(0.975, se2**2 / ((2.5 / 5) ** 2 / 4 + (3.7 / 5) ** 2 / 4)) * math.sqrt(se2)
    assert sheet.rows[1][2:4] == [f"+9.8 ± {half:.3g}", f"{ttest_ind(good, base, equal_var=False).pvalue:.3g}*"]
    assert "Welch's t-test for good; Holm-adjusted across 1 arm;" in sheet.notes[1]


def grid_study(storage=None):
    """loss × norm, three seeds each (the values of tests/test_stats.py), and one failed cell seed."""
    values = {
        ("ns", "none"): [1.0, 2.0, 3.0],
        ("hinge", "none"): [4.0, 5.0, 6.0],
        ("ns", "sn"): [2.0, 2.0, 5.0],
        ("hinge", "sn"): [6.0, 8.0, 7.0],
    }
    study = new_study(storage)
    for (loss, norm), modes in values.items():
        for seed, value in enumerate(modes):
            study.add_trial(trial(f"{loss}-{norm}", seed, factors={"loss": loss, "norm": norm}, modes=value))
    study.add_trial(trial("hinge-sn", 3, TrialState.FAIL, factors={"loss": "hinge", "norm": "sn"}))
    return study


def test_grid_marginal_effects_match_a_hand_computation():
    study = grid_study()
    frame = trials_frame(study)
    view = study_view(study, frame)
    sheet = effects_sheet(frame, view)
    half = T975[6] * math.sqrt(0.5)  # see tests/test_stats.py for the variance and df
    assert sheet.rows == [["loss: hinge vs ns", f"+3.5 ± {half:.3g}"], ["norm: sn vs none", f"+1.5 ± {half:.3g}"]]
    main = ablation_sheet(frame, view)
    assert view.baseline == "ns-none"  # no arm named baseline: the first one
    assert (
        [row[0] for row in main.rows] == ["ns-none", "hinge-none", "ns-sn", "hinge-sn †"]
        and main.rows[3][-1] == "3/1/0"
    )


def test_search_sweeps_name_the_importance_evaluator():
    storage = optuna.storages.InMemoryStorage()
    study = arms_study(storage)
    search = optuna.create_study(study_name="fx.tune.wider", storage=storage, direction="maximize")
    for seed, (lr, modes) in enumerate([(1e-4, 3.0), (1e-3, 9.0), (3e-3, 12.0), (1e-2, 14.0), (5e-4, 6.0)]):
        search.add_trial(trial("wider", seed, params={"lr": lr, "beta": lr / 2}, modes=modes))
    frame = trials_frame(study)
    sheets = study_sheets(study, frame, study_view(study, frame))
    assert sheets[1].header == ["arm", "lr", "beta"] and [row[0] for row in sheets[1].rows] == ["wider"]
    assert sum(float(v) for v in sheets[1].rows[0][1:]) == pytest.approx(1, abs=0.01)
    assert (
        "optuna.importance.FanovaImportanceEvaluator(seed=0); completed search trials per arm: wider 5"
        in sheets[1].notes[0]
    )
    assert len(study_sheets(arms_study(), frame, study_view(study, frame))) == 1


def test_markdown_is_a_gfm_table():
    from markdown_it import MarkdownIt

    sheet = Sheet("t", ["arm", "a|b"], [["x", "1*"], ["y", "2"]], bold={(1, 1)}, notes=["* p"])
    html = MarkdownIt("commonmark").enable("table").render(markdown(sheet))
    assert html.count("<tr>") == 3 and html.count("<th ") == 2 and html.count("<td") == 4
    assert "<td style=\"text-align:right\">1*</td>" in html and "<strong>2</strong>" in html and "a|b" in html
    text = study_text(arms_study(), "markdown")
    rendered = MarkdownIt("commonmark").enable("table").render(text)
    assert rendered.count("<tr>") == 4 and rendered.count("<th ") == 7


def tabular_rows(tex: str) -> tuple[str, list[list[str]]]:
    """Parse the tabular: its column spec and its rows' cells (split on unescaped &)."""
    spec = re.search(r"\\begin\{tabular\}\{([lrc]+)\}", tex).group(1)
    body = tex[tex.index("\\begin{tabular}") :]
    body = body[body.index("\n") : body.index("\\end{tabular}")]
    lines = [line for line in body.strip().splitlines() if line != r"\hline"]
    assert all(line.endswith(r" \\") for line in lines)
    return spec, [re.split(r"(?<!\\)&", line[:-3]) for line in lines]


def test_latex_is_a_valid_tabular_and_matches_the_golden_file():
    tex = study_text(arms_study(), "latex")
    spec, rows = tabular_rows(tex)
    assert all(len(row) == len(spec) for row in rows) and len(rows) == 4
    assert tex.count("{") == tex.count("}") and tex.count("$") % 2 == 0
    assert tex.count(r"\begin{") == tex.count(r"\end{") == 2
    assert r"\textbf{24 $\pm$ 2.48}" in tex and "reverse\\_kl" in tex
    assert tex == (GOLDEN / "arms.tex").read_text()


def test_latex_escapes_special_characters():
    tex = latex(Sheet("a_b & c", ["x%", "y"], [["#1", "{~}"]]))
    assert r"a\_b \& c" in tex and r"x\% & y" in tex and r"\#1 & \{\textasciitilde{}\}" in tex


def test_csv_and_json_are_the_tidy_per_trial_data():
    import pandas as pd

    study = arms_study()
    tidy = pd.read_csv(io.StringIO(study_text(study, "csv")))
    assert list(tidy.columns) == ["arm", "seed", "state", "metric", "value", "error"]
    assert len(tidy[tidy.metric == "modes"]) == 9 and set(tidy[tidy.arm == "hinge"].state) == {"COMPLETE", "FAIL"}
    records = json.loads(study_text(study, "json", metrics=["modes"]))
    assert {r["metric"] for r in records} == {"modes", None}
    assert sum(r["value"] for r in records if r["arm"] == "wider" and r["state"] == "COMPLETE") == 72.0
    grid = pd.read_csv(io.StringIO(study_text(grid_study(), "csv")))
    assert {"loss", "norm"} <= set(grid.columns) and set(grid.loss) == {"ns", "hinge"}


def journal_study(folder: Path, build):
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    folder.mkdir(parents=True)
    return build(JournalStorage(JournalFileBackend(str(folder / "study.journal"))))


def test_cli_table_formats_and_locations(tmp_path, ganx, monkeypatch):
    monkeypatch.chdir(tmp_path)
    journal_study(tmp_path / "results/fx", arms_study)
    code, out, _ = ganx("table", "fx")
    assert code == 0 and "ganx sweep fx" in out and "3/1/0" in out and "exact permutation" in " ".join(out.split())
    [hinge] = [line for line in out.splitlines() if line.startswith("│ hinge")]  # piped: no cell wraps
    assert "19.3 ± 3.79" in hinge and hinge.rstrip("│ ").endswith("3/1/0")
    assert "report: `ganx report results/fx` writes results/fx/report.md" in out
    assert "pictures per run: results/fx/runs/<arm>-s<seed>/samples.png and curves.png" in out
    code, out, _ = ganx("table", "fx", "--format", "markdown", "--se", "--paired", "--verdicts")
    assert code == 0 and "mean ± its standard error" in out and "**modes, paired by seed against baseline**" in out
    assert "**every metric against baseline**" in out and "| hinge | -1.67 [" in out
    code, out, _ = ganx("table", tmp_path / "results/fx", "--format", "latex", "--metric", "reverse_kl")
    assert code == 0 and out.startswith("% warning: arm 'hinge' is incomplete") and r"\begin{table}" in out
    assert "reverse\\_kl" in out
    code, _, err = ganx("table", "fx", "--results", tmp_path / "results", "--format", "html", "--baseline", "nope")
    assert code == 2 and "--format: unknown format 'html' (valid: rich, markdown, latex, csv, json)" in err
    code, _, err = ganx("table", "fx", "--results", tmp_path / "results", "--baseline", "nope", "--metric", "fid")
    assert code == 2 and "no arm named 'nope' (valid: baseline, wider, hinge)" in err and "unknown metric 'fid'" in err


def test_cli_table_reads_a_storage_url_with_study(tmp_path, ganx):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    arms_study(url)
    new_study(url, name="other")
    new_study(url, name="fx.tune.baseline")
    code, _, err = ganx("table", url)
    assert code == 2 and "holds 2 sweeps; pick one with --study (valid: fx, other)" in err
    code, out, _ = ganx("table", url, "--study", "fx", "--format", "markdown")
    assert code == 0 and "| wider | **24 ± 2.48** |" in out
    code, _, err = ganx("table", "missing", "--results", tmp_path)
    assert code == 2 and "no sweep results found" in err


def test_cli_table_never_prints_a_storage_password(ganx):
    code, out, err = ganx("table", "postgresql://lab:s3cret-pw@127.0.0.1:1/ganx")
    assert code == 2
    assert "s3cret-pw" not in out + err and "lab:***@127.0.0.1" in err
