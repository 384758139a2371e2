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
from typing import TYPE_CHECKING, Any

from station import i18n as station_i18n
from station.access import Permission, may
from station.app_settings import DEFAULT_LOCK_MINUTES
from station.consent import Act, ConsentCapacity, ConsentDecision, ConsentRecord
from station.identity import ResidentIdentity, identity_from_input, parse_birth_date
from station.people import NurseAccount
from station.session import SessionEngine, SessionState
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.pins import PinDirectory, change_own_pin, unlock
from station.store.residents import Resident, ResidentRegistry
from station.today import DaySession, resume_session, sessions_today, waiting_expertise
from ui import i18n as ui_i18n
from ui.bridge import CoreBridge

if TYPE_CHECKING:
    from station.expertise import Waiting
    from station.runtime import StationRuntime
    from ui.live import LiveSession



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
        self.pins = PinDirectory(store)
        self.bridge = CoreBridge()
        # Core messages (errors, labels) in the app's language.
        station_i18n.set_language(settings.language)
        self.nurse: NurseAccount | None = None
        self.resident: Resident | None = None
        self.session: SessionEngine | None = None
        self.runtime: StationRuntime | None = None
        self.live: LiveSession | None = None  # the session's live part (ui/live.py)

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

    def unlock(self, secret: str) -> NurseAccount:
        """Unlock the idle lock with the signed-in nurse's PIN or password (the core
        tells them apart and applies both lockouts); raises SignInError."""
        self.nurse = unlock(self.accounts, self.pins, self.require_nurse(), secret)
        return self.nurse

    def set_own_pin(self, password: str, pin: str, repeat: str) -> None:
        """The signed-in nurse sets or changes her PIN, typed twice, after her password
        (the core checks all three); raises ValidationError or SignInError."""
        change_own_pin(self.accounts, self.pins, self.require_nurse(), password, pin, repeat)

    def may_read_clinical(self) -> bool:
        """True when the signed-in account's role may see residents and sessions (the
        rule is :mod:`station.access`'s; a technician's home says why it may not)."""
        return self.nurse is not None and may(self.nurse.role, Permission.READ_CLINICAL)

    def has_pin(self) -> bool:
        """True when the signed-in nurse has a PIN."""
        return self.nurse is not None and self.pins.has_pin(self.nurse.login)

    # --- the language -------------------------------------------------------------------

    def set_language(self, language: str) -> None:
        """Show the app's strings and the core's messages in ``language`` (fr, en) from
        now on; screens already built keep their words (the window rebuilds them)."""
        ui_i18n.set_language(language)  # first: it refuses an unknown language
        station_i18n.set_language(language)
        self.settings.language = language

    # --- today ----------------------------------------------------------------------------

    def sessions_today(self) -> list[DaySession]:
        """This station's sessions opened today (in progress ones first); the core
        refuses a role without clinical access (AccessDeniedError) and audits the list."""
        return sessions_today(self.store, self.require_nurse())

    def waiting_expertise(self) -> list[tuple[Waiting, Resident | None]]:
        """Télé-expertise requests waiting for an answer (longest wait first), with
        the resident each one is about."""
        return waiting_expertise(self.store, self.require_nurse())

    def new_session(self) -> None:
        """Forget the current session and resident: the next one starts at the resident
        screen (the session itself is opened when consent is recorded, with its act)."""
        self.end_session()

    def resume_session(self, session_id: str) -> SessionEngine:
        """Pick up a session of the day where it stands (the core checks the role,
        audits the read and records the resumption)."""
        self.end_session()
        engine = resume_session(self.store, session_id, self.require_nurse())
        self._attach(engine)
        self.resident = engine.resident
        return engine

    def end_session(self) -> None:
        """Leave the current session (it stays stored as it stands)."""
        self.bridge.detach()
        self.session = None
        self.resident = None

    def _attach(self, engine: SessionEngine) -> None:
        self.session = engine
        self.bridge.watch(engine.subscribe, self.bridge.session_event)

    # --- the resident ---------------------------------------------------------------------

    def search_residents(self, birth_date: str, letters: str) -> list[Resident]:
        """Date of birth (JJ/MM/AAAA, may be empty) first, then letters of any name;
        raises ValidationError for an impossible date."""
        born = parse_birth_date(birth_date) if birth_date.strip() else None
        return self.residents.find(self.require_nurse(), born, letters)

    def identity_from_form(self, **fields: Any) -> ResidentIdentity:
        """The identity the nurse typed, checked by the core (ValidationError names the field)."""
        return identity_from_input(**fields)

    def possible_duplicates(self, identity: ResidentIdentity) -> list[Resident]:
        """Residents who may be the same person (the CLI's search before ``add``)."""
        return self.residents.find_duplicates(identity, self.require_nurse())

    def create_resident(self, identity: ResidentIdentity) -> Resident:
        """Store a new resident (after the duplicate check) and make it the current one."""
        self.resident = self.residents.create(identity, self.require_nurse().login)
        return self.resident

    def choose_resident(self, resident: Resident) -> None:
        """The resident of the coming session, opened through the core (role checked,
        the read audited)."""
        self.resident = self.residents.open(resident.id, self.require_nurse())

    # --- consent --------------------------------------------------------------------------

    def session_act(self) -> Act | None:
        """The act of the current session, once it is opened (then it cannot change)."""
        return self.session.act if self.session is not None else None

    def record_consent(self, act: Act, decision: ConsentDecision, capacity: ConsentCapacity,
                       consenting_person: str = "") -> ConsentRecord:
        """Trace the answer (oral) in the session, opening it and identifying the resident
        first when needed. Given: the examination starts; refused: the core stops it."""
        if self.resident is None:
            raise RuntimeError("no resident chosen")
        if self.session is None:
            self._attach(SessionEngine.start(self.store, self.require_nurse(), act))
        assert self.session is not None
        if self.session.state is SessionState.IDENTIFY:
            self.session.identify(self.resident)
        return self.session.record_consent(decision, capacity, consenting_person,
                                           note=station_i18n.tr("consent.how.oral"))
