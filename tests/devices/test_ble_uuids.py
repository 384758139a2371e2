"""SIG UUID helpers: one canonical spelling whatever was written."""

from __future__ import annotations

import pytest

from devices.ble import uuids
from devices.ble.uuids import describe, normalize_uuid, short_form, sig_uuid
from devices.errors import DeviceConfigurationError


def test_sig_uuid_expands_onto_the_base_uuid() -> None:
    assert sig_uuid(0x2A1C) == "00002a1c-0000-1000-8000-00805f9b34fb"
    assert uuids.PULSE_OXIMETER_SERVICE == "00001822-0000-1000-8000-00805f9b34fb"
    assert uuids.WEIGHT_MEASUREMENT == "00002a9d-0000-1000-8000-00805f9b34fb"


@pytest.mark.parametrize("spelling", [
    0x2A1C, "2a1c", "2A1C", "0x2A1C", " 00002A1C-0000-1000-8000-00805F9B34FB ",
    "00002a1c", "00002a1c-0000-1000-8000-00805f9b34fb",
])
def test_every_spelling_normalizes_to_one(spelling: str | int) -> None:
    assert normalize_uuid(spelling) == uuids.TEMPERATURE_MEASUREMENT


def test_vendor_uuids_pass_through_lowercased() -> None:
    nordic_uart = "6E400001-B5A3-F393-E0A9-E50E24DCCA9E"
    assert normalize_uuid(nordic_uart) == nordic_uart.lower()
    assert short_form(nordic_uart) is None
    assert describe(nordic_uart) == nordic_uart.lower()


@pytest.mark.parametrize("bad", ["", "2a1", "temperature", "0x2A1CZ", -1, 1 << 32])
def test_what_is_not_a_uuid_is_a_configuration_error(bad: str | int) -> None:
    with pytest.raises(DeviceConfigurationError):
        normalize_uuid(bad)


def test_describe_names_the_known_ones() -> None:
    assert describe(uuids.PLX_SPOT_CHECK_MEASUREMENT) == "2a5e (PLX Spot-Check Measurement)"
    assert describe("2a19") == "2a19 (Battery Level)"
    assert describe(0x2BFF) == "2bff"
    assert short_form(uuids.DEVICE_INFORMATION_SERVICE) == 0x180A
