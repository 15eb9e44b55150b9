"""A sweep's journal file: Optuna's ``JournalStorage`` on a file backend that never appends to a torn record.

A write cut short (a full disk, a SIGKILL mid-append) leaves a last line without its newline.
Optuna's reader skips it, but an append glued onto it would make the whole journal unreadable. So
ganx checks the end of the file, under the journal's lock, before every append and before opening:
an incomplete last record is dropped, the file as it was is kept beside it, and one line on stderr
says so. A record in the middle that does not parse (an older ganx appended after a torn one) is
one error naming the file.

Writers lock the journal with an ``flock``, which the kernel releases when its process dies, so a
writer killed mid-append never leaves it locked; SIGINT/SIGTERM wait until an append is done.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from optuna.storages.journal import JournalFileBackend

from ..errors import UserError, write_failure
from ..resume import held_signals
from ..store import FileLock


def open_journal(path: Path):
    """The ``JournalStorage`` of the journal file at ``path`` (created if absent), repaired first."""
    from optuna.storages import JournalStorage

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = Journal(path)
        if torn(path):
            with held_signals(), backend.lock:
                backend.repair()
        return JournalStorage(backend)
    except OSError as exc:
        raise write_failure(path, exc, f"{path}: cannot open the sweep's journal ({exc.strerror or exc})") from None
    except ValueError as exc:  # json's decode error included
        raise UserError(f"{path}: a record in the middle of the journal is corrupted ({exc}); "
                        "restore it from a backup, or give the sweep a new name") from None


class Journal(JournalFileBackend):
    """Optuna's journal file backend, locked by an ``flock`` on ``<journal>.flock`` (:class:`ganx.store.FileLock`,
    Optuna's ``lock_obj``), that repairs a torn end before appending."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock = FileLock(f"{self.path}.flock")
        super().__init__(str(self.path), lock_obj=self.lock)

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        """Append as Optuna's backend does (one JSON line per log, fsynced), after :meth:`repair`."""
        text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
        with held_signals(), self.lock:
            self.repair()
            with open(self.path, "ab") as f:
                f.write(text.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())

    def repair(self) -> None:
        """Drop a torn last record, keeping the file as it was beside it (the caller holds the lock)."""
        if not torn(self.path):
            return
        data = self.path.read_bytes()
        keep = data.rfind(b"\n") + 1
        backup = self.path.with_name(f"{self.path.name}.torn-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        shutil.copyfile(self.path, backup)
        with open(self.path, "r+b") as f:
            f.truncate(keep)
            os.fsync(f.fileno())
        sys.stderr.write(f"warning: {self.path}: dropped its last record, cut short by an interrupted write "
                         f"({len(data) - keep} bytes); the file as it was is kept as {backup.name}\n")


def torn(path: Path) -> bool:
    """Whether the file's last byte is not a newline (a record was cut short, or is being written)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"
