import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.errors import StoreError
from rag.index.lock import IngestBusyError, IngestLock

HOLD = """
import sys, time
from pathlib import Path
from rag.index.lock import IngestLock
with IngestLock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(data_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(data_dir)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_ingest_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    try:
        with pytest.raises(IngestBusyError) as info, IngestLock(tmp_path):
            pass
        assert f"another ingest is running (pid {proc.pid})" in str(info.value)
        assert isinstance(info.value, StoreError)
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_ingest_leaves_no_stale_lock(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with IngestLock(tmp_path):
        assert (tmp_path / "ingest.lock").read_text().strip() == str(os.getpid())
    with IngestLock(tmp_path):  # released on exit, taken again
        pass


def test_the_lock_is_released_when_the_ingest_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), IngestLock(tmp_path):
        raise RuntimeError("embedding failed")
    start = time.monotonic()
    with IngestLock(tmp_path):
        pass
    assert time.monotonic() - start < 5
