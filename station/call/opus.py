"""The stethoscope's Opus encoder: libopus forced into the *audio* application.

libopus in ``OPUS_APPLICATION_VOIP`` mode high-passes the input at 60-100 Hz,
which removes most of the energy of heart sounds; ``OPUS_APPLICATION_AUDIO``
only blocks DC (~3 Hz). aiortc 1.16 creates its encoder in
``aiortc/codecs/opus.py`` (``OpusEncoder.__init__``) with
``codec.options = {"application": "voip"}`` and every sender gets one from
``aiortc.codecs.get_encoder`` the first time it encodes
(``RTCRtpSender._next_encoded_frame``). So the stethoscope's sender is
given its own encoder, built here with every setting explicit, before the
sender starts; nothing aiortc's default encoder does can leak into it.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from aiortc import MediaStreamTrack, RTCRtpSender
from aiortc.codecs.opus import SAMPLE_RATE, SAMPLES_PER_FRAME, TIME_BASE, OpusEncoder
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, AudioResampler, CodecContext, Packet

STETHOSCOPE_APPLICATION = "audio"
# Mono at 64 kbps, chosen by measurement (docs/stethoscope-fidelity.md): the
# stereo encoding aiortc uses upmixes the mono stethoscope at -3 dB (libswresample's
# centre level) and spends bits on a second copy; mono keeps unity gain, and 64 kbps
# is where mono stops improving (100 Hz: SNR 63.7 dB, THD 0.12 %; 32 kbps: THD 0.49 %).
STETHOSCOPE_BITRATE = 64_000
STETHOSCOPE_LAYOUT = "mono"
# Seconds after its capture past which a stethoscope frame is not sent at all (see
# InlineOpusTrack and station.call.tracks.BlockAudioTrack): the doctor's jitter buffer sets
# its delay to about the largest lateness it sees, so this bounds the latency it adds.
STETHOSCOPE_MAX_AGE = 0.06
# RTCRtpSender keeps its encoder in a name-mangled private attribute.
_SENDER_ENCODER = "_RTCRtpSender__encoder"


class EncoderInstallError(RuntimeError):
    """aiortc changed in a way that prevents giving a sender its own encoder."""


class StethoscopeOpusEncoder(OpusEncoder):
    """aiortc's Opus encoder with every libopus setting chosen here, application ``audio``.

    Deliberately does not call ``OpusEncoder.__init__``: a future default
    there (application, bitrate, filters) must not reach the stethoscope.
    ``encode``/``pack`` are aiortc's, so packets and timestamps stay what
    the sender expects.
    """

    def __init__(self, application: str = STETHOSCOPE_APPLICATION,
                 bit_rate: int = STETHOSCOPE_BITRATE,
                 layout: str = STETHOSCOPE_LAYOUT) -> None:
        self.application = application
        self.codec: Any = CodecContext.create("libopus", "w")
        self.codec.bit_rate = bit_rate
        self.codec.format = "s16"
        # The SDP says opus/48000/2, but every Opus packet says itself whether it is
        # mono or stereo and decoders (the browser's, aiortc's) play mono packets on
        # both channels at unity gain. "stereo" duplicates the signal at -3 dB.
        self.codec.layout = layout
        self.codec.options = {"application": application}
        self.codec.sample_rate = SAMPLE_RATE
        self.codec.time_base = TIME_BASE
        self.resampler = AudioResampler(format="s16", layout=layout, rate=SAMPLE_RATE,
                                        frame_size=SAMPLES_PER_FRAME)
        self.first_packet_pts: int | None = None


def install_encoder(sender: RTCRtpSender, encoder: OpusEncoder) -> None:
    """Make ``sender`` encode with ``encoder`` instead of the one aiortc would create.

    Call before the connection starts sending. Raises
    :class:`EncoderInstallError` if aiortc's sender no longer has the
    attribute this relies on (so an upgrade fails loudly, not silently).
    """
    if not hasattr(sender, _SENDER_ENCODER):
        raise EncoderInstallError("aiortc's RTCRtpSender has no per-sender encoder slot any more; "
                                  "the stethoscope's Opus mode cannot be forced")
    setattr(sender, _SENDER_ENCODER, encoder)


def sender_encoder(sender: RTCRtpSender) -> object | None:
    """The encoder ``sender`` uses (or will use), for checks and tests."""
    return getattr(sender, _SENDER_ENCODER, None)


class InlineOpusTrack(MediaStreamTrack):
    """Frames of ``track`` encoded with ``encoder`` on the event loop, handed out as packets.

    aiortc's sender encodes each audio frame in the loop's default thread
    pool (``run_in_executor``), the pool that also converts and encodes the
    video. On the 2-core machine that hop, there and back, took 4 ms median
    but 137 ms at the 95th percentile (docs/stethoscope-fidelity.md): late
    packets, which the browser's jitter buffer answers by delaying the sound.
    A 20 ms Opus frame takes 0.2-0.3 ms to encode, less than the hop, so it
    is encoded here, as soon as it comes; the sender only packs packets
    (``OpusEncoder.pack``), with no thread. ``encoder`` is also the one
    installed in the sender, so a new bitrate set on it (``encoder.codec``
    replaced, see :func:`station.call.adapt.set_opus_bitrate`) applies at
    once. The RTP timestamp is the frame's ``pts``: a gap in the frames (a
    stale burst dropped by the track) stays a gap for the receiver.

    This is also the last moment before the wire, so a frame that carries its
    capture time (``frame.opaque``, set by
    :class:`~station.call.tracks.BlockAudioTrack`) and is already older than
    ``max_age`` is dropped here, for the reason the track drops stale blocks:
    the relay and the sender between the two wait for the event loop too,
    and measured on the 2-core machine that wait alone reached 90 ms at the
    95th percentile.
    """

    kind = "audio"

    def __init__(self, track: MediaStreamTrack, encoder: OpusEncoder,
                 max_age: float = STETHOSCOPE_MAX_AGE) -> None:
        super().__init__()
        self._track = track
        self._encoder = encoder
        self.max_age = max_age
        self.dropped = 0
        self._first_pts: int | None = None
        self._pending: deque[Packet[Any]] = deque()

    async def recv(self) -> Packet[Any]:  # aiortc's sender takes packets as well as frames
        """The next Opus packet (20 ms), its ``pts`` on the 48 kHz clock from 0."""
        while not self._pending:
            if self.readyState != "live":
                raise MediaStreamError
            frame = await self._track.recv()
            if not isinstance(frame, AudioFrame):
                raise MediaStreamError
            captured = frame.opaque
            if isinstance(captured, float) and time.monotonic() - captured > self.max_age:
                self.dropped += 1  # stale: a gap the receiver conceals, not a delay it keeps
                continue
            if self._first_pts is None:
                self._first_pts = frame.pts or 0
            for payload in self._encode(frame):
                packet = Packet(payload)
                packet.pts = (frame.pts or 0) - self._first_pts
                packet.time_base = TIME_BASE
                self._pending.append(packet)
        return self._pending.popleft()

    def _encode(self, frame: AudioFrame) -> list[bytes]:
        codec = self._encoder.codec
        if frame.format.name == "s16" and frame.layout.name == codec.layout.name \
                and frame.sample_rate == SAMPLE_RATE and frame.samples == SAMPLES_PER_FRAME:
            frames = [frame]  # the stethoscope's own format: nothing to convert
        else:
            frames = self._encoder.resampler.resample(frame)
        return [bytes(packet) for f in frames for packet in codec.encode(f)]

    def stop(self) -> None:
        """Stop this track and the one it encodes (a relay proxy: the source goes on)."""
        super().stop()
        self._track.stop()
