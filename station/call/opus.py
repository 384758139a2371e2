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
# Mono at 64 kbps, chosen by measurement (docs/stethoscope-fidelity.md): the
# stereo encoding aiortc uses upmixes the mono stethoscope at -3 dB (libswresample's
# centre level) and spends bits on a second copy; mono keeps unity gain, and 64 kbps
# is where mono stops improving (100 Hz: SNR 63.7 dB, THD 0.12 %; 32 kbps: THD 0.49 %).
STETHOSCOPE_BITRATE = 64_000
STETHOSCOPE_LAYOUT = "mono"
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
