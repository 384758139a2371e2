"""The télé-expertise service: create, send, follow, answer; the answer becomes the report.

Life of a request::

    draft ──send──▶ sent ──expert opens──▶ opened ──expert answers──▶ answered ──▶ reported
                      │                       │
                      └── expired / revoked ◀─┘   (send again: a fresh link, the old one revoked)

* **Link**: ``secrets.token_urlsafe(32)`` (256 bits) in
  ``<base_url>/expertise/<token>``; the store keeps only its SHA-256. Valid 7
  days by default (:data:`~station.expertise.model.DEFAULT_LINK_TTL`). The
  expert may open it as often as needed until answering; the answer uses it.
  Sending again revokes the previous link, so one link at most is valid.
* **E-mail**: queued through the outbox in the same transaction as the link
  (both or neither). It carries the link and no health data: no name, no
  question. The queued body does contain the link (the outbox must be able
  to send it again after a crash); whoever can read the store's outbox can
  read the material itself in the same file, so nothing is given away.
* **Answer**: the expert states name and RPPS, which must be the requested
  expert's (the link was sent to a named doctor), then conclusion and
  prescriptions. The answer is stored first (one durable write, the link
  used), then validated as the session's report (act télé-expertise, the
  expert as validating doctor, billing TE2, plus RQD when the requesting
  doctor asked for it) and queued to the report's recipients. Each step is
  idempotent and :meth:`Expertise.resume` finishes any step a crash
  interrupted.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from station.access import Permission, Principal, read_session, require
from station.clock import Clock, to_text, utc_now
from station.consent import Act
from station.errors import SessionStateError, ValidationError
from station.expertise import records
from station.expertise.material import Material, clip_bytes, load_material, photo_bytes
from station.expertise.material import session_items as _session_items
from station.expertise.model import (
    DEFAULT_LINK_TTL,
    MAX_CONCLUSION_CHARS,
    MAX_PRESCRIPTIONS_CHARS,
    MAX_QUESTION_CHARS,
    Answer,
    Expert,
    LinkError,
    LinkState,
    Request,
    RequestingDoctor,
    RequestState,
)
from station.i18n import tr
from station.outbox import (
    DeliveryId,
    Outbox,
    OutboxConfig,
    OutgoingMessage,
    Recipient,
    load_outbox_config,
)
from station.people import check_rpps
from station.report.pdf import fmt_datetime
from station.report.sending import load_report_recipients, report_message, report_recipients
from station.report.service import ReportService
from station.store.database import Store
from station.store.reports import ReportVersion
from station.store.sessions import SessionRecords

_CAN_CREATE = frozenset({"examine", "report"})
_CAN_SEND = frozenset({"report"})


def token_digest(token: str) -> str:
    """The SHA-256 (hex) under which a link's token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Waiting:
    """A request waiting for its answer, and for how long (for the home screen)."""

    request: Request
    age: timedelta


class Expertise:
    """Télé-expertise requests of one store.

    ``outbox`` queues the e-mails (the expert's link, then the report);
    ``recipients`` are the configured report recipients (``[report]`` of
    ``station.toml``) and ``outbox_config`` adds the record system's FHIR
    endpoint and drop folder, as for any report.
    """

    def __init__(self, store: Store, outbox: Outbox | None = None, *,
                 reports: ReportService | None = None, recipients: Sequence[Recipient] = (),
                 outbox_config: OutboxConfig | None = None, clock: Clock = utc_now,
                 link_ttl: timedelta = DEFAULT_LINK_TTL) -> None:
        self._store = store
        self._clock = clock
        self.outbox = outbox if outbox is not None else Outbox(store, outbox_config, clock=clock)
        self.reports = reports if reports is not None else ReportService(store, clock=clock)
        self.recipients = tuple(recipients)
        self.outbox_config = outbox_config if outbox_config is not None else self.outbox.config
        self.link_ttl = link_ttl

    @classmethod
    def from_config(cls, store: Store, *, clock: Clock = utc_now,
                    path: Path | None = None) -> Expertise:
        """The service as configured in ``station.toml`` (``[outbox]`` and ``[report]``)."""
        config = load_outbox_config(path)
        return cls(store, Outbox(store, config, clock=clock),
                   recipients=load_report_recipients(path), outbox_config=config, clock=clock)

    # --- reading ---------------------------------------------------------------------

    def get(self, request_id: str) -> Request:
        """One request by id (or a unique prefix of 8+ characters)."""
        conn = self._store.conn
        return records.load_request(conn, records.resolve_id(conn, request_id), self._clock())

    def requests(self, session_id: str | None = None) -> list[Request]:
        """Every request (of one session), oldest first."""
        now, conn = self._clock(), self._store.conn
        return [records.load_request(conn, rid, now)
                for rid in records.request_ids(conn, session_id)]

    def waiting(self) -> list[Waiting]:
        """Requests waiting for an answer (sent, opened or with an expired link), oldest
        first, each with how long it has waited since it was first sent."""
        now = self._clock()
        found = [Waiting(r, r.age(now) or timedelta(0)) for r in self.requests()
                 if r.state.waiting]
        return sorted(found, key=lambda w: w.age, reverse=True)

    def show(self, request_id: str, actor: Principal) -> Request:
        """One request for a person to read (``expertise show``): AccessDeniedError for
        a role without clinical access; the read is audited (request, session, resident)."""
        require(actor, Permission.READ_CLINICAL)
        request = self.get(request_id)
        read_session(self._store, actor, request.session_id, "expertise", request=request.id)
        return request

    def listing(self, actor: Principal, *, all_requests: bool = False) -> list[Request]:
        """Requests for a person to read (``expertise list``): every one, or those
        waiting; checked like :meth:`show` (expert names and questions are clinical)."""
        require(actor, Permission.READ_CLINICAL)
        return self.requests() if all_requests else [w.request for w in self.waiting()]

    def session_items(self, session_id: str) -> dict[str, list[int]]:
        """Ids of the session's photos, clips and measurements that may be attached."""
        return _session_items(self._store, session_id)

    # --- the nurse's side --------------------------------------------------------------

    def create(self, session_id: str, question: str, expert: Expert,
               photos: Sequence[int] | None = None, clips: Sequence[int] | None = None,
               measurements: Sequence[int] | None = None, *,
               requester: RequestingDoctor | None = None, bill_rqd: bool = False,
               actor: str = "station") -> Request:
        """A draft request for a télé-expertise session.

        ``photos``, ``clips`` and ``measurements`` are ids of the session's
        snapshots, clips and measurements; ``None`` attaches all of them, an
        empty list none. ``bill_rqd`` adds RQD to the report's billing and
        needs a ``requester``. Raises :class:`ValidationError` or
        :class:`SessionStateError` naming what is wrong; nothing is written then.
        """
        session = SessionRecords(self._store).get(session_id)
        if session.act is not Act.TELE_EXPERTISE:
            raise SessionStateError("expertise.not_tele_expertise", act=session.act.value)
        if session.state not in _CAN_CREATE:
            raise SessionStateError("expertise.session_state", state=session.state)
        text = question.strip()
        if not text:
            raise ValidationError("question", "identity.required")
        if len(text) > MAX_QUESTION_CHARS:
            raise ValidationError("question", "expertise.too_long", limit=MAX_QUESTION_CHARS)
        if bill_rqd and requester is None:
            raise ValidationError("requester_name", "expertise.rqd_needs_requester")
        available = self.session_items(session_id)
        material: list[tuple[str, int]] = []
        for kind, chosen in (("photo", photos), ("clip", clips), ("measurement", measurements)):
            ids = available[kind] if chosen is None else list(dict.fromkeys(chosen))
            for item in ids:
                if item not in available[kind]:
                    raise ValidationError(kind, "expertise.not_in_session", id=item)
                material.append((kind, item))
        now = self._clock()
        request_id = uuid.uuid4().hex
        values = (request_id, session_id, text, expert.name, expert.rpps, expert.specialty,
                  expert.email, requester.name if requester else None,
                  requester.rpps if requester else None, requester.email if requester else None,
                  int(bill_rqd), to_text(now), actor)
        with self._store.write() as conn:
            records.insert_request(conn, values, material, actor, now)
        return self.get(request_id)

    def send(self, request_id: str, base_url: str, *, ttl: timedelta | None = None,
             actor: str = "station") -> str:
        """Send the expert a fresh one-time link by e-mail; returns the link.

        Any earlier link still valid is revoked in the same transaction. The
        e-mail is queued in the outbox (the worker delivers it). Refused once
        the request is answered, or while the examination is not finished.
        """
        request = self.get(request_id)
        if request.answer is not None:
            raise SessionStateError("expertise.already_answered", id=request.id)
        session = SessionRecords(self._store).get(request.session_id)
        if session.state not in _CAN_SEND:
            raise SessionStateError("expertise.session_state", state=session.state)
        if not base_url.startswith(("https://", "http://")):
            raise ValidationError("base_url", "expertise.base_url", url=base_url)
        token = secrets.token_urlsafe(32)
        digest = token_digest(token)
        link = f"{base_url.rstrip('/')}/expertise/{token}"
        now = self._clock()
        expires = now + (ttl or self.link_ttl)
        message = self._link_message(request, link, expires, digest)
        recipient = Recipient.email(request.expert.email, request.expert.name,
                                    tr("expertise.mail.role_expert"))
        with self._store.write() as conn:
            for old in request.links:
                if old.state(now) is LinkState.VALID:
                    records.close_link(conn, old.id, "revoked_at", now, actor)
            (delivery_id,) = self.outbox.enqueue_in(conn, message, [recipient], actor=actor)
            link_id = records.insert_link(conn, request.id, digest, now, expires, actor,
                                          delivery_id)
            records.add_event(conn, request.id, link_id, now, "sent", actor,
                              {"expires": expires.isoformat(), "delivery": delivery_id,
                               "to": request.expert.email})
        return link

    def revoke(self, request_id: str, *, actor: str = "station") -> bool:
        """Revoke the request's valid link, if any; False when there was none."""
        request = self.get(request_id)
        now = self._clock()
        current = request.current_link
        if current is None or current.state(now) is not LinkState.VALID:
            return False
        with self._store.write() as conn:
            records.close_link(conn, current.id, "revoked_at", now, actor)
            records.add_event(conn, request.id, current.id, now, "revoked", actor, {})
        return True

    def _link_message(self, request: Request, link: str, expires: datetime,
                      digest: str) -> OutgoingMessage:
        station = self.reports.station_name
        subject = tr("expertise.mail.subject", station=station)
        body = tr("expertise.mail.body", expert=request.expert.name, station=station,
                  specialty=request.expert.specialty, link=link,
                  expires=fmt_datetime(expires))
        # No session id on purpose: this message is not the report of the session.
        return OutgoingMessage(subject=subject, body=body,
                               key=f"expertise:{request.id}:link:{digest[:32]}")

    # --- the expert's side -------------------------------------------------------------

    def check_link(self, token: str) -> Request:
        """The request a valid link opens; :class:`LinkError` says why not."""
        link = records.find_link(self._store.conn, token_digest(token))
        if link is None:
            raise LinkError(LinkState.UNKNOWN)
        state = link.state(self._clock())
        if state is not LinkState.VALID:
            raise LinkError(state)
        return self.get(link.request_id)

    def link_state(self, token: str) -> LinkState:
        """valid / used / expired / revoked / unknown, now."""
        link = records.find_link(self._store.conn, token_digest(token))
        return LinkState.UNKNOWN if link is None else link.state(self._clock())

    def open(self, token: str) -> Request:
        """The expert opens the link: recorded (every time), the request returned."""
        request = self.check_link(token)
        link = request.current_link
        assert link is not None  # a valid link is the current one
        with self._store.write() as conn:
            records.add_event(conn, request.id, link.id, self._clock(), "opened",
                              f"link:{link.id}", {})
        return self.get(request.id)

    def material(self, request: Request) -> Material:
        """What the expert sees: the resident, photos, clips and measurements attached."""
        return load_material(self._store, request)

    def photo(self, request: Request, photo_id: int) -> bytes:
        """One attached photo (full-resolution PNG as stored)."""
        return photo_bytes(self._store, request, photo_id)

    def clip(self, request: Request, clip_id: int) -> bytes:
        """One attached clip (WAV as stored)."""
        return clip_bytes(self._store, request, clip_id)

    def answer(self, token: str, name: str, rpps: str, conclusion: str,
               prescriptions: str = "") -> ReportVersion:
        """Record the expert's answer, then make it the validated, queued report.

        Raises :class:`ValidationError` (the link stays usable) or
        :class:`LinkError` (used, expired, revoked, unknown).
        """
        checked_rpps = check_rpps(rpps)
        expert_name = name.strip()
        if not expert_name:
            raise ValidationError("doctor_name", "identity.required")
        text, orders = conclusion.strip(), prescriptions.strip()
        if not text:
            raise ValidationError("conclusion", "identity.required")
        if len(text) > MAX_CONCLUSION_CHARS:
            raise ValidationError("conclusion", "expertise.too_long", limit=MAX_CONCLUSION_CHARS)
        if len(orders) > MAX_PRESCRIPTIONS_CHARS:
            raise ValidationError("prescriptions", "expertise.too_long",
                                  limit=MAX_PRESCRIPTIONS_CHARS)
        now = self._clock()
        with self._store.write() as conn:
            # Re-read inside the write transaction: two answers racing on the
            # same link cannot both be recorded.
            link = records.find_link(conn, token_digest(token))
            if link is None:
                raise LinkError(LinkState.UNKNOWN)
            if link.state(now) is not LinkState.VALID:
                raise LinkError(link.state(now))
            request = records.load_request(conn, link.request_id, now)
            if checked_rpps != request.expert.rpps:
                raise ValidationError("rpps", "expertise.not_the_expert",
                                      expert=request.expert.name)
            answer = Answer(link.id, now, expert_name, checked_rpps, request.expert.specialty,
                            text, orders, request.billing)
            records.insert_answer(conn, request.id, answer)
            records.close_link(conn, link.id, "used_at", now, f"rpps:{checked_rpps}")
            records.add_event(conn, request.id, link.id, now, "answered",
                              f"rpps:{checked_rpps}", {"billing": list(request.billing)})
        version = self.complete(request.id)
        assert version is not None  # answered just above
        return version

    # --- from the answer to the report -------------------------------------------------

    def complete(self, request_id: str) -> ReportVersion | None:
        """Validate the answered request's report and queue it (idempotent); None before
        an answer. Safe to call again after a crash at any point."""
        request = self.get(request_id)
        answer = request.answer
        if answer is None:
            return None
        if request.report_id is not None:
            return self.reports.get(request.report_id)
        version = self.reports.latest(request.session_id)
        if version is None:
            version = self.reports.validate(
                request.session_id, request.expert.doctor, answer.conclusion,
                answer.prescriptions, list(answer.billing), actor=f"rpps:{answer.expert_rpps}")
        deliveries = self._queue_report(request, version)
        with self._store.write() as conn:
            records.add_event(conn, request.id, answer.link_id, self._clock(), "reported",
                              "station", {"report": version.id, "version": version.version,
                                          "deliveries": list(deliveries)})
        return version

    def resume(self) -> list[str]:
        """Finish every answered request whose report a crash left unstored or unqueued;
        returns their ids."""
        unfinished = [r.id for r in self.requests() if r.state is RequestState.ANSWERED]
        for request_id in unfinished:
            self.complete(request_id)
        return unfinished

    def report_recipients(self, request: Request) -> list[Recipient]:
        """Who receives the report: the configured recipients (médecin traitant, EHPAD
        team...), the requesting doctor, the expert, the record system."""
        people = list(self.recipients)
        requester = request.requester
        if requester is not None and requester.email:
            people.append(Recipient.email(requester.email, requester.name,
                                          tr("expertise.mail.role_requester")))
        return report_recipients(self.outbox_config, people, request.expert.email)

    def _queue_report(self, request: Request, version: ReportVersion) -> list[DeliveryId]:
        recipients = self.report_recipients(request)
        if not recipients:
            return []
        message = report_message(version, Act.TELE_EXPERTISE.value,
                                 fmt_datetime(version.validated_at))
        return self.outbox.enqueue(message, recipients, actor="station")
