"""The signaling server's routes for doctors' OpenID Connect sign-in.

Routes (see ``docs/call-protocol.md`` and ``docs/security.md``)::

    GET /oidc/login/<token>         302 to the provider (cookie binds the browser)
    GET /oidc/callback?code&state   back from the provider: verify, 303 to /join/<token>
    GET /api/join/<token>/identity  what the console shows: sign-in offered or
                                    required, the verified doctor, or why not

A failed sign-in comes back to the invitation page as
``/join/<token>?oidc_error=<code>``; the console asks ``identity`` for the
French message of that code. A verified doctor is kept for a while under a
random cookie of that browser, for that invitation only, and used by
``POST /api/join/<token>`` (:func:`join_identity`): the RPPS is the
provider's, and the session records the issuer and subject.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from aiohttp import web

from station.i18n import tr
from station.oidc_config import OidcConfig
from station.signaling.invitations import InvitationState, token_digest
from station.signaling.oidc import OidcError, RelyingParty
from station.signaling.oidc_state import VERIFIED_TTL, SignIns, VerifiedDoctor
from station.signaling.pages import SECURITY_HEADERS, error_page, message_page
from station.signaling.server import STATE, json_error

log = logging.getLogger(__name__)
BROWSER_COOKIE = "station_oidc"  # binds a sign-in in flight to the browser that started it
IDENTITY_COOKIE = "station_oidc_id"  # the verified doctor, until they join
# The codes a failed sign-in may bring back to the page (anything else is ignored).
ERROR_CODES = frozenset({
    "oidc.provider_unreachable", "oidc.token_refused", "oidc.bad_signature",
    "oidc.wrong_audience", "oidc.wrong_issuer", "oidc.expired", "oidc.nonce_mismatch",
    "oidc.bad_token", "oidc.rpps_missing", "oidc.rpps_invalid", "oidc.cancelled",
    "oidc.denied",
})


@dataclass
class OidcSignIn:
    """The relying party, and the doctors verified but not yet joined (kept where
    its sign-ins are: :mod:`station.signaling.oidc_state`)."""

    rp: RelyingParty

    @property
    def config(self) -> OidcConfig:
        """The ``[oidc]`` settings."""
        return self.rp.config

    async def keep(self, token: str, doctor: VerifiedDoctor) -> str:
        """Remember ``doctor`` for invitation ``token``; returns the cookie's value."""
        key = secrets.token_urlsafe(32)
        await self.rp.sign_ins.put_verified(key, token_digest(token), doctor)
        return key

    async def lookup(self, request: web.Request, token: str) -> VerifiedDoctor | None:
        """The doctor this browser verified for invitation ``token``, if still fresh."""
        cookie = request.cookies.get(IDENTITY_COOKIE, "")
        found = await self.rp.sign_ins.get_verified(cookie) if cookie else None
        if found is None:
            return None
        return found[1] if secrets.compare_digest(found[0], token_digest(token)) else None

    async def forget(self, request: web.Request) -> None:
        """The doctor has joined: their verified identity is spent."""
        cookie = request.cookies.get(IDENTITY_COOKIE, "")
        if cookie:
            await self.rp.sign_ins.drop_verified(cookie)


OIDC = web.AppKey("oidc", OidcSignIn)


def _redirect_uri(request: web.Request) -> str:
    sign_in = request.app[OIDC]
    base = sign_in.config.redirect_base or request.app[STATE].public_url
    return f"{base}/oidc/callback"


def _secure(request: web.Request) -> bool:
    return request.secure or request.app[STATE].public_url.startswith("https://")


def _redirect(status: int, location: str) -> web.Response:
    return web.Response(status=status, headers={**SECURITY_HEADERS, "Location": location})


def _back_to_page(token: str, code: str) -> web.Response:
    log.info("oidc sign-in failed: %s", code)
    return _redirect(303, f"/join/{token}?oidc_error={code}")


async def login(request: web.Request) -> web.Response:
    """``GET /oidc/login/<token>``: off to the provider, this browser remembered."""
    state, sign_in = request.app[STATE], request.app[OIDC]
    token = request.match_info["token"]
    link = state.book.state(token)
    if link is not InvitationState.VALID:
        return error_page(link)
    try:
        url, browser = await sign_in.rp.begin(token, _redirect_uri(request))
    except OidcError as error:
        return _back_to_page(token, error.code)
    response = _redirect(302, url)
    response.set_cookie(BROWSER_COOKIE, browser, path="/oidc/", httponly=True,
                        samesite="Lax", secure=_secure(request), max_age=600)
    return response


async def callback(request: web.Request) -> web.Response:
    """``GET /oidc/callback``: the provider's answer, checked; back to the invitation."""
    state, sign_in = request.app[STATE], request.app[OIDC]
    pending = await sign_in.rp.take(request.query.get("state", ""),
                                    request.cookies.get(BROWSER_COOKIE, ""))
    if pending is None:
        return message_page(400, tr("oidc.state_unknown_title"), tr("oidc.state_unknown"))
    token = pending.token
    link = state.book.state(token)
    if link is not InvitationState.VALID:
        return error_page(link)
    error = request.query.get("error")
    if error is not None or "code" not in request.query:
        return _back_to_page(token, "oidc.cancelled" if error == "access_denied"
                             else "oidc.denied")
    try:
        doctor = await sign_in.rp.finish(pending, request.query["code"],
                                         _redirect_uri(request))
    except OidcError as failure:
        return _back_to_page(token, failure.code)
    log.info("oidc sign-in verified")
    response = _redirect(303, f"/join/{token}")
    response.set_cookie(IDENTITY_COOKIE, await sign_in.keep(token, doctor), path="/api/join/",
                        httponly=True, samesite="Lax", secure=_secure(request),
                        max_age=int(VERIFIED_TTL))
    response.del_cookie(BROWSER_COOKIE, path="/oidc/")
    return response


async def identity(request: web.Request) -> web.Response:
    """``GET /api/join/<token>/identity``: sign-in offered or required, who signed in."""
    sign_in = request.app.get(OIDC)
    token = request.match_info["token"]
    if request.app[STATE].book.state(token) is not InvitationState.VALID:
        return json_error(404, "signaling.link_unknown")
    if sign_in is None:
        return web.json_response({"oidc": None}, headers=SECURITY_HEADERS)
    doctor = await sign_in.lookup(request, token)
    code = request.query.get("error", "")
    body = {
        "oidc": {"required": sign_in.config.required, "label": sign_in.config.label,
                 "login_url": f"/oidc/login/{token}"},
        "verified": None if doctor is None else {
            "name": doctor.name, "rpps": doctor.rpps, "issuer": doctor.issuer},
        "error": {"code": code, "message": tr(code)} if code in ERROR_CODES else None,
    }
    return web.json_response(body, headers=SECURITY_HEADERS)


async def signed_in(request: web.Request) -> None:
    """The verified doctor has joined: their identity cookie is spent."""
    await request.app[OIDC].forget(request)


async def join_identity(request: web.Request, token: str
                        ) -> VerifiedDoctor | web.Response | None:
    """For ``POST /api/join``: the verified doctor, None (typed identity allowed),
    or the 403 answer when sign-in is required and missing."""
    sign_in = request.app.get(OIDC)
    if sign_in is None:
        return None
    doctor = await sign_in.lookup(request, token)
    if doctor is None and sign_in.config.required:
        return json_error(403, "oidc.required")
    return doctor


def register(app: web.Application, config: OidcConfig | None, rp: RelyingParty | None,
             sign_ins: SignIns | None = None) -> None:
    """Add the sign-in routes (the identity route answers ``{"oidc": null}`` without).

    ``sign_ins`` (when ``rp`` is not given) is where sign-ins wait: this process's
    memory by default, Redis for the nodes of a cluster."""
    if config is not None:
        app[OIDC] = OidcSignIn(rp if rp is not None else RelyingParty(config,
                                                                       sign_ins=sign_ins))
        app.router.add_get("/oidc/login/{token}", login)
        app.router.add_get("/oidc/callback", callback)
    app.router.add_get("/api/join/{token}/identity", identity)
