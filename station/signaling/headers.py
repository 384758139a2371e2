"""Security headers on every response of the signaling server.

Pages, JSON answers, static files of ``/web/``, WebSocket handshakes, the
router's 404 and 405, errors: each gets them in ``on_response_prepare``, so a
route added later cannot forget them. A handler that sets a stricter value
(the expert page's and the error pages' Content-Security-Policy) keeps it;
a policy without ``frame-ancestors`` gets ``frame-ancestors 'none'`` added,
since that directive does not fall back to ``default-src``.

The default policy is the doctor's console's: its own scripts only (no
inline script, no ``eval``), its own styles, images and sounds made in the
page (``blob:``), requests and WebSockets to this server only. HSTS is sent
over TLS only (over plain HTTP browsers ignore it anyway).
"""

from __future__ import annotations

from aiohttp import web

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:;"
    " media-src 'self' blob:; connect-src 'self'; font-src 'self'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000"  # a year; no includeSubDomains: the host's siblings are not ours
BASE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Set the headers ``response`` lacks (``on_response_prepare`` hook)."""
    headers = response.headers
    for name, value in BASE_HEADERS.items():
        headers.setdefault(name, value)
    policy = headers.get("Content-Security-Policy")
    if policy is None:
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    elif "frame-ancestors" not in policy:
        headers["Content-Security-Policy"] = f"{policy}; frame-ancestors 'none'"
    if request.secure:
        headers.setdefault("Strict-Transport-Security", HSTS)


def install(app: web.Application) -> None:
    """Give every response of ``app`` the security headers."""
    app.on_response_prepare.append(add_security_headers)
