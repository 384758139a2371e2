"""What the live screens' tests share: a controller over a real store with a session
under examination, a qasync loop over the test's QApplication (Chromium plays the doctor
through :class:`station.demo_doctor.BrowserDoctor`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import qasync

from station.consent import ConsentCapacity, ConsentDecision
from station.people import NurseAccount
from station.session import SessionEngine
from station.store.database import Store
from station.store.residents import Resident
from ui.app import make_application
from ui.controller import AppSettings, StationController

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DEVICES = ("sim://oximeter-ble", "sim://thermometer-ble", "sim://blood-pressure-ble",
           "sim://stethoscope", "sim://room-camera", "sim://otoscope", "sim://dermatoscope")


def live_controller(store: Store, nurse: NurseAccount, resident: Resident, home: Path,
                    devices: tuple[str, ...] = DEVICES, **runtime: Any) -> StationController:
    """A signed-in nurse, a session of ``resident`` with consent given (examining),
    forwarded to the bridge as the consent screen does."""
    options: dict[str, Any] = {"device_urls": devices, "outbox_config": None, "recipients": [],
                               "host": "127.0.0.1", "port": 0, **runtime}
    controller = StationController(store, AppSettings(
        home=home, extra={"runtime_options": options, "camera_ready_s": 15.0}))
    controller.nurse = nurse
    controller.resident = resident
    session = SessionEngine.start(store, nurse)
    session.identify(resident)
    session.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT, note="accord oral")
    controller.session = session
    controller.bridge.watch(session.subscribe, controller.bridge.session_event)
    return controller


@contextmanager
def qasync_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The app's loop (qasync over the QApplication), as ``ui.app.main`` runs it."""
    app = make_application()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        # Leave nothing of this test's call running into the next test's loop.
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=5))
        loop.close()
        asyncio.set_event_loop(None)


async def until(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Let the loop (and Qt) run until ``check()`` is truthy; fail after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        result = check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def stop_live(controller: StationController) -> None:
    """Stop the live session if a test left it running."""
    if controller.live is not None:
        await controller.live.stop("test over")
