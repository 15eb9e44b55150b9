"""Bad input, table-driven: exit code 2, one 'error:' line per problem naming where and what is
valid, no traceback, and no file written or changed."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import yaml

from ganx import Architecture, hookimpl

RUN = {
    "name": "tiny",
    "dataset": "grid25",
    "arch": {"name": "mlp", "hidden": [8]},
    "steps": 4,
    "batch_size": 8,
    "latent_dim": 2,
    "eval": {"samples": 100},
    "metrics": ["modes"],
}
SWEEP = {"name": "s", "base": RUN, "arms": {"baseline": {}}, "seeds": [0, 1], "objective": {"metric": "modes"}}


def changed(base: dict, **changes) -> str:
    """``base`` as YAML with top-level keys replaced (a value of None deletes the key)."""
    data = copy.deepcopy(base)
    for key, value in changes.items():
        data.pop(key) if value is None else data.__setitem__(key, value)
    return yaml.safe_dump(data, sort_keys=False)


def run_yaml(**changes) -> dict[str, str]:
    return {"run.yaml": changed(RUN, **changes)}


def sweep_yaml(**changes) -> dict[str, str]:
    return {"sweep.yaml": changed(SWEEP, **changes)}


def laughs(indent: str, width: int, levels: int) -> str:
    """YAML entries a0, a1, ...: each an anchored list of ``width`` aliases of the one before ("billion laughs")."""
    return "".join(f"{indent}a{i}: &a{i} [{', '.join([f'*a{i - 1}' if i else '1'] * width)}]\n" for i in range(levels))


@dataclass
class Case:
    id: str
    argv: tuple[str, ...]
    expect: tuple[str, ...]
    files: dict[str, str | bytes] = field(default_factory=dict)
    setup: Callable[[Path, Path], None] | None = None  # (tmp folder, finished run folder)


def image_folder(tmp: Path, _run: Path) -> None:
    (tmp / "images" / "cats").mkdir(parents=True)


def corrupt_image(tmp: Path, _run: Path) -> None:
    image_folder(tmp, _run)
    (tmp / "images" / "cats" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")


def corrupt_idx(tmp: Path, _run: Path) -> None:
    raw = tmp / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"\x00\x00\x08\x03" + (3).to_bytes(4, "big") + b"\x00" * 7)


def copy_run(mutate: Callable[[Path], None] | None = None):
    def setup(tmp: Path, run: Path) -> None:
        shutil.copytree(run, tmp / "done")
        if mutate:
            mutate(tmp / "done")

    return setup


def other_arch_checkpoint(folder: Path) -> None:
    (folder / "config.yaml").write_text(changed(RUN, arch={"name": "mlp", "hidden": [16, 16]}))


def corrupt_metrics(folder: Path) -> None:
    (folder / "metrics.jsonl").write_text('{"step": 4}\n{"step": 4, "modes": \n{"step": 4}\n')


DATA = "{tmp}/data"
CASES = [
    # --- YAML syntax ---
    Case("yaml-escape-out-of-range", ("run", "run.yaml"), ("run.yaml: invalid YAML",), {"run.yaml": 'dataset: "\\UFFFFFFFF"\nsteps: 3\n'}),
    Case("yaml-tab", ("run", "run.yaml"), ("run.yaml", "line 3, column 1"), {"run.yaml": "dataset: grid25\nsteps: 3\n\tbatch_size: 4\n"}),
    Case("yaml-bad-indent", ("run", "run.yaml"), ("run.yaml", "line 3"), {"run.yaml": "dataset: grid25\nsteps: 3\n  batch_size: 4\n"}),
    Case("yaml-unclosed-bracket", ("run", "run.yaml"), ("run.yaml", "line "), {"run.yaml": "dataset: grid25\nmetrics: [modes, hq\nsteps: 3\n"}),
    Case("yaml-duplicate-key", ("run", "run.yaml"), ("run.yaml", "line 3, column 1", "duplicate key 'steps'"), {"run.yaml": "dataset: grid25\nsteps: 3\nsteps: 4\n"}),
    Case("yaml-nested-duplicate-key", ("run", "run.yaml"), ("run.yaml", "line 5, column 3", "duplicate key 'every'"), {"run.yaml": "dataset: grid25\nsteps: 3\neval:\n  every: 1\n  every: 2\n"}),
    Case("yaml-empty", ("run", "run.yaml"), ("run.yaml", "empty", "mapping"), {"run.yaml": ""}),
    Case("yaml-list-top-level", ("run", "run.yaml"), ("run.yaml", "top level is a list", "mapping"), {"run.yaml": "- steps: 3\n"}),
    Case("yaml-scalar-top-level", ("run", "run.yaml"), ("run.yaml", "top level is a str"), {"run.yaml": "just words\n"}),
    Case("yaml-python-tag", ("run", "run.yaml"), ("run.yaml", "line 1", "python/object"), {"run.yaml": "!!python/object/apply:os.system ['touch pwned']\n"}),
    Case("yaml-not-utf8", ("run", "run.yaml"), ("run.yaml", "cannot read"), {"run.yaml": b"steps: \xff\xfe\n"}),
    Case("sweep-yaml-syntax", ("sweep", "sweep.yaml"), ("sweep.yaml", "line 3"), {"sweep.yaml": "name: s\nbase: {steps: 3\n"}),
    # --- schema ---
    Case("unknown-top-key", ("run", "run.yaml"), ("run.yaml: step: unknown key", "did you mean 'steps'"), run_yaml(step=3)),
    Case("unknown-nested-key", ("run", "run.yaml"), ("eval.evry: unknown key", "did you mean 'every'"), run_yaml(eval={"evry": 2})),
    Case("unknown-optimizer-key", ("run", "run.yaml"), ("optimizer.g.lrr", "did you mean 'lr'"), run_yaml(optimizer={"g": {"lrr": 0.1}, "d": {}})),
    Case("unknown-plugin-param", ("run", "run.yaml"), ("arch.g.mlp.hiden: unknown key", "did you mean 'hidden'"), run_yaml(arch={"name": "mlp", "hiden": [8]})),
    Case("unknown-sweep-key", ("sweep", "sweep.yaml"), ("sweep.yaml: seed: unknown key", "did you mean 'seeds'"), sweep_yaml(seed=[1])),
    Case("unknown-key-in-arm", ("sweep", "sweep.yaml"), ("arms.fast", "stpes: unknown key", "did you mean 'steps'"), sweep_yaml(arms={"fast": {"stpes": 2}})),
    Case("wrong-type-steps", ("run", "run.yaml"), ("run.yaml: steps:", "integer", "'many'"), run_yaml(steps="many")),
    Case("wrong-type-metrics", ("run", "run.yaml"), ("run.yaml: metrics",), run_yaml(metrics="modes hq")),
    Case("wrong-type-plugin-spec", ("run", "run.yaml"), ("run.yaml: loss",), run_yaml(loss=3)),
    Case("steps-zero", ("run", "run.yaml"), ("steps: Input should be greater than 0",), run_yaml(steps=0)),
    Case("steps-negative", ("run", "run.yaml"), ("steps: Input should be greater than 0", "-5"), run_yaml(steps=-5)),
    Case("batch-size-zero", ("run", "run.yaml"), ("batch_size: Input should be greater than 0",), run_yaml(batch_size=0)),
    Case("lr-negative", ("run", "run.yaml"), ("optimizer.g.lr", "optimizer.d.lr", "greater than 0"), run_yaml(optimizer={"lr": -0.1})),
    Case("probability-above-1", ("run", "run.yaml"), ("tricks[0].noisy_labels.p", "less than or equal to 1"), run_yaml(tricks=[{"name": "noisy_labels", "p": 1.5}])),
    Case("probability-below-0", ("run", "run.yaml"), ("tricks[0].replay_buffer.fraction", "greater than or equal to 0"), run_yaml(tricks=[{"name": "replay_buffer", "fraction": -0.1}])),
    Case("negative-noise-std", ("run", "run.yaml"), ("tricks[0].instance_noise.std", "greater than or equal to 0"), run_yaml(tricks=[{"name": "instance_noise", "std": -1}])),
    Case("negative-dataset-std", ("run", "run.yaml"), ("dataset.grid25.std", "greater than 0"), run_yaml(dataset={"name": "grid25", "std": -0.1})),
    Case("unknown-dataset", ("run", "run.yaml"), ("dataset: unknown dataset plugin 'grid52'", "grid25"), run_yaml(dataset="grid52")),
    Case("unknown-architecture", ("run", "run.yaml"), ("arch.g: unknown architecture plugin 'mpl'", "mlp"), run_yaml(arch="mpl")),
    Case("unknown-normalization", ("run", "run.yaml"), ("norm.d: unknown normalization plugin 'spectal'", "spectral"), run_yaml(norm={"g": "none", "d": "spectal"})),
    Case("unknown-loss", ("run", "run.yaml"), ("loss: unknown loss plugin 'wgna'", "wgan"), run_yaml(loss="wgna")),
    Case("unknown-trick", ("run", "run.yaml"), ("tricks[0]: unknown trick plugin 'label_smooth'", "label_smoothing"), run_yaml(tricks=["label_smooth"])),
    Case("unknown-metric", ("run", "run.yaml"), ("metrics[0]: unknown metric plugin 'mode'", "modes"), run_yaml(metrics=["mode"])),
    Case("plugin-param-wrong-type", ("run", "run.yaml"), ("tricks[0].d_steps.k",), run_yaml(tricks=[{"name": "d_steps", "k": "five"}])),
    Case("repeated-trick", ("run", "run.yaml"), ("tricks", "listed more than once: r1"), run_yaml(tricks=["r1", "r1"])),
    Case("metric-wrong-data-kind", ("run", "run.yaml"), ("metrics[0]", "fid", "does not apply to points"), run_yaml(metrics=["fid"])),
    Case("conflict-wgan-clip-spectral", ("run", "run.yaml"), ("loss: wgan weight clipping conflicts with norm.d: spectral",), run_yaml(loss="wgan", norm={"g": "none", "d": "spectral"})),
    Case("conflict-weight-clip-spectral", ("run", "run.yaml"), ("tricks[0]: weight_clip weight clipping conflicts",), run_yaml(tricks=["weight_clip"], norm="spectral")),
    Case("noop-label-smoothing-hinge", ("run", "run.yaml"), ("run.yaml: tricks[0]: label_smoothing changes nothing with loss hinge, whose d_loss ignores its targets",), run_yaml(loss="hinge", tricks=["label_smoothing"])),
    Case("noop-separate-batches", ("run", "run.yaml"), ("tricks[0]: separate_batches with separate: true changes nothing",), run_yaml(tricks=["separate_batches"])),
    Case("several-problems-one-line-each", ("run", "run.yaml"), ("steps:", "batch_size:", "eval.evry"), run_yaml(steps=0, batch_size=0, eval={"evry": 1})),
    Case("seeds-empty", ("sweep", "sweep.yaml"), ("sweep.yaml: seeds", "at least 1"), sweep_yaml(seeds=[])),
    Case("seeds-repeated", ("sweep", "sweep.yaml"), ("sweep.yaml: seeds", "repeated"), sweep_yaml(seeds=[0, 1, 0])),
    Case("objective-not-computed", ("sweep", "sweep.yaml"), ("objective.metric: 'fid' is not computed", "modes"), sweep_yaml(objective={"metric": "fid"})),
    Case("objective-missing", ("sweep", "sweep.yaml"), ("objective: required but missing",), sweep_yaml(objective=None)),
    Case("bad-arm-in-sweep", ("sweep", "sweep.yaml"), ("arms.big", "steps"), sweep_yaml(arms={"baseline": {}, "big": {"steps": 0}})),
    # --- CLI ---
    Case("set-without-equals", ("run", "run.yaml", "--set", "steps"), ("--set 'steps'", "KEY.PATH=VALUE"), run_yaml()),
    Case("set-bad-yaml-value", ("run", "run.yaml", "--set", "metrics=[modes"), ("--set metrics",), run_yaml()),
    Case("set-into-a-scalar", ("run", "run.yaml", "--set", "steps.every=2"), ("'steps' is not a mapping",), run_yaml()),
    Case("set-unknown-key", ("run", "run.yaml", "--set", "eval.evrey=3"), ("eval.evrey: unknown key", "did you mean 'every'"), run_yaml()),
    Case("config-does-not-exist", ("run", "nope.yaml"), ("nope.yaml: no such file",)),
    Case("sweep-does-not-exist", ("sweep", "nope.yaml"), ("nope.yaml: no such file",)),
    Case("directory-for-file", ("run", "."), ("is a directory; expected a YAML file",)),
    Case("resume-and-config", ("run", "run.yaml", "--resume", "done"), ("--resume DIR", "do not also give CONFIG"), run_yaml()),
    Case("run-without-config", ("run",), ("give a run config YAML, or --resume DIR",)),
    Case("resume-missing-folder", ("run", "--resume", "gone"), ("--resume gone: no such folder",)),
    Case("resume-without-checkpoint", ("run", "--resume", "."), ("no config.yaml or checkpoint.pt",)),
    Case("device-cuda-absent", ("run", "run.yaml", "--device", "cuda"), ("device: 'cuda'", "no CUDA GPU"), run_yaml()),
    Case("table-unknown-sweep", ("table", "nosuch"), ("nosuch: no sweep results found",)),
    Case("workers-zero", ("sweep", "sweep.yaml", "--workers", "0"), ("--workers", "greater than or equal to 1"), sweep_yaml()),
    Case("unknown-option", ("run", "run.yaml", "--bogus"), ("No such option: --bogus",), run_yaml()),
    Case("option-missing-value", ("run", "run.yaml", "--out"), ("--out", "requires an argument"), run_yaml()),
    # --- data ---
    Case("dataset-missing", ("run", "run.yaml"), ("mnist: no data in", "MNIST/raw", "download: true"), run_yaml(dataset="mnist", data_dir=DATA, metrics=[])),
    Case("dataset-corrupt-idx", ("run", "run.yaml"), ("train-images-idx3-ubyte", "delete it and fetch the data again"), run_yaml(dataset="mnist", data_dir=DATA, metrics=[]), setup=corrupt_idx),
    Case("image-folder-empty", ("run", "run.yaml"), ("image-folder", "no images found"), run_yaml(dataset={"name": "image-folder", "path": "images"}, metrics=[]), setup=image_folder),
    Case("image-folder-missing", ("run", "run.yaml"), ("image-folder", "is not a folder"), run_yaml(dataset={"name": "image-folder", "path": "nowhere"}, metrics=[])),
    Case("image-file-corrupt", ("run", "run.yaml"), ("a.png", "cannot read image"), run_yaml(dataset={"name": "image-folder", "path": "images", "size": 8}, metrics=[]), setup=corrupt_image),
    # --- storage ---
    Case("storage-malformed-url", ("sweep", "sweep.yaml"), ("storage: 'notaurl::/x' is not a database URL", "postgresql://"), sweep_yaml(storage="notaurl::/x")),
    Case("storage-no-driver", ("sweep", "sweep.yaml"), ("no database driver", "mysql://u:***@h/db"), sweep_yaml(storage="mysql://u:hunter2@h/db")),
    Case("storage-unreachable-postgres", ("sweep", "sweep.yaml"), ("storage: cannot open postgresql://u:***@127.0.0.1:1/db",), sweep_yaml(storage="postgresql://u:secret@127.0.0.1:1/db")),
    # --- results ---
    Case("resume-corrupt-checkpoint", ("run", "--resume", "done"), ("done/checkpoint.pt", "not a loadable ganx checkpoint"), setup=copy_run(lambda d: (d / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated"))),
    Case("resume-empty-checkpoint", ("run", "--resume", "done"), ("done/checkpoint.pt",), setup=copy_run(lambda d: (d / "checkpoint.pt").write_bytes(b""))),
    Case("resume-checkpoint-of-other-config", ("run", "--resume", "done"), ("done/checkpoint.pt: does not fit this run's config",), setup=copy_run(other_arch_checkpoint)),
    Case("resume-corrupt-metrics", ("run", "--resume", "done"), ("done/metrics.jsonl: line 2 is not valid JSON",), setup=copy_run(corrupt_metrics)),
    Case("results-dir-not-writable", ("run", "run.yaml", "--out", "blocker/out"), ("blocker/out: cannot write results here",), {**run_yaml(), "blocker": "a file, not a folder"}),
    Case("sweep-results-is-a-file", ("sweep", "sweep.yaml", "--results", "blocker"), ("--results blocker: cannot write results here",), {**sweep_yaml(), "blocker": "a file, not a folder"}),
    # --- values no run can use: refused before training (issue 13) ---
    Case("betas-out-of-range", ("run", "run.yaml"), ("optimizer.g.betas[0]: Input should be less than 1", "optimizer.g.betas[1]: Input should be greater than or equal to 0"), run_yaml(optimizer={"betas": [1.5, -3]})),
    Case("betas-nan", ("run", "run.yaml"), ("optimizer.g.betas[0]: Input should be a finite number",), run_yaml(optimizer={"betas": [float("nan"), 0.9]})),
    Case("lr-infinite", ("run", "run.yaml"), ("optimizer.g.lr: Input should be a finite number",), run_yaml(optimizer={"lr": float("inf")})),
    Case("eps-infinite", ("run", "run.yaml"), ("optimizer.d.eps: Input should be a finite number",), run_yaml(optimizer={"eps": float("inf")})),
    Case("plugin-param-infinite", ("run", "run.yaml"), ("dataset.grid25.std: Input should be a finite number",), run_yaml(dataset={"name": "grid25", "std": float("inf")})),
    Case("seed-2-to-the-64", ("run", "run.yaml"), ("seed: Input should be less than 4294967296",), run_yaml(seed=2**64)),
    Case("seed-2-to-the-64-minus-1", ("run", "run.yaml"), ("seed: Input should be less than 4294967296",), run_yaml(seed=2**64 - 1)),
    Case("seed-negative", ("run", "run.yaml"), ("seed: Input should be greater than or equal to 0",), run_yaml(seed=-1)),
    Case("sweep-seed-too-large", ("sweep", "sweep.yaml"), ("seeds[1]: Input should be less than 4294967296",), sweep_yaml(seeds=[0, 2**64 - 1])),
    Case("search-seeds-overflow", ("sweep", "sweep.yaml"), ("search: Value error, the last tuning trial's seed",), sweep_yaml(search={"trials_per_arm": 5, "seed": 2**32 - 2, "parameters": {"latent_dim": {"values": [2, 3]}}})),
    Case("device-mps-absent", ("run", "run.yaml", "--device", "mps"), ("device: 'mps'", "no Apple MPS device"), run_yaml()),
    Case("batch-size-huge", ("run", "run.yaml"), ("batch_size: Input should be less than or equal to 65536",), run_yaml(batch_size=10**9)),
    Case("eval-samples-huge", ("run", "run.yaml"), ("eval.samples: Input should be less than or equal to 100000",), run_yaml(eval={"samples": 10**9})),
    Case("mlp-width-huge", ("run", "run.yaml"), ("arch.g.mlp.hidden[0]: Input should be less than or equal to 16384",), run_yaml(arch={"name": "mlp", "hidden": [10**8]})),
    Case("threads-huge", ("run", "run.yaml"), ("threads: Input should be less than or equal to 1024",), run_yaml(threads=100_000)),
    Case("schema-and-plugin-errors-together", ("run", "run.yaml"), ("steps: required but missing", "bach_size: unknown key", "loss: unknown loss plugin 'hnge'", "arch.g.mlp.hiden: unknown key", "metrics[0]: unknown metric plugin 'mode'"), run_yaml(steps=None, bach_size=8, loss="hnge", arch={"name": "mlp", "hiden": [8]}, metrics=["mode"])),
    Case("schema-and-plugin-errors-in-an-arm", ("sweep", "sweep.yaml"), ("arms.bad: steps: Input should be greater than 0", "arms.bad: loss: unknown loss plugin 'hnge'"), sweep_yaml(arms={"bad": {"steps": 0, "loss": "hnge"}})),
    # --- resource bombs: refused by counting, before anything is expanded (issue 13) ---
    Case("yaml-nested-100000-deep", ("run", "run.yaml"), ("run.yaml: line 1", "nested more than 64 levels deep"), {"run.yaml": "dataset: " + "[" * 100_000 + "]" * 100_000 + "\n"}),
    Case("yaml-billion-laughs-in-search", ("sweep", "sweep.yaml"), ("sweep.yaml: line 1", "aliases expanded the document holds", "at most 100,000"), {"sweep.yaml": changed(SWEEP) + "search:\n  trials_per_arm: 2\n  parameters:\n" + laughs("    ", 9, 10)}),
    Case("yaml-anchors-in-grid", ("sweep", "sweep.yaml"), ("sweep.yaml: line 1", "aliases expanded the document holds"), {"sweep.yaml": changed(SWEEP) + "grid:\n" + laughs("  ", 10, 8)}),
    Case("yaml-alias-in-its-own-anchor", ("run", "run.yaml"), ("run.yaml: line ", "an alias refers to a node that holds it"), {"run.yaml": "dataset: grid25\nsteps: 3\ntricks: &t [*t]\n"}),
    Case("yaml-list-as-key", ("run", "run.yaml"), ("run.yaml: line 2, column 8", "found unhashable key"), {"run.yaml": "dataset: grid25\neval: {[1, 2]: 3}\n"}),
    Case("yaml-integer-too-large", ("run", "run.yaml"), ("run.yaml: line 2, column 8", "too large"), {"run.yaml": "dataset: grid25\nsteps: " + "9" * 5000 + "\n"}),
    Case("yaml-file-too-large", ("run", "run.yaml"), ("run.yaml: 1,100,0", "at most 1,000,000"), {"run.yaml": "dataset: grid25\n#" + "x" * 1_100_000 + "\n"}),
    Case("grid-too-many-cells", ("sweep", "sweep.yaml"), ("sweep.yaml: the design has 2,000,000,000 cells", "at most 10,000"), sweep_yaml(grid={f"a{i}": list(range(10)) for i in range(9)})),
    Case("search-too-many-trials", ("sweep", "sweep.yaml"), ("sweep.yaml: the design has 1,000,000,002 cells", "at most 10,000"), sweep_yaml(search={"trials_per_arm": 10**9, "parameters": {"latent_dim": {"values": [2, 3]}}})),
    # --- cells that would be one cell, or share a name (issue 13) ---
    Case("grid-equal-values", ("sweep", "sweep.yaml"), ("grid: Value error, axis 'optimizer.lr' lists '0.001' more than once",), {"sweep.yaml": changed(SWEEP) + "grid:\n  optimizer.lr: [0.001, 1.0e-3]\n"}),
    Case("grid-equal-numbers-and-booleans", ("sweep", "sweep.yaml"), ("axis 'steps' lists '1.0', 'True' more than once",), {"sweep.yaml": changed(SWEEP) + "grid:\n  steps: [1, 1.0, true]\n"}),
    Case("grid-values-with-one-name", ("sweep", "sweep.yaml"), ("axis 'tricks' lists 'none' more than once",), sweep_yaml(grid={"tricks": [[], "none"]})),
    Case("grid-cells-with-one-name", ("sweep", "sweep.yaml"), ("grid: several cells are named 'baseline,a=x,b=y,b=z'",), sweep_yaml(grid={"a": ["x,b=y", "x"], "b": ["z", "y,b=z"]})),
]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A completed tiny run's results folder (config.yaml, metrics.jsonl, checkpoint.pt, ...)."""
    from ganx.config import validate_run
    from ganx.trainer import train

    out = tmp_path_factory.mktemp("finished") / "run"
    train(validate_run(copy.deepcopy(RUN), "RUN"), out)
    return out


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def test_the_table_is_large_enough():
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input(case: Case, ganx, tmp_path, monkeypatch, finished_run):
    monkeypatch.chdir(tmp_path)
    for name, content in case.files.items():
        if isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        else:
            (tmp_path / name).write_text(content.replace("{tmp}", str(tmp_path)))
    if case.setup:
        case.setup(tmp_path, finished_run)
    before = snapshot(tmp_path)

    code, out, err = ganx(*case.argv)

    assert code == 2, f"exit {code}\n{out}\n{err}"
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), err
    for text in case.expect:
        assert text in err, f"{text!r} not in:\n{err}"
    assert snapshot(tmp_path) == before, "a file was written or changed"
    assert "secret" not in out + err and "hunter2" not in out + err


def test_a_study_made_from_a_different_sweep_file_is_refused(ganx, tmp_path, monkeypatch):
    """Same sweep name, changed design: refused with exit 2 before anything runs; results untouched."""
    monkeypatch.chdir(tmp_path)
    one_seed = {**SWEEP, "seeds": [0], "base": {**RUN, "steps": 2}}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(one_seed))
    assert ganx("sweep", "sweep.yaml")[0] == 0
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump({**one_seed, "base": {**RUN, "steps": 3}}))
    runs = snapshot(tmp_path / "results" / "s" / "runs")

    code, out, err = ganx("sweep", "sweep.yaml")

    assert code == 2 and "Traceback" not in out + err
    assert "sweep.yaml" in err and "'s'" in err and "different" in err
    assert snapshot(tmp_path / "results" / "s" / "runs") == runs


@pytest.fixture
def read_only_folder(tmp_path):
    """``tmp_path/locked``, which nobody may write: mode 555, or for root (who ignores modes) a read-only tmpfs."""
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    if os.geteuid() != 0:
        yield locked
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(locked)], check=True, timeout=60)
    try:
        yield locked
    finally:
        subprocess.run(["umount", "-l", str(locked)], timeout=60)


def test_a_read_only_results_folder_is_refused(ganx, tmp_path, monkeypatch, read_only_folder):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sweep.yaml").write_text(changed(SWEEP))
    before = snapshot(tmp_path)

    code, out, err = ganx("sweep", "sweep.yaml", "--results", "locked")

    assert code == 2 and "Traceback" not in out + err
    assert err.startswith("error: --results locked: cannot write results here") and len(err.strip().splitlines()) == 1
    assert snapshot(tmp_path) == before


class Huge(Architecture):
    """An architecture whose G cannot be allocated: torch's own out-of-memory error, raised at once."""

    name = "test-huge"

    def build_generator(self, latent_dim, data_shape, norm):
        import torch

        weights = torch.empty(2**62, dtype=torch.uint8)  # 4 EiB: the allocator refuses it at once
        return torch.nn.Linear(1, weights.numel())


class HugePlugin:
    @hookimpl
    def register_architectures(self, register):
        register(Huge)


def test_a_network_too_big_for_memory_is_one_line_naming_the_field(ganx, tmp_path, monkeypatch, register_plugin):
    """Whatever cannot be known before training (a model too big for memory) names its field, not a traceback."""
    register_plugin(HugePlugin())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run.yaml").write_text(changed(RUN, arch={"g": "test-huge", "d": {"name": "mlp", "hidden": [8]}}))
    before = snapshot(tmp_path)

    code, out, err = ganx("run", "run.yaml")

    assert code == 2 and "Traceback" not in out + err
    assert err.startswith("error: arch.g: not enough memory to build it") and len(err.strip().splitlines()) == 1, err
    assert snapshot(tmp_path) == before


BOMBS = ("yaml-nested-100000-deep", "yaml-billion-laughs-in-search", "yaml-anchors-in-grid", "grid-too-many-cells",
         "search-too-many-trials")


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES if c.id in BOMBS])
def test_resource_bombs_are_refused_by_counting(case: Case, ganx, tmp_path, monkeypatch):
    """Refused well within seconds and without growing memory: the limits count nodes and cells, they build none."""
    import resource
    import time

    monkeypatch.chdir(tmp_path)
    for name, content in case.files.items():
        (tmp_path / name).write_text(content)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()

    code, _, _ = ganx(*case.argv)

    assert code == 2 and time.monotonic() - started < 20
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak < 500_000  # KiB
