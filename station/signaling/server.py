"""The signaling server: invitation pages, the join API, the two sockets.

Routes (see ``docs/call-protocol.md``)::

    GET  /join/<token>           console page, or a French error page
    POST /api/join/<token>       {"name", "rpps", "specialty"} -> {"ticket", "session"}
    GET  /oidc/login/<token>, /oidc/callback, /api/join/<token>/identity
                                 doctors' OpenID Connect sign-in (oidc_routes),
                                 embedded or standalone
    GET  /web/...                static files of resources/web
    WS   /ws/doctor?ticket=...   the doctor's console
    WS   /ws/station/<session>   the station, ``Authorization: Bearer <key>``
    POST   /api/invitations        standalone: a station asks for a link (station_api)
    DELETE /api/invitations/<id>   standalone: the station revokes it

Embedded in a station, the server knows one station (the key generated at
start) and records the doctor who joins in the station's own store.
Standalone (``station serve``), it knows each station by id and key
(:mod:`station.signaling.stations`), keeps each session with the station that
claimed it, and tells the station who joined with a ``doctor-joined``
message on its socket (replayed when the socket comes back).

A WebSocket or POST whose ``Origin`` is not allowed gets 403 before anything
else; a client that sends no ``Origin`` is not a browser (the station's
aiohttp client) and cross-site abuse needs a browser.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, web

from resources import resource_path
from station.clock import Clock, utc_now
from station.errors import ValidationError
from station.i18n import tr
from station.oidc_config import OidcConfig
from station.signaling import guard, headers
from station.signaling.invitations import (
    InvitationBook,
    InvitationError,
    Invitations,
    InvitationState,
)
from station.signaling.limits import (
    DOCTOR_HEARTBEAT_SECONDS,
    HARD_MESSAGE_BYTES,
    HEARTBEAT_SECONDS,
    MAX_REQUEST_BYTES,
    REJOIN_TICKET_TTL_SECONDS,
    read_json,
)
from station.signaling.oidc_state import SignIns
from station.signaling.openapi import add_openapi_route
from station.signaling.pages import (
    SECURITY_HEADERS,
    console_page,
    error_page,
    status_for,
    title_for,
)
from station.signaling.remote_invitations import (
    RemoteBook,
    RemoteInvitations,
    doctor_joined_message,
)
from station.signaling.rooms import InMemoryRoomRegistry, Role, RoomRegistry
from station.signaling.sockets import SocketPeer, serve_socket
from station.signaling.stations import (
    SharedKey,
    StationAuth,
    StationDirectory,
    StationRegistry,
    bearer,
)
from station.signaling.tickets import InMemoryTicketBook, SqliteTicketBook, TicketBook
from station.store.database import Store
from station.turn import browser_ice_servers, user_label
from station.turn_config import TurnConfig

DEFAULT_WEB_ROOT = resource_path("web")
# The join form's fields, as the station's validation names them.
_FIELDS = {"doctor_name": "name", "rpps": "rpps", "specialty": "specialty"}


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower case, default port left out.

    A malformed URL (``http://[::1``, a port past 65535) is no origin: it comes
    back as ``invalid:<url>``, which no configured origin equals.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return f"invalid:{url}"
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


@dataclass
class SignalingState:
    """Everything the handlers share; one per application."""

    store: Store
    invitations: Invitations
    rooms: RoomRegistry
    tickets: TicketBook
    station_key: str  # the embedded server's one key; "" standalone
    auth: StationAuth
    remote: RemoteBook | None  # standalone: the invitations stations ask for
    web_root: Path
    allowed_origins: set[str]
    explicit_origins: bool
    ice_servers: list[dict[str, Any]] = field(default_factory=list)
    turn: TurnConfig | None = None  # the relay whose credentials consoles get
    sockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)

    @property
    def public_url(self) -> str:
        """The address doctors' browsers reach (set at start when not given)."""
        return self.invitations.public_url

    @property
    def book(self) -> InvitationBook:
        """Where doctors' links are looked up: the remote stations' when standalone."""
        return self.remote if self.remote is not None else self.invitations

    def set_public_url(self, url: str) -> None:
        """Adopt ``url`` as the public address (and origin, unless origins were given)."""
        self.invitations.public_url = url.rstrip("/")
        if self.remote is not None:
            self.remote.public_url = url.rstrip("/")
        if not self.explicit_origins:
            self.allowed_origins = {origin_of(url)}


@dataclass(frozen=True)
class SharedBackends:
    """Where a standalone server keeps what its handlers share: in this process and
    its store (one ``station serve``), or in Redis (every node of a cluster)."""

    rooms: RoomRegistry
    tickets: TicketBook
    stations: StationRegistry
    invitations: RemoteBook
    sign_ins: SignIns | None = None  # doctors' OpenID Connect sign-ins; None: in memory


STATE = web.AppKey("signaling", SignalingState)


def json_error(status: int, code: str, *, field_name: str | None = None,
                message: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": code, "message": message or tr(code)}
    if field_name is not None:
        body["field"] = field_name
    return web.json_response(body, status=status, headers=SECURITY_HEADERS)


def origin_refused(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    return origin_of(origin) not in request.app[STATE].allowed_origins


def refuse_origin(request: web.Request) -> web.Response:
    origin = request.headers.get("Origin", "")
    return json_error(403, "signaling.origin_refused",
                       message=tr("signaling.origin_refused", origin=origin[:100]))


async def join_page(request: web.Request) -> web.Response:
    """``GET /join/<token>``: the console for a valid link, else why not."""
    state = request.app[STATE]
    link = state.book.state(request.match_info["token"])
    if link is InvitationState.VALID:
        return console_page(state.web_root)
    return error_page(link)


def _read_form(body: object) -> tuple[str, str, str] | web.Response:
    """The join form's three fields, or the 400 response naming what is wrong."""
    if not isinstance(body, dict):
        return json_error(400, "signaling.bad_request")
    for name in ("name", "rpps", "specialty"):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            code = next(k for k, v in _FIELDS.items() if v == name)
            error = ValidationError(code, "identity.required")
            return json_error(400, error.code, field_name=name, message=error.message)
    return body["name"], body["rpps"], body["specialty"]


async def join_api(request: web.Request) -> web.Response:
    """``POST /api/join/<token>``: record the doctor, hand out a socket ticket."""
    state = request.app[STATE]
    if origin_refused(request):
        return refuse_origin(request)
    try:
        form = _read_form(await request.json(loads=read_json))
    except (ValueError, LookupError):  # LookupError: an unknown charset
        form = json_error(400, "signaling.bad_request")
    if isinstance(form, web.Response):
        return form
    # Doctors' OpenID Connect sign-in: a verified RPPS replaces the typed one.
    from station.signaling import oidc_routes  # noqa: PLC0415 - it imports this module

    verified = await oidc_routes.join_identity(request, request.match_info["token"])
    if isinstance(verified, web.Response):
        return verified
    try:
        if verified is not None:
            # Embedded, the session event records it; standalone, the invitation
            # keeps it for the doctor-joined message the station records.
            invitation = state.book.join(
                request.match_info["token"], form[0], verified.rpps, form[2],
                verified={"method": "oidc", "issuer": verified.issuer,
                          "subject": verified.subject, "name": verified.name})
            await oidc_routes.signed_in(request)
        else:
            invitation = state.book.join(request.match_info["token"], *form)
    except ValidationError as error:
        return json_error(400, error.code, field_name=_FIELDS.get(error.field, error.field),
                           message=error.message)
    except InvitationError as error:
        return json_error(status_for(error.state), error.code,
                           message=title_for(error.state))
    doctor = invitation.doctor
    assert doctor is not None  # join() has just recorded them
    if invitation.station_id is not None:
        # A remote station records the doctor in its own store: tell it now (and
        # again whenever its socket comes back, in case it was away).
        await state.rooms.relay(invitation.session_id, Role.DOCTOR,
                                doctor_joined_message(invitation))
    ticket = await state.tickets.issue(invitation.session_id, doctor.name, doctor.rpps)
    return web.json_response({"ticket": ticket, "session": invitation.session_id},
                             headers=SECURITY_HEADERS)


def _new_socket(state: SignalingState, heartbeat: float = HEARTBEAT_SECONDS
                ) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=HARD_MESSAGE_BYTES, heartbeat=heartbeat)
    state.sockets.add(ws)
    return ws


async def console_config(request: web.Request) -> web.Response:
    """``/api/config``: what the console needs before its call (STUN/TURN servers),
    and whether doctors may sign in with OpenID Connect (``oidc``)."""
    from station.signaling.oidc_routes import OIDC  # noqa: PLC0415 - it imports this module

    body: dict[str, Any] = {"iceServers": request.app[STATE].ice_servers}
    if OIDC in request.app:
        body["oidc"] = True
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def doctor_socket(request: web.Request) -> web.StreamResponse:
    """``/ws/doctor?ticket=``: one socket per ticket, into the ticket's room."""
    state = request.app[STATE]
    if origin_refused(request):
        return refuse_origin(request)
    ticket = await state.tickets.redeem(request.query.get("ticket", ""))
    if ticket is None:
        return json_error(401, "signaling.ticket_invalid")
    ws = _new_socket(state, DOCTOR_HEARTBEAT_SECONDS)
    await ws.prepare(request)
    # The ticket just used is spent; hand the console the one it will need to
    # come back if this socket drops.
    rejoin = await state.tickets.issue(ticket.session_id, ticket.doctor_name,
                                       ticket.doctor_rpps, ttl=REJOIN_TICKET_TTL_SECONDS)
    greeting: dict[str, Any] = {"type": "ticket", "ticket": rejoin,
                                "expires_in": int(REJOIN_TICKET_TTL_SECONDS)}
    if state.turn is not None:
        # The relay's credentials go to a redeemed ticket's socket only (an open
        # /api/config would relay for anyone), fresh at each (re)connection.
        greeting["iceServers"] = browser_ice_servers(
            state.turn, user_label("doctor", ticket.session_id))
    await ws.send_json(greeting)
    await serve_socket(ws, state.rooms, ticket.session_id, Role.DOCTOR, replace=False)
    return ws


def station_of(request: web.Request) -> str | None:
    """The station id the request's ``Authorization: Bearer`` proves, or None."""
    state = request.app[STATE]
    return state.auth.authenticate(bearer(request.headers.get("Authorization", "")))


async def station_socket(request: web.Request) -> web.StreamResponse:
    """``/ws/station/<session>``: the station, by its key; a reconnection replaces."""
    state = request.app[STATE]
    if origin_refused(request):
        return refuse_origin(request)
    station_id = station_of(request)
    if station_id is None:
        return json_error(401, "signaling.station_key")
    session_id = request.match_info["session_id"]
    if not state.auth.claim(station_id, session_id):
        return json_error(403, "signaling.not_your_session")
    ws = _new_socket(state)
    await ws.prepare(request)

    async def greet(peer: SocketPeer) -> None:
        if state.remote is not None:  # who joined while the station was away
            for invitation in state.remote.joined(session_id):
                await peer.send(doctor_joined_message(invitation))

    await serve_socket(ws, state.rooms, session_id, Role.STATION, replace=True, greet=greet)
    return ws


async def _close_sockets(app: web.Application) -> None:
    for ws in list(app[STATE].sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def create_app(store: Store, *, station_key: str | None = None, public_url: str = "",
               allowed_origins: set[str] | None = None,
               web_root: Path = DEFAULT_WEB_ROOT, clock: Clock = utc_now,
               rooms: RoomRegistry | None = None,
               ice_servers: list[dict[str, Any]] | None = None,
               oidc: OidcConfig | None = None, oidc_clock: Clock | None = None,
               shared: SharedBackends | None = None, turn: TurnConfig | None = None,
               ) -> web.Application:
    """The signaling application over ``store``.

    With ``station_key`` it is a station's embedded server, which knows that
    one key; without, a standalone server for the stations listed in
    ``store`` (:class:`~station.signaling.stations.StationDirectory`).
    ``public_url`` is where doctors' browsers reach this server; empty, it is
    set by :func:`station.signaling.runner.start_server` once bound.
    ``allowed_origins`` default to the public URL's origin. ``clock`` dates
    invitations (tests move it); ``rooms`` defaults to an in-memory registry.
    ``ice_servers`` (browser format: ``{"urls", "username", "credential"}``)
    are handed to consoles by ``GET /api/config``. ``oidc`` turns on doctors'
    OpenID Connect sign-in (``oidc_clock`` checks ID tokens' times, ``clock``
    by default; sign-ins wait in ``shared.sign_ins``, else in memory).
    ``shared`` (standalone only) puts the rooms, tickets, stations, invitations
    and sign-ins elsewhere than this process and ``store``: the nodes of a
    cluster (:mod:`station.signaling.cluster`).
    Standalone without it, tickets live in ``store`` and survive a restart.
    ``turn`` (``[turn]`` of station.toml) gives each doctor's socket fresh
    time-limited credentials for the TURN relay (``iceServers`` in its first
    message).
    """
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    guard.install(app)  # tokens cannot be tried by the thousand
    headers.install(app)  # CSP, HSTS, no-referrer... on every response, 404s included
    standalone = station_key is None
    if shared is not None and not standalone:
        raise ValueError("shared backends are for standalone servers (no station_key)")
    if shared is None and standalone:
        directory = StationDirectory(store, clock=clock)
        shared = SharedBackends(rooms or InMemoryRoomRegistry(), SqliteTicketBook(store),
                                directory, RemoteInvitations(store, directory, public_url,
                                                             clock=clock))
    state = SignalingState(
        store=store, invitations=Invitations(store, public_url, clock=clock),
        rooms=shared.rooms if shared else rooms or InMemoryRoomRegistry(),
        tickets=shared.tickets if shared else InMemoryTicketBook(),
        station_key=station_key or "",
        auth=shared.stations if shared else SharedKey(station_key or ""),
        remote=shared.invitations if shared else None,
        web_root=Path(web_root),
        allowed_origins={origin_of(o) for o in allowed_origins or ()},
        explicit_origins=allowed_origins is not None,
        ice_servers=list(ice_servers or ()), turn=turn,
    )
    if public_url:
        state.set_public_url(public_url)
    app[STATE] = state
    app.router.add_get("/join/{token}", join_page)
    app.router.add_post("/api/join/{token}", join_api)
    app.router.add_get("/api/config", console_config)
    app.router.add_get("/ws/doctor", doctor_socket)
    app.router.add_get("/ws/station/{session_id}", station_socket)
    if standalone:
        from station.signaling import station_api  # noqa: PLC0415 - it imports this module

        station_api.register(app)
    from station.signaling import expertise_routes  # noqa: PLC0415 - it imports this module

    expertise_routes.register(app, store, web_root=state.web_root, clock=clock,
                              allowed_origins=lambda: state.allowed_origins,
                              origin_of=origin_of)
    from station.signaling import oidc_routes  # noqa: PLC0415 - it imports this module
    from station.signaling.oidc import RelyingParty  # noqa: PLC0415

    oidc_routes.register(app, oidc, None if oidc is None else RelyingParty(
        oidc, clock=oidc_clock or clock, sign_ins=shared.sign_ins if shared else None))
    if state.web_root.is_dir():
        app.router.add_static("/web/", state.web_root, follow_symlinks=False)
    add_openapi_route(app)
    app.on_shutdown.append(_close_sockets)
    return app
