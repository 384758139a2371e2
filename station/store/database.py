"""Opening the store: pragmas, schema migrations, write transactions.

Every clinical write happens inside :meth:`Store.write`, a ``BEGIN IMMEDIATE``
transaction committed with ``synchronous=FULL`` in WAL mode: when a write
method returns, the fact is on disk and survives a power cut or a kill -9.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from station.errors import SchemaTooNewError, StoreError
from station.store.schema import LATEST_VERSION, MIGRATIONS

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)
_SQLITE_FULL = 13  # SQLite's primary code for "database or disk is full"


class Store:
    """One SQLite file holding everything the station records.

    A store may be shared by threads; writes are serialised by a lock and by
    SQLite's own write lock across processes.
    """

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self.conn = connection
        self.db = sqlite_utils.Database(connection)
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open (creating if needed) and migrate the store at ``path``.

        Raises :class:`SchemaTooNewError` for a store from a newer version,
        before anything is written to it.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError("store.unreadable", path=str(path), reason=str(exc)) from exc
        if version > LATEST_VERSION:
            conn.close()
            raise SchemaTooNewError(
                "store.schema_too_new", path=str(path), found=version, known=LATEST_VERSION
            )
        try:
            for pragma in _PRAGMAS:
                conn.execute(pragma)
            store = cls(path, conn)
            store._migrate(version)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError("store.unreadable", path=str(path), reason=str(exc)) from exc
        return store

    def _migrate(self, current: int) -> None:
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            script = (
                f"BEGIN IMMEDIATE;\n{migration.sql}\n"
                f"PRAGMA user_version = {migration.version};\nCOMMIT;"
            )
            try:
                self.conn.executescript(script)
            except sqlite3.Error:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A durable write transaction: committed on exit, rolled back on error.

        A full disk raises :class:`StoreError` (``store.disk_full``) naming the
        store's folder; the transaction is rolled back whole, and writing
        resumes once space is freed.
        """
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                except BaseException:
                    self._rollback()
                    raise
                self.conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode & 0xFF != _SQLITE_FULL:
                    raise
                self._rollback()  # a failed COMMIT may leave the transaction open
                raise StoreError("store.disk_full", folder=str(self.path.parent)) from exc

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def integrity_check(self) -> list[str]:
        """SQLite's own check; ``["ok"]`` for a sound file."""
        return [row[0] for row in self.conn.execute("PRAGMA integrity_check")]

    def close(self) -> None:
        """Close the file (a WAL checkpoint happens on the last close)."""
        with self._lock:
            self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
