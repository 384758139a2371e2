"""Contec CMS50D+ classic 5-byte frames: parser, encoder, framer.

protocols.md has no captured bytes for this format; the frames below are
built by hand from its bit layout (atbrask/CMS50Dplus) and say so.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from devices.codecs.cms50d import (
    Framer,
    LiveFrame,
    decode_frame,
    encode_frame,
    pleth_chunk,
    to_measurements,
)
from devices.errors import DecodeError
from devices.measurement import Kind, Measurement, Quality

NOW = datetime(2025, 1, 1, tzinfo=UTC)
# Constructed: signal 5, beep; pleth 64; bar graph 3, pulse-rate bit 7; PR low 0x16; SpO2 97.
PULSE_150 = bytes.fromhex("C540431661")
PULSE_150_DECODED = LiveFrame(signal_strength=5, finger_out=False, spo2_dropping=False,
                              beep=True, pleth=64, bar_graph=3, probe_error=False,
                              searching=False, pulse_rate=150, spo2=97)
# Constructed: finger out, probe error, searching, pulse 255 and SpO2 127 ("no reading").
FINGER_OUT = bytes.fromhex("9000707F7F")


def test_frame_with_pulse_rate_bit_7() -> None:
    assert decode_frame(PULSE_150) == PULSE_150_DECODED
    assert encode_frame(PULSE_150_DECODED) == PULSE_150


def test_measurements() -> None:
    assert to_measurements(PULSE_150_DECODED, "cms", NOW) == [
        Measurement(Kind.SPO2, 97.0, "%", NOW, "cms", frozenset(), 0),
        Measurement(Kind.PULSE_RATE, 150.0, "/min", NOW, "cms", frozenset(), 0),
        Measurement(Kind.PLETH, 64.0, "1", NOW, "cms", frozenset(), 0),
    ]


def test_finger_out_frame_keeps_missing_values_as_nan() -> None:
    decoded = decode_frame(FINGER_OUT)
    assert decoded == LiveFrame(0, True, False, False, 0, 0, True, True, 255, 127)
    assert encode_frame(decoded) == FINGER_OUT
    spo2, pulse, pleth = to_measurements(decoded, "cms", NOW)
    flags = {Quality.FINGER_OUT, Quality.SEARCHING}
    assert math.isnan(spo2.value) and spo2.quality == flags | {Quality.NOT_A_NUMBER}
    assert math.isnan(pulse.value) and pulse.quality == flags | {Quality.NOT_A_NUMBER}
    assert pleth.value == 0 and pleth.quality == flags


def test_searching_zero_values_are_flagged_implausible() -> None:
    spo2, pulse, _ = to_measurements(decode_frame(bytes.fromhex("8000200000")), "cms", NOW)
    assert spo2.value == 0 and spo2.quality == {Quality.SEARCHING, Quality.IMPLAUSIBLE}
    assert pulse.value == 0 and pulse.quality == {Quality.SEARCHING, Quality.IMPLAUSIBLE}


@pytest.mark.parametrize(("hex_bytes", "message"), [
    ("C5404316", "cms50d: byte 0: truncated: frame needs 5 bytes, 4 left"),
    ("C540431661 00", "cms50d: byte 5: 1 unexpected trailing byte"),
    ("4540431661", "cms50d: byte 0: byte 0x45 lacks the sync bit 7"),
    ("C540C31661", "cms50d: byte 2: byte 0xc3 has bit 7 set inside a frame"),
])
def test_malformed(hex_bytes: str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_frame(bytes.fromhex(hex_bytes.replace(" ", "")))
    assert str(caught.value) == message


def test_encoder_checks_field_widths() -> None:
    with pytest.raises(ValueError, match="pleth 128 is outside 0-127"):
        encode_frame(LiveFrame(0, False, False, False, 128, 0, False, False, 0, 0))


def test_framer_byte_by_byte() -> None:
    framer = Framer()
    stream = PULSE_150 + FINGER_OUT
    frames = [frame for byte in stream for frame in framer.feed(bytes((byte,)))]
    assert frames == [PULSE_150, FINGER_OUT]
    assert (framer.discarded, framer.pending, framer.position) == (0, 0, 10)


def test_framer_resynchronises_and_counts() -> None:
    framer = Framer()
    # 2 stray bytes, a frame, a frame cut short after 3 bytes, a frame, 1 stray byte.
    frames = framer.feed(b"\x01\x02" + PULSE_150 + PULSE_150[:3] + FINGER_OUT)
    frames += framer.feed(b"\x7f" + PULSE_150[:2])
    assert frames == [PULSE_150, FINGER_OUT]
    assert framer.discarded == 2 + 3 + 1
    assert framer.pending == 2
    assert framer.first_problem == (0, "byte 0x01 outside a frame")
    assert framer.feed(PULSE_150[2:]) == [PULSE_150]


def test_framer_reports_a_frame_cut_short() -> None:
    framer = Framer()
    assert framer.feed(PULSE_150[:3] + PULSE_150) == [PULSE_150]
    assert framer.first_problem == (0, "frame cut short after 3 of 5 bytes")


def test_pleth_chunk() -> None:
    chunk = pleth_chunk([PULSE_150_DECODED, decode_frame(FINGER_OUT)], "cms", NOW)
    assert chunk.samples == (64.0, 0.0)
    assert chunk.sample_rate_hz == 60.0
    assert chunk.kind is Kind.PLETH
