"""Dataset plugins: each reads its real on-disk format, scales to [-1, 1], and says how to get missing data."""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from ganx import UserError
from ganx.plugin_manager import get_catalog
from ganx.plugins.image_datasets import FashionMNIST

IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def dataset(name, **params):
    return get_catalog().get("dataset", name)(**params)


def idx_bytes(array: np.ndarray) -> bytes:
    """The idx-ubyte encoding of a uint8 array (MNIST's format)."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def mnist_files(n_train=12, n_test=6, seed=0):
    """The four MNIST-format files of a tiny set: name -> bytes, and the train images."""
    rng = np.random.default_rng(seed)
    train, test = rng.integers(0, 256, (n_train, 28, 28)), rng.integers(0, 256, (n_test, 28, 28))
    arrays = [train, rng.integers(0, 10, n_train), test, rng.integers(0, 10, n_test)]
    return {name: idx_bytes(a) for name, a in zip(IDX, arrays)}, train


def write_files(folder: Path, files: dict[str, bytes], gz: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


# --- 2-D sets ------------------------------------------------------------------------------


def test_mixture_parameters_shape_the_modes():
    centers, std = dataset("ring8", modes=5, radius=2.0, std=0.1).modes()
    assert centers.shape == (5, 2) and std == 0.1
    assert torch.allclose(centers.norm(dim=1), torch.full((5,), 2.0))
    grid, _ = dataset("grid25", side=3, spacing=1.0).modes()
    assert sorted(set(grid[:, 0].tolist())) == [-1.0, 0.0, 1.0]


def test_spiral_lies_on_its_curve_and_splits_differ(tmp_path):
    train, labels = dataset("spiral", noise=0.0, samples=500).load(tmp_path, "train")
    test, _ = dataset("spiral", noise=0.0, samples=500).load(tmp_path, "test")
    assert labels is None and train.shape == (500, 2)
    assert train.norm(dim=1).max() <= 1.0 + 1e-6
    assert not torch.equal(train, test)
    assert torch.equal(train, dataset("spiral", noise=0.0, samples=500).load(tmp_path, "train")[0])


# --- digits ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [8, 16, 28, 32])
def test_digits_are_resized_and_scaled(tmp_path, size):
    images, labels = dataset("digits", size=size).load(tmp_path, "test")
    assert images.shape == (297, 1, size, size)
    assert images.min() >= -1 and images.max() <= 1 and images.min() == -1
    assert set(labels.tolist()) == set(range(10))


def test_digits_split_is_a_fixed_partition(tmp_path):
    train, _ = dataset("digits").load(tmp_path, "train")
    test, _ = dataset("digits").load(tmp_path, "test")
    assert len(train) + len(test) == 1797
    assert torch.equal(train, dataset("digits").load(tmp_path, "train")[0])
    rows = {tuple(x.flatten().tolist()) for x in train}
    assert sum(tuple(x.flatten().tolist()) in rows for x in test) < 5  # load_digits has a few duplicates


# --- MNIST-format sets ---------------------------------------------------------------------


@pytest.fixture
def no_system_copy(monkeypatch, tmp_path):
    monkeypatch.setattr(FashionMNIST, "system_dir", tmp_path / "not-installed")


def test_fashion_is_unpacked_once_from_the_system_package(monkeypatch, tmp_path):
    files, train = mnist_files()
    system = tmp_path / "usr-share"
    write_files(system, files, gz=True)
    monkeypatch.setattr(FashionMNIST, "system_dir", system)
    images, labels = dataset("fashion-mnist").load(tmp_path / "data", "train")
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(IDX)  # no temp files left behind
    assert images.shape == (12, 1, 28, 28) and labels.dtype == torch.long
    assert torch.equal(images, torch.from_numpy(train).float().unsqueeze(1) / 127.5 - 1)
    stamp = (raw / IDX[0]).stat().st_mtime_ns
    os.utime(raw / IDX[0], ns=(stamp - 10**9, stamp - 10**9))
    dataset("fashion-mnist").load(tmp_path / "data", "test")
    assert (raw / IDX[0]).stat().st_mtime_ns == stamp - 10**9


def test_files_in_the_data_dir_win_over_the_system_package(monkeypatch, tmp_path):
    mine, train = mnist_files(seed=1)
    write_files(tmp_path / "data" / "FashionMNIST" / "raw", mine)
    system = tmp_path / "usr-share"
    write_files(system, mnist_files(n_train=30, seed=2)[0], gz=True)
    monkeypatch.setattr(FashionMNIST, "system_dir", system)
    images, _ = dataset("fashion-mnist", limit=5).load(tmp_path / "data", "train")
    assert torch.equal(images, torch.from_numpy(train[:5]).float().unsqueeze(1) / 127.5 - 1)


def test_missing_fashion_says_how_to_get_it(tmp_path, no_system_copy):
    with pytest.raises(UserError) as err:
        dataset("fashion-mnist").load(tmp_path, "train")
    message = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "download: true" in message
    assert str(tmp_path / "FashionMNIST" / "raw") in message


def test_corrupt_idx_file_is_named(tmp_path, no_system_copy):
    files, _ = mnist_files()
    files["train-images-idx3-ubyte"] = files["train-images-idx3-ubyte"][:-100]
    raw = tmp_path / "FashionMNIST" / "raw"
    write_files(raw, files)
    with pytest.raises(UserError, match="train-images-idx3-ubyte: truncated"):
        dataset("fashion-mnist").load(tmp_path, "train")
    (raw / "train-images-idx3-ubyte").write_bytes(b"<html>not found</html>")
    with pytest.raises(UserError, match="train-images-idx3-ubyte: not an idx-ubyte file"):
        dataset("fashion-mnist").load(tmp_path, "train")


def test_mnist_reads_a_local_copy_through_torchvision(tmp_path):
    files, _ = mnist_files(n_train=7, n_test=3)
    write_files(tmp_path / "MNIST" / "raw", files)
    images, labels = dataset("mnist").load(tmp_path, "test")
    assert images.shape == (3, 1, 28, 28) and len(labels) == 3
    with pytest.raises(UserError, match="download: true"):
        dataset("mnist").load(tmp_path / "empty", "test")


def test_debian_fashion_mnist_loads_through_the_plugin(tmp_path):
    """CI installs dataset-fashion-mnist; elsewhere the test runs only where the package is."""
    system = FashionMNIST.system_dir
    if not all((system / f"{name}.gz").exists() for name in IDX) and os.environ.get("CI") != "true":
        pytest.skip(f"{system} is absent: apt-get install dataset-fashion-mnist")
    train, train_labels = dataset("fashion-mnist").load(tmp_path, "train")
    test, _ = dataset("fashion-mnist").load(tmp_path, "test")
    assert train.shape == (60_000, 1, 28, 28) and test.shape == (10_000, 1, 28, 28)
    assert train.min() == -1 and train.max() == 1
    assert torch.bincount(train_labels).tolist() == [6000] * 10


# --- CIFAR-10 ------------------------------------------------------------------------------


def write_cifar(folder: Path, per_batch: int = 4) -> np.ndarray:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    first = None
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        first = data if first is None else first
        batch = {"batch_label": name, "data": data, "labels": rng.integers(0, 10, per_batch).tolist()}
        (folder / name).write_bytes(pickle.dumps(batch))
    return first


def test_cifar10_reads_python_batches(tmp_path):
    first = write_cifar(tmp_path / "cifar-10-batches-py")
    train, labels = dataset("cifar10").load(tmp_path, "train")
    test, _ = dataset("cifar10").load(tmp_path, "test")
    assert train.shape == (20, 3, 32, 32) and test.shape == (4, 3, 32, 32) and len(labels) == 20
    expected = torch.from_numpy(first.reshape(-1, 3, 32, 32)).float() / 127.5 - 1
    assert torch.equal(train[:4], expected)


def test_cifar10_missing_or_corrupt_or_unsafe(tmp_path):
    with pytest.raises(UserError, match="download: true"):
        dataset("cifar10").load(tmp_path, "test")
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)
    (folder / "test_batch").write_bytes(b"garbage")
    with pytest.raises(UserError, match="test_batch: not a CIFAR-10 python batch"):
        dataset("cifar10").load(tmp_path, "test")
    (folder / "test_batch").write_bytes(pickle.dumps(os.system))
    with pytest.raises(UserError, match="refusing to load"):
        dataset("cifar10").load(tmp_path, "test")


# --- image folders -------------------------------------------------------------------------


def test_image_folder_resizes_crops_and_splits(tmp_path):
    from PIL import Image

    for label, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        (tmp_path / "pics" / label).mkdir(parents=True)
        for i in range(5):
            Image.new("RGB", (40, 20), colour).save(tmp_path / "pics" / label / f"{i}.png")
    params = {"path": str(tmp_path / "pics"), "size": 8, "test_fraction": 0.2}
    train, labels = dataset("image-folder", **params).load(tmp_path, "train")
    test, _ = dataset("image-folder", **params).load(tmp_path, "test")
    assert train.shape == (8, 3, 8, 8) and test.shape == (2, 3, 8, 8)
    red = train[labels == 0]
    assert torch.equal(red[:, 0], torch.ones_like(red[:, 0])) and torch.equal(red[:, 2], -torch.ones_like(red[:, 2]))
    grey, _ = dataset("image-folder", **params, channels=1).load(tmp_path, "train")
    assert grey.shape == (8, 1, 8, 8)


def test_empty_image_folder_is_named(tmp_path):
    (tmp_path / "pics" / "cats").mkdir(parents=True)
    with pytest.raises(UserError, match=f"{tmp_path / 'pics'}: no images found"):
        dataset("image-folder", path=str(tmp_path / "pics")).load(tmp_path, "train")
    with pytest.raises(UserError, match="is not a folder"):
        dataset("image-folder", path=str(tmp_path / "nope")).load(tmp_path, "train")
