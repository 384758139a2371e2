"""The one driver for Bluetooth SIG health instruments: oximeter, thermometer, BP monitor, scale.

:class:`BleHealthDevice` speaks the standard GATT profiles (Pulse Oximeter
0x1822, Health Thermometer 0x1809, Blood Pressure 0x1810, Weight Scale
0x181D) through an injected :class:`~devices.ble.gatt.GattClient`, so the
very same code runs on hardware (``BleakGattClient``) and on the in-process
virtual link (``VirtualBleLink.client``). The profile comes from the device
URL (``ble://AA:BB:CC:DD:EE:FF?profile=plx``, parsed by :mod:`devices.urls`).

One ``stream()`` is one connection: connect, check the profile's service is
there, read Device Information and the battery, announce ``connected``, then
turn every notification into ``measurement`` events until the link drops
(:class:`~devices.errors.ConnectionLostError`) or the task is cancelled
(clean disconnect). Reconnecting is the device manager's job: it simply
calls ``stream()`` again.

Untrusted bytes never end the stream: a notification the codec rejects is
counted in :attr:`BleHealthDevice.malformed_count` and skipped (logged once,
then summarised at most every 10 s). An implausible value is not malformed:
the codec flags it and it is emitted.

A device flooding garbage (malformed or impossible values, faster than any
instrument measures) is screened out (:mod:`devices.ble.screen`): it is
announced once as ``unreadable`` and none of its values is emitted until it
has been clean for a while. To tell the first values of a flood from a
reading, every value is emitted ``settle`` seconds (50 ms) after it arrived.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from devices.ble import uuids
from devices.ble.gatt import GattClient, Property
from devices.ble.screen import SETTLE_S, NotificationScreen
from devices.ble.uuids import describe, sig_uuid
from devices.codecs import ble_basic, ble_bps, ble_hts, ble_plx, ble_wss
from devices.device import Device, DeviceEvent, Emit, EventKind
from devices.errors import DecodeError, DeviceConfigurationError, DeviceError
from devices.measurement import Measurement, Quality

logger = logging.getLogger(__name__)

_MALFORMED_LOG_S = 10.0  # malformed values are summarised in the log at most this often

_T = TypeVar("_T")

Reader = Callable[[bytes, str, datetime], list[Measurement]]
"""Turns one notification into measurements: ``(data, device, received_at)``; DecodeError if bad."""


def reader(decode: Callable[[bytes], _T],
           convert: Callable[[_T, str, datetime], list[Measurement]]) -> Reader:
    """A :data:`Reader` made of a codec's ``decode_*`` and ``to_measurements``."""

    def read(data: bytes, device: str, received_at: datetime) -> list[Measurement]:
        return convert(decode(data), device, received_at)

    return read


@dataclass(frozen=True, slots=True)
class Channel:
    """One measurement characteristic of a profile and the codec that reads it.

    ``protocol`` (the codec's name, e.g. ``ble-plx-continuous``) is put in the
    ``detail`` of each measurement event: a spot check and a continuous
    reading of the same SpO2 do not mean the same to a doctor.
    """

    uuid: str
    protocol: str
    read: Reader


@dataclass(frozen=True, slots=True)
class HealthProfile:
    """A GATT health profile: its service and the measurement characteristics to follow.

    Every channel present is subscribed; at least one must be (the PLX
    specification lets an oximeter offer Spot-Check, Continuous or both).
    """

    name: str
    service: str
    description: str
    channels: tuple[Channel, ...]


PROFILES: dict[str, HealthProfile] = {profile.name: profile for profile in (
    HealthProfile("plx", uuids.PULSE_OXIMETER_SERVICE, "pulse oximeter", (
        Channel(uuids.PLX_CONTINUOUS_MEASUREMENT, ble_plx.CONTINUOUS_PROTOCOL,
                reader(ble_plx.decode_continuous, ble_plx.to_measurements)),
        Channel(uuids.PLX_SPOT_CHECK_MEASUREMENT, ble_plx.SPOT_PROTOCOL,
                reader(ble_plx.decode_spot_check, ble_plx.to_measurements)),
    )),
    HealthProfile("hts", uuids.HEALTH_THERMOMETER_SERVICE, "thermometer", (
        Channel(uuids.TEMPERATURE_MEASUREMENT, ble_hts.PROTOCOL,
                reader(ble_hts.decode_temperature_measurement, ble_hts.to_measurements)),
    )),
    HealthProfile("bps", uuids.BLOOD_PRESSURE_SERVICE, "blood pressure monitor", (
        Channel(uuids.BLOOD_PRESSURE_MEASUREMENT, ble_bps.PROTOCOL,
                reader(ble_bps.decode_blood_pressure, ble_bps.to_measurements)),
    )),
    HealthProfile("wss", uuids.WEIGHT_SCALE_SERVICE, "weight scale", (
        Channel(uuids.WEIGHT_MEASUREMENT, ble_wss.PROTOCOL,
                reader(ble_wss.decode_weight_measurement, ble_wss.to_measurements)),
    )),
)}
"""The profiles a ``ble://`` URL can name, by the name used in ``?profile=``."""

WEIGHT_SCALE_FEATURE = sig_uuid(ble_wss.WEIGHT_SCALE_FEATURE_UUID)
_DIS_FIELDS = {sig_uuid(number): number for number in ble_basic.DIS_UUIDS.values()}


def local_now() -> datetime:
    """The reception time: aware, in the station's local zone.

    Device timestamps are wall-clock times without a zone and the codecs read
    them in the zone of the reception time; instrument clocks are set to
    local time, so local (not UTC) keeps timestamped readings right.
    """
    return datetime.now().astimezone()


class BleHealthDevice(Device):
    """A standard BLE health instrument, whatever the transport behind ``client``.

    ``profile`` is ``"plx"``, ``"hts"``, ``"bps"`` or ``"wss"``. After a
    ``stream()``, :attr:`information` holds the Device Information strings
    read, :attr:`battery_percent` the last battery level, and
    :attr:`malformed_count` / :attr:`last_malformed` what was rejected;
    :attr:`screen` counts notifications and the values withheld from a flood.
    ``settle`` is how long a value waits before it is emitted (see the module
    notes); 0 emits at the next loop turn.
    """

    def __init__(self, url: str, client: GattClient, profile: str, *,
                 connect_timeout: float = 10.0, settle: float = SETTLE_S) -> None:
        super().__init__(url)
        if profile not in PROFILES:
            raise DeviceConfigurationError(
                f"{url}: BLE profile {profile!r} is not supported; use one of "
                + ", ".join(PROFILES))
        self.client = client
        self.profile = PROFILES[profile]
        self.connect_timeout = connect_timeout
        self.information: ble_basic.DeviceInformation | None = None
        self.battery_percent: int | None = None
        self.malformed_count = 0
        self.last_malformed: DecodeError | None = None
        self.screen: NotificationScreen[list[DeviceEvent]] = NotificationScreen(settle)
        self._emit: Emit | None = None
        self._release: asyncio.TimerHandle | None = None
        self._malformed_logged = 0
        self._malformed_logged_at = 0.0

    async def stream(self, emit: Emit) -> None:
        """Connect, announce, emit measurements until the link drops; see the module notes.

        Raises ConnectionLostError when the device vanishes, DeviceConfigurationError
        when it lacks the profile's service, DeviceUnavailableError or
        DeviceNotFoundError when it cannot be reached; on cancellation it
        disconnects and re-raises CancelledError. Nothing else escapes.
        """
        self._emit = emit
        try:
            await self._run()
        except DeviceError:
            await self._close()
            raise
        except asyncio.CancelledError:
            await self._close()
            raise
        except Exception as exc:
            # A bug or a backend error nobody translated: still only a DeviceError above us.
            await self._close()
            logger.exception("BLE device %s failed unexpectedly", self.url)
            raise DeviceError(f"Bluetooth device {self.client.address} failed"
                              f" unexpectedly: {exc!r}") from exc
        finally:
            self._release_held(flush=True)  # values already measured are not lost at the end
            self._emit = None

    async def _run(self) -> None:
        client = self.client
        await client.connect(self.connect_timeout)
        channels = self._check_profile()
        self.information = await self._read_information()
        battery = await self._read_battery()
        self._announce(DeviceEvent(EventKind.CONNECTED, self.url, local_now(),
                                   detail=_describe_information(self.information)))
        if battery is not None:
            self._battery(battery)
        if self._battery_notifies():
            await client.subscribe(uuids.BATTERY_LEVEL, self._on_battery)
        for channel in await self._configured(channels):
            await client.subscribe(channel.uuid, self._on_measurement(channel))
        raise await client.wait_connection_lost()

    async def _close(self) -> None:
        """Disconnect; shielded so a second cancellation cannot cut it halfway."""
        try:
            await asyncio.shield(self.client.disconnect())
        except asyncio.CancelledError:
            raise
        except Exception:
            # Already gone, or the stack refused: the link is down either way.
            logger.debug("disconnect from %s failed", self.url, exc_info=True)

    # --- setup -------------------------------------------------------------------------

    def _check_profile(self) -> list[Channel]:
        """The profile's channels the device offers; DeviceConfigurationError if none."""
        profile = self.profile
        characteristics = self.client.services().get(profile.service)
        if characteristics is None:
            raise DeviceConfigurationError(
                f"Bluetooth device {self.client.address} has no {describe(profile.service)}"
                f" service, which profile={profile.name} ({profile.description}) needs:"
                f" is it a {profile.description}, and is the profile in its address right?")
        present = [channel for channel in profile.channels if channel.uuid in characteristics]
        if not present:
            wanted = " or ".join(describe(channel.uuid) for channel in profile.channels)
            raise DeviceConfigurationError(
                f"Bluetooth device {self.client.address} has a {describe(profile.service)}"
                f" service but no {wanted} characteristic to measure with")
        return present

    async def _read_information(self) -> ble_basic.DeviceInformation | None:
        """Device Information strings, when offered; unreadable ones are skipped."""
        offered = self.client.services().get(uuids.DEVICE_INFORMATION_SERVICE, {})
        values: dict[int, bytes] = {}
        for uuid, number in _DIS_FIELDS.items():
            if Property.READ in offered.get(uuid, Property(0)):
                data = await self._optional_read(uuid)
                if data is not None:
                    values[number] = data
        return ble_basic.decode_device_information(values) if offered else None

    async def _read_battery(self) -> int | None:
        """The battery level, when offered and readable."""
        offered = self.client.services().get(uuids.BATTERY_SERVICE, {})
        if Property.READ not in offered.get(uuids.BATTERY_LEVEL, Property(0)):
            return None
        data = await self._optional_read(uuids.BATTERY_LEVEL)
        if data is None:
            return None
        try:
            return ble_basic.decode_battery_level(data).percent
        except DecodeError as exc:
            self._malformed(uuids.BATTERY_LEVEL, data, exc)
            return None

    def _battery_notifies(self) -> bool:
        offered = self.client.services().get(uuids.BATTERY_SERVICE, {})
        return bool(offered.get(uuids.BATTERY_LEVEL, Property(0))
                    & (Property.NOTIFY | Property.INDICATE))

    async def _optional_read(self, uuid: str) -> bytes | None:
        """Read a characteristic the driver can live without; a lost link still ends the stream."""
        try:
            return await self.client.read(uuid)
        except DeviceError as exc:
            if self.client.connection_lost is not None:
                raise
            logger.warning("%s: could not read %s: %s", self.url, describe(uuid), exc)
            return None

    async def _configured(self, channels: list[Channel]) -> list[Channel]:
        """The channels with their readers completed by what the device declares.

        A weight scale's Weight Scale Feature gives its real resolution: a
        0.1 kg scale should not show 70.000 kg.
        """
        if self.profile.name != "wss":
            return channels
        offered = self.client.services().get(self.profile.service, {})
        if Property.READ not in offered.get(WEIGHT_SCALE_FEATURE, Property(0)):
            return channels
        data = await self._optional_read(WEIGHT_SCALE_FEATURE)
        if data is None:
            return channels
        try:
            feature = ble_wss.decode_feature(data)
        except DecodeError as exc:
            self._malformed(WEIGHT_SCALE_FEATURE, data, exc)
            return channels

        def convert(m: ble_wss.WeightMeasurement, device: str,
                    received_at: datetime) -> list[Measurement]:
            return ble_wss.to_measurements(m, device, received_at, feature=feature)

        return [Channel(channel.uuid, channel.protocol,
                        reader(ble_wss.decode_weight_measurement, convert))
                if channel.uuid == uuids.WEIGHT_MEASUREMENT else channel
                for channel in channels]

    # --- notifications (called on the event loop by the client) --------------------------

    def _on_measurement(self, channel: Channel) -> Callable[[bytes], None]:
        def on_value(data: bytes) -> None:
            received_at = local_now()
            now = asyncio.get_running_loop().time()
            try:
                measurements = channel.read(data, self.url, received_at)
            except DecodeError as exc:
                self._malformed(channel.uuid, data, exc)
                self._screened(channel, garbage=True, now=now)
                return
            self._screened(channel, now=now, garbage=any(
                Quality.IMPLAUSIBLE in m.quality for m in measurements))
            self.screen.hold([DeviceEvent(EventKind.MEASUREMENT, self.url, received_at,
                                          measurement=measurement, detail=channel.protocol)
                              for measurement in measurements], now)
            self._schedule_release()

        return on_value

    def _screened(self, channel: Channel, *, garbage: bool, now: float) -> None:
        """Count a notification; announce the device unreadable when it turns into a flood."""
        change = self.screen.note(garbage, now)
        if change == "cleared":
            logger.info("%s: readable again (%d values ignored while it was not)", self.url,
                        self.screen.withheld)
        elif change == "flagged":
            detail = (f"unreadable data stream: {channel.protocol} expected, "
                      f"{self.screen.garbage} of {self.screen.total} notifications malformed or "
                      "impossible; values from this device are ignored until it is clean")
            logger.warning("%s: %s", self.url, detail)
            self._announce(DeviceEvent(EventKind.UNREADABLE, self.url, local_now(),
                                       detail=detail))

    def _schedule_release(self) -> None:
        due = self.screen.next_due
        if self._release is None and due is not None:
            self._release = asyncio.get_running_loop().call_at(due, self._release_held)

    def _release_held(self, *, flush: bool = False) -> None:
        """Emit the held values that can be trusted now (all that are held, with ``flush``)."""
        if self._release is not None:
            self._release.cancel()
            self._release = None
        if flush:
            released = self.screen.flush()
        else:
            released = self.screen.due(asyncio.get_running_loop().time())
        for events in released:
            for event in events:
                self._announce(event)
        if not flush:
            self._schedule_release()

    def _on_battery(self, data: bytes) -> None:
        try:
            percent = ble_basic.decode_battery_level(data).percent
        except DecodeError as exc:
            self._malformed(uuids.BATTERY_LEVEL, data, exc)
            return
        self._battery(percent)

    def _battery(self, percent: int) -> None:
        self.battery_percent = percent
        self._announce(DeviceEvent(EventKind.BATTERY, self.url, local_now(),
                                   battery_percent=percent))

    def _malformed(self, uuid: str, data: bytes, error: DecodeError) -> None:
        """Count a rejected value; log it, or a summary at most every 10 s (a flood is one line)."""
        self.malformed_count += 1
        self.last_malformed = error
        now = time.monotonic()
        if self._malformed_logged and now - self._malformed_logged_at < _MALFORMED_LOG_S:
            return
        unlogged = self.malformed_count - self._malformed_logged - 1
        logger.warning("%s: ignored a malformed %s value (%s): %s%s", self.url, describe(uuid),
                       data.hex(" ") or "empty", error,
                       f" ({unlogged} more since the last report)" if unlogged else "")
        self._malformed_logged, self._malformed_logged_at = self.malformed_count, now

    def _announce(self, event: DeviceEvent) -> None:
        """Emit, shielding the stream from a listener's bug (the manager does the same)."""
        emit = self._emit
        if emit is None:
            return  # a late notification after the stream ended
        try:
            emit(event)
        except Exception:
            logger.exception("device event listener failed for %s", self.url)


def _describe_information(information: ble_basic.DeviceInformation | None) -> str:
    """``"Station Simulators SIM-PO100, serial SIM-1822, firmware 1.4.2"``, or "" if unknown."""
    if information is None:
        return ""
    name = " ".join(part for part in (information.manufacturer_name,
                                      information.model_number) if part)
    extras = [f"{label} {value}" for label, value in (
        ("serial", information.serial_number), ("firmware", information.firmware_revision))
        if value]
    return ", ".join(part for part in (name, *extras) if part)
