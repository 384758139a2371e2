"""Persistence of télé-expertise requests: rows in, :class:`Request` objects out.

Every write is called inside a transaction the service holds
(:meth:`Store.write`), with its audit row in the same transaction; the
service decides what to write, this module only knows the SQL.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from station.clock import from_text, to_text
from station.errors import NotFoundError
from station.expertise.model import (
    Answer,
    Expert,
    ExpertLink,
    LinkState,
    Request,
    RequestEvent,
    RequestingDoctor,
    RequestState,
)
from station.store import audit

_REQUEST_COLUMNS = (
    "id, session_id, question, expert_name, expert_rpps, expert_specialty, expert_email,"
    " requester_name, requester_rpps, requester_email, bill_rqd, created_at, created_by"
)
_LINK_COLUMNS = ("id, request_id, created_at, expires_at, created_by, delivery_id, used_at,"
                 " revoked_at")


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _time(text: object) -> datetime | None:
    return None if text is None else from_text(str(text))


def insert_request(conn: sqlite3.Connection, values: tuple[object, ...],
                   material: Sequence[tuple[str, int]], actor: str, now: datetime) -> None:
    """The request row, its material and its ``created`` event, audited."""
    request_id = str(values[0])
    conn.execute(f"INSERT INTO expertise_requests ({_REQUEST_COLUMNS}) VALUES"
                 f" ({', '.join('?' * len(values))})", values)
    audit.append(conn, actor=actor, action="expertise.created", entity="expertise_requests",
                 first_id=request_id, time=to_text(now),
                 details={"session": values[1], "expert_rpps": values[4]})
    ids = [int(conn.execute(
        "INSERT INTO expertise_material (request_id, kind, item_id) VALUES (?, ?, ?)",
        (request_id, kind, item)).lastrowid or 0) for kind, item in material]
    if ids:
        audit.append(conn, actor=actor, action="expertise.material", time=to_text(now),
                     entity="expertise_material", first_id=ids[0], last_id=ids[-1],
                     details={"request": request_id})
    add_event(conn, request_id, None, now, "created", actor, {"items": len(ids)})


def add_event(conn: sqlite3.Connection, request_id: str, link_id: int | None, time: datetime,
              event_type: str, actor: str, data: dict[str, Any]) -> int:
    """Append one timeline event and the audit row vouching for it."""
    stamp = to_text(time)
    event_id = int(conn.execute(
        "INSERT INTO expertise_events (request_id, link_id, time, type, actor, data)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (request_id, link_id, stamp, event_type, actor, _dump(data))).lastrowid or 0)
    audit.append(conn, actor=actor, action=f"expertise.{event_type}", time=stamp,
                 entity="expertise_events", first_id=event_id,
                 details={"request": request_id, "link": link_id})
    return event_id


def insert_link(conn: sqlite3.Connection, request_id: str, digest: str, now: datetime,
                expires: datetime, actor: str, delivery_id: str) -> int:
    """A new link row (token digest only), audited."""
    link_id = int(conn.execute(
        "INSERT INTO expertise_links (request_id, token_sha256, created_at, expires_at,"
        " created_by, delivery_id) VALUES (?, ?, ?, ?, ?, ?)",
        (request_id, digest, to_text(now), to_text(expires), actor, delivery_id)).lastrowid or 0)
    audit.append(conn, actor=actor, action="expertise.link_created", entity="expertise_links",
                 first_id=link_id, time=to_text(now), details={"request": request_id})
    return link_id


def close_link(conn: sqlite3.Connection, link_id: int, column: str, now: datetime,
               actor: str) -> None:
    """Mark a link used or revoked (final), audited."""
    assert column in ("used_at", "revoked_at")
    conn.execute(f"UPDATE expertise_links SET {column} = ? WHERE id = ?", (to_text(now), link_id))
    audit.append(conn, actor=actor, action=f"expertise.link_{column[:-3]}", time=to_text(now),
                 entity="expertise_links", first_id=link_id, details={})


def insert_answer(conn: sqlite3.Connection, request_id: str, answer: Answer) -> None:
    """The expert's answer (one per request, through one of its links), audited."""
    actor = f"rpps:{answer.expert_rpps}"
    row_id = int(conn.execute(
        "INSERT INTO expertise_answers (request_id, link_id, answered_at, expert_name,"
        " expert_rpps, expert_specialty, conclusion, prescriptions, billing)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (request_id, answer.link_id, to_text(answer.answered_at), answer.expert_name,
         answer.expert_rpps, answer.expert_specialty, answer.conclusion, answer.prescriptions,
         json.dumps(list(answer.billing)))).lastrowid or 0)
    audit.append(conn, actor=actor, action="expertise.answer", entity="expertise_answers",
                 first_id=row_id, time=to_text(answer.answered_at),
                 details={"request": request_id})


def find_link(conn: sqlite3.Connection, digest: str) -> ExpertLink | None:
    """The link whose token hashes to ``digest``."""
    row = conn.execute(f"SELECT {_LINK_COLUMNS} FROM expertise_links WHERE token_sha256 = ?",
                       (digest,)).fetchone()
    return None if row is None else _link(tuple(row), None)


def resolve_id(conn: sqlite3.Connection, request_id: str) -> str:
    """The full id of a request given by id or by a unique prefix (8+ characters)."""
    row = conn.execute("SELECT id FROM expertise_requests WHERE id = ?",
                       (request_id,)).fetchone()
    if row is None and len(request_id) >= 8 and request_id.isalnum():
        rows = conn.execute("SELECT id FROM expertise_requests WHERE id LIKE ? LIMIT 2",
                            (request_id.lower() + "%",)).fetchall()
        row = rows[0] if len(rows) == 1 else None
    if row is None:
        raise NotFoundError("expertise.not_found", id=request_id)
    return str(row[0])


def request_ids(conn: sqlite3.Connection, session_id: str | None = None) -> list[str]:
    """Ids of every request (of one session), oldest first."""
    if session_id is None:
        rows = conn.execute("SELECT id FROM expertise_requests ORDER BY created_at, rowid")
    else:
        rows = conn.execute("SELECT id FROM expertise_requests WHERE session_id = ?"
                            " ORDER BY created_at, rowid", (session_id,))
    return [str(row[0]) for row in rows]


def load_request(conn: sqlite3.Connection, request_id: str, now: datetime) -> Request:
    """Everything about one request, its state computed at ``now``."""
    row = conn.execute(f"SELECT {_REQUEST_COLUMNS} FROM expertise_requests WHERE id = ?",
                       (request_id,)).fetchone()
    if row is None:
        raise NotFoundError("expertise.not_found", id=request_id)
    (rid, session_id, question, name, rpps, specialty, email, req_name, req_rpps, req_email,
     bill_rqd, created_at, created_by) = row
    material: dict[str, list[int]] = {"photo": [], "clip": [], "measurement": []}
    for kind, item in conn.execute("SELECT kind, item_id FROM expertise_material"
                                   " WHERE request_id = ? ORDER BY id", (rid,)):
        material[kind].append(int(item))
    events = tuple(
        RequestEvent(from_text(t), kind, actor, link, json.loads(data))
        for t, kind, actor, link, data in conn.execute(
            "SELECT time, type, actor, link_id, data FROM expertise_events"
            " WHERE request_id = ? ORDER BY id", (rid,)))
    opened: dict[int, datetime] = {}
    for event in events:
        if event.type == "opened" and event.link_id is not None:
            opened.setdefault(event.link_id, event.time)
    links = tuple(
        _link(tuple(r), opened) for r in conn.execute(
            f"SELECT {_LINK_COLUMNS} FROM expertise_links WHERE request_id = ? ORDER BY id",
            (rid,)))
    answer = _answer(conn, rid)
    reported = next((e for e in reversed(events) if e.type == "reported"), None)
    report_id = str(reported.data.get("report")) if reported else None
    return Request(
        id=rid, session_id=session_id, question=question,
        expert=Expert(name, rpps, specialty, email),
        requester=RequestingDoctor(req_name, req_rpps, req_email) if req_name else None,
        bill_rqd=bool(bill_rqd), created_at=from_text(created_at), created_by=created_by,
        photos=tuple(material["photo"]), clips=tuple(material["clip"]),
        measurements=tuple(material["measurement"]),
        state=_state(links, answer, report_id, now), links=links, events=events,
        answer=answer, report_id=report_id)


def _state(links: tuple[ExpertLink, ...], answer: Answer | None, report_id: str | None,
           now: datetime) -> RequestState:
    if report_id is not None:
        return RequestState.REPORTED
    if answer is not None:
        return RequestState.ANSWERED
    if not links:
        return RequestState.DRAFT
    current = links[-1]
    link_state = current.state(now)
    if link_state is LinkState.REVOKED:
        return RequestState.REVOKED
    if link_state is LinkState.EXPIRED:
        return RequestState.EXPIRED
    return RequestState.OPENED if current.opened_at is not None else RequestState.SENT


def _link(row: tuple[Any, ...], opened: dict[int, datetime] | None) -> ExpertLink:
    link_id, request_id, created, expires, created_by, delivery_id, used, revoked = row
    return ExpertLink(
        id=int(link_id), request_id=str(request_id), created_at=from_text(created),
        expires_at=from_text(expires), created_by=str(created_by),
        delivery_id=str(delivery_id), used_at=_time(used), revoked_at=_time(revoked),
        opened_at=(opened or {}).get(int(link_id)))


def _answer(conn: sqlite3.Connection, request_id: str) -> Answer | None:
    row = conn.execute(
        "SELECT link_id, answered_at, expert_name, expert_rpps, expert_specialty, conclusion,"
        " prescriptions, billing FROM expertise_answers WHERE request_id = ?",
        (request_id,)).fetchone()
    if row is None:
        return None
    link_id, answered_at, name, rpps, specialty, conclusion, prescriptions, billing = row
    return Answer(int(link_id), from_text(answered_at), name, rpps, specialty, conclusion,
                  prescriptions, tuple(json.loads(billing)))
