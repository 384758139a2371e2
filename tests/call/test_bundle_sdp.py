"""A bundled answer's ICE candidates reach aiortc (station/call/bundle_sdp.py).

Chromium lists a bundled answer's candidates in its first m-section only;
aiortc reads the last one. The answer below has Chromium's shape.
"""

from __future__ import annotations

import asyncio

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from station.call.bundle_sdp import candidates_in_every_section

HOST = "a=candidate:1 1 udp 2122194687 10.89.1.2 56278 typ host generation 0 network-id 2"
RELAY = ("a=candidate:2 1 udp 8265727 10.90.1.1 49212 typ relay raddr 10.89.1.2 rport 39646"
         " generation 0 network-id 2")


def _sections(sdp: str) -> list[str]:
    return sdp.split("\r\nm=")


def test_every_section_gets_the_candidates_once() -> None:
    sdp = "\r\n".join(["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "a=group:BUNDLE 0 1",
                       "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=mid:0", HOST, RELAY, HOST,
                       "a=end-of-candidates", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
                       "a=mid:1", ""])
    fixed = candidates_in_every_section(sdp)
    head, audio, application = _sections(fixed)
    assert head == "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\na=group:BUNDLE 0 1"
    for section in (audio, application):
        assert section.count(HOST) == 1 and section.count(RELAY) == 1
        assert section.endswith(RELAY + "\r\na=end-of-candidates") or section.endswith(
            RELAY + "\r\na=end-of-candidates\r\n")
    assert fixed.endswith("\r\n")
    assert candidates_in_every_section(fixed) == fixed  # idempotent


def test_an_answer_without_candidates_is_untouched() -> None:
    sdp = "v=0\nm=audio 9 RTP/AVP 0\na=mid:0\n"
    assert candidates_in_every_section(sdp) == sdp


def test_aiortc_knows_every_remote_candidate_of_a_bundled_answer() -> None:
    """The real aiortc offering max-bundle audio and data, Chromium's answer shape."""

    async def remote_candidates() -> tuple[int, int]:
        offerer, answerer = RTCPeerConnection(), RTCPeerConnection()
        try:
            offerer.addTransceiver("audio")
            offerer.createDataChannel("vitals")
            await offerer.setLocalDescription(await offerer.createOffer())
            await answerer.setRemoteDescription(offerer.localDescription)
            await answerer.setLocalDescription(await answerer.createAnswer())
            # Chromium's shape: candidates in the first m-section only, ours instead of
            # the answerer's (so the count is known).
            lines = [line for line in answerer.localDescription.sdp.split("\r\n")
                     if not line.startswith(("a=candidate:", "a=end-of-candidates"))]
            first = next(i for i, line in enumerate(lines) if line.startswith("a=mid:"))
            lines[first + 1:first + 1] = [HOST, RELAY]
            answer = "\r\n".join(lines)
            counts = []
            for sdp in (answer, candidates_in_every_section(answer)):
                # max-bundle, as the station offers (station/call/peer.py)
                probe = RTCPeerConnection(RTCConfiguration(
                    bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
                probe.addTransceiver("audio")
                probe.createDataChannel("vitals")
                await probe.setLocalDescription(await probe.createOffer())
                await probe.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
                transport = probe.getTransceivers()[0].receiver.transport.transport
                counts.append(len(transport.getRemoteCandidates()))
                await probe.close()
            return counts[0], counts[1]
        finally:
            await offerer.close()
            await answerer.close()

    before, after = asyncio.run(remote_candidates())
    assert before == 0  # what aiortc 1.16 makes of it alone: the bug this module fixes
    assert after == 2
