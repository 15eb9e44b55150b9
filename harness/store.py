"""Writing run results so that a reader never sees a partial file, and reading them back safely.

A failed write raises an error naming the file and leaves the file as it was: an EnvironmentFault
for a full disk, a UserError for anything else (a read-only folder).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from .errors import EnvironmentFault, UserError, write_failure
from .resume import held_signals


def _cannot_write(path: Path, exc: OSError) -> UserError | EnvironmentFault:
    problem = f"{path}: cannot write results ({exc.strerror or exc}); the previous file is unchanged"
    return write_failure(path, exc, problem)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Write via ``write(fileobj)`` into a temp file beside ``path``, fsync, then rename over it.

    If anything fails (disk full included) the temp file is removed and ``path`` is untouched.
    SIGINT/SIGTERM arriving meanwhile act once the write is done (:func:`ganx.resume.held_signals`).
    """
    path = Path(path)
    with held_signals():
        _write_then_rename(path, write, mode)


def _write_then_rename(path: Path, write: Callable[[Any], None], mode: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; results are meant to be shared
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _cannot_write(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FileLock:
    """An ``flock`` on the file at ``path``, held by one thread at a time; the kernel releases it when
    its process dies, even by SIGKILL. ``acquire``/``release`` (Optuna's journal ``lock_obj``) or ``with``."""

    def __init__(self, path):
        self.path = str(path)
        self.threads = threading.Lock()
        self.fd: int | None = None

    def acquire(self) -> bool:
        self.threads.acquire()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self.threads.release()
            raise
        self.fd = fd
        return True

    def release(self) -> None:
        fd, self.fd = self.fd, None
        try:
            os.close(fd)  # closing the only descriptor drops the flock
        finally:
            self.threads.release()

    def __enter__(self) -> "FileLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


@contextmanager
def exclusive(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s writer lock (a :class:`FileLock` on ``folder/.lock``): one attempt at a time
    writes a run folder, even when a stalled worker's attempt was taken for lost."""
    folder = Path(folder)
    lock = FileLock(folder / ".lock")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock.acquire()
    except OSError as exc:
        raise _cannot_write(folder / ".lock", exc) from None
    try:
        yield
    finally:
        lock.release()


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def append_jsonl(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON line; a crash can at worst leave a torn last line, which readers skip."""
    try:
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
    except OSError as exc:
        raise _cannot_write(path, exc) from None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All rows of a JSON-lines file. A torn last line is dropped; corruption elsewhere is an error."""
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read ({exc}); the file is corrupted") from None
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                break
            raise UserError(f"{path}: line {number} is not valid JSON; the file is corrupted") from None
        if not isinstance(row, dict):
            raise UserError(f"{path}: line {number} is not a JSON object; the file is corrupted")
        rows.append(row)
    return rows


def truncate_jsonl(path: Path, last_step: int) -> None:
    """Keep only the rows up to ``last_step`` (and drop a torn last line), atomically."""
    path = Path(path)
    if not path.exists():
        return
    rows = [row for row in read_jsonl(path) if row.get("step", 0) <= last_step]
    write_text(path, "".join(json.dumps(row) + "\n" for row in rows))


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` atomically. It serializes in memory first, so that a full disk is an OSError naming
    the file rather than torch's ``inline_container`` RuntimeError."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write(path, lambda f: f.write(buffer.getbuffer()), mode="wb")


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load tensors and plain data only (``weights_only=True``); anything else is refused."""
    import pickle

    import torch

    if Path(path).is_dir():
        raise UserError(f"{path}: is a directory; expected a checkpoint file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: no such checkpoint") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        raise UserError(f"{path}: not a loadable ganx checkpoint ({_unloadable(exc)})") from None
    if not isinstance(state, dict) or "step" not in state:
        raise UserError(f"{path}: not a ganx checkpoint (no 'step' entry)")
    return state


def _unloadable(exc: Exception) -> str:
    """Why torch refused a checkpoint, without its advice to load the file unsafely."""
    text = str(exc)
    code = re.search(r"GLOBAL ([\w.]+)", text)
    if code:
        return f"it would run {code.group(1)} when loaded; the file is not trusted and will not be loaded"
    reason = text.partition("WeightsUnpickler error:")[2] or text
    lines = [line.strip() for line in reason.splitlines() if line.strip() and "weights_only" not in line]
    return f"corrupted: {lines[0] if lines else type(exc).__name__}"
