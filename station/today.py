"""What the nurse's home screen shows: this station's sessions of the day.

There is no scheduling system: a "planned" teleconsultation is simply a
session opened earlier today and not finished yet (sent or stopped), which
the nurse can resume where it stands.

Each list shows residents' names, so each takes the person asking and
refuses a role without clinical access (:mod:`station.access`); resuming a
session is a read of it and is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from station.access import Permission, Principal, read_session, record_read, require
from station.clock import Clock, to_text, utc_now
from station.people import NurseAccount
from station.session import SessionEngine
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


def sessions_today(store: Store, actor: Principal, clock: Clock = utc_now) -> list[DaySession]:
    """Sessions opened today on this station, in progress first, then newest first.

    AccessDeniedError for a role without clinical access. One audit row
    records that ``actor`` saw the list (how many sessions, no names).
    """
    require(actor, Permission.READ_CLINICAL)
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
    record_read(store, actor, "today", sessions=len(found))
    return sorted(found, key=lambda s: not s.in_progress)  # stable: newest first in each group


def waiting_expertise(store: Store, actor: Principal) -> list[tuple[Waiting, Resident | None]]:
    """Télé-expertise requests waiting for an answer (longest wait first), each with
    the resident of its session; AccessDeniedError for a role without clinical access."""
    require(actor, Permission.READ_CLINICAL)
    # Imported here: the expertise service pulls in report rendering, which the
    # app's cold start does without.
    from station.expertise import Expertise  # noqa: PLC0415

    records, residents = SessionRecords(store), ResidentRegistry(store)
    found = []
    for waiting in Expertise(store).waiting():
        resident_id = records.get(waiting.request.session_id).resident_id
        found.append((waiting, residents.get(resident_id) if resident_id is not None else None))
    return found


def resume_session(store: Store, session_id: str, nurse: NurseAccount,
                   clock: Clock = utc_now) -> SessionEngine:
    """Pick a session of the day up where it stands, for ``nurse``: checked and
    audited as a read of the session (the engine records the resumption itself)."""
    read_session(store, nurse, session_id, "session")
    return SessionEngine.resume(store, session_id, nurse, clock)
