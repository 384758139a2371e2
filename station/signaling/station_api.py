"""The stations' API of a standalone server: invitation links, asked for remotely.

Routes (``Authorization: Bearer <station-id>.<key>`` on each)::

    POST   /api/invitations        {"session_id", "ttl_s"?, "context"?}
                                   -> 201 {"invitation_id", "url", "expires_at", "session_id"}
    DELETE /api/invitations/<id>   -> 200 {"invitation_id", "state": "revoked"}

A station may only invite into a session that is its own (403 otherwise) and
only revoke its own links (404 for anyone else's, as for an unknown one).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from aiohttp import web

from station.clock import to_text
from station.signaling.invitations import InvitationState
from station.signaling.limits import (
    DEFAULT_INVITATION_TTL_SECONDS,
    MAX_CONTEXT_BYTES,
    MAX_INVITATION_TTL_SECONDS,
    read_json,
)
from station.signaling.pages import SECURITY_HEADERS
from station.signaling.remote_invitations import NotYourSessionError, RemoteBook
from station.signaling.server import (
    STATE,
    json_error,
    origin_refused,
    refuse_origin,
    station_of,
)

SESSION_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def _bad(field_name: str) -> web.Response:
    return json_error(400, "signaling.bad_invitation", field_name=field_name)


def _read(body: object) -> tuple[str, float, dict[str, Any]] | web.Response:
    """``(session_id, ttl_s, context)`` of a request body, or the 400 naming the field."""
    if not isinstance(body, dict):
        return _bad("session_id")
    session_id = body.get("session_id")
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        return _bad("session_id")
    ttl = body.get("ttl_s", DEFAULT_INVITATION_TTL_SECONDS)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) \
            or not 0 < ttl <= MAX_INVITATION_TTL_SECONDS:
        return _bad("ttl_s")
    context = body.get("context", {})
    if not isinstance(context, dict) or len(json.dumps(context)) > MAX_CONTEXT_BYTES:
        return _bad("context")
    return session_id, float(ttl), context


def _authorised(request: web.Request) -> tuple[str, RemoteBook] | web.Response:
    state = request.app[STATE]
    if origin_refused(request):
        return refuse_origin(request)
    station_id = station_of(request)
    if station_id is None or state.remote is None:
        return json_error(401, "signaling.station_key")
    return station_id, state.remote


async def create_invitation(request: web.Request) -> web.Response:
    """``POST /api/invitations``: a one-time link into one of the station's sessions."""
    who = _authorised(request)
    if isinstance(who, web.Response):
        return who
    station_id, remote = who
    try:
        form = _read(await request.json(loads=read_json))
    except (ValueError, LookupError):  # LookupError: an unknown charset
        form = _bad("session_id")
    if isinstance(form, web.Response):
        return form
    session_id, ttl_s, context = form
    try:
        invitation, url = remote.create(station_id, session_id, timedelta(seconds=ttl_s),
                                        context)
    except NotYourSessionError:
        return json_error(403, "signaling.not_your_session")
    return web.json_response(
        {"invitation_id": invitation.id, "url": url, "session_id": session_id,
         "expires_at": to_text(invitation.expires_at)}, status=201, headers=SECURITY_HEADERS)


async def revoke_invitation(request: web.Request) -> web.Response:
    """``DELETE /api/invitations/<id>``: the link stops working (unless already used)."""
    who = _authorised(request)
    if isinstance(who, web.Response):
        return who
    station_id, remote = who
    try:
        invitation_id = int(request.match_info["invitation_id"])
    except ValueError:
        invitation_id = -1
    # SQLite integers stop at 2**63 - 1: a larger id is no invitation (not an OverflowError).
    state = remote.revoke(station_id, invitation_id) if 0 < invitation_id < 2**63 else None
    if state is None:
        return json_error(404, "signaling.invitation_unknown")
    if state is InvitationState.USED:
        return json_error(409, "signaling.invitation_used")
    return web.json_response({"invitation_id": invitation_id, "state": state.value},
                             headers=SECURITY_HEADERS)


def register(app: web.Application) -> None:
    """Add the stations' API to a standalone server's ``app``."""
    app.router.add_post("/api/invitations", create_invitation)
    app.router.add_delete("/api/invitations/{invitation_id}", revoke_invitation)
