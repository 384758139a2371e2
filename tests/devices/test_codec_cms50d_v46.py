"""Contec CMS50D+ firmware 4.6 (vendor protocol V7.0) packages: parser, encoder, framer."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from devices.codecs.cms50d_v46 import (
    KEEPALIVE_COMMAND,
    START_LIVE_COMMAND,
    STOP_LIVE_COMMAND,
    Framer,
    LiveFrame,
    Package,
    StorageFrame,
    decode_frame,
    decode_package,
    encode_command,
    encode_frame,
    encode_package,
    to_measurements,
)
from devices.errors import DecodeError
from devices.measurement import Kind, Measurement, Quality

NOW = datetime(2025, 1, 1, tzinfo=UTC)
LIVE = bytes.fromhex("01E085D59ABDE3FFFF")  # protocols.md
LIVE_DECODED = LiveFrame(signal_strength=5, searching_too_long=False, low_spo2=False,
                         pulse_beep=False, finger_out=False, pleth=0x55, searching_pulse=False,
                         bar_graph=10, perfusion_index_invalid=True, pulse_rate=61, spo2=99,
                         perfusion_index=0xFFFF)
# Playback package from MarkMLl's cms50dplus notes: SpO2 98 and pulse 63, three times.
STORAGE = bytes.fromhex("0F80E2BFE2BFE2BF")


def test_live_fixture() -> None:
    assert decode_frame(LIVE) == LIVE_DECODED
    assert encode_frame(LIVE_DECODED) == LIVE
    assert LIVE_DECODED.perfusion_index_percent is None


def test_live_fixture_measurements() -> None:
    # The perfusion-index-invalid bit is set (and PI is 0xFFFF): no PI measurement.
    assert to_measurements(LIVE_DECODED, "cms", NOW) == [
        Measurement(Kind.SPO2, 99.0, "%", NOW, "cms", frozenset(), 0),
        Measurement(Kind.PULSE_RATE, 61.0, "/min", NOW, "cms", frozenset(), 0),
        Measurement(Kind.PLETH, 85.0, "1", NOW, "cms", frozenset(), 0),
    ]


def test_start_command_bytes() -> None:
    assert bytes.fromhex("7D81A1808080808080") == START_LIVE_COMMAND
    assert decode_frame(START_LIVE_COMMAND) == Package(0x7D, bytes.fromhex("A1000000000000"))
    assert bytes.fromhex("7D81A2808080808080") == STOP_LIVE_COMMAND
    assert bytes.fromhex("7D81AF808080808080") == KEEPALIVE_COMMAND
    assert encode_command(0xB1, bytes((13, 5, 9))) == bytes.fromhex("7D81B18D85898080 80"
                                                                    .replace(" ", ""))


def test_pulse_above_127_uses_the_high_bits_byte() -> None:
    frame = LiveFrame(signal_strength=8, searching_too_long=False, low_spo2=True,
                      pulse_beep=True, finger_out=False, pleth=0x40, searching_pulse=False,
                      bar_graph=4, perfusion_index_invalid=False, pulse_rate=130, spo2=93,
                      perfusion_index=150)
    raw = encode_frame(frame)
    assert raw == bytes.fromhex("01 A8 E8 C0 84 82 DD 96 80".replace(" ", ""))
    assert decode_frame(raw) == frame
    assert raw[5] & 0x7F == 2  # what "& 0x7F" alone would have read
    measured = to_measurements(frame, "cms", NOW)
    assert [(m.kind, m.value, m.decimals) for m in measured] == [
        (Kind.SPO2, 93.0, 0), (Kind.PULSE_RATE, 130.0, 0), (Kind.PLETH, 64.0, 0),
        (Kind.PERFUSION_INDEX, 1.5, 2)]


def test_finger_out_and_missing_values() -> None:
    frame = LiveFrame(0, True, False, False, True, 0x40, True, 0, True, 0xFF, 0x7F, 0xFFFF)
    assert decode_frame(encode_frame(frame)) == frame
    spo2, pulse, pleth = to_measurements(frame, "cms", NOW)
    flags = {Quality.FINGER_OUT, Quality.SEARCHING}
    assert math.isnan(spo2.value) and spo2.quality == flags | {Quality.NOT_A_NUMBER}
    assert math.isnan(pulse.value) and pulse.quality == flags | {Quality.NOT_A_NUMBER}
    assert pleth.quality == flags


def test_valid_flag_with_missing_perfusion_index_is_kept_as_nan() -> None:
    frame = LiveFrame(5, False, False, False, False, 10, False, 1, False, 70, 97, 0xFFFF)
    pi = to_measurements(frame, "cms", NOW)[-1]
    assert pi.kind is Kind.PERFUSION_INDEX and math.isnan(pi.value)
    assert pi.quality == {Quality.NOT_A_NUMBER}


def test_storage_fixture() -> None:
    decoded = decode_frame(STORAGE)
    assert decoded == StorageFrame((98, 98, 98), (63, 63, 63))
    assert encode_frame(decoded) == STORAGE
    assert to_measurements(decoded, "cms", NOW) == []


def test_generic_package_round_trip() -> None:
    package = Package(0x0B, bytes((0xA6, 0x05)))  # command feedback: not supported
    raw = encode_package(package)
    assert raw == bytes.fromhex("0B81A685")
    assert decode_frame(raw) == package


@pytest.mark.parametrize(("hex_bytes", "message"), [
    ("01", "cms50d-v46: byte 1: truncated: package needs at least 2 bytes, 1 left"),
    ("81E085D59ABDE3FFFF", "cms50d-v46: byte 0: type byte 0x81 has bit 7 set"),
    ("02E085D59ABDE3FFFF", "cms50d-v46: byte 0: unknown package type 0x02"),
    ("01E085D59ABDE3FF", "cms50d-v46: byte 8: truncated: package 0x01 needs 9 bytes, 8 given"),
    ("01E085D59ABDE3FFFF80", "cms50d-v46: byte 9: 1 unexpected trailing byte"),
    ("01E085559ABDE3FFFF", "cms50d-v46: byte 3: byte 0x55 lacks bit 7"),
    ("0FC0E2BFE2BFE2BF", "cms50d-v46: byte 1: high-bits byte 0xc0 sets bit 7 of missing data "
                         "bytes (package has 6)"),
])
def test_malformed(hex_bytes: str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_package(bytes.fromhex(hex_bytes))
    assert str(caught.value) == message


def test_encoder_refuses_wrong_sizes() -> None:
    with pytest.raises(ValueError, match="cannot carry 3 bytes"):
        encode_package(Package(0x01, b"\x00\x00\x00"))
    with pytest.raises(ValueError, match="at most 6 argument bytes"):
        encode_command(0xA1, bytes(7))


def test_framer_splits_mixed_packages() -> None:
    free = bytes.fromhex("0C80")  # "free feedback", 2 bytes
    framer = Framer()
    frames = [f for byte in LIVE + free + STORAGE + LIVE for f in framer.feed(bytes((byte,)))]
    assert frames == [LIVE, free, STORAGE, LIVE]
    assert framer.discarded == 0


def test_framer_resynchronises_and_counts() -> None:
    framer = Framer()
    # stray bit-7 byte, unknown type 0x02 with one byte, live cut short, live, 2 extra bytes
    stream = b"\x85" + b"\x02\x81" + LIVE[:4] + LIVE + b"\x80\x80" + LIVE[:3]
    assert framer.feed(stream) == [LIVE]
    assert framer.discarded == 1 + 2 + 4 + 2
    assert framer.pending == 3
    assert framer.first_problem == (0, "byte 0x85 outside a package")
    assert framer.feed(LIVE[3:]) == [LIVE]


def test_framer_drops_a_package_with_bad_high_bits() -> None:
    framer = Framer()
    assert framer.feed(bytes.fromhex("0FC0E2BFE2BFE2BF") + LIVE) == [LIVE]
    assert framer.first_problem == (0, "package 0x0f has a bad high-bits byte")
    assert framer.discarded == 8
