"""aiortc's SCTP timers, set for a live call on a poor link.

The data channels (vitals, report, snapshots, control) share one SCTP
association. aiortc keeps RFC 4960's conservative minimum retransmission
timeout, one second: on the poor profile (300 ms round trip, 5 % loss each
way) every lost vitals message, or lost acknowledgement, then waits at least
a second before it is sent again, behind which everything ordered waits
too. The issue asks for vitals within 1 s there. RFC 9260 leaves RTO.Min to
the implementation; WebRTC's own stack (dcsctp) uses a far shorter one. We
take 400 ms: above a round trip plus the peer's 200 ms delayed
acknowledgement on every link we serve (a shorter minimum would retransmit
what is merely acknowledged late, and each spurious timeout collapses the
congestion window to one packet).

aiortc reads these module constants at each use, so setting them once, when
the call module is imported, applies to every association.
"""

from __future__ import annotations

from aiortc import rtcsctptransport

RTO_MIN_S = 0.4


def tune_sctp() -> None:
    """Apply the station's SCTP timer settings to aiortc (idempotent)."""
    rtcsctptransport.SCTP_RTO_MIN = RTO_MIN_S  # type: ignore[assignment]
