"""One ingest at a time per index: an exclusive ``flock`` on ``DATA_DIR/ingest.lock``.

The kernel drops the lock when its holder exits, however it exits (``kill -9`` included), so a
crashed ingest never leaves a stale lock behind; the file only keeps the holder's pid for the
message. Questions never take the lock: each reads the index as the last finished file left it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from rag.errors import StoreError


class IngestBusyError(StoreError):
    """Another process is ingesting into the same index."""


class IngestLock:
    """``with IngestLock(data_dir): ...`` holds the index's ingest lock or raises at once."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "ingest.lock"
        self._fd: int | None = None

    def __enter__(self) -> IngestLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise IngestBusyError(
                f"another ingest is running (pid {holder}) on the index in {self.path.parent}; "
                "wait for it to finish (questions are still answered meanwhile) or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
