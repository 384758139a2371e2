"""Seeded fuzzing of every codec and framer: untrusted bytes never crash a parser.

Plain ``random.Random(seed)`` loops (hypothesis would be much slower). Each
codec gets 100,000 inputs: a quarter random bytes, the rest valid frames with
one to three mutations (bit flips, truncation, insertion, deletion,
replacement). Only DecodeError may escape; whatever decodes must encode back
to the same bytes and map to measurements without error. Each framer gets a
stream of 100,000 segments (valid frames, garbage, mutated frames) in random
chunk sizes: every frame it emits must decode, it holds back less than one
frame, and it finds the valid frames again after garbage.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from devices.codecs import (
    DECODERS,
    ble_basic,
    ble_bps,
    ble_hts,
    ble_plx,
    ble_wss,
    cms50d,
    cms50d_v46,
    ieee11073,
    nonin,
)
from devices.codecs.ieee11073 import DateTime, MderFloat, encode_sfloat
from devices.errors import DecodeError

COUNT = 100_000
NOW = datetime(2025, 1, 1, tzinfo=UTC)
H = bytes.fromhex


def mutants(rng: random.Random, seeds: Sequence[bytes], count: int,
            max_len: int) -> Iterator[bytes]:
    """``count`` inputs: random bytes, or seeds with 1-3 mutations."""
    pool = rng.randbytes(1 << 16)
    for _ in range(count):
        r = rng.getrandbits(40)
        if r & 3 == 0:  # random bytes of random length
            n = (r >> 2) % (max_len + 1)
            at = (r >> 12) % ((1 << 16) - n)
            yield pool[at:at + n]
            continue
        data = bytearray(seeds[(r >> 2) % len(seeds)])
        for _ in range(1 + (r >> 38)):
            r = rng.getrandbits(32)
            size = len(data)
            where = (r >> 3) % (size + 1)
            op = r & 7
            if op <= 2 and size:  # bit flip
                data[where % size] ^= 1 << (r >> 29)
            elif op == 3:  # truncation
                del data[where:]
            elif op == 4:  # insertion
                data.insert(where, r >> 24)
            elif op == 5 and size:  # deletion
                del data[where % size]
            elif size:  # replacement
                data[where % size] = r >> 24
        yield bytes(data)


def fuzz_codec(seed: int, decode: Callable[[bytes], Any], encode: Callable[[Any], bytes] | None,
               to_measurements: Callable[[Any, str, datetime], Any] | None,
               seeds: Sequence[bytes]) -> tuple[int, int]:
    """Feed COUNT inputs; return (decoded, rejected)."""
    rng = random.Random(seed)
    for valid in seeds:  # the seeds themselves must decode and round-trip
        decoded = decode(valid)
        assert encode is None or encode(decoded) == valid
    accepted = rejected = 0
    max_len = max(map(len, seeds)) + 4
    for data in mutants(rng, seeds, COUNT, max_len):
        try:
            decoded = decode(data)
        except DecodeError as exc:
            rejected += 1
            assert 0 <= exc.offset <= len(data), (data.hex(), str(exc))
            continue
        accepted += 1
        if encode is not None:
            assert encode(decoded) == data, data.hex()
        if to_measurements is not None and accepted % 4 == 0:
            to_measurements(decoded, "fuzz", NOW)
    return accepted, rejected


# --- seeds: the public fixtures plus encoder-built frames with every optional field --------------

def _sfloat(value: str) -> MderFloat:
    return MderFloat.from_decimal(value)


STAMP = DateTime(2025, 3, 14, 15, 9, 26)
PLX_SPOT = [H("0FACF3BEF5E8070B1D17083920402200 0066E3".replace(" ", "")), H("00E8F384F3"),
            ble_plx.encode_spot_check(ble_plx.SpotCheck(_sfloat("97"), _sfloat("72"),
                                                        clock_not_set=True))]
PLX_CONTINUOUS = [H("00E8F384F3"), H("1C5F005A00200000000057F0"),
                  ble_plx.encode_continuous(ble_plx.Continuous(
                      *[_sfloat(v) for v in ("97", "72", "96", "74", "98", "70")], 0x80, 0x200,
                      _sfloat("1.2")))]
PLX_FEATURES = [H("0300E0FF0F0000"), H("7C00"), H("0100FFFF")]
HTS = [H("06B00E00FEDC070C050B321B04"), H("01A60300FF")]
BPS = [H("1E8A00580078000000041114293B3C00012700"), H("15BDF00B009FF03C001200")]
WSS = [H("00B036"), H("01543D"), H("0CB03605F500D606"),
       ble_wss.encode_weight_measurement(ble_wss.WeightMeasurement(14000, True, STAMP, 2, 245,
                                                                   690))]
CMS50D = [H("C540431661"), H("9000707F7F"), H("8F7F2F7F64")]
V46 = [H("01E085D59ABDE3FFFF"), H("0F80E2BFE2BFE2BF"), cms50d_v46.START_LIVE_COMMAND, H("0C80"),
       H("0B81A685")]
NONIN_FRAMES = [H("0181010083"), H("01800148CA"), H("01FE07090F")]
NONIN_PACKETS = [nonin.encode_packet(nonin.make_packet(72, 97, list(range(25)))),
                 nonin.encode_packet(nonin.make_packet(511, 127, [255] * 25,
                                                       perfusion=nonin.Perfusion.RED))]

CODECS: dict[str, tuple[Callable[[bytes], Any], Callable[[Any], bytes] | None,
                        Callable[[Any, str, datetime], Any] | None, list[bytes]]] = {
    "plx-spot": (ble_plx.decode_spot_check, ble_plx.encode_spot_check, ble_plx.to_measurements,
                 PLX_SPOT),
    "plx-continuous": (ble_plx.decode_continuous, ble_plx.encode_continuous,
                       ble_plx.to_measurements, PLX_CONTINUOUS),
    "plx-features": (ble_plx.decode_features, ble_plx.encode_features, None, PLX_FEATURES),
    "hts": (ble_hts.decode_temperature_measurement, ble_hts.encode_temperature_measurement,
            ble_hts.to_measurements, HTS),
    "bps": (ble_bps.decode_blood_pressure, ble_bps.encode_blood_pressure,
            ble_bps.to_measurements, BPS),
    "wss": (ble_wss.decode_weight_measurement, ble_wss.encode_weight_measurement,
            ble_wss.to_measurements, WSS),
    "wss-feature": (ble_wss.decode_feature, ble_wss.encode_feature, None, [H("1C010000")]),
    "battery": (ble_basic.decode_battery_level, ble_basic.encode_battery_level, None,
                [H("64"), H("00")]),
    "dis-string": (ble_basic.decode_string, None, None, [b"CMS50D+", "Thermomètre".encode()]),
    "date-time": (ieee11073.decode_date_time, ieee11073.encode_date_time, None,
                  [H("E8070B1D170839"), H("00000411142 93B".replace(" ", ""))]),
    "cms50d": (cms50d.decode_frame, cms50d.encode_frame, cms50d.to_measurements, CMS50D),
    "cms50d-v46": (cms50d_v46.decode_frame, cms50d_v46.encode_frame, cms50d_v46.to_measurements,
                   V46),
    "nonin-frame": (nonin.decode_frame, nonin.encode_frame, nonin.to_measurements,
                    NONIN_FRAMES),
    "nonin-packet": (nonin.decode_packet, nonin.encode_packet, nonin.to_measurements,
                     NONIN_PACKETS),
}


@pytest.mark.parametrize("name", list(CODECS))
def test_codec_survives_random_and_mutated_input(name: str) -> None:
    decode, encode, to_measurements, seeds = CODECS[name]
    accepted, rejected = fuzz_codec(sum(map(ord, name)), decode, encode, to_measurements, seeds)
    assert accepted + rejected == COUNT
    # Both paths were exercised (the tolerant string decoder accepts everything, and a
    # 125-byte checksummed packet rarely survives a mutation).
    assert accepted > 0
    assert name == "dis-string" or rejected > COUNT // 10


def test_every_sfloat_and_many_floats_decode() -> None:
    rng = random.Random(11073)
    for raw in range(1 << 16):
        assert encode_sfloat(ieee11073.decode_sfloat(raw)) == raw
    for _ in range(COUNT):
        raw = rng.getrandbits(32)
        assert ieee11073.encode_float(ieee11073.decode_float(raw)) == raw


# --- framers --------------------------------------------------------------------------------

def _valid_cms50d(rng: random.Random) -> bytes:
    return cms50d.encode_frame(cms50d.LiveFrame(
        rng.randrange(16), rng.random() < .5, rng.random() < .5, rng.random() < .5,
        rng.randrange(128), rng.randrange(16), rng.random() < .5, rng.random() < .5,
        rng.randrange(256), rng.randrange(128)))


def _valid_v46(rng: random.Random) -> bytes:
    if rng.random() < .1:
        return cms50d_v46.encode_frame(cms50d_v46.StorageFrame(
            (rng.randrange(256), rng.randrange(256), rng.randrange(256)),
            (rng.randrange(256), rng.randrange(256), rng.randrange(256))))
    return cms50d_v46.encode_frame(cms50d_v46.LiveFrame(
        rng.randrange(16), rng.random() < .5, rng.random() < .5, rng.random() < .5,
        rng.random() < .5, rng.randrange(128), rng.random() < .5, rng.randrange(16),
        rng.random() < .5, rng.randrange(256), rng.randrange(256), rng.randrange(65536)))


def _valid_nonin(rng: random.Random) -> bytes:
    return nonin.encode_frame(nonin.NoninFrame(
        rng.random() < .04, rng.random() < .1, rng.random() < .1, rng.random() < .1,
        rng.random() < .1, nonin.Perfusion(rng.randrange(4)), rng.randrange(256),
        rng.randrange(256)))


FRAMERS: dict[str, tuple[type[Any], Callable[[random.Random], bytes], Callable[[bytes], Any],
                         int, float]] = {
    # name: framer, valid frame maker, decoder, largest frame, share of valid frames found again
    "cms50d": (cms50d.Framer, _valid_cms50d, cms50d.decode_frame, 5, 1.0),
    "cms50d-v46": (cms50d_v46.Framer, _valid_v46, cms50d_v46.decode_frame, 9, 1.0),
    # Nonin frames have no reserved start byte: garbage can fake a frame that swallows the
    # start of the next real one (1 in 65,536 per candidate), so allow a tiny loss.
    "nonin-2": (nonin.Framer, _valid_nonin, nonin.decode_frame, 5, 0.995),
}


@pytest.mark.parametrize("name", list(FRAMERS))
def test_framer_survives_and_resynchronises(name: str) -> None:
    framer_type, make_valid, decode, largest, recovery = FRAMERS[name]
    rng = random.Random(sum(map(ord, name)))
    valid_pool = [make_valid(rng) for _ in range(2000)]
    mutated = mutants(rng, valid_pool, COUNT, largest + 4)
    framer = framer_type()
    expected: list[bytes] = []
    emitted: list[bytes] = []
    stream = bytearray()
    for _ in range(COUNT):
        kind = rng.getrandbits(2)
        if kind == 0:
            stream += rng.randbytes(rng.getrandbits(5))  # garbage burst
        elif kind == 1:
            stream += next(mutated)
        else:  # a run of valid frames, which the framer must find again
            for _ in range(1 + rng.getrandbits(2)):
                frame = valid_pool[rng.getrandbits(11) % len(valid_pool)]
                expected.append(frame)
                stream += frame
        if len(stream) > 512 or rng.getrandbits(3) == 0:
            emitted += _feed_in_chunks(rng, framer, bytes(stream), largest)
            stream.clear()
    emitted += _feed_in_chunks(rng, framer, bytes(stream), largest)
    for frame in emitted:
        decode(frame)  # every emitted frame is a valid frame
    found = _subsequence_hits(expected, emitted)
    assert found >= recovery * len(expected), (found, len(expected))
    assert framer.discarded > 0 and framer.frames == len(emitted)
    # After any garbage, clean frames come through (no permanent loss of sync).
    clean = [make_valid(rng) for _ in range(10)]
    assert framer.feed(b"".join(clean))[-9:] == clean[-9:]


def _feed_in_chunks(rng: random.Random, framer: Any, data: bytes, largest: int) -> list[bytes]:
    out: list[bytes] = []
    at = 0
    while at < len(data):
        size = 1 + rng.getrandbits(6)
        out += framer.feed(data[at:at + size])
        assert framer.pending < largest
        at += size
    return out


def _subsequence_hits(expected: list[bytes], emitted: list[bytes]) -> int:
    """How many of ``expected`` appear, in order, in ``emitted``.

    A frame is looked for among the next few emitted frames only: valid frames
    repeat in the stream, and jumping to a far repeat would skip real hits.
    """
    hits, at = 0, 0
    for frame in expected:
        try:
            at = emitted.index(frame, at, at + 16) + 1
        except ValueError:
            continue
        hits += 1
    return hits


def test_packet_assembler_survives_any_frame_sequence() -> None:
    rng = random.Random(25)
    frames = [nonin.decode_frame(_valid_nonin(rng)) for _ in range(500)]
    packet = nonin.make_packet(72, 97, list(range(25)))
    assembler = nonin.PacketAssembler()
    for i in range(COUNT):
        if i % 5000 == 0:  # every now and then a whole clean packet must come out
            results = [assembler.push(frame) for frame in packet.frames]
            assert results[-1] == packet
        result = assembler.push(frames[rng.getrandbits(9) % len(frames)])
        if result is not None:
            assert len(result.frames) == nonin.PACKET_FRAMES
            assert result.frames[0].sync and not any(f.sync for f in result.frames[1:])
            nonin.to_measurements(result, "fuzz", NOW)


@pytest.mark.parametrize("name", list(DECODERS))
def test_registry_raises_only_decode_errors(name: str) -> None:
    rng = random.Random(sum(map(ord, name)) + 1)
    seeds = {"ble-plx-spot": PLX_SPOT, "ble-plx-continuous": PLX_CONTINUOUS, "ble-hts": HTS,
             "ble-bps": BPS, "ble-wss": WSS, "cms50d": CMS50D, "cms50d-v46": V46,
             "nonin-2": NONIN_FRAMES + NONIN_PACKETS}[name]
    inputs = mutants(rng, seeds, 5000, 140)
    for data in inputs:
        chunks = [data, next(inputs, b"")] if rng.random() < .2 else [data]
        with contextlib.suppress(DecodeError):  # anything else fails the test
            DECODERS[name](chunks, "fuzz", NOW)
