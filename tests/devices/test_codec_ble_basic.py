"""Battery Level and Device Information strings."""

from __future__ import annotations

import pytest

from devices.codecs.ble_basic import (
    BatteryLevel,
    DeviceInformation,
    decode_battery_level,
    decode_device_information,
    decode_string,
    encode_battery_level,
    encode_device_information,
)
from devices.errors import DecodeError


def test_battery_level() -> None:
    assert decode_battery_level(b"\x4b") == BatteryLevel(75)
    assert encode_battery_level(BatteryLevel(75)) == b"\x4b"
    assert decode_battery_level(b"\x00") == BatteryLevel(0)
    assert decode_battery_level(b"\x64") == BatteryLevel(100)


@pytest.mark.parametrize(("raw", "message"), [
    (b"", "ble-battery: byte 0: truncated: battery level needs 1 byte, 0 left"),
    (b"\x10\x00", "ble-battery: byte 1: 1 unexpected trailing byte"),
    (b"\x65", "ble-battery: byte 0: battery level 101 is reserved (0-100)"),
])
def test_malformed_battery_level(raw: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_battery_level(raw)
    assert str(caught.value) == message


def test_battery_encoder_range() -> None:
    with pytest.raises(ValueError, match="outside 0-100"):
        encode_battery_level(BatteryLevel(101))


def test_strings_are_decoded_tolerantly() -> None:
    assert decode_string("Thermomètre".encode()) == "Thermomètre"
    assert decode_string(b"CMS50D+\x00\x00\x00") == "CMS50D+"
    assert decode_string(b"Caf\xe9") == "Caf\ufffd"  # Latin-1 from a sloppy firmware
    assert decode_string(b"") == ""


def test_device_information_round_trip() -> None:
    info = DeviceInformation(manufacturer_name="Nordic Semiconductor", model_number="TH-1",
                             firmware_revision="1.2.3")
    values = encode_device_information(info)
    assert values == {0x2A29: b"Nordic Semiconductor", 0x2A24: b"TH-1", 0x2A26: b"1.2.3"}
    assert decode_device_information({**values, 0x2A23: b"\x01" * 8}) == info
