"""The Inception metrics equal torch-fidelity's own ``calculate_metrics``, offline, with stand-in weights.

The weights are a state dict with the exact keys and shapes of torch-fidelity's FID Inception network and
seeded random values: the loading and embedding code is the code that runs with the real file. No test here
opens a network connection: tests/conftest.py refuses any beyond the loopback, for every test.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
import torch
import torch_fidelity
import yaml
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from ganx import Evaluation, UserError
from ganx.config import validate_run
from ganx.plugin_manager import get_catalog
from ganx.plugins import features, inception
from ganx.sampling import write

pytestmark = pytest.mark.xdist_group("inception")  # one worker builds the network and the scores once

ROOT = Path(__file__).parents[1]
N = 32  # fakes and reals: the network costs about 0.1 s an image on a CPU core


@pytest.fixture(scope="module", autouse=True)
def offline(tmp_path_factory):
    """For every test of this module: torch.hub's cache is an empty folder, and neither GANX_WEIGHTS_DIR
    nor GANX_ALLOW_DOWNLOAD is set."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch-home")))
        patch.delenv("GANX_WEIGHTS_DIR", raising=False)
        patch.delenv("GANX_ALLOW_DOWNLOAD", raising=False)
        yield


@pytest.fixture(scope="module")
def weights_file(offline, tmp_path_factory) -> Path:
    """torch-fidelity's FID Inception state dict, shapes exact, values seeded and scaled to keep activations sane."""
    with (
        mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict"),
        mock.patch("torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url", return_value={}),
    ):
        shapes = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"]).state_dict()
    g = torch.Generator().manual_seed(0)
    state = {}
    for name, value in shapes.items():
        if not value.is_floating_point():  # BatchNorm's num_batches_tracked
            state[name] = value
        elif name.endswith(("running_var", "bn.weight")):
            state[name] = 0.5 + torch.rand(value.shape, generator=g)
        elif value.dim() > 1:  # conv and fc weights: He-scaled
            state[name] = torch.randn(value.shape, generator=g) * (2 / value[0].numel()) ** 0.5
        else:
            state[name] = torch.randn(value.shape, generator=g) * 0.1
    path = tmp_path_factory.mktemp("weights") / "stand-in.pth"
    torch.save(state, path)
    return path


def digits():
    return get_catalog().get("dataset", "digits")()


@pytest.fixture(scope="module")
def images(weights_file, tmp_path_factory):
    """The fakes: N/2 train digits of classes 0-4 and N/2 noise images; the data dir whose test split gives the
    N reals."""
    data_dir = tmp_path_factory.mktemp("data")
    train, labels = digits().load(data_dir, "train")
    noise = torch.rand(N // 2, *train.shape[1:], generator=torch.Generator().manual_seed(0)) * 2 - 1
    fake = torch.cat([train[labels < 5][: N // 2], noise])
    real, _ = features.real_samples(digits(), data_dir, "test", N)
    return fake, real, data_dir


@pytest.fixture(scope="module")
def ganx_scores(images, weights_file):
    fake, _, data_dir = images
    ev = Evaluation(fake=fake, dataset=digits(), data_dir=data_dir, device=torch.device("cpu"), seed=0)
    common = {"weights": str(weights_file), "real_samples": N}
    plugins = {"fid_inception": common, "kid_inception": common, "precision_inception": common,
               "recall_inception": common, "is": {"weights": str(weights_file), "splits": 4}}
    metrics = {name: get_catalog().get("metric", name)(**params) for name, params in plugins.items()}
    scores = {name: metric.compute(ev) for name, metric in metrics.items()}
    return scores, {name: metric.protocol(ev) for name, metric in metrics.items()}


@pytest.fixture(scope="module")
def fidelity_scores(images, weights_file, tmp_path_factory):
    """torch-fidelity on the PNG folders that ``ganx sample --format png-dir`` would write."""
    fake, real, _ = images
    folders = {}
    for name, x in (("fake", fake), ("real", real)):
        folders[name] = tmp_path_factory.mktemp(name)
        write(x, "png-dir", folders[name], digits(), images=True)
    return torch_fidelity.calculate_metrics(
        input1=str(folders["fake"]), input2=str(folders["real"]), cuda=False, isc=True, fid=True, kid=True, prc=True,
        feature_extractor="inception-v3-compat", feature_extractor_weights_path=str(weights_file),
        isc_splits=4, kid_subset_size=N, save_cpu_ram=True, cache=False, verbose=False,
    )


@pytest.mark.parametrize("name, key", [
    ("fid_inception", "frechet_inception_distance"),
    ("kid_inception", "kernel_inception_distance_mean"),
    ("is", "inception_score_mean"),
    ("precision_inception", "precision"),
    ("recall_inception", "recall"),
])  # fmt: skip
def test_each_metric_equals_torch_fidelity(ganx_scores, fidelity_scores, name, key):
    assert ganx_scores[0][name] == pytest.approx(fidelity_scores[key], rel=1e-4)


def test_the_stand_in_network_gives_informative_numbers(ganx_scores, fidelity_scores):
    scores, _ = ganx_scores
    assert scores["fid_inception"] > 0 and scores["is"] > 1.01 and 0 < scores["precision_inception"] < 1
    assert fidelity_scores["kernel_inception_distance_std"] > 0


def test_each_metric_records_its_protocol(ganx_scores, weights_file):
    _, protocols = ganx_scores
    digest = inception.sha256(weights_file)
    for name, protocol in protocols.items():
        assert protocol["fake_samples"] == N and protocol["weights_sha256"] == digest and "299" in protocol["resize"]
        assert protocol["feature_layer"] == ("logits_unbiased" if name == "is" else "2048")
        if name != "is":
            assert (protocol["real_samples"], protocol["real_split"], len(protocol["reference"])) == (N, "test", 16)
    assert protocols["kid_inception"]["subset_size"] == N and protocols["is"]["splits"] == 4


# --- weights: found offline, in order, or one clear error ---------------------------------------------


def test_weights_are_found_in_order(tmp_path, monkeypatch):
    hub = inception.hub_checkpoints() / inception.WEIGHTS
    folder = tmp_path / "weights"
    explicit = tmp_path / "mine.pth"
    for path in (hub, folder / inception.WEIGHTS, explicit):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    monkeypatch.setenv("GANX_WEIGHTS_DIR", str(folder))
    try:
        assert inception.weights(explicit) == explicit
        assert inception.weights(None) == folder / inception.WEIGHTS
        (folder / inception.WEIGHTS).unlink()
        assert inception.weights(None) == hub
        with pytest.raises(UserError, match="no Inception weights file at"):  # an explicit path has no fallback
            inception.weights(tmp_path / "absent.pth")
    finally:
        hub.unlink()


def test_download_is_the_last_resort_and_only_when_allowed(monkeypatch):
    fetched = []
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda url, dst, hash_prefix: fetched.append(
        (url, hash_prefix)) or Path(dst).write_bytes(b""))
    with pytest.raises(UserError, match="GANX_ALLOW_DOWNLOAD=1"):
        inception.weights(None)
    assert fetched == []
    monkeypatch.setenv("GANX_ALLOW_DOWNLOAD", "1")
    try:
        assert inception.weights(None) == inception.hub_checkpoints() / inception.WEIGHTS
        assert fetched == [(inception.URL_INCEPTION_V3, "6726825d")]
    finally:
        (inception.hub_checkpoints() / inception.WEIGHTS).unlink()


def test_a_run_without_weights_is_refused_with_one_line(tmp_path, ganx, tiny):
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({**tiny, "dataset": "digits", "metrics": ["fid_inception"]}))
    code, out, err = ganx("run", config, "--out", tmp_path / "out")
    assert code == 2 and not (tmp_path / "out").exists()
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    for hint in ("weights-inception-2015-12-05-6726825d.pth", "SHA-256 6726825d", "$GANX_WEIGHTS_DIR", "weights:",
                 "--allow-download"):
        assert hint in err


def test_the_inception_sweep_is_refused_without_weights_and_valid_with_them(ganx, monkeypatch, tmp_path):
    sweep = ROOT / "sweeps" / "inception" / "fashion.yaml"
    code, _, err = ganx("sweep", "validate", sweep)
    assert code == 2 and "fid_inception: torch-fidelity's Inception weights" in err
    monkeypatch.setenv("GANX_WEIGHTS_DIR", str(tmp_path))
    (tmp_path / inception.WEIGHTS).write_bytes(b"")
    code, out, _ = ganx("sweep", "validate", sweep)
    assert code == 0 and "valid" in out


def test_a_file_that_is_not_the_network_is_a_user_error(tmp_path):
    wrong = tmp_path / "wrong.pth"
    torch.save({"fc.weight": torch.zeros(2, 2)}, wrong)
    with pytest.raises(UserError, match="not torch-fidelity's Inception weights"):
        inception.network(wrong, "cpu")


# --- reference statistics: prepared once, then reused ----------------------------------------------------


def test_prepare_caches_the_reference_and_runs_reuse_it(ganx, weights_file, tmp_path, monkeypatch):
    spec = f"{{name: fid_inception, weights: {weights_file}, real_samples: 8}}"
    code, out, err = ganx("metrics", "prepare", "digits", "--metric", spec, "--data-dir", tmp_path, "--device", "cpu")
    assert code == 0, err
    cached = list((tmp_path / "ganx-inception").glob("*.pt"))
    assert len(cached) == 1 and str(cached[0]) in out and "8 test images of digits" in out
    monkeypatch.setattr(inception, "_REFERENCES", {})
    monkeypatch.setattr(inception, "embed", mock.Mock(side_effect=AssertionError("the reference was embedded again")))
    metric = get_catalog().get("metric", "fid_inception")(weights=weights_file, real_samples=8)
    reference = metric.reference(digits(), tmp_path, "cpu")
    assert reference.path == cached[0] and reference.features.shape == (8, 2048)


def test_prepare_names_the_metrics_that_have_a_reference(ganx):
    code, _, err = ganx("metrics", "prepare", "digits", "--metric", "is")
    assert code == 2 and "has no reference statistics to prepare (valid: fid_inception, kid_inception" in err


def test_validation_refuses_a_missing_explicit_file(tmp_path):
    config = {"dataset": "digits", "steps": 1, "metrics": [{"name": "is", "weights": str(tmp_path / "w.pth")}]}
    with pytest.raises(UserError, match="no Inception weights file at"):
        validate_run(config, "run.yaml")
