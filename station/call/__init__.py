"""The station's side of a teleconsultation call (docs/call-protocol.md).

* :mod:`~station.call.tracks`: cameras and stethoscope as aiortc tracks, one relay.
* :mod:`~station.call.opus`: the stethoscope's Opus encoder, forced to the audio application.
* :mod:`~station.call.peer`: :class:`StationCall`, the peer connection, its data
  channels and its observable state; it speaks SDP strings, not sockets.
* :mod:`~station.call.signaling`: :class:`SignalingClient`, the WebSocket to the server.
* :mod:`~station.call.loopback`: opt-in loopback ICE candidates for tests and the demo.
"""

from station.call.events import (
    AudioOnlyChanged,
    CallEvent,
    CallListener,
    CallState,
    ControlReceived,
    RemoteTrack,
    ReportDraftReceived,
    ReportValidationRequested,
    StateChanged,
)
from station.call.link import LinkPolicy
from station.call.loopback import allow_loopback_candidates
from station.call.opus import StethoscopeOpusEncoder
from station.call.peer import STREAMS, CallError, StationCall
from station.call.signaling import SignalingClient
from station.call.tracks import BlockAudioTrack, CameraTrack, StethoscopeTrack, TrackHub

__all__ = [
    "STREAMS",
    "AudioOnlyChanged",
    "BlockAudioTrack",
    "CallError",
    "CallEvent",
    "CallListener",
    "CallState",
    "CameraTrack",
    "ControlReceived",
    "LinkPolicy",
    "RemoteTrack",
    "ReportDraftReceived",
    "ReportValidationRequested",
    "SignalingClient",
    "StateChanged",
    "StationCall",
    "StethoscopeOpusEncoder",
    "StethoscopeTrack",
    "TrackHub",
    "allow_loopback_candidates",
]
