"""Nonin serial data format #2: frames, packets, framer and packet assembler."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from devices.codecs.nonin import (
    Framer,
    NoninFrame,
    NoninPacket,
    PacketAssembler,
    Perfusion,
    decode_frame,
    decode_packet,
    encode_frame,
    encode_packet,
    make_packet,
    pleth_chunk,
    to_measurements,
)
from devices.errors import DecodeError
from devices.measurement import Kind, Measurement, Quality

NOW = datetime(2025, 1, 1, tzinfo=UTC)
# protocols.md (pez-globo/pufferfish-software): a SYNC frame and a frame with DATA 0x48.
SYNC_FRAME = bytes.fromhex("0181010083")
DATA_FRAME = bytes.fromhex("01800148CA")
PLETH = [100 + i for i in range(25)]


def frame(sync: bool = False, data: int = 0, **status: bool) -> NoninFrame:
    return NoninFrame(sync, status.get("sensor_disconnect", False),
                      status.get("artifact", False), status.get("out_of_track", False),
                      status.get("sensor_alarm", False), Perfusion.NONE, 1, data)


def test_fixture_frames() -> None:
    assert decode_frame(SYNC_FRAME) == NoninFrame(sync=True, sensor_disconnect=False,
                                                  artifact=False, out_of_track=False,
                                                  sensor_alarm=False, perfusion=Perfusion.NONE,
                                                  pleth=1, data=0)
    assert decode_frame(DATA_FRAME) == NoninFrame(sync=False, sensor_disconnect=False,
                                                  artifact=False, out_of_track=False,
                                                  sensor_alarm=False, perfusion=Perfusion.NONE,
                                                  pleth=1, data=0x48)
    assert encode_frame(decode_frame(SYNC_FRAME)) == SYNC_FRAME
    assert encode_frame(decode_frame(DATA_FRAME)) == DATA_FRAME


def test_status_bits() -> None:
    raw = bytes((1, 0xFE, 7, 9, (1 + 0xFE + 7 + 9) & 0xFF))
    assert decode_frame(raw) == NoninFrame(False, True, True, True, True, Perfusion.YELLOW, 7, 9)
    assert encode_frame(decode_frame(raw)) == raw
    assert decode_frame(bytes((1, 0x84, 0, 0, 0x85))).perfusion is Perfusion.RED
    assert decode_frame(bytes((1, 0x82, 0, 0, 0x83))).perfusion is Perfusion.GREEN


def test_packet_round_trip_and_values() -> None:
    packet = make_packet(72, 97, PLETH, firmware_revision=0x2A)
    raw = encode_packet(packet)
    assert len(raw) == 125
    assert raw[:5] == bytes((1, 0x83, 100, 0, (1 + 0x83 + 100) & 0xFF))
    assert decode_packet(raw) == packet
    assert (packet.heart_rate, packet.spo2, packet.firmware_revision) == (72, 97, 0x2A)
    assert (packet.spo2_display, packet.spo2_fast, packet.spo2_beat_to_beat,
            packet.extended_spo2) == (97, 97, 97, 97)
    assert (packet.extended_heart_rate, packet.heart_rate_display) == (72, 72)


def test_heart_rate_uses_nine_bits() -> None:
    packet = make_packet(300, 90, PLETH)
    assert (packet.frames[0].data, packet.frames[1].data) == (2, 44)
    assert packet.heart_rate == 300
    # Reserved bits of the MSB frame are ignored, as the format says they may be set.
    frames = list(packet.frames)
    frames[0] = NoninFrame(True, False, False, False, False, Perfusion.GREEN, 100, 0x7E)
    assert NoninPacket(tuple(frames)).heart_rate == 300


def test_packet_measurements() -> None:
    packet = make_packet(72, 97, PLETH)
    assert to_measurements(packet, "nonin", NOW) == [
        Measurement(Kind.PULSE_RATE, 72.0, "/min", NOW, "nonin", frozenset(), 0),
        Measurement(Kind.SPO2, 97.0, "%", NOW, "nonin", frozenset(), 0),
    ]
    assert to_measurements(packet.frames[3], "nonin", NOW) == [
        Measurement(Kind.PLETH, 103.0, "1", NOW, "nonin", frozenset(), 0)]


def test_missing_values_and_status_flags() -> None:
    packet = make_packet(511, 127, PLETH, perfusion=Perfusion.RED, artifact=True,
                         sensor_disconnect=True)
    pulse, spo2 = to_measurements(packet, "nonin", NOW)
    flags = {Quality.LOW_PERFUSION, Quality.ARTIFACT, Quality.SENSOR_FAULT}
    assert math.isnan(pulse.value) and pulse.quality == flags | {Quality.NOT_A_NUMBER}
    assert math.isnan(spo2.value) and spo2.quality == flags | {Quality.NOT_A_NUMBER}


def test_out_of_track_and_sensor_alarm() -> None:
    assert frame(out_of_track=True).quality == {Quality.SEARCHING}
    assert frame(sensor_alarm=True).quality == {Quality.SENSOR_FAULT}


@pytest.mark.parametrize(("hex_bytes", "message"), [
    ("01810100", "nonin-2: byte 0: truncated: frame needs 5 bytes, 4 left"),
    ("0181010084", "nonin-2: byte 4: checksum 0x84, expected 0x83"),
    ("0281010084", "nonin-2: byte 0: frame starts with 0x02, not 0x01"),
    ("0101010003", "nonin-2: byte 1: status byte 0x01 lacks bit 7"),
])
def test_malformed_frames(hex_bytes: str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_frame(bytes.fromhex(hex_bytes))
    assert str(caught.value) == message


def test_malformed_packets() -> None:
    raw = encode_packet(make_packet(72, 97, PLETH))
    cases = [
        (raw[:-1], "nonin-2: byte 0: truncated: packet needs 125 bytes, 124 left"),
        (raw[5:] + raw[:5], "nonin-2: byte 1: first frame of a packet lacks the SYNC bit"),
        (raw[:5] + raw[:5] + raw[10:], "nonin-2: byte 6: SYNC bit on frame 0 only"),
        (raw[:-1] + b"\x00", "nonin-2: byte 124: checksum 0x00, expected "
                             f"0x{(sum(raw[-5:-1])) & 0xFF:02x}"),
    ]
    for data, message in cases:
        with pytest.raises(DecodeError) as caught:
            decode_packet(data)
        assert str(caught.value) == message


def test_framer_resynchronises_on_bad_checksum() -> None:
    framer = Framer()
    bad = DATA_FRAME[:4] + b"\x00"
    frames = framer.feed(b"\x00\x01" + SYNC_FRAME + bad + DATA_FRAME + b"\x01")
    assert frames == [SYNC_FRAME, DATA_FRAME]
    # 0x00, 0x01 (not followed by a status byte), then the five bytes of the bad frame
    # (its 0x01 for the checksum, then 80 01 48 00 as bytes outside a frame).
    assert framer.discarded == 2 + 5
    assert framer.first_problem == (0, "byte 0x00 outside a frame")
    assert framer.pending == 1  # the trailing 0x01 may begin a frame
    assert framer.feed(DATA_FRAME[1:]) == [DATA_FRAME]


def test_framer_reports_bad_checksums() -> None:
    framer = Framer()
    assert framer.feed(SYNC_FRAME[:4] + b"\x00") == []
    assert framer.first_problem == (0, "bad checksum 0x00 in the frame at byte 0")


def test_framer_byte_by_byte() -> None:
    raw = encode_packet(make_packet(72, 97, PLETH))
    framer = Framer()
    frames = [f for byte in raw for f in framer.feed(bytes((byte,)))]
    assert b"".join(frames) == raw
    assert framer.discarded == 0 and framer.frames == 25


def test_assembler_waits_for_sync_and_drops_short_packets() -> None:
    packet = make_packet(72, 97, PLETH)
    assembler = PacketAssembler()
    out = [assembler.push(f) for f in packet.frames[10:]]  # joined mid-packet
    assert out == [None] * 15 and assembler.dropped_frames == 15
    out = [assembler.push(f) for f in packet.frames[:7]]  # a packet cut short
    out += [assembler.push(f) for f in packet.frames]
    assert out[-1] == packet and out[:-1] == [None] * 31
    assert (assembler.dropped_frames, assembler.packets) == (22, 1)
    assert assembler.push(packet.frames[1]) is None  # after a packet, wait for SYNC again
    assert assembler.dropped_frames == 23


def test_make_packet_checks_its_input() -> None:
    with pytest.raises(ValueError, match="25 samples"):
        make_packet(72, 97, [0] * 24)
    with pytest.raises(ValueError, match="9 bits"):
        make_packet(512, 97, PLETH)


def test_pleth_chunk() -> None:
    chunk = pleth_chunk(make_packet(72, 97, PLETH).frames, "nonin", NOW)
    assert chunk.samples == tuple(float(v) for v in PLETH)
    assert chunk.sample_rate_hz == 75.0
