"""What a :class:`~station.call.peer.StationCall` announces to its subscribers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aiortc import MediaStreamTrack


class CallState(StrEnum):
    """Where the call stands (the contract's ``call-state`` values, plus ``new``)."""

    NEW = "new"
    RINGING = "ringing"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class StateChanged:
    """The call moved to ``state``; ``reason`` says why, for the log and the nurse."""

    state: CallState
    audio_only: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ReportDraftReceived:
    """The doctor sent a revision of the report (the ``report-draft`` JSON, as received)."""

    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReportValidationRequested:
    """The doctor validated the report (the ``report-validate`` JSON, as received)."""

    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ControlReceived:
    """The doctor sent a control message (``audio-only``, ``switch-exam``, ``end``)."""

    message: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RemoteTrack:
    """The doctor's media arrived (the ``voice`` microphone track)."""

    track: MediaStreamTrack


@dataclass(frozen=True, slots=True)
class AudioOnlyChanged:
    """Video stopped (``on``) or came back; ``cause`` is ``doctor``, ``nurse`` or ``link``."""

    on: bool
    cause: str


CallEvent = (StateChanged | ReportDraftReceived | ReportValidationRequested | ControlReceived
             | RemoteTrack | AudioOnlyChanged)
CallListener = Callable[[CallEvent], None]
