"""The app's single entry into the station core: screens call it, it calls the core.

It holds no business rule: who may do what, in which order, with which
checks, is decided by ``station/`` (the session engine, the registries, the
report service...). The controller only keeps what the screens share: the
store, the signed-in nurse, the current session and its live runtime, and
the :class:`~ui.bridge.CoreBridge` through which core events reach them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from station.people import NurseAccount
from station.session import SessionEngine
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.residents import Resident, ResidentRegistry
from ui.bridge import CoreBridge

if TYPE_CHECKING:
    from station.runtime import StationRuntime

DEFAULT_LOCK_MINUTES = 5.0


@dataclass
class AppSettings:
    """What the app was started with (demo or cart, idle lock, language)."""

    home: Path
    demo: bool = False
    lock_minutes: float = DEFAULT_LOCK_MINUTES
    language: str = "fr"
    device_urls: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)


class StationController:
    """Shared state of the screens and the calls they make into the core."""

    def __init__(self, store: Store, settings: AppSettings) -> None:
        self.store = store
        self.settings = settings
        self.accounts = AccountDirectory(store)
        self.residents = ResidentRegistry(store)
        self.bridge = CoreBridge()
        self.nurse: NurseAccount | None = None
        self.resident: Resident | None = None
        self.session: SessionEngine | None = None
        self.runtime: StationRuntime | None = None

    # --- the nurse ----------------------------------------------------------------------

    def sign_in(self, login: str, password: str) -> NurseAccount:
        """Check the credentials (lockout and audit are the store's); raises SignInError."""
        self.nurse = self.accounts.sign_in(login, password)
        return self.nurse

    def sign_out(self) -> None:
        """Forget the nurse (the session, if any, stays stored and can be resumed)."""
        self.nurse = None

    def require_nurse(self) -> NurseAccount:
        """The signed-in nurse; RuntimeError if none (a screen shown out of order)."""
        if self.nurse is None:
            raise RuntimeError("no nurse is signed in")
        return self.nurse
