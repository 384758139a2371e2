"""The durable store: one SQLite file, WAL, versioned schema, hash-chained audit."""

from station.store.database import Store

__all__ = ["Store"]
