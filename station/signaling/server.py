"""The signaling server: invitation pages, the join API, the two sockets.

Routes (see ``docs/call-protocol.md``)::

    GET  /join/<token>           console page, or a French error page
    POST /api/join/<token>       {"name", "rpps", "specialty"} -> {"ticket", "session"}
    GET  /web/...                static files of resources/web
    WS   /ws/doctor?ticket=...   the doctor's console
    WS   /ws/station/<session>   the station, ``Authorization: Bearer <key>``

A WebSocket or POST whose ``Origin`` is not allowed gets 403 before anything
else; a client that sends no ``Origin`` is not a browser (the station's
aiohttp client) and cross-site abuse needs a browser.
"""

from __future__ import annotations

import hmac
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
from station.signaling.invitations import InvitationError, Invitations, InvitationState
from station.signaling.limits import (
    HARD_MESSAGE_BYTES,
    HEARTBEAT_SECONDS,
    MAX_REQUEST_BYTES,
    REJOIN_TICKET_TTL_SECONDS,
)
from station.signaling.pages import (
    SECURITY_HEADERS,
    console_page,
    error_page,
    status_for,
    title_for,
)
from station.signaling.rooms import InMemoryRoomRegistry, Role, RoomRegistry, Tickets
from station.signaling.sockets import serve_socket
from station.store.database import Store

DEFAULT_WEB_ROOT = resource_path("web")
# The join form's fields, as the station's validation names them.
_FIELDS = {"doctor_name": "name", "rpps": "rpps", "specialty": "specialty"}


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower case, default port left out."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(scheme)
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


@dataclass
class SignalingState:
    """Everything the handlers share; one per application."""

    store: Store
    invitations: Invitations
    rooms: RoomRegistry
    tickets: Tickets
    station_key: str
    web_root: Path
    allowed_origins: set[str]
    explicit_origins: bool
    ice_servers: list[dict[str, Any]] = field(default_factory=list)
    sockets: weakref.WeakSet[web.WebSocketResponse] = field(default_factory=weakref.WeakSet)

    @property
    def public_url(self) -> str:
        """The address doctors' browsers reach (set at start when not given)."""
        return self.invitations.public_url

    def set_public_url(self, url: str) -> None:
        """Adopt ``url`` as the public address (and origin, unless origins were given)."""
        self.invitations.public_url = url.rstrip("/")
        if not self.explicit_origins:
            self.allowed_origins = {origin_of(url)}


STATE = web.AppKey("signaling", SignalingState)


def _json_error(status: int, code: str, *, field_name: str | None = None,
                message: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": code, "message": message or tr(code)}
    if field_name is not None:
        body["field"] = field_name
    return web.json_response(body, status=status, headers=SECURITY_HEADERS)


def _origin_refused(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    return origin_of(origin) not in request.app[STATE].allowed_origins


def _refuse_origin(request: web.Request) -> web.Response:
    origin = request.headers.get("Origin", "")
    return _json_error(403, "signaling.origin_refused",
                       message=tr("signaling.origin_refused", origin=origin[:100]))


async def join_page(request: web.Request) -> web.Response:
    """``GET /join/<token>``: the console for a valid link, else why not."""
    state = request.app[STATE]
    link = state.invitations.state(request.match_info["token"])
    if link is InvitationState.VALID:
        return console_page(state.web_root)
    return error_page(link)


def _read_form(body: object) -> tuple[str, str, str] | web.Response:
    """The join form's three fields, or the 400 response naming what is wrong."""
    if not isinstance(body, dict):
        return _json_error(400, "signaling.bad_request")
    for name in ("name", "rpps", "specialty"):
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            code = next(k for k, v in _FIELDS.items() if v == name)
            error = ValidationError(code, "identity.required")
            return _json_error(400, error.code, field_name=name, message=error.message)
    return body["name"], body["rpps"], body["specialty"]


async def join_api(request: web.Request) -> web.Response:
    """``POST /api/join/<token>``: record the doctor, hand out a socket ticket."""
    state = request.app[STATE]
    if _origin_refused(request):
        return _refuse_origin(request)
    try:
        form = _read_form(await request.json())
    except ValueError:
        form = _json_error(400, "signaling.bad_request")
    if isinstance(form, web.Response):
        return form
    try:
        invitation = state.invitations.join(request.match_info["token"], *form)
    except ValidationError as error:
        return _json_error(400, error.code, field_name=_FIELDS.get(error.field, error.field),
                           message=error.message)
    except InvitationError as error:
        return _json_error(status_for(error.state), error.code,
                           message=title_for(error.state))
    doctor = invitation.doctor
    assert doctor is not None  # join() has just recorded them
    ticket = state.tickets.issue(invitation.session_id, doctor.name, doctor.rpps)
    return web.json_response({"ticket": ticket, "session": invitation.session_id},
                             headers=SECURITY_HEADERS)


def _new_socket(state: SignalingState) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=HARD_MESSAGE_BYTES, heartbeat=HEARTBEAT_SECONDS)
    state.sockets.add(ws)
    return ws


async def console_config(request: web.Request) -> web.Response:
    """``/api/config``: what the console needs before its call (STUN/TURN servers)."""
    return web.json_response({"iceServers": request.app[STATE].ice_servers},
                             headers={"Cache-Control": "no-store"})


async def doctor_socket(request: web.Request) -> web.StreamResponse:
    """``/ws/doctor?ticket=``: one socket per ticket, into the ticket's room."""
    state = request.app[STATE]
    if _origin_refused(request):
        return _refuse_origin(request)
    ticket = state.tickets.redeem(request.query.get("ticket", ""))
    if ticket is None:
        return _json_error(401, "signaling.ticket_invalid")
    ws = _new_socket(state)
    await ws.prepare(request)
    # The ticket just used is spent; hand the console the one it will need to
    # come back if this socket drops.
    rejoin = state.tickets.issue(ticket.session_id, ticket.doctor_name, ticket.doctor_rpps,
                                 ttl=REJOIN_TICKET_TTL_SECONDS)
    await ws.send_json({"type": "ticket", "ticket": rejoin,
                        "expires_in": int(REJOIN_TICKET_TTL_SECONDS)})
    await serve_socket(ws, state.rooms, ticket.session_id, Role.DOCTOR, replace=False)
    return ws


async def station_socket(request: web.Request) -> web.StreamResponse:
    """``/ws/station/<session>``: the station, by its key; a reconnection replaces."""
    state = request.app[STATE]
    if _origin_refused(request):
        return _refuse_origin(request)
    given = request.headers.get("Authorization", "")
    expected = f"Bearer {state.station_key}"
    if not state.station_key or not hmac.compare_digest(given.encode(), expected.encode()):
        return _json_error(401, "signaling.station_key")
    ws = _new_socket(state)
    await ws.prepare(request)
    await serve_socket(ws, state.rooms, request.match_info["session_id"], Role.STATION,
                       replace=True)
    return ws


async def _close_sockets(app: web.Application) -> None:
    for ws in list(app[STATE].sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")


def create_app(store: Store, *, station_key: str, public_url: str = "",
               allowed_origins: set[str] | None = None,
               web_root: Path = DEFAULT_WEB_ROOT, clock: Clock = utc_now,
               rooms: RoomRegistry | None = None,
               ice_servers: list[dict[str, Any]] | None = None) -> web.Application:
    """The signaling application over ``store``.

    ``public_url`` is where doctors' browsers reach this server; empty, it is
    set by :func:`station.signaling.runner.start_server` once bound.
    ``allowed_origins`` default to the public URL's origin. ``clock`` dates
    invitations (tests move it); ``rooms`` defaults to an in-memory registry.
    ``ice_servers`` (browser format: ``{"urls", "username", "credential"}``)
    are handed to consoles by ``GET /api/config``.
    """
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    state = SignalingState(
        store=store, invitations=Invitations(store, public_url, clock=clock),
        rooms=rooms if rooms is not None else InMemoryRoomRegistry(), tickets=Tickets(),
        station_key=station_key, web_root=Path(web_root),
        allowed_origins={origin_of(o) for o in allowed_origins or ()},
        explicit_origins=allowed_origins is not None,
        ice_servers=list(ice_servers or ()),
    )
    if public_url:
        state.set_public_url(public_url)
    app[STATE] = state
    app.router.add_get("/join/{token}", join_page)
    app.router.add_post("/api/join/{token}", join_api)
    app.router.add_get("/api/config", console_config)
    app.router.add_get("/ws/doctor", doctor_socket)
    app.router.add_get("/ws/station/{session_id}", station_socket)
    if state.web_root.is_dir():
        app.router.add_static("/web/", state.web_root, follow_symlinks=False)
    app.on_shutdown.append(_close_sockets)
    return app
