"""What the nurse's home screen shows: this station's sessions of the day.

There is no scheduling system: a "planned" teleconsultation is simply a
session opened earlier today and not finished yet (sent or stopped), which
the nurse can resume where it stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from station.clock import Clock, to_text, utc_now
from station.store.database import Store
from station.store.residents import Resident, ResidentRegistry
from station.store.sessions import SessionRecords, SessionRow

if TYPE_CHECKING:
    from station.expertise import Waiting

FINISHED_STATES = frozenset({"sent", "stopped"})


@dataclass(frozen=True, slots=True)
class DaySession:
    """One session of the day, with its resident once identified."""

    row: SessionRow
    resident: Resident | None

    @property
    def in_progress(self) -> bool:
        """True while the session can be resumed (not sent, not stopped)."""
        return self.row.state not in FINISHED_STATES


def start_of_day(now: datetime) -> datetime:
    """Local midnight of ``now``'s day (the station's time zone)."""
    local = now.astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def sessions_today(store: Store, clock: Clock = utc_now) -> list[DaySession]:
    """Sessions opened today on this station, in progress first, then newest first."""
    since = start_of_day(clock())
    rows = store.conn.execute(
        "SELECT id FROM sessions WHERE created_at >= ? ORDER BY created_at DESC",
        (to_text(since),),
    ).fetchall()
    records, residents = SessionRecords(store), ResidentRegistry(store)
    found = []
    for (session_id,) in rows:
        row = records.get(session_id)
        resident = residents.get(row.resident_id) if row.resident_id is not None else None
        found.append(DaySession(row, resident))
    return sorted(found, key=lambda s: not s.in_progress)  # stable: newest first in each group


def waiting_expertise(store: Store) -> list[tuple[Waiting, Resident | None]]:
    """Télé-expertise requests waiting for an answer (longest wait first), each with
    the resident of its session."""
    # Imported here: the expertise service pulls in report rendering, which the
    # app's cold start does without.
    from station.expertise import Expertise  # noqa: PLC0415

    records, residents = SessionRecords(store), ResidentRegistry(store)
    found = []
    for waiting in Expertise(store).waiting():
        resident_id = records.get(waiting.request.session_id).resident_id
        found.append((waiting, residents.get(resident_id) if resident_id is not None else None))
    return found
