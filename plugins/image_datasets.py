"""Image datasets, read from local files in their usual on-disk formats (downloads only when allowed).

Every loader returns ``(N, C, H, W)`` floats in [-1, 1] and integer class labels.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from ganx import Dataset, Params, UserError


class ImageDataset(Dataset):
    """Base of the image datasets: ``read`` gives uint8 (or [-1, 1] float) images; ``limit`` subsets."""

    kind = "images"

    class Params(Params):
        limit: int | None = Field(None, gt=0, description="keep only the first N samples of each split")

    def read(self, data_dir: Path, split: str):
        raise NotImplementedError

    def load(self, data_dir, split):
        images, labels = self.read(Path(data_dir).expanduser(), split)
        if self.params.limit:
            images, labels = images[: self.params.limit], labels[: self.params.limit]
        if images.dtype.is_floating_point:
            return images.float(), labels.long()
        return images.float().div_(127.5).sub_(1), labels.long()


def fixed_split(n: int, test: int, split: str):
    """Indices of a deterministic train/test split: the first ``test`` of a seed-0 permutation are test."""
    import torch

    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    return order[:test] if split == "test" else order[test:]


class Digits(ImageDataset):
    """scikit-learn's 1,797 8×8 handwritten digits (offline), optionally resized; 297 are held out as test."""

    name = "digits"

    class Params(ImageDataset.Params):
        size: Literal[8, 16, 28, 32] = 8

    def read(self, data_dir, split):
        import torch
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.from_numpy(digits.images).float().div(8).sub(1).unsqueeze(1)
        index = fixed_split(len(images), 297, split)
        images, labels = images[index], torch.from_numpy(digits.target)[index]
        if self.params.size != 8:
            size = (self.params.size, self.params.size)
            images = torch.nn.functional.interpolate(images, size=size, mode="bilinear", align_corners=False)
        return images.clamp(-1, 1), labels


def check_idx(path: Path) -> None:
    """Raise a UserError naming ``path`` unless it is a complete uint8 idx file (the MNIST format)."""
    with open(path, "rb") as f:
        header = f.read(4)
        dims = f.read(4 * header[3]) if len(header) == 4 else b""
    if len(header) < 4 or header[:3] != b"\x00\x00\x08" or not 1 <= header[3] <= 3 or len(dims) < 4 * header[3]:
        raise UserError(f"{path}: not an idx-ubyte file (bad header); delete it and fetch the data again")
    expected = 4 + len(dims)
    size = 1
    for i in range(header[3]):
        size *= int.from_bytes(dims[4 * i : 4 * i + 4], "big")
    if path.stat().st_size != expected + size:
        raise UserError(
            f"{path}: truncated or corrupt idx file ({path.stat().st_size} bytes, header says {expected + size}); "
            "delete it and fetch the data again"
        )


class IdxImages(ImageDataset):
    """MNIST-format data through torchvision: ``<data_dir>/<folder>/raw/*-ubyte``.

    If the files are missing they are unpacked from ``system_dir`` (a distribution package) when
    it exists, and downloaded by torchvision only when the user sets ``download: true``.
    """

    folder: ClassVar[str]
    system_dir: ClassVar[Path | None] = None
    apt_package: ClassVar[str | None] = None
    FILES: ClassVar[tuple[str, ...]] = (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    )

    class Params(ImageDataset.Params):
        download: bool = Field(False, description="let torchvision download the data if it is missing")

    def read(self, data_dir, split):
        from torchvision import datasets

        raw = data_dir / self.folder / "raw"
        if not self._complete(raw):
            self._unpack_system_copy(raw)
        if not self._complete(raw) and not self.params.download:
            raise UserError(self._missing(raw))
        prefix = "train" if split == "train" else "t10k"
        for name in (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"):
            if (raw / name).exists():
                check_idx(raw / name)
        try:
            data = getattr(datasets, self.folder)(str(data_dir), train=split == "train", download=self.params.download)
        except (RuntimeError, OSError) as exc:
            raise UserError(f"{self.name}: torchvision could not get the data into {raw}: {exc}") from None
        return data.data.unsqueeze(1), data.targets

    def _complete(self, raw: Path) -> bool:
        return all((raw / name).exists() for name in self.FILES)

    def _unpack_system_copy(self, raw: Path) -> None:
        """Decompress the distribution's ``*.gz`` files into ``raw`` once (temp file, then rename)."""
        import gzip
        import shutil

        if not self.system_dir or not all((self.system_dir / f"{name}.gz").exists() for name in self.FILES):
            return
        try:
            raw.mkdir(parents=True, exist_ok=True)
            for name in self.FILES:
                if (raw / name).exists():
                    continue
                fd, tmp = tempfile.mkstemp(dir=raw, prefix=f".{name}.", suffix=".tmp")
                try:
                    with os.fdopen(fd, "wb") as out, gzip.open(self.system_dir / f"{name}.gz") as source:
                        shutil.copyfileobj(source, out)
                    os.replace(tmp, raw / name)
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise
        except (OSError, EOFError) as exc:
            raise UserError(f"{self.name}: cannot unpack {self.system_dir} into {raw}: {exc}") from None

    def _missing(self, raw: Path) -> str:
        ways = [f"put {', '.join(self.FILES)} in {raw}", f"set `dataset: {{name: {self.name}, download: true}}`"]
        if self.apt_package:
            ways.insert(0, f"`apt-get install {self.apt_package}` (ganx unpacks {self.system_dir} into {raw})")
        return f"{self.name}: no data in {raw}. Get it in one of these ways: " + "; or ".join(ways)


class FashionMNIST(IdxImages):
    """Zalando's Fashion-MNIST: 60,000 train and 10,000 test 28×28 grey images in 10 classes."""

    name = "fashion-mnist"
    folder = "FashionMNIST"
    system_dir = Path("/usr/share/datasets/fashion-mnist")
    apt_package = "dataset-fashion-mnist"


class MNIST(IdxImages):
    """LeCun's MNIST digits: 60,000 train and 10,000 test 28×28 grey images."""

    name = "mnist"
    folder = "MNIST"


class NumpyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only (CIFAR batches), nothing executable."""

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


class Cifar10(ImageDataset):
    """CIFAR-10, python version: ``<data_dir>/cifar-10-batches-py/{data_batch_1..5,test_batch}``."""

    name = "cifar10"
    folder = "cifar-10-batches-py"

    class Params(ImageDataset.Params):
        download: bool = Field(False, description="let torchvision download the data if it is missing")

    def read(self, data_dir, split):
        import numpy as np
        import torch

        folder = data_dir / self.folder
        names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        if not all((folder / n).exists() for n in names):
            if not self.params.download:
                raise UserError(
                    f"cifar10: no data in {folder} (expected {', '.join(names)}). Unpack cifar-10-python.tar.gz "
                    "into that folder, or set `dataset: {name: cifar10, download: true}`"
                )
            from torchvision.datasets import CIFAR10

            try:
                CIFAR10(str(data_dir), train=split == "train", download=True)
            except (RuntimeError, OSError) as exc:
                raise UserError(f"cifar10: torchvision could not download into {data_dir}: {exc}") from None
        images, labels = [], []
        for name in names:
            batch = self._batch(folder / name)
            images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch["labels"], dtype=np.int64))
        return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels))

    @staticmethod
    def _batch(path: Path) -> dict:
        try:
            with open(path, "rb") as f:
                batch = NumpyUnpickler(f, encoding="latin1").load()
            if not {"data", "labels"} <= set(batch):
                raise ValueError("no 'data'/'labels' entries")
            return batch
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
            raise UserError(
                f"{path}: not a CIFAR-10 python batch ({exc}); delete it and fetch the data again"
            ) from None


class ImageFolder(ImageDataset):
    """Your own images: ``path/<class>/<image>``, resized and centre-cropped to ``size``×``size``.

    A fixed ``test_fraction`` of the images (seed-0 permutation) is the test split.
    """

    name = "image-folder"

    class Params(ImageDataset.Params):
        path: Path
        size: int = Field(64, ge=4)
        channels: Literal[1, 3] = 3
        test_fraction: float = Field(0.1, ge=0, lt=1)

    def read(self, data_dir, split):
        import torch
        from torchvision import datasets, transforms

        p = self.params
        path = p.path.expanduser()
        if not path.is_dir():
            raise UserError(f"image-folder: {path} is not a folder (expected {path}/<class>/<image>.png)")
        steps = [transforms.Resize(p.size), transforms.CenterCrop(p.size)]
        if p.channels == 1:
            steps.append(transforms.Grayscale(1))
        try:
            folder = datasets.ImageFolder(str(path), transform=transforms.Compose([*steps, transforms.PILToTensor()]))
        except (FileNotFoundError, OSError) as exc:
            raise UserError(
                f"image-folder: {path}: no images found ({exc}); expected {path}/<class>/<image>.png"
            ) from None
        index = fixed_split(len(folder), round(len(folder) * p.test_fraction), split)
        images, labels = [], []
        for i in index.tolist():
            try:
                image, label = folder[i]
            except OSError as exc:
                raise UserError(f"image-folder: {folder.samples[i][0]}: cannot read image ({exc})") from None
            images.append(image)
            labels.append(label)
        if not images:
            raise UserError(f"image-folder: {path}: the {split} split is empty (images: {len(folder)})")
        return torch.stack(images), torch.tensor(labels)
