"""Opening devices by URL, real or simulated, and the technician's probes.

Real URLs (``ble://``, ``serial://``, ``camera://``, ``audio://``) get the
hardware transport; ``sim://`` URLs get the same driver on a simulator that
speaks the real bytes: BLE instruments on an in-process virtual BLE link,
serial oximeters on a pseudo-terminal, the stethoscope and the cameras as
simulated sources. One :class:`Simulators` owns what simulators a process runs.

Simulator names: ``oximeter-ble``, ``thermometer-ble``, ``blood-pressure-ble``,
``scale-ble``, ``oximeter-serial?protocol=cms50d|cms50d-v46|nonin-2``,
``stethoscope[?rate=70&murmur=1]``, ``otoscope``, ``dermatoscope``, ``room-camera`` (cameras
take ``?video=WxH``, their video mode; stills stay at full resolution).
The stethoscope streams known test signals instead of heart and lung sounds with
``signal=heart`` (default) | ``tone`` (``&freq=100``) | ``tones`` (third octaves
20 Hz–2 kHz, ``&step=1`` s each) | ``sweep`` | ``beats`` (a steady heartbeat) |
``clicks`` (on every 500 ms of Unix time) | ``silence``, ``&clicks=1`` adding the
clicks to another one and ``&level=`` the peak level (0..1); see
:mod:`devices.audio.test_signals`.
Option ``misbehave=`` (comma-separated): ``drop``, ``malformed``, ``implausible``,
``battery-low`` (BLE), ``silent`` (serial, stethoscope), ``freeze``/``black``
(cameras; ``drop`` too).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from devices.audio import AudioCapture, AudioSource, Fault, Scene, SimulatedStethoscope
from devices.audio.test_signals import SignalRenderer, signal_renderer
from devices.ble.gatt import Advertisement
from devices.ble.health import BleHealthDevice
from devices.ble.simulators import BleSimulator, start_ble_simulator
from devices.ble.virtual_link import VirtualBleLink
from devices.camera import open_camera
from devices.device import Device, DeviceEvent, EventKind
from devices.errors import DeviceConfigurationError, DeviceError
from devices.manager import Backoff, DeviceManager, DeviceState
from devices.media import CameraDevice, StethoscopeDevice
from devices.serial.oximeter import SerialOximeter
from devices.serial.port import SerialSettings
from devices.serial.simulator import SerialOximeterSimulator
from devices.urls import DeviceUrl, parse_device_url

SIM_BLE = {"oximeter-ble": ("oximeter", "plx"), "thermometer-ble": ("thermometer", "hts"),
           "blood-pressure-ble": ("blood-pressure", "bps"), "scale-ble": ("scale", "wss")}
SIM_CAMERAS = {"otoscope": "otoscope", "dermatoscope": "dermatoscope", "room-camera": "room"}
SIM_OTHERS = ("oximeter-serial", "stethoscope")
SERIAL_PRESETS: dict[str, Callable[[str], SerialSettings]] = {
    "cms50d": SerialSettings.cms50d_classic, "cms50d-v46": SerialSettings.cms50d_v46,
    "nonin-2": SerialSettings.nonin,
}


class Simulators:
    """The simulators one process runs: a virtual BLE link and serial ptys."""

    def __init__(self, *, advertising_interval_ms: float = 20.0) -> None:
        self._link: VirtualBleLink | None = None
        self._advertising_ms = advertising_interval_ms
        self.ble: list[BleSimulator] = []
        self.serial: list[SerialOximeterSimulator] = []

    async def link(self) -> VirtualBleLink:
        """The virtual BLE link, started on first use."""
        if self._link is None:
            self._link = VirtualBleLink()
            await self._link.start()
        return self._link

    async def ble_instrument(self, kind: str, misbehave: list[str]) -> BleSimulator:
        """Start a simulated BLE instrument at the next free address."""
        address = f"5E:1A:00:00:00:{len(self.ble) + 1:02X}"
        simulator = await start_ble_simulator(
            await self.link(), kind, address, misbehave=misbehave, seed=len(self.ble),
            advertising_interval_ms=self._advertising_ms)
        self.ble.append(simulator)
        return simulator

    def serial_oximeter(self, protocol: str, misbehave: list[str]) -> SerialOximeterSimulator:
        """Start a simulated serial oximeter on a new pty."""
        simulator = SerialOximeterSimulator(protocol, misbehave=misbehave,
                                            seed=len(self.serial)).start()
        self.serial.append(simulator)
        return simulator

    async def close(self) -> None:
        """Stop every simulator and the link."""
        for ble in self.ble:
            with contextlib.suppress(DeviceError):
                await ble.stop()
        for serial in self.serial:
            serial.stop()
        if self._link is not None:
            await self._link.close()
        self.ble.clear()
        self.serial.clear()
        self._link = None


async def open_device(url: str, simulators: Simulators | None = None) -> Device:
    """The driver for ``url``; ``sim://`` URLs need ``simulators``."""
    parsed = parse_device_url(url)
    if parsed.scheme == "sim":
        if simulators is None:
            raise DeviceConfigurationError(f"{url}: simulators are not enabled here")
        return await _open_simulated(url, parsed, simulators)
    if parsed.scheme == "ble":
        from devices.ble.bleak_client import BleakGattClient  # noqa: PLC0415 - D-Bus stack

        return BleHealthDevice(url, BleakGattClient(parsed.target), parsed.option("profile"))
    if parsed.scheme == "serial":
        protocol = parsed.option("protocol")
        return SerialOximeter(url, SERIAL_PRESETS[protocol](parsed.target), protocol)
    if parsed.scheme == "camera":
        return CameraDevice(url, open_camera(url, parsed.option("role") or None))

    async def open_input() -> AudioSource:
        return await AudioCapture.open_url(url)

    return StethoscopeDevice(url, open_input)


async def _open_simulated(url: str, parsed: DeviceUrl, simulators: Simulators) -> Device:
    misbehave = [m for m in parsed.option("misbehave").split(",") if m]
    name = parsed.target
    if name in SIM_BLE:
        kind, profile = SIM_BLE[name]
        simulator = await simulators.ble_instrument(kind, misbehave)
        link = await simulators.link()
        return BleHealthDevice(url, link.client(simulator.address), profile)
    if name == "oximeter-serial":
        protocol = parsed.option("protocol", "cms50d")
        if protocol not in SERIAL_PRESETS:
            raise DeviceConfigurationError(f"{url}: unknown serial protocol {protocol!r}")
        serial = simulators.serial_oximeter(protocol, misbehave)
        return SerialOximeter(url, SERIAL_PRESETS[protocol](serial.path), protocol)
    if name in SIM_CAMERAS:
        options = [f"fault={m}" for m in misbehave[:1]]
        options += [f"{name}={parsed.option(name)}" for name in ("video", "clock")
                    if parsed.option(name)]
        query = "&".join(options)
        camera_url = f"sim://{SIM_CAMERAS[name]}" + (f"?{query}" if query else "")
        return CameraDevice(url, open_camera(camera_url))
    if name == "stethoscope":
        scene = Scene(murmur_level=0.08 if parsed.option("murmur") else 0.0,
                      heart_rate_bpm=float(parsed.option("rate", "70")))
        fault = Fault.CLIPPING if "implausible" in misbehave else (
            Fault.SILENCE if "silent" in misbehave else Fault.NONE)
        drop_after = 250 if "drop" in misbehave else None  # 5 s of 20 ms blocks
        make_signal = _stethoscope_signal(url, parsed)
        make_signal()  # a bad option fails here, not when the device starts

        async def open_simulated() -> AudioSource:
            return await SimulatedStethoscope.open(scene, fault=fault,
                                                   drop_out_after_blocks=drop_after,
                                                   signal=make_signal())

        return StethoscopeDevice(url, open_simulated)
    known = ", ".join([*SIM_BLE, *SIM_OTHERS, *SIM_CAMERAS])
    raise DeviceConfigurationError(f"{url}: no simulator {name!r}; choose one of {known}")


def _stethoscope_signal(url: str, parsed: DeviceUrl) -> Callable[[], SignalRenderer | None]:
    """A factory of the test signal a ``sim://stethoscope`` URL asks for (fresh per opening)."""
    try:
        freq = float(parsed.option("freq", "100"))
        step = float(parsed.option("step", "1"))
        level = float(parsed.option("level")) if parsed.option("level") else None
    except ValueError as error:
        raise DeviceConfigurationError(f"{url}: {error}") from error
    name = parsed.option("signal", "heart")
    clicks = parsed.option("clicks") not in ("", "0")
    return lambda: signal_renderer(name, freq_hz=freq, step_s=step, level=level, clicks=clicks)


async def scan_ble(seconds: float, *, virtual: bool = False) -> list[Advertisement]:
    """Advertisements heard in ``seconds``: real Bluetooth, or the simulated instruments."""
    if not virtual:
        from devices.ble.bleak_client import scan  # noqa: PLC0415 - D-Bus stack

        return await scan(seconds)
    simulators = Simulators()
    try:
        for kind, _ in SIM_BLE.values():
            await simulators.ble_instrument(kind, [])
        link = await simulators.link()
        found = {ad.address: ad for ad in await link.scan(seconds)}  # reported twice
        return sorted(found.values(), key=lambda ad: ad.address)
    finally:
        await simulators.close()


async def run_for(url: str, seconds: float, show: Callable[[DeviceEvent], None]
                  ) -> dict[str, Any]:
    """Run one device under a manager for ``seconds``; count what it said."""
    counts = {"connected": False, "measurements": 0, "waveforms": 0, "lost": 0}
    simulators = Simulators()

    def tally(event: DeviceEvent) -> None:
        counts["connected"] = counts["connected"] or event.kind is EventKind.CONNECTED
        for key, kind in (("measurements", EventKind.MEASUREMENT),
                          ("waveforms", EventKind.WAVEFORM), ("lost", EventKind.LOST)):
            if event.kind is kind:
                counts[key] += 1
        show(event)

    try:
        manager = DeviceManager([await open_device(url, simulators)], Backoff(1.0, 5.0))
        manager.subscribe(tally)
        manager.start()
        await asyncio.sleep(seconds)
        await manager.stop()
    finally:
        await simulators.close()
    return counts


async def probe(urls: list[str], seconds: float) -> dict[str, tuple[str, str]]:
    """Start every device for up to ``seconds``: (state, detail) of each."""
    simulators = Simulators()
    states: dict[str, tuple[str, str]] = {}
    devices: list[Device] = []
    for url in urls:
        try:
            devices.append(await open_device(url, simulators))
        except DeviceError as error:
            states[url] = (DeviceState.UNAVAILABLE.value, str(error))
    manager = DeviceManager(devices)
    details: dict[str, str] = {}

    def remember(event: DeviceEvent) -> None:
        if event.kind in (EventKind.CONNECTED, EventKind.LOST, EventKind.UNAVAILABLE):
            details[event.url] = event.detail

    manager.subscribe(remember)
    try:
        manager.start()
        deadline = asyncio.get_running_loop().time() + seconds
        waiting = (DeviceState.CONNECTING, DeviceState.STOPPED)  # STOPPED: not yet started
        while asyncio.get_running_loop().time() < deadline and any(
                s in waiting for s in manager.states.values()):
            await asyncio.sleep(0.1)
        for url, state in manager.states.items():
            states[url] = (state.value, details.get(url, ""))
        await manager.stop()
    finally:
        await simulators.close()
    return states
