"""A sweep's journal file, opened as Optuna's ``JournalStorage`` after any torn last record is repaired.

A write cut short (a full disk, a SIGKILL mid-append) leaves a last line without its newline.
Optuna's reader skips it, but the next append would be glued onto it, and from then on the journal
could not be read at all. So before opening, ganx drops that incomplete record, under the journal's
lock and after copying the file aside, and says so in one line on stderr.

Writers lock the journal with an ``flock`` (:class:`FlockLock`), which the kernel releases when its
process dies, so a writer killed mid-append never leaves the journal locked (Optuna's own file
locks would make every other writer wait out a 30 s grace period).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import threading
import time
from pathlib import Path

from .errors import NO_SPACE, UserError, no_space


def open_journal(path: Path):
    """The ``JournalStorage`` of the journal file at ``path`` (created if absent), repaired first."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = FlockLock(path)
        repair(path, lock)
        return JournalStorage(JournalFileBackend(str(path), lock_obj=lock))
    except OSError as exc:
        if exc.errno in NO_SPACE:
            raise no_space(path) from None
        raise UserError(f"{path}: cannot open the sweep's journal ({exc.strerror or exc})") from None


class FlockLock:
    """A lock for Optuna's ``JournalFileBackend`` (its ``lock_obj``: ``acquire`` and ``release``), as an
    ``flock`` on ``<journal>.flock``, held by one thread at a time."""

    def __init__(self, journal: Path):
        self.path = f"{journal}.flock"
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


def torn(path: Path) -> bool:
    """Whether the file's last byte is not a newline (a record was cut short, or is being written)."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


def repair(path: Path, lock: FlockLock) -> None:
    """Drop a torn last record of the journal at ``path``; the untouched file is kept beside it."""
    if not path.is_file() or not torn(path):
        return
    lock.acquire()
    try:
        if not torn(path):  # a writer was mid-append and has finished
            return
        data = path.read_bytes()
        keep = data.rfind(b"\n") + 1
        backup = path.with_name(f"{path.name}.torn-{time.strftime('%Y%m%dT%H%M%S')}")
        shutil.copyfile(path, backup)
        with open(path, "r+b") as f:
            f.truncate(keep)
            os.fsync(f.fileno())
    finally:
        lock.release()
    sys.stderr.write(f"warning: {path}: dropped its last record, cut short by an interrupted write "
                     f"({len(data) - keep} bytes); the file as it was is kept as {backup.name}\n")
