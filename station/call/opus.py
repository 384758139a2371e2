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

from typing import Any

from aiortc import RTCRtpSender
from aiortc.codecs.opus import SAMPLE_RATE, SAMPLES_PER_FRAME, TIME_BASE, OpusEncoder
from av import AudioResampler, CodecContext

STETHOSCOPE_APPLICATION = "audio"
STETHOSCOPE_BITRATE = 96_000
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
                 bit_rate: int = STETHOSCOPE_BITRATE) -> None:
        self.application = application
        self.codec: Any = CodecContext.create("libopus", "w")
        self.codec.bit_rate = bit_rate
        self.codec.format = "s16"
        # Stereo because the SDP says opus/48000/2; the mono signal is duplicated.
        self.codec.layout = "stereo"
        self.codec.options = {"application": application}
        self.codec.sample_rate = SAMPLE_RATE
        self.codec.time_base = TIME_BASE
        self.resampler = AudioResampler(format="s16", layout="stereo", rate=SAMPLE_RATE,
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
