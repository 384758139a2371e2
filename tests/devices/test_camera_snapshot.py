"""Lossless snapshots: PNG with metadata inside, verified on load."""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.camera import (
    ExamKind,
    Snapshot,
    SnapshotCorruptError,
    decode_snapshot,
    encode_snapshot,
    load_snapshot,
    open_camera,
    pixels_sha256,
    save_snapshot,
)
from devices.errors import DecodeError

WHEN = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def snapshot() -> Snapshot:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    return Snapshot.create(image, "camera:///dev/video2", ExamKind.DERMATOSCOPE, WHEN)


def chunks(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """(offset, type, body) of every chunk, read independently of the code under test."""
    found, offset = [], 8
    while offset < len(data):
        length, kind = struct.unpack_from(">I4s", data, offset)
        found.append((offset, kind, data[offset + 8:offset + 8 + length]))
        offset += 12 + length
    return found


def test_round_trip_is_pixel_identical_with_metadata(snapshot: Snapshot, tmp_path: Path) -> None:
    path = save_snapshot(snapshot, tmp_path / "lesion.png")
    loaded = load_snapshot(path)
    assert np.array_equal(loaded.image, snapshot.image)
    assert loaded.info == snapshot.info
    assert loaded.info.captured_at == WHEN
    assert (loaded.info.width, loaded.info.height) == (160, 120)
    assert not list(tmp_path.glob("*.partial"))


def test_any_png_reader_sees_the_same_pixels_and_hash(snapshot: Snapshot, tmp_path: Path) -> None:
    path = save_snapshot(snapshot, tmp_path / "lesion.png")
    plain = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(plain, snapshot.image)
    rgb = cv2.cvtColor(plain, cv2.COLOR_BGR2RGB)
    assert hashlib.sha256(rgb.tobytes()).hexdigest() == snapshot.info.sha256


def test_metadata_sits_in_itxt_chunks_before_the_pixels(snapshot: Snapshot) -> None:
    found = chunks(encode_snapshot(snapshot))
    kinds = [kind for _, kind, _ in found]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    texts = {body.split(b"\0", 1)[0]: body.split(b"\0")[-1] for _, kind, body in found
             if kind == b"iTXt"}
    assert texts[b"station.device_url"] == b"camera:///dev/video2"
    assert texts[b"station.exam"] == b"dermatoscope"
    assert texts[b"station.captured_at"] == b"2026-11-23T09:30:15.123456+00:00"
    assert texts[b"station.width"] == b"160" and texts[b"station.height"] == b"120"
    assert texts[b"station.pixels_sha256"] == snapshot.info.sha256.encode()
    assert kinds.index(b"iTXt") < kinds.index(b"IDAT")


def test_a_flipped_byte_fails_with_a_clear_error(snapshot: Snapshot, tmp_path: Path) -> None:
    data = bytearray(encode_snapshot(snapshot))
    idat = next(offset for offset, kind, _ in chunks(bytes(data)) if kind == b"IDAT")
    data[idat + 40] ^= 0x01
    path = tmp_path / "damaged.png"
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotCorruptError) as raised:
        load_snapshot(path)
    assert str(raised.value) == (f"snapshot {path}: byte {idat}: chunk IDAT fails its CRC check: "
                                 "the file is damaged")
    assert isinstance(raised.value, DecodeError)
    assert raised.value.offset == idat


def test_altered_pixels_with_valid_crcs_fail_the_hash(snapshot: Snapshot) -> None:
    """Someone edits the picture and rewrites the chunks properly: the hash still catches it."""
    edited = np.array(snapshot.image)
    edited[10, 10] ^= 0xFF
    forged = Snapshot(edited, snapshot.info)  # old metadata, new pixels
    with pytest.raises(SnapshotCorruptError, match="pixels do not match their recorded sha256"):
        decode_snapshot(encode_snapshot(forged), "forged.png")


def test_a_truncated_file_is_reported(snapshot: Snapshot) -> None:
    data = encode_snapshot(snapshot)
    with pytest.raises(SnapshotCorruptError, match="runs past the end of file"):
        decode_snapshot(data[: len(data) // 2])


def test_a_plain_png_is_not_a_snapshot(snapshot: Snapshot) -> None:
    ok, plain = cv2.imencode(".png", snapshot.image)
    assert ok
    with pytest.raises(SnapshotCorruptError, match="metadata field 'device_url' is missing"):
        decode_snapshot(bytes(plain))


def test_not_a_png_at_all() -> None:
    with pytest.raises(SnapshotCorruptError, match="not a PNG file"):
        decode_snapshot(b"\xff\xd8\xff\xe0 a JPEG")


def test_size_mismatch_between_metadata_and_pixels(snapshot: Snapshot) -> None:
    info = snapshot.info
    lying = Snapshot(snapshot.image, type(info)(info.device_url, info.exam, info.captured_at,
                                                 200, 100, info.sha256))
    with pytest.raises(SnapshotCorruptError, match="pixels are 160x120 but metadata says 200x100"):
        decode_snapshot(encode_snapshot(lying))


def test_hash_is_of_rgb_rows() -> None:
    image = np.zeros((1, 2, 3), np.uint8)
    image[0, 0] = (1, 2, 3)  # BGR
    assert pixels_sha256(image) == hashlib.sha256(bytes([3, 2, 1, 0, 0, 0])).hexdigest()


def test_simulated_snapshot_is_full_resolution_and_round_trips(tmp_path: Path) -> None:
    camera = open_camera("sim://dermatoscope")
    with camera:
        snapshot = camera.snapshot()
    assert snapshot.image.shape == (1944, 2592, 3)
    assert snapshot.info.device_url == "sim://dermatoscope"
    assert snapshot.info.exam is ExamKind.DERMATOSCOPE
    loaded = load_snapshot(save_snapshot(snapshot, tmp_path / "still.png"))
    assert np.array_equal(loaded.image, snapshot.image)
    assert loaded.info == snapshot.info
