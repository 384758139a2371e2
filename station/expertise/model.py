"""What a télé-expertise request is made of: the expert, the links, the answer, the state."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from station.errors import StationError, ValidationError
from station.i18n import tr
from station.people import Doctor, check_rpps

_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
# The expert's link stays valid a week by default: an expert answers within
# days (the HAS guide's usual delay for télé-expertise), and a fresh link can
# be sent at any time.
DEFAULT_LINK_TTL = timedelta(days=7)
MAX_QUESTION_CHARS = 4000
MAX_CONCLUSION_CHARS = 8000
MAX_PRESCRIPTIONS_CHARS = 4000


def check_email(raw: str, field: str) -> str:
    """A plausible e-mail address (secure messaging address), lower-cased."""
    address = raw.strip().lower()
    if not _EMAIL.match(address):
        raise ValidationError(field, "expertise.email_invalid", address=raw.strip())
    return address


def _required(value: str, field: str) -> str:
    text = value.strip()
    if not text:
        raise ValidationError(field, "identity.required")
    if "\n" in text or "\r" in text:
        raise ValidationError(field, "expertise.one_line")
    return text


@dataclass(frozen=True, slots=True)
class Expert:
    """The requested expert: who answers and validates the report (bills TE2)."""

    name: str
    rpps: str
    specialty: str
    email: str

    @classmethod
    def checked(cls, name: str, rpps: str, specialty: str, email: str) -> Expert:
        """Build from what a person typed: trimmed, RPPS and address checked."""
        return cls(_required(name, "expert_name"), check_rpps(rpps),
                   _required(specialty, "specialty"), check_email(email, "expert_email"))

    @property
    def doctor(self) -> Doctor:
        """The expert as the report names the validating doctor."""
        return Doctor(self.name, self.rpps, self.specialty)


@dataclass(frozen=True, slots=True)
class RequestingDoctor:
    """The doctor who asks for the expertise (médecin requérant, bills RQD), if named."""

    name: str
    rpps: str
    email: str | None = None

    @classmethod
    def checked(cls, name: str, rpps: str, email: str | None = None) -> RequestingDoctor:
        """Build from what a person typed: trimmed, RPPS and address checked."""
        return cls(_required(name, "requester_name"), check_rpps(rpps),
                   check_email(email, "requester_email") if email else None)


class RequestState(StrEnum):
    """Where a request stands, read from its timeline, links and answer."""

    DRAFT = "draft"  # written, never sent
    SENT = "sent"  # the current link was e-mailed, not opened yet
    OPENED = "opened"  # the expert opened the current link
    EXPIRED = "expired"  # the current link expired unanswered (send a fresh one)
    REVOKED = "revoked"  # the current link was revoked and no new one sent
    ANSWERED = "answered"  # the expert answered; the report is not stored yet
    REPORTED = "reported"  # the answer is the validated report, queued to its recipients

    @property
    def label(self) -> str:
        """The state in the current language."""
        return tr(f"expertise.state.{self.value}")

    @property
    def waiting(self) -> bool:
        """True while the station waits for the expert's answer."""
        return self in (RequestState.SENT, RequestState.OPENED, RequestState.EXPIRED)


class LinkState(StrEnum):
    """What an expert link is worth now (same values as invitation links)."""

    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


class LinkError(StationError):
    """An expert link cannot be used: ``state`` says why."""

    def __init__(self, state: LinkState) -> None:
        self.state = state
        super().__init__(f"expertise.link_{state.value}")


@dataclass(frozen=True, slots=True)
class ExpertLink:
    """One link sent to the expert (never its token: only its digest is stored)."""

    id: int
    request_id: str
    created_at: datetime
    expires_at: datetime
    created_by: str
    delivery_id: str
    used_at: datetime | None
    revoked_at: datetime | None
    opened_at: datetime | None = None

    def state(self, now: datetime) -> LinkState:
        """Used beats revoked beats expired: the most final fact wins."""
        if self.used_at is not None:
            return LinkState.USED
        if self.revoked_at is not None:
            return LinkState.REVOKED
        if now >= self.expires_at:
            return LinkState.EXPIRED
        return LinkState.VALID


@dataclass(frozen=True, slots=True)
class Answer:
    """The expert's answer as received, before it becomes the report."""

    link_id: int
    answered_at: datetime
    expert_name: str
    expert_rpps: str
    expert_specialty: str
    conclusion: str
    prescriptions: str
    billing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RequestEvent:
    """One line of a request's timeline."""

    time: datetime
    type: str
    actor: str
    link_id: int | None
    data: dict[str, object]

    @property
    def label(self) -> str:
        """The event in the current language."""
        return tr(f"expertise.event.{self.type}")


@dataclass(frozen=True, slots=True)
class Request:
    """A télé-expertise request with everything known about it now."""

    id: str
    session_id: str
    question: str
    expert: Expert
    requester: RequestingDoctor | None
    bill_rqd: bool
    created_at: datetime
    created_by: str
    photos: tuple[int, ...]
    clips: tuple[int, ...]
    measurements: tuple[int, ...]
    state: RequestState
    links: tuple[ExpertLink, ...]
    events: tuple[RequestEvent, ...]
    answer: Answer | None
    report_id: str | None

    @property
    def sent_at(self) -> datetime | None:
        """When the request was first sent (the wait is counted from then)."""
        return self.links[0].created_at if self.links else None

    @property
    def current_link(self) -> ExpertLink | None:
        """The latest link, the only one that may still be valid."""
        return self.links[-1] if self.links else None

    def age(self, now: datetime) -> timedelta | None:
        """How long the request has waited since it was first sent."""
        return None if self.sent_at is None else max(timedelta(0), now - self.sent_at)

    @property
    def billing(self) -> tuple[str, ...]:
        """TE2 for the expert; RQD too when the requesting doctor asked to bill it."""
        return ("TE2", "RQD") if self.bill_rqd else ("TE2",)


def age_text(age: timedelta) -> str:
    """A wait as people say it: ``25 min``, ``2 h 10``, ``3 j 4 h``."""
    minutes = int(age.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return tr("expertise.age.days", days=days, hours=hours)
    if hours:
        return tr("expertise.age.hours", hours=hours, minutes=f"{minutes:02d}")
    return tr("expertise.age.minutes", minutes=minutes)
