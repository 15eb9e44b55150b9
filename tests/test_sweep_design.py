"""Sweep designs: grid factorials, W&B-style search spaces, the published schema, and `ganx sweep validate`."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import yaml

from ganx import UserError
from ganx.sweep.config import load_sweep, schema, validate_sweep
from ganx.sweep.design import SearchParam, label
from ganx.sweep.runner import coordinate, open_studies
from ganx.sweep.storage import masked

SCHEMA = Path(__file__).parent.parent / "docs" / "sweep.schema.json"


def write(tmp_path, tiny, **changes) -> Path:
    data = {"name": "d", "base": tiny, "seeds": [0, 1], "objective": {"metric": "modes"}, **changes}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_grid_enqueues_exactly_the_factorial_product_named_by_its_values(tmp_path, tiny):
    grid = {"loss": ["nsgan", "lsgan"], "norm": ["none", "batch"], "tricks": [[], ["label_smoothing"]]}
    sweep = load_sweep(write(tmp_path, tiny, grid=grid))
    studies = coordinate(sweep, tmp_path / "results")
    queued = [t.user_attrs["queued"] for t in studies.main.trials]
    assert len(queued) == len(set(queued)) == 2 * 2 * 2 * 2
    assert "loss=lsgan,norm=batch,tricks=label_smoothing/s1" in queued
    assert "loss=nsgan,norm=none,tricks=none/s0" in queued
    cell = next(c for c in sweep.cells if c.arm == "loss=lsgan,norm=batch,tricks=label_smoothing")
    assert (cell.config.loss.name, cell.config.norm.g.name, [t.name for t in cell.config.tricks]) == (
        "lsgan", "batch", ["label_smoothing"])
    assert sweep.factors[cell.arm] == {"loss": "lsgan", "norm": "batch", "tricks": ["label_smoothing"]}
    coordinate(sweep, tmp_path / "results")  # a second coordinator adds nothing
    assert len(studies.main.trials) == 16


def test_arms_cross_the_grid_and_the_grid_value_wins(tmp_path, tiny):
    sweep = load_sweep(write(tmp_path, tiny, arms={"plain": {}, "wide": {"arch": {"hidden": [24]}, "loss": "lsgan"}},
                             grid={"loss": ["nsgan", "hinge"]}, seeds=[0]))
    assert [c.key for c in sweep.cells] == [
        "plain,loss=nsgan/s0", "plain,loss=hinge/s0", "wide,loss=nsgan/s0", "wide,loss=hinge/s0"
    ]
    wide = sweep.cells[3].config
    assert (wide.loss.name, wide.arch.g.params["hidden"]) == ("hinge", [24])


def test_grid_errors_name_the_cell(tmp_path, tiny):
    with pytest.raises(UserError, match=r"base \(cell loss=hnge\): loss: unknown loss plugin 'hnge'"):
        load_sweep(write(tmp_path, tiny, grid={"loss": ["nsgan", "hnge"]}))


def test_labels_are_short_and_readable():
    assert [label(v) for v in ("hinge", [], ["a", "b"], {"name": "mlp", "hidden": [8]}, 0.5)] == [
        "hinge", "none", "a+b", "mlp(hidden=8)", "0.5"]


@pytest.mark.parametrize(
    "entry, kind, example",
    [
        ({"values": [16, 32]}, "categorical", 16),
        ({"min": 1, "max": 4}, "int_uniform", 1),
        ({"min": 0.1, "max": 0.9}, "uniform", 0.1),
        ({"min": 1e-5, "max": 1e-3, "distribution": "log_uniform_values"}, "log_uniform_values", 1e-5),
        ({"value": 3}, "constant", 3),
    ],
)
def test_search_entries_map_to_optuna_distributions_with_inclusive_bounds(entry, kind, example):
    param = SearchParam.model_validate(entry)
    assert (param.kind, param.example()) == (kind, example)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        value = param.suggest(trial, "x")
        if "min" in entry:
            assert entry["min"] <= value <= entry["max"]
        study.tell(trial, 0.0)
    if kind == "log_uniform_values":
        assert study.trials[0].distributions["x"].log


def test_search_problems_are_reported(tmp_path, tiny):
    bad = {
        "trials_per_arm": 2, "parameters": {"optimizer.lr": {"min": 1e-3, "max": 1e-5}, "batch_size": {"values": []}}
    }
    with pytest.raises(UserError) as err:
        load_sweep(write(tmp_path, tiny, search=bad))
    text = "\n".join(err.value.problems)
    assert "search.parameters.optimizer.lr: Value error, min (0.001) is above max (1e-05)" in text
    assert "search.parameters.batch_size: Value error, a categorical needs a non-empty 'values' list" in text
    with pytest.raises(UserError, match=r"search.parameters: batch_size"):
        load_sweep(write(tmp_path, tiny, search={"trials_per_arm": 2, "parameters": {"batch_size": {"values": [0]}}}))


def test_validate_prints_a_summary_or_exits_2(tmp_path, tiny, ganx):
    path = write(tmp_path, tiny, grid={"loss": ["nsgan", "hinge"]}, storage="postgresql://u:secret@db:5432/x")
    code, out, _ = ganx("sweep", "validate", path)
    assert code == 0
    assert "valid; 2 arms × 2 seeds = 4 cells" in out and "postgresql://u:***@db:5432/x" in out and "secret" not in out
    code, _, err = ganx("sweep", "validate", write(tmp_path, tiny, seeds=[1, 1], pruner="sometimes"))
    assert code == 2 and "seeds are repeated" in err and "pruner" in err
    code, _, err = ganx("sweep", "validate")
    assert code == 2 and "usage: ganx sweep validate FILE" in err


def test_the_published_schema_is_current(ganx):
    """Regenerate with: ganx sweep schema > docs/sweep.schema.json"""
    code, out, _ = ganx("sweep", "schema")
    assert code == 0 and json.loads(out) == schema()
    assert json.loads(SCHEMA.read_text()) == schema(), (
        "docs/sweep.schema.json is stale: ganx sweep schema > docs/sweep.schema.json"
    )


def test_shipped_sweeps_are_valid():
    for path in sorted((Path(__file__).parent.parent / "sweeps").glob("*.yaml")):
        assert validate_sweep(yaml.safe_load(path.read_text()), str(path)).cells


def test_passwords_are_masked():
    assert masked("postgresql://ganx:pw@127.0.0.1:5432/ganx") == "postgresql://ganx:***@127.0.0.1:5432/ganx"
    assert masked("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_study_is_created_once_and_shared(tmp_path, tiny):
    sweep = load_sweep(write(tmp_path, tiny))
    url = f"sqlite:///{tmp_path / 's.db'}"
    first = coordinate(sweep, tmp_path / "r", url)
    second = open_studies(sweep, tmp_path / "r", url)
    assert len(second.main.trials) == len(first.main.trials) == 2


def test_workers_split_the_cores_and_are_pinned_to_devices_in_turn():
    from ganx.sweep.workers import worker_envs

    envs = worker_envs(4, ["0", "1"], cores=8)
    assert [(e.slot, e.threads, e.device) for e in envs] == [
        (0, 2, "cuda:0"), (1, 2, "cuda:1"), (2, 2, "cuda:0"), (3, 2, "cuda:1")
    ]
    assert [(e.threads, e.device) for e in worker_envs(1, [], cores=8)] == [(0, None)]  # one worker: torch's default
    assert worker_envs(2, ["cpu"], cores=2)[1].overrides(load_config_threads(0)) == {"device": "cpu", "threads": 1}
    assert worker_envs(2, [], cores=2)[0].overrides(load_config_threads(3)) == {}  # the config's own threads win


def test_workers_per_gpu_puts_k_workers_on_each_device_in_order():
    from ganx.sweep.workers import assignments, worker_envs

    assert assignments(["0", "1"], 2) == ["cuda:0", "cuda:0", "cuda:1", "cuda:1"]
    assert assignments(["0", "1"]) == ["cuda:0", "cuda:1"]  # today's one worker per device
    assert assignments(["cpu"], 3) == ["cpu"] * 3  # K on a CPU: K CPU workers
    assert assignments([], 2) == [None, None]  # no devices: K workers on the config's own device
    envs = worker_envs(4, ["0", "1"], cores=8, per_gpu=2)
    assert [(e.slot, e.threads, e.device) for e in envs] == [
        (0, 2, "cuda:0"), (1, 2, "cuda:0"), (2, 2, "cuda:1"), (3, 2, "cuda:1")
    ]


@pytest.mark.parametrize(("value", "gpus"), [
    (None, []), ("", []), ("0,1", ["0", "1"]), ("2,3", ["0", "1"]),  # CUDA renumbers what it sees from 0
    (" 3 , 5 ", ["0", "1"]), ("GPU-8e1f2c3a-0b4d-4a1e-9f00-1234567890ab,GPU-77aa", ["0", "1"]),
    ("MIG-5c89a1b2-3d4e-5f60-7182-93a4b5c6d7e8", ["0"]), ("NoDevFiles", []), ("0,-1,1", ["0"]),
])
def test_cuda_visible_devices_become_the_gpus_a_task_sees(value, gpus):
    from ganx.sweep.workers import visible_gpus

    assert visible_gpus(value) == gpus


def test_worker_count_takes_flags_over_the_yaml_and_one_worker_per_device_by_default(tmp_path, tiny):
    from ganx.sweep.workers import worker_count

    plain = load_sweep(write(tmp_path, tiny))
    assert worker_count(plain, None, [], None) == (1, 1)
    assert worker_count(plain, None, ["0", "1"], None) == (2, 1)
    assert worker_count(plain, None, ["0", "1"], 3) == (6, 3)
    per_gpu = load_sweep(write(tmp_path, tiny, workers_per_gpu=2))
    assert worker_count(per_gpu, None, ["0", "1"], None) == (4, 2)
    assert worker_count(per_gpu, 3, ["0", "1"], None) == (3, 1)  # --workers N over the YAML's workers_per_gpu
    counted = load_sweep(write(tmp_path, tiny, workers=3))
    assert worker_count(counted, None, ["0"], 2) == (2, 2)  # --workers-per-gpu K over the YAML's workers
    assert {"workers_per_gpu", "launcher"}.isdisjoint(per_gpu.design)


def test_workers_per_gpu_is_checked_in_the_yaml_and_on_the_command_line(tmp_path, tiny, ganx):
    for changes, problem in [
        ({"workers_per_gpu": 0}, "workers_per_gpu: Input should be greater than 0"),
        ({"workers_per_gpu": 2, "workers": 4}, "workers_per_gpu: give it or workers, not both"),
    ]:
        with pytest.raises(UserError, match=problem):
            load_sweep(write(tmp_path, tiny, **changes))
    path = write(tmp_path, tiny)
    code, _, err = ganx("sweep", path, "--results", tmp_path / "r", "--workers", "2", "--workers-per-gpu", "2")
    assert (code, err.strip().splitlines()[-1]) == (
        2, "error: --workers and --workers-per-gpu: give one (K workers per GPU makes K × GPUs workers)"
    )
    assert not (tmp_path / "r").exists()
    code, _, err = ganx("sweep", path, "--workers-per-gpu", "0")
    assert code == 2 and "--workers-per-gpu" in err


def test_sweep_with_workers_per_gpu_runs_k_workers_on_each_device(tmp_path, tiny, ganx, monkeypatch):
    from ganx.sweep import workers

    seen = []
    monkeypatch.setattr(workers, "run_workers", lambda *args: seen.extend(args[-1]) or False)
    ganx("sweep", write(tmp_path, tiny), "--results", tmp_path / "r", "--devices", "cpu", "--workers-per-gpu", "2")
    assert [e.device for e in seen] == ["cpu", "cpu"]


def load_config_threads(threads: int):
    from ganx.config import RunConfig

    return RunConfig.model_validate({"dataset": "grid25", "steps": 1, "threads": threads})


def test_search_paths_apply_to_the_config_as_written_and_may_index_lists(tmp_path, tiny):
    from ganx.sweep.config import with_params

    tiny["optimizer"] = {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.999]}  # one spec for G and D
    search = {"trials_per_arm": 1, "parameters": {
        "optimizer.lr": {"min": 1e-5, "max": 1e-2, "distribution": "log_uniform_values"},
        "optimizer.betas.0": {"min": 0.0, "max": 0.99},
        "loss.gp_weight": {"min": 0.1, "max": 100.0, "arms": ["gp"]},
    }}
    sweep = load_sweep(write(tmp_path, tiny, arms={"ns": {}, "gp": {"loss": "wgan-gp"}}, search=search))
    params = {"optimizer.lr": 3e-4, "optimizer.betas.0": 0.2, "loss.gp_weight": 5.0}
    gp = with_params(sweep.tuning["gp"][0], params).config
    assert [(o.lr, o.betas) for o in (gp.optimizer.g, gp.optimizer.d)] == [(3e-4, (0.2, 0.999))] * 2
    assert gp.loss.params["gp_weight"] == 5.0 and gp.seed == sweep.tuning["gp"][0].seed
    assert [path for path, p in sweep.config.search.parameters.items() if p.draws_for("ns")] == [
        "optimizer.lr", "optimizer.betas.0"]
    bad = {**search, "parameters": {"optimizer.betas.2": {"min": 0.0, "max": 0.9}}}
    with pytest.raises(UserError, match=r"optimizer.betas.2: '2' is not an index of \[0.5, 0.999\] \(0 to 1\)"):
        load_sweep(write(tmp_path, tiny, search=bad))


def test_paths_into_lists_name_plugins_and_refuse_what_has_no_parts(tmp_path, tiny, ganx):
    from ganx.sweep.design import set_path

    assert set_path({"tricks": ["label_smoothing"]}, "tricks.0.real", 0.8) == {
        "tricks": [{"name": "label_smoothing", "real": 0.8}]}
    tiny["optimizer"] = {"name": "adam", "betas": [0.5, 0.999]}
    search = {"trials_per_arm": 1, "parameters": {"optimizer.betas.0.x": {"min": 0.0, "max": 0.5}}}
    code, _, err = ganx("sweep", "validate", write(tmp_path, tiny, search=search))
    assert code == 2 and "optimizer.betas.0.x: '0' is 0.5, which has no parts to set" in err
    assert len(err.strip().splitlines()) == 1


def test_arms_on_a_search_parameter_need_a_sweep_with_arms(tmp_path, tiny):
    search = {"trials_per_arm": 1, "parameters": {"loss.gp_weight": {"min": 1.0, "max": 2.0, "arms": ["baseline"]}}}
    with pytest.raises(UserError, match="search.parameters.loss.gp_weight.arms: this sweep has no arms"):
        load_sweep(write(tmp_path, tiny, grid={"loss": ["nsgan", "wgan-gp"]}, search=search))
