"""kill -9 of a backup at random moments: the store is intact, no partial archive, retry works."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from station.backup import BackupSecret, create_backup, generate_key_file, restore_backup
from station.backup.staging import STAGING_PREFIX
from station.store import audit
from station.store.database import Store
from tests.backup.helpers import counts, populate, tree_digest

LOOP = Path(__file__).with_name("backup_loop.py")
ROOT = Path(__file__).resolve().parents[2]


KILLS = 8


def kill_one_backup_loop(home: Path, archive: Path, key_file: Path, rng: random.Random) -> None:
    """Run the backup loop, let 0 to 2 backups complete, SIGKILL it at a random moment."""
    loop = subprocess.Popen([sys.executable, str(LOOP), str(home / "station.sqlite3"),
                             str(archive), str(key_file)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    assert loop.stdout is not None
    completed, wanted = 0, rng.randrange(3)
    for line in loop.stdout:
        completed += line.startswith("DONE")
        if line.startswith("BEGIN") and completed >= wanted:
            break
    time.sleep(rng.uniform(0.0, 0.3))  # one backup takes ~0.1 s here: lands anywhere in it
    loop.send_signal(signal.SIGKILL)
    assert loop.wait(timeout=30) == -signal.SIGKILL
    loop.stdout.close()


def test_kill_9_during_backup_leaves_store_intact_and_no_partial_archive(
        tmp_path: Path) -> None:
    seed = random.SystemRandom().randrange(1 << 30)
    rng = random.Random(seed)
    home, out = tmp_path / "home", tmp_path / "out"
    out.mkdir()
    # ~6 MB of incompressible photos, so a backup takes a measurable time.
    populate(home / "station.sqlite3", sessions=4, photos=2, side=500, clips=1)
    generate_key_file(tmp_path / "ehpad.key")
    secret = BackupSecret.from_key_file(tmp_path / "ehpad.key")
    archive = out / "station.stbk"
    interrupted = 0  # kills that left a partial archive or a staged copy behind
    for kill in range(KILLS):
        kill_one_backup_loop(home, archive, tmp_path / "ehpad.key", rng)
        with Store.open(home / "station.sqlite3") as store:
            assert store.integrity_check() == ["ok"], seed
            assert audit.verify(store.conn).ok, seed
        leftovers = [p for p in [*out.iterdir(), *home.iterdir()] if p.name.startswith(".")]
        interrupted += bool(leftovers)
        assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) in (
            [], ["station.stbk"]), seed
        if archive.exists():  # the final name only ever holds a complete archive
            restored = restore_backup(archive, tmp_path / f"r{kill}", secret)
            assert restored.counts["sessions"] == 4, seed
    assert interrupted >= KILLS // 2, f"kills did not land inside backups (seed {seed})"

    made = create_backup(home / "station.sqlite3", archive, secret)  # retry cleans up
    assert [p.name for p in out.iterdir()] == ["station.stbk"]
    assert not [p for p in home.iterdir() if p.name.startswith(STAGING_PREFIX)]
    restored = restore_backup(made.path, tmp_path / "restored", secret)
    assert restored.counts == {"residents": 1, "sessions": 4, "measurements": 40,
                               "reports": 0, "snapshots": 8, "clips": 4}
    assert counts(tmp_path / "restored" / "station.sqlite3") == counts(home / "station.sqlite3")
    assert tree_digest(tmp_path / "restored" / "media") == tree_digest(home / "media")
