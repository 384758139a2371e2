"""The nurse's application: one window, a stack of screens, asyncio through qasync.

``python -m ui`` (or ``station-app``) opens the cart's store; ``--demo``
runs the demo (:mod:`ui.demo.launch`): the demo store with every simulator,
and with no display a scripted tour of the whole flow. PySide6's own QtAsyncio cannot
host aiortc (no UDP endpoints), so the asyncio loop is qasync's, running on
the Qt thread: core callbacks arrive on the GUI thread.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMainWindow, QStackedWidget, QWidget

from station.app_settings import load_app_preferences
from station.errors import StationError
from station.paths import STORE_FILENAME, station_home
from station.store.database import Store
from ui.controller import AppSettings, StationController
from ui.i18n import LANGUAGES, _, set_language
from ui.screens.base import Screen
from ui.theme import STYLESHEET

APP_NAME = "Station de téléconsultation"


class MainWindow(QMainWindow):
    """The window: screens in a stack, switched by name."""

    def __init__(self, controller: StationController, screens: Sequence[Screen] = (),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle(_("Teleconsultation station"))
        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.screens: dict[str, Screen] = {}
        for screen in screens:
            self.add_screen(screen)
        self.resize(1280, 800)

    def add_screen(self, screen: Screen) -> None:
        """Register a screen; its ``navigate`` signal switches screens."""
        self.screens[screen.name] = screen
        self.stack.addWidget(screen)
        screen.navigate.connect(self.show_screen)
        chosen = getattr(screen, "language_chosen", None)  # the sign-in screen's choice
        if chosen is not None:
            chosen.connect(self.switch_language)

    def show_screen(self, name: str) -> Screen:
        """Show the screen ``name`` and let it refresh."""
        screen = self.screens[name]
        self.stack.setCurrentWidget(screen)
        screen.entered()
        return screen

    @property
    def current(self) -> Screen:
        """The screen on display."""
        widget = self.stack.currentWidget()
        assert isinstance(widget, Screen)
        return widget

    def switch_language(self, language: str) -> None:
        """Show the whole app in ``language`` (fr, en) and go back to the sign-in screen.

        Screens translate their strings when built, so each one is built anew
        (same classes, same order) and the old ones are deleted. Offered at
        sign-in only, when no screen holds anything typed for a session.
        """
        self.controller.set_language(language)
        self.setWindowTitle(_("Teleconsultation station"))
        old = list(self.screens.values())
        self.screens = {}
        for screen in old:
            self._retire(screen)
        for screen_class in (type(screen) for screen in old):
            self.add_screen(screen_class(self.controller))
        if "signin" in self.screens:
            self.show_screen("signin")

    def _retire(self, screen: Screen) -> None:
        """Take a screen out of the window for good: its idle watchers stop filtering
        the application's input (they would lock the app from a screen no one sees)."""
        from ui.idle import IdleWatcher  # noqa: PLC0415 - only a rebuild needs it

        app = QApplication.instance()
        for watcher in screen.findChildren(IdleWatcher):
            watcher.stop()
            if app is not None:
                app.removeEventFilter(watcher)
        self.stack.removeWidget(screen)
        screen.hide()
        screen.setParent(None)  # the lock screen stops following the stack
        screen.deleteLater()


def build_screens(controller: StationController) -> list[Screen]:
    """Every screen of the session, in flow order (the first one is shown first)."""
    return first_screens(controller) + later_screens(controller)


def first_screens(controller: StationController) -> list[Screen]:
    """Sign-in, lock, today, resident, consent: light screens, each owned by its module."""
    from ui.screens.consent import ConsentScreen  # noqa: PLC0415 - one import per part
    from ui.screens.home import HomeScreen  # noqa: PLC0415 - Today, or a technician's notice
    from ui.screens.lock import LockScreen  # noqa: PLC0415
    from ui.screens.resident import ResidentScreen  # noqa: PLC0415
    from ui.screens.signin import SignInScreen  # noqa: PLC0415

    return [SignInScreen(controller), LockScreen(controller), HomeScreen(controller),
            ResidentScreen(controller), ConsentScreen(controller)]


def later_screens(controller: StationController) -> list[Screen]:
    """Examination and call, report: they bring in aiortc, PyAV and reportlab (about
    half a second of imports), so the app adds them once the sign-in screen is up."""
    from ui.screens.exam import ExamScreen  # noqa: PLC0415 - one import per part
    from ui.screens.report import ReportScreen  # noqa: PLC0415

    return [ExamScreen(controller), ReportScreen(controller)]


def make_application(argv: Sequence[str] = ()) -> QApplication:
    """The QApplication with the app's name and stylesheet (reused if one exists)."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(list(argv))
    app.setApplicationName(APP_NAME)
    app.setStyleSheet(STYLESHEET)
    return app


def open_controller(settings: AppSettings) -> StationController:
    """Open the store named by ``settings`` and the controller over it."""
    return StationController(Store.open(settings.home / STORE_FILENAME), settings)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="station-app", description=APP_NAME)
    parser.add_argument("--demo", action="store_true",
                        help="demo store, every simulator, embedded signaling server; with "
                             "no display, a scripted tour with a browser doctor")
    parser.add_argument("--lang", choices=LANGUAGES, default=None,
                        help="the app's language (default: [app] language, else fr)")
    parser.add_argument("--fresh", action="store_true",
                        help="with --demo: start from an empty demo store")
    parser.add_argument("--offscreen", action="store_true",
                        help="with --demo: run the scripted tour even with a display")
    parser.add_argument("--output", type=Path, default=None,
                        help="with --demo: folder for the tour's screenshots and report")
    # bench/ui.py's cold start: print READY and quit once the sign-in screen takes input
    # ("signin"), or once every screen is built too ("all").
    parser.add_argument("--exit-when-ready", choices=("signin", "all"), help=argparse.SUPPRESS)
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app until its window closes."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        args.preferences = load_app_preferences()
    except StationError as error:  # a technician's typo in station.toml: say where
        print(error.message, file=sys.stderr)
        return 2
    args.lang = args.lang or args.preferences.language
    set_language(args.lang)
    if args.demo:
        from ui.demo.launch import run_demo  # noqa: PLC0415 - demo mode only

        return run_demo(args)
    import qasync  # noqa: PLC0415 - only the running app needs it

    app = make_application(sys.argv[:1])
    controller = open_controller(AppSettings(home=station_home(), language=args.lang,
                                             lock_minutes=args.preferences.lock_minutes))
    window = MainWindow(controller, first_screens(controller))
    window.show()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        closed = asyncio.Event()
        app.aboutToQuit.connect(closed.set)
        if args.exit_when_ready != "signin":  # built while the nurse types her password
            loop.call_soon(_add_later_screens, window)
        if args.exit_when_ready:
            loop.call_soon(_ready_and_quit, window, app)
        loop.run_until_complete(closed.wait())
    controller.store.close()
    return 0


def entry() -> None:
    """The ``station-app`` command: :func:`main`, then out without the interpreter's
    teardown. By then the store is closed and the output flushed; what is left is
    the garbage collection of live PySide6 objects, which can abort the process
    (``none_dealloc``) and turn a good run into exit code 134."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _add_later_screens(window: MainWindow) -> None:
    for screen in later_screens(window.controller):
        window.add_screen(screen)


def _ready_and_quit(window: MainWindow, app: QApplication) -> None:
    """Say the sign-in screen takes input (shown, focused, the loop turning), then quit."""
    ready = window.isVisible() and window.current.name == "signin"
    print("READY" if ready else f"NOT-READY {window.current.name}", flush=True)
    app.quit()
