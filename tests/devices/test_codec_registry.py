"""The DECODERS registry behind ``station devices decode PROTOCOL HEX...``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from devices.codecs import DECODERS, cms50d, cms50d_v46, nonin, parse_hex
from devices.codecs.cms50d_v46 import START_LIVE_COMMAND
from devices.codecs.nonin import encode_packet, make_packet
from devices.errors import DecodeError
from devices.measurement import Kind, Quality

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
HTS = "06 B0 0E 00 FE DC 07 0C 05 0B 32 1B 04"
CMS50D_FRAME = bytes.fromhex("C540431661")
V46_LIVE = bytes.fromhex("01E085D59ABDE3FFFF")


def test_names() -> None:
    assert list(DECODERS) == ["ble-plx-spot", "ble-plx-continuous", "ble-hts", "ble-bps",
                              "ble-wss", "cms50d", "cms50d-v46", "nonin-2"]
    assert {d.transport for d in DECODERS.values()} == {"ble", "serial"}
    assert all(d.description for d in DECODERS.values())


@pytest.mark.parametrize(("name", "hex_chunks", "expected"), [
    ("ble-plx-spot", ["0F AC F3 BE F5 E8 07 0B 1D 17 08 39 20 40 22 00 00 66 E3"],
     [(Kind.SPO2, 94.0), (Kind.PULSE_RATE, 147.0), (Kind.PERFUSION_INDEX, 8.7)]),
    ("ble-plx-continuous", ["00 E8 F3 84 F3", "1C 5F 00 5A 00 20 00 00 00 00 57 F0"],
     [(Kind.SPO2, 100.0), (Kind.PULSE_RATE, 90.0), (Kind.SPO2, 95.0), (Kind.PULSE_RATE, 90.0),
      (Kind.PERFUSION_INDEX, 8.7)]),
    ("ble-hts", [HTS], [(Kind.BODY_TEMPERATURE, 37.6)]),
    ("ble-bps", ["1E 8A 00 58 00 78 00 00 00 04 11 14 29 3B 3C 00 01 27 00",
                 "15 BD F0 0B 00 9F F0 3C 00 12 00"],
     [(Kind.SYSTOLIC, 138.0), (Kind.DIASTOLIC, 88.0), (Kind.MEAN_ARTERIAL_PRESSURE, 120.0),
      (Kind.PULSE_RATE, 60.0), (Kind.SYSTOLIC, 18.9), (Kind.DIASTOLIC, 11.0),
      (Kind.MEAN_ARTERIAL_PRESSURE, 15.9), (Kind.PULSE_RATE, 60.0)]),
    ("ble-wss", ["00 B0 36", "01 54 3D", "0C B0 36 05 F5 00 D6 06"],
     [(Kind.BODY_WEIGHT, 70.0), (Kind.BODY_WEIGHT, 157.0), (Kind.BODY_WEIGHT, 70.0),
      (Kind.BMI, 24.5), (Kind.HEIGHT, 1.75)]),
    ("cms50d-v46", ["01 E0 85 D5 9A", "BD E3 FF FF"],
     [(Kind.SPO2, 99.0), (Kind.PULSE_RATE, 61.0), (Kind.PLETH, 85.0)]),
    ("cms50d", ["C5 40 43 16 61"], [(Kind.SPO2, 97.0), (Kind.PULSE_RATE, 150.0),
                                    (Kind.PLETH, 64.0)]),
])
def test_fixtures_through_the_registry(name: str, hex_chunks: list[str],
                                       expected: list[tuple[Kind, float]]) -> None:
    measured = DECODERS[name]([parse_hex(h) for h in hex_chunks], "dev", NOW)
    assert [(m.kind, m.value) for m in measured] == expected
    assert all(m.device == "dev" for m in measured)


def test_nonin_stream_gives_pleth_per_frame_and_values_per_packet() -> None:
    raw = encode_packet(make_packet(72, 97, list(range(25))))
    measured = DECODERS["nonin-2"]([b"\x00\x01", raw[:33], raw[33:] + raw[:20]], "n", NOW)
    kinds = [m.kind for m in measured]
    assert kinds.count(Kind.PLETH) == 29
    assert [(m.kind, m.value) for m in measured if m.kind is not Kind.PLETH] == [
        (Kind.PULSE_RATE, 72.0), (Kind.SPO2, 97.0)]
    assert kinds.index(Kind.PULSE_RATE) == 25  # after the 25th frame's pleth


def test_serial_garbage_is_skipped_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="devices.codecs"):
        measured = DECODERS["cms50d"]([b"\x01\x02" + CMS50D_FRAME + CMS50D_FRAME[:2]], "c", NOW)
    assert len(measured) == 3
    assert "cms50d: skipped 2 garbage bytes, 2 left in an incomplete frame" in caplog.text


def test_v46_stream_with_only_a_command_echo_gives_nothing() -> None:
    assert DECODERS["cms50d-v46"]([START_LIVE_COMMAND], "c", NOW) == []


@pytest.mark.parametrize(("name", "chunks", "message"), [
    ("cms50d", [b"\x01\x02", b"\x03"], "cms50d: byte 0: no valid frame in 3 bytes: "
                                       "byte 0x01 outside a frame"),
    ("cms50d", [CMS50D_FRAME[:3]], "cms50d: byte 0: no valid frame in 3 bytes: "
                                   "stream ends inside a frame"),
    ("cms50d", [], "cms50d: byte 0: no valid frame in 0 bytes: no data"),
    ("cms50d-v46", [b"\x85\x85", V46_LIVE[:5] + V46_LIVE[:2]],
     "cms50d-v46: byte 0: no valid frame in 9 bytes: byte 0x85 outside a package"),
    ("cms50d-v46", [V46_LIVE[:5] + V46_LIVE[:4]],
     "cms50d-v46: byte 0: no valid frame in 9 bytes: package 0x01 cut short after 5 of 9 bytes"),
    ("nonin-2", [b"\x01\x81\x01\x00\x84"],
     "nonin-2: byte 0: no valid frame in 5 bytes: bad checksum 0x84 in the frame at byte 0"),
    ("nonin-2", [b"\xff" * 7 + b"\x01\x81\x01"],
     "nonin-2: byte 0: no valid frame in 10 bytes: byte 0xff outside a frame"),
])
def test_serial_streams_without_any_frame(name: str, chunks: list[bytes], message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        DECODERS[name](chunks, "dev", NOW)
    assert str(caught.value) == message


def test_serial_error_offsets_are_stream_offsets() -> None:
    framers = (cms50d.Framer(), cms50d_v46.Framer(), nonin.Framer())
    valid = (CMS50D_FRAME, V46_LIVE, encode_packet(make_packet(72, 97, [0] * 25))[:5])
    for framer, frame in zip(framers, valid, strict=True):
        assert framer.feed(frame[:2]) == []
        assert framer.feed(frame[2:] + b"\x00\x00") == [frame]
        assert framer.feed(b"\x00") == []
        assert framer.first_problem is not None
        assert framer.first_problem[0] == len(frame)  # counted from the start of the stream
    with pytest.raises(DecodeError) as caught:
        DECODERS["cms50d-v46"]([V46_LIVE[:3], V46_LIVE[:3]], "c", NOW)
    assert str(caught.value) == ("cms50d-v46: byte 0: no valid frame in 6 bytes: "
                                 "package 0x01 cut short after 3 of 9 bytes")


def test_ble_errors_name_the_byte_and_the_notification() -> None:
    with pytest.raises(DecodeError) as caught:
        DECODERS["ble-hts"]([parse_hex(HTS)[:-1]], "t", NOW)
    assert str(caught.value) == "ble-hts: byte 12: truncated: temperature type needs 1 byte, 0 left"
    with pytest.raises(DecodeError) as caught:
        DECODERS["ble-hts"]([parse_hex(HTS), parse_hex(HTS)[:-1]], "t", NOW)
    assert str(caught.value) == ("ble-hts: byte 12: notification 2 of 2: truncated: temperature "
                                 "type needs 1 byte, 0 left")


def test_registry_applies_plausibility() -> None:
    [spo2, _] = DECODERS["ble-plx-continuous"]([parse_hex("00 7F 00 48 00")], "o", NOW)
    assert spo2.value == 127 and Quality.IMPLAUSIBLE in spo2.quality


def test_ble_with_no_chunk_gives_nothing() -> None:
    assert DECODERS["ble-hts"]([], "t", NOW) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("0F AC F3", b"\x0f\xac\xf3"), ("0facf3", b"\x0f\xac\xf3"), ("0f:ac:f3", b"\x0f\xac\xf3"),
    ("0x0F, 0xAC", b"\x0f\xac"), ("", b""),
])
def test_parse_hex(text: str, expected: bytes) -> None:
    assert parse_hex(text) == expected


def test_parse_hex_refuses_non_hex() -> None:
    with pytest.raises(ValueError):
        parse_hex("0G")
