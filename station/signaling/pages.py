"""The HTML the server writes itself: French error pages, a console stand-in.

The doctor's real console is ``resources/web/console.html``; these pages are
what a doctor sees when a link cannot be used, in plain French, with no
script and nothing loaded from elsewhere.
"""

from __future__ import annotations

import base64
import hashlib
import html
from pathlib import Path

from aiohttp import web

from station.signaling.invitations import InvitationState

# Invitation links carry a secret in their path: never leak it through the
# Referer header, never let a proxy or the browser's cache keep the page.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
# The error pages' one style block, allowed by its hash: no script, nothing else.
_STYLE = ("body{font-family:sans-serif;max-width:36em;margin:4em auto;padding:0 1em;"
          "color:#222}h1{font-size:1.6em}")
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
_ERROR_PAGE_HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy":
                       f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}';"
                       " base-uri 'none'; form-action 'none'; frame-ancestors 'none'"}

# state -> (HTTP status, title, explanation)
_PAGES: dict[InvitationState, tuple[int, str, str]] = {
    InvitationState.USED: (
        410, "Lien déjà utilisé",
        "Ce lien d'invitation a déjà servi : il ne s'utilise qu'une fois. Demandez à "
        "l'équipe soignante de vous envoyer un nouveau lien.",
    ),
    InvitationState.EXPIRED: (
        410, "Lien expiré",
        "Ce lien d'invitation n'est plus valable. Demandez à l'équipe soignante de vous "
        "envoyer un nouveau lien.",
    ),
    InvitationState.REVOKED: (
        404, "Lien inconnu ou révoqué",
        "Ce lien d'invitation n'existe pas ou a été annulé. Vérifiez l'adresse, ou "
        "demandez un nouveau lien à l'équipe soignante.",
    ),
}
_PAGES[InvitationState.UNKNOWN] = _PAGES[InvitationState.REVOKED]

_TEMPLATE = """<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title} — Téléconsultation</title>
<style>{style}</style></head>
<body><main><h1 data-testid="page-title">{title}</h1><p>{text}</p></main></body>
</html>
"""

PLACEHOLDER_CONSOLE = """<!doctype html>
<html lang="fr">
<head><meta charset="utf-8"><title>Téléconsultation</title></head>
<body><main><h1 data-testid="page-title">Console de téléconsultation</h1>
<p>La console du médecin n'est pas encore installée sur ce serveur
(resources/web/console.html absent).</p></main></body>
</html>
"""


def status_for(state: InvitationState) -> int:
    """The HTTP status of a link that cannot be used (410 or 404)."""
    return _PAGES[state][0]


def title_for(state: InvitationState) -> str:
    """The French title naming why a link cannot be used."""
    return _PAGES[state][1]


def error_page(state: InvitationState) -> web.Response:
    """The French page for a used, expired, revoked or unknown link."""
    return message_page(*_PAGES[state])


def message_page(status: int, title: str, text: str) -> web.Response:
    """A plain page (no script) with a title and one paragraph."""
    body = _TEMPLATE.format(title=html.escape(title), text=html.escape(text), style=_STYLE)
    return web.Response(status=status, text=body, content_type="text/html",
                        charset="utf-8", headers=_ERROR_PAGE_HEADERS)


def console_page(web_root: Path) -> web.Response:
    """The doctor's console, or a stand-in page while it is not installed."""
    console = web_root / "console.html"
    try:
        body = console.read_text(encoding="utf-8")
    except FileNotFoundError:
        body = PLACEHOLDER_CONSOLE
    return web.Response(text=body, content_type="text/html", charset="utf-8",
                        headers=SECURITY_HEADERS)
