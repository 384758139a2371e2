"""Télé-expertise (store and forward): the nurse asks, the expert answers later.

Qt-free. :class:`Expertise` creates a request for a télé-expertise session
(question, requested expert, photos, stethoscope clips, measurements), sends
the expert a one-time link by e-mail through the outbox, lists the requests
waiting for an answer, and turns the expert's answer into the session's
validated report, queued to its recipients like any report. The expert's page
is served by :mod:`station.signaling.expertise_routes`.
"""

from station.expertise.material import Material, MeasuredValue, Patient, Photo
from station.expertise.model import (
    DEFAULT_LINK_TTL,
    Answer,
    Expert,
    ExpertLink,
    LinkError,
    LinkState,
    Request,
    RequestEvent,
    RequestingDoctor,
    RequestState,
    age_text,
)
from station.expertise.service import Expertise, Waiting, token_digest

__all__ = [
    "DEFAULT_LINK_TTL", "Answer", "Expert", "ExpertLink", "Expertise", "LinkError", "LinkState",
    "Material", "MeasuredValue", "Patient", "Photo", "Request", "RequestEvent",
    "RequestState", "RequestingDoctor", "Waiting", "age_text", "token_digest",
]
