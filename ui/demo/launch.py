"""``station-app --demo`` (what ``./scripts/demo`` runs): the app in demo mode.

Demo mode opens the demo store (``<data dir>/demo``, never the cart's real
one) with the demo nurse's account and a sample resident, every simulated
instrument and the embedded signaling server.

- With a display, the window opens for a person to use: the sign-in is
  prefilled with the demo login (the password is printed), and the doctor's
  link, once the nurse creates it, is printed and opened in the default
  browser, where anyone can play the doctor.
- With no display (or ``--offscreen``), the scripted tour of
  :mod:`ui.demo.tour` runs the whole flow through the real GUI offscreen,
  with headless Chromium as the doctor; it prints ``OUTPUT <folder>`` on a
  line of its own, the folder holding a screenshot of every screen and the
  final report (PDF and FHIR bundle), and exits 0 once all of it exists.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from datetime import datetime
from pathlib import Path

from PySide6.QtWidgets import QApplication

from station.demo import DEMO_LOGIN, DEMO_PASSWORD, demo_home, demo_resident, ensure_demo_account
from station.i18n import tr
from station.paths import STORE_FILENAME
from station.store import audit
from station.store.database import Store
from station.store.residents import ResidentRegistry
from ui.app import MainWindow, build_screens, make_application
from ui.controller import AppSettings, StationController
from ui.i18n import _
from ui.screens.signin import SignInScreen

OFFSCREEN_PLATFORMS = ("offscreen", "minimal")


def has_display() -> bool:
    """Can a window be shown here (X11 or Wayland, and Qt not told to stay offscreen)?"""
    if os.environ.get("QT_QPA_PLATFORM", "") in OFFSCREEN_PLATFORMS:
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def tour_folder(home: Path) -> Path:
    """A new folder for this run's screenshots and report."""
    folder = home / "visites" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def prepare_store(home: Path, fresh: bool) -> Store:
    """The demo store with its nurse and its sample resident."""
    if fresh and home.exists():
        shutil.rmtree(home)  # demo data only: the real store lives one level up
    store = Store.open(home / STORE_FILENAME)
    ensure_demo_account(store)
    demo_resident(ResidentRegistry(store))
    return store


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo the way ``args`` ask; returns the exit code."""
    offscreen = args.offscreen or not has_display()
    if offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from station.demo_doctor import chromium_available  # noqa: PLC0415

        if not chromium_available():
            print(_("The demo with no display needs Chromium to play the doctor: run "
                    "./scripts/setup (Debian package chromium)."), file=sys.stderr)
            return 1
    import qasync  # noqa: PLC0415 - only the running app needs it

    app = make_application(sys.argv[:1])
    home = demo_home()
    store = prepare_store(home, args.fresh)
    controller = StationController(store, AppSettings(
        home=home, demo=True, language=args.lang,
        lock_minutes=args.preferences.lock_minutes,
        extra={"open_doctor_link": not offscreen}))
    window = MainWindow(controller, build_screens(controller))
    window.resize(1280, 800)
    window.show()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            if offscreen:
                code: int = loop.run_until_complete(_tour(window, args.output))
                finish_pending(loop)
                return code
            return _interactive(app, window, loop)
    finally:
        store.close()


def finish_pending(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what the stopped session left running (a photo still on its way...)."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=5))


def _interactive(app: QApplication, window: MainWindow, loop: asyncio.AbstractEventLoop) -> int:
    signin = window.screens["signin"]
    assert isinstance(signin, SignInScreen)
    signin.login.setText(DEMO_LOGIN)
    signin.entered()
    print(_("Demo: login {login}, password {password}").format(
        login=DEMO_LOGIN, password=DEMO_PASSWORD), flush=True)
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    loop.run_until_complete(closed.wait())
    return 0


async def _tour(window: MainWindow, output: Path | None) -> int:
    from ui.demo.taps import InputError  # noqa: PLC0415
    from ui.demo.tour import Tour, TourError  # noqa: PLC0415 - aiortc, Playwright

    folder = output if output is not None else tour_folder(demo_home())
    folder.mkdir(parents=True, exist_ok=True)
    tour = Tour(window, folder)
    try:
        result = await tour.run()
    except (TourError, InputError) as error:  # a step that did not happen: say which
        print(_("The demo did not finish: {reason}").format(reason=error), file=sys.stderr,
              flush=True)
        return 1
    print(_("Taps from sign-in to the doctor's link: {count}").format(
        count=result.taps_to_invite))
    checked = audit.verify(window.controller.store.conn)
    if not checked.ok:
        print("; ".join(checked.problems), file=sys.stderr, flush=True)
        return 1
    print(tr("demo.audit", entries=checked.entries, status=tr("demo.audit_ok")))
    print(f"OUTPUT {result.folder}", flush=True)
    return 0
