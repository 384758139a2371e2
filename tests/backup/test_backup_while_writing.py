"""A backup taken while another process writes measurements restores a consistent store."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from station.backup import create_backup, restore_backup
from station.store import audit
from station.store.database import Store
from tests.backup.helpers import passphrase_secret

WRITER = Path(__file__).resolve().parents[1] / "crash_writer.py"
ROOT = WRITER.parents[1]


class Acks:
    """Measurement ids the writer has acknowledged (durably committed), read in a thread."""

    def __init__(self, writer: subprocess.Popen[str]) -> None:
        self.ids: set[int] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(writer,), daemon=True)
        self._thread.start()

    def _read(self, writer: subprocess.Popen[str]) -> None:
        assert writer.stdout is not None
        for line in writer.stdout:
            kind, *rest = line.split()
            if kind == "M":
                with self._lock:
                    self.ids.add(int(rest[0]))

    def snapshot(self) -> set[int]:
        with self._lock:
            return set(self.ids)

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.snapshot()) < count:
            assert time.monotonic() < deadline, "the writer is too slow"
            time.sleep(0.01)


def test_backups_during_a_stream_of_writes_restore_consistent_stores(tmp_path: Path) -> None:
    store_path = tmp_path / "home" / "station.sqlite3"
    store_path.parent.mkdir()
    writer = subprocess.Popen([sys.executable, str(WRITER), str(store_path)],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        acks = Acks(writer)
        acks.wait_for(200)
        taken = []
        for number in range(3):
            before = acks.snapshot()
            made = create_backup(store_path, tmp_path / f"b{number}.stbk", passphrase_secret())
            after = acks.snapshot()
            taken.append((made, before, after))
            acks.wait_for(len(after) + 100)  # the writer kept going during and after
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    previous = 0
    for number, (made, before, after) in enumerate(taken):
        restored = restore_backup(made.path, tmp_path / f"r{number}", passphrase_secret())
        with Store.open(tmp_path / f"r{number}" / "station.sqlite3") as store:
            assert store.integrity_check() == ["ok"]
            assert audit.verify(store.conn).ok
            ids = {row[0] for row in store.conn.execute("SELECT id FROM measurements")}
            orphans = store.conn.execute(
                "SELECT count(*) FROM measurements m LEFT JOIN consents c"
                " ON c.session_id = m.session_id WHERE c.id IS NULL").fetchone()[0]
        assert before <= ids  # everything acknowledged before the backup began is in it
        assert max(ids) <= max(after) + 25  # nothing after it ended (one commit may be unacked)
        assert orphans == 0  # no measurement without its session's consent: one commit's view
        assert restored.counts["measurements"] == len(ids) > previous
        previous = len(ids)
