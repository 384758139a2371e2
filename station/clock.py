"""Time as the station records it: timezone-aware UTC, ISO 8601 in storage."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def to_text(moment: datetime) -> str:
    """ISO 8601 text in UTC, microsecond precision, sortable as text."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(text: str) -> datetime:
    """Read back what :func:`to_text` wrote."""
    return datetime.fromisoformat(text)
