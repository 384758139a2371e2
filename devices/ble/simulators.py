"""Simulated BLE health instruments on the virtual link: oximeter, thermometer, BP, scale.

:func:`start_ble_simulator` puts one :class:`BleSimulator` on a
:class:`~devices.ble.virtual_link.VirtualBleLink`. It advertises like the
real thing, exposes its health service, Battery (0x180F) and Device
Information (0x180A, manufacturer "Station Simulators"), and once a central
subscribes it sends readings (see :mod:`devices.ble.sim_instruments`) at
the real device's rate: PLX Continuous every 1 s and Spot-Check every 10 s,
a temperature every 5 s, a blood pressure every 8 s, a weight every 6 s.

``period_scale`` multiplies every period (tests use 0.004: a reading every
4-40 ms) without changing what is sent; ``periods`` sets one period in
seconds, or ``None`` to silence a channel. bumble's notify has no
backpressure, so a channel sends one value, waits for it to leave, and never
catches up on missed periods in a burst.

Misbehaviour switches (at start through ``misbehave``, or at any time with
:meth:`BleSimulator.set_misbehaviour`) reproduce what real devices do:

* ``drop``: each connection is dropped (supervision timeout) after
  ``drop-after`` seconds (20 s), and the device advertises again
  ``come-back`` seconds (3 s) later, so reconnection can be exercised;
* ``malformed``: every third value of a channel is cut short;
* ``implausible``: every third value (another one) is impossible: SpO2 104 %,
  50.00 °C, systolic 310 mmHg, 12.5 kg;
* ``battery-low``: the battery reads 5 %, and subscribers are notified.

Everything sent is logged in :attr:`BleSimulator.sent` (bytes and the
reading they encode) so a test can check the driver decoded exactly that.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Collection, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from devices.ble import uuids
from devices.ble.gatt import Property
from devices.ble.sim_instruments import (
    INSTRUMENTS,
    Instrument,
    Reading,
    SimChannel,
    encode_reading,
    garble,
)
from devices.ble.simulated_peripheral import SimulatedPeripheral, battery_and_device_information
from devices.ble.virtual_link import VirtualBleLink
from devices.codecs.ble_basic import BatteryLevel
from devices.errors import DeviceConfigurationError

logger = logging.getLogger(__name__)

KINDS = tuple(INSTRUMENTS)
"""The simulator kinds: oximeter, thermometer, blood-pressure, scale."""

MISBEHAVIOURS = ("drop", "malformed", "implausible", "battery-low")
"""The misbehaviour switches a simulator understands."""

LOW_BATTERY = 5
_EVERY = 3  # one value in three misbehaves: "now and then", yet predictable in tests
_LINK_PERIODS = {"drop-after": 20.0, "come-back": 3.0}
_DEFAULT_LOG = 10_000


@dataclass(frozen=True, slots=True)
class Sent:
    """One value a simulator sent.

    ``reading`` is what ``data`` encodes, None for a value garbled on purpose
    (``misbehaviour`` then says ``"malformed"``). ``at`` is
    :func:`time.perf_counter` just before the value was handed to the radio.
    """

    channel: str  # "continuous", "spot-check", "measurement" or "battery"
    characteristic: str
    data: bytes
    reading: Reading | None
    misbehaviour: str | None
    at: float


class BleSimulator:
    """One simulated instrument on a virtual link; made by :func:`start_ble_simulator`."""

    def __init__(self, link: VirtualBleLink, instrument: Instrument, address: str, *,
                 seed: int, period_scale: float, periods: Mapping[str, float | None],
                 advertising_interval_ms: float, log_size: int) -> None:
        self._link = link
        self.instrument = instrument
        self._rng = random.Random(seed ^ 0x5EED)  # noqa: S311 - simulation, not secrets
        self._periods = self._resolve_periods(period_scale, periods)
        self._misbehaviour: set[str] = set()
        self._dropping = asyncio.Event()
        self._normal_battery = self._rng.randint(60, 100)
        self._sent: deque[Sent] = deque(maxlen=log_size)
        self._tasks: list[asyncio.Task[None]] = []
        self._link_change: asyncio.Future[None] | None = None
        self.peripheral = SimulatedPeripheral(
            address, instrument.name, [
                (instrument.service, [
                    *((channel.uuid, channel.sends, b"") for channel in instrument.channels),
                    *instrument.extra_characteristics()]),
                *battery_and_device_information(
                    battery_level=self._normal_battery, manufacturer="Station Simulators",
                    model=instrument.model, serial="SIM-" + address.replace(":", "")[-6:],
                    firmware="1.4.2"),
            ], advertising_interval_ms=advertising_interval_ms)

    def _resolve_periods(self, scale: float,
                         overrides: Mapping[str, float | None]) -> dict[str, float | None]:
        if scale <= 0:
            raise DeviceConfigurationError(f"period_scale must be positive, not {scale}")
        periods: dict[str, float | None] = {
            channel.name: channel.period * scale for channel in self.instrument.channels}
        periods.update({name: period * scale for name, period in _LINK_PERIODS.items()})
        for name, period in overrides.items():
            if name not in periods:
                raise DeviceConfigurationError(
                    f"A {self.kind} simulator has no period {name!r}; it has "
                    + ", ".join(periods))
            if period is not None and period <= 0:
                raise DeviceConfigurationError(f"period {name!r} must be positive, not {period}")
            if period is None and name in _LINK_PERIODS:
                raise DeviceConfigurationError(f"period {name!r} cannot be switched off")
            periods[name] = period
        return periods

    @property
    def address(self) -> str:
        """Bluetooth address, upper case with colons."""
        return self.peripheral.address

    @property
    def kind(self) -> str:
        """``"oximeter"``, ``"thermometer"``, ``"blood-pressure"`` or ``"scale"``."""
        return self.instrument.kind

    @property
    def profile(self) -> str:
        """The ``ble://...?profile=`` a driver needs for it: plx, hts, bps or wss."""
        return self.instrument.profile

    @property
    def url(self) -> str:
        """The device URL of this simulator (``ble://ADDRESS?profile=...``)."""
        return f"ble://{self.address}?profile={self.profile}"

    @property
    def sent(self) -> list[Sent]:
        """What was sent so far (the most recent ``log_size`` values), oldest first."""
        return list(self._sent)

    @property
    def misbehaviour(self) -> frozenset[str]:
        """The misbehaviour switches that are on."""
        return frozenset(self._misbehaviour)

    @property
    def battery_level(self) -> int:
        """The battery level a central reads now."""
        return self.peripheral.value(uuids.BATTERY_LEVEL)[0]

    def period(self, name: str) -> float | None:
        """The period in use for a channel or link event, in seconds (None: silenced)."""
        return self._periods[name]

    async def set_misbehaviour(self, name: str, on: bool = True) -> None:
        """Switch a misbehaviour on or off (see the module notes)."""
        if name not in MISBEHAVIOURS:
            raise DeviceConfigurationError(
                f"Unknown misbehaviour {name!r}; use one of " + ", ".join(MISBEHAVIOURS))
        if on:
            self._misbehaviour.add(name)
        else:
            self._misbehaviour.discard(name)
        if name == "drop":
            (self._dropping.set if on else self._dropping.clear)()
        elif name == "battery-low":
            await self._set_battery(LOW_BATTERY if on else self._normal_battery)

    async def start(self) -> None:
        """Join the link, advertise, and start the channel and drop tasks."""
        await self._link.add(self.peripheral)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._channel_loop(channel),
                                        name=f"{self.kind} {channel.name}")
                       for channel in self.instrument.channels]
        self._tasks.append(loop.create_task(self._drop_loop(), name=f"{self.kind} drop"))

    async def stop(self) -> None:
        """Stop sending and leave the link (as if switched off and carried away)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._link_change is not None:
            await asyncio.gather(self._link_change, return_exceptions=True)
        await self._link.remove(self.peripheral)

    # --- sending -----------------------------------------------------------------------

    async def _channel_loop(self, channel: SimChannel) -> None:
        period = self._periods[channel.name]
        if period is None:
            return
        loop = asyncio.get_running_loop()
        count = 0
        while True:
            await self.peripheral.wait_subscribed(channel.uuid)
            # A reading one period after subscription, as a device starts measuring then.
            due = loop.time() + period
            while self.peripheral.is_subscribed(channel.uuid):
                await asyncio.sleep(max(0.0, due - loop.time()))
                # Due times from one origin, so sleep overshoots do not add up; after a
                # stall, restart from now instead of sending the missed values in a burst.
                due = max(due + period, loop.time())
                if self.peripheral.is_subscribed(channel.uuid):
                    await self._send_reading(channel, count)
                    count += 1

    async def _send_reading(self, channel: SimChannel, count: int) -> None:
        implausible = "implausible" in self._misbehaviour and count % _EVERY == 1
        # A device's clock shows local wall time, without a zone: naive on purpose.
        reading = self.instrument.reading(channel.name, datetime.now(), implausible=implausible)
        data = encode_reading(reading)
        sent = Sent(channel.name, channel.uuid, data, reading,
                    "implausible" if implausible else None, time.perf_counter())
        if "malformed" in self._misbehaviour and count % _EVERY == 2:
            sent = Sent(channel.name, channel.uuid, garble(data, self._rng), None, "malformed",
                        time.perf_counter())
        await self._send(sent, channel.sends)

    async def _send(self, sent: Sent, sends: Property) -> None:
        # Logged before it goes on the air: an indication reaches the central
        # before its confirmation returns here, so a log written afterwards
        # could miss what a reader already has (and is lost if we are stopped).
        self._sent.append(sent)
        try:
            if sends is Property.NOTIFY:
                await self.peripheral.notify(sent.characteristic, sent.data)
            else:
                await self.peripheral.indicate(sent.characteristic, sent.data)
        except Exception:
            # The link went while sending (a drop); the device keeps running.
            logger.warning("%s %s: could not send on %s", self.kind, self.address,
                           sent.channel, exc_info=True)

    async def _set_battery(self, level: int) -> None:
        data = encode_reading(BatteryLevel(level))
        self.peripheral.set_value(uuids.BATTERY_LEVEL, data)
        if self.peripheral.is_subscribed(uuids.BATTERY_LEVEL):
            await self._send(Sent("battery", uuids.BATTERY_LEVEL, data, BatteryLevel(level),
                                  "battery-low" if level == LOW_BATTERY else None,
                                  time.perf_counter()), Property.NOTIFY)

    async def _drop_loop(self) -> None:
        main = self.instrument.channels[0].uuid
        while True:
            await self._dropping.wait()
            await self.peripheral.wait_subscribed(main)
            await asyncio.sleep(self._periods["drop-after"] or 0.0)
            if not self._dropping.is_set() or not self.peripheral.is_connected:
                continue
            logger.info("%s %s: dropping the link (misbehaviour drop)", self.kind, self.address)
            await self._change_link(self.peripheral.drop_link())
            await asyncio.sleep(self._periods["come-back"] or 0.0)
            await self._change_link(self.peripheral.start_advertising())

    async def _change_link(self, change: Coroutine[Any, Any, None]) -> None:
        """Run an advertising change to its end even if stop() cancels us meanwhile.

        A half-done HCI command sequence corrupts bumble's advertising state
        (see SimulatedPeripheral); stop() waits for this one to finish.
        """
        self._link_change = asyncio.ensure_future(change)
        await asyncio.shield(self._link_change)


async def start_ble_simulator(link: VirtualBleLink, kind: str, address: str, *,
                              misbehave: Collection[str] = (), seed: int = 0,
                              period_scale: float = 1.0,
                              periods: Mapping[str, float | None] | None = None,
                              advertising_interval_ms: float = 100.0,
                              log_size: int = _DEFAULT_LOG) -> BleSimulator:
    """Put a simulated ``kind`` instrument on ``link`` at ``address`` and start it.

    ``kind`` is one of :data:`KINDS`, ``misbehave`` any of
    :data:`MISBEHAVIOURS`. ``seed`` makes the readings reproducible.
    ``advertising_interval_ms`` defaults to a real device's 100 ms; tests pass
    1 (a connection waits for the next advertisement). Raises
    DeviceConfigurationError for an unknown kind, switch or period.
    """
    instrument_class = INSTRUMENTS.get(kind)
    if instrument_class is None:
        raise DeviceConfigurationError(
            f"Unknown BLE simulator {kind!r}; use one of " + ", ".join(KINDS))
    unknown = [name for name in misbehave if name not in MISBEHAVIOURS]
    if unknown:
        raise DeviceConfigurationError(
            f"Unknown misbehaviour {unknown[0]!r}; use one of " + ", ".join(MISBEHAVIOURS))
    simulator = BleSimulator(
        link, instrument_class(random.Random(seed)), address,  # noqa: S311 - simulation
        seed=seed, period_scale=period_scale, periods=periods or {},
        advertising_interval_ms=advertising_interval_ms, log_size=log_size)
    for name in misbehave:
        # Before joining the link: a low battery is what the first read returns.
        await simulator.set_misbehaviour(name)
    await simulator.start()
    return simulator

