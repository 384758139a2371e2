"""The expert's side of a télé-expertise, served by the signaling server.

Routes (the token is the one-time link's secret, see :mod:`station.expertise`)::

    GET  /expertise/<token>                  the expert page, or a French error page
    GET  /api/expertise/<token>/material     question, resident, photos, clips, measurements
    GET  /api/expertise/<token>/photo/<id>   a full-resolution PNG of this request only
    GET  /api/expertise/<token>/clip/<id>    a WAV clip of this request only
    POST /api/expertise/<token>/answer       {"name", "rpps", "conclusion", "prescriptions"}

The link may be opened as often as the expert needs until the answer is
submitted; then it is used (« Lien déjà utilisé »), and a late one is
« Lien expiré ». Every response carries the console's security headers; the
page also gets a strict Content-Security-Policy (own scripts, styles,
images and sounds only). The POST is refused from a foreign ``Origin`` and
bounded by the application's request size, as the join API.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from aiohttp import web

from station.clock import Clock, to_text, utc_now
from station.errors import NotFoundError, StationError, StoreError, ValidationError
from station.expertise import Expertise, LinkError, Request
from station.i18n import tr
from station.signaling.invitations import InvitationState
from station.signaling.limits import read_json
from station.signaling.pages import SECURITY_HEADERS, error_page, status_for, title_for
from station.store.clips import site_label
from station.store.database import Store

EXPERT_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:;"
    " media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none';"
    " frame-ancestors 'none'"
)
PAGE_HEADERS = {**SECURITY_HEADERS, "Content-Security-Policy": EXPERT_CSP}
# The answer form's fields, as the station's validation names them.
_FIELDS = {"doctor_name": "name", "rpps": "rpps", "conclusion": "conclusion",
           "prescriptions": "prescriptions"}


@dataclass
class ExpertiseEndpoint:
    """What the handlers share: how to build the service, where the page is, who may post."""

    make_service: Callable[[], Expertise]
    web_root: Path
    allowed_origins: Callable[[], set[str]]
    origin_of: Callable[[str], str]


ENDPOINT = web.AppKey("expertise", ExpertiseEndpoint)
log = logging.getLogger(__name__)


def register(app: web.Application, store: Store, *, web_root: Path,
             allowed_origins: Callable[[], set[str]], origin_of: Callable[[str], str],
             clock: Clock = utc_now,
             make_service: Callable[[], Expertise] | None = None) -> None:
    """Add the expert's routes to ``app``.

    By default each request builds the service from ``station.toml`` (so the
    outbox and the report recipients are the station's configuration, read
    afresh); ``make_service`` replaces that (tests, an embedding station).
    """
    def configured() -> Expertise:
        return Expertise.from_config(store, clock=clock)

    app[ENDPOINT] = ExpertiseEndpoint(make_service or configured, Path(web_root),
                                      allowed_origins, origin_of)
    app.on_startup.append(_resume)
    app.router.add_get("/expertise/{token}", expert_page)
    app.router.add_get("/api/expertise/{token}/material", material_api)
    app.router.add_get("/api/expertise/{token}/photo/{item}", photo_api)
    app.router.add_get("/api/expertise/{token}/clip/{item}", clip_api)
    app.router.add_post("/api/expertise/{token}/answer", answer_api)


async def _resume(app: web.Application) -> None:
    """Finish the reports of answers a crash interrupted (validated and queued once)."""
    try:
        finished = await asyncio.to_thread(app[ENDPOINT].make_service().resume)
    except StationError as error:  # a bad station.toml must not stop the calls
        log.warning("télé-expertise: unfinished answers not resumed: %s", error)
        return
    if finished:
        log.info("télé-expertise: finished the reports of %s", ", ".join(finished))


def _json_error(status: int, code: str, *, message: str | None = None,
                field_name: str | None = None) -> web.Response:
    body: dict[str, Any] = {"error": code, "message": message or tr(code)}
    if field_name is not None:
        body["field"] = field_name
    return web.json_response(body, status=status, headers=SECURITY_HEADERS)


def _link_refused(error: LinkError) -> web.Response:
    state = InvitationState(error.state.value)
    return _json_error(status_for(state), error.code, message=title_for(state))


def _valid_request(request: web.Request) -> Request | web.Response:
    """The télé-expertise request the URL's token opens, or the refusal."""
    try:
        return request.app[ENDPOINT].make_service().check_link(request.match_info["token"])
    except LinkError as error:
        return _link_refused(error)


async def expert_page(request: web.Request) -> web.Response:
    """``GET /expertise/<token>``: the page for a valid link (the opening is recorded)."""
    endpoint = request.app[ENDPOINT]
    service = endpoint.make_service()
    try:
        service.open(request.match_info["token"])
    except LinkError as error:
        return error_page(InvitationState(error.state.value))
    try:
        body = (endpoint.web_root / "expert.html").read_text(encoding="utf-8")
    except FileNotFoundError:
        return _json_error(500, "expertise.page_missing")
    return web.Response(text=body, content_type="text/html", charset="utf-8",
                        headers=PAGE_HEADERS)


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def material_json(service: Expertise, found: Request, token: str) -> dict[str, Any]:
    """The material as the page reads it (times in UTC ISO 8601)."""
    material = service.material(found)
    link = found.current_link
    base = f"/api/expertise/{token}"
    patient = material.patient
    return {
        "request": {
            "id": found.id, "question": found.question, "created_at": to_text(found.created_at),
            "sent_at": to_text(found.sent_at) if found.sent_at else None,
            "expires_at": to_text(link.expires_at) if link else None,
            "expert": {"name": found.expert.name, "specialty": found.expert.specialty},
            "requester": found.requester.name if found.requester else None,
            "billing": list(found.billing), "station": service.reports.station_name,
        },
        "patient": {"name": patient.display_name, "birth_date": patient.birth_date.isoformat(),
                    "age": _age(patient.birth_date, date.today()), "sex": patient.sex},
        "photos": [{"id": p.id, "exam": p.exam, "captured_at": to_text(p.captured_at),
                    "width": p.width, "height": p.height, "sha256": p.file_sha256,
                    "url": f"{base}/photo/{p.id}"} for p in material.photos],
        "clips": [{"id": c.id, "site": c.site, "label": site_label(c.site),
                   "recorded_at": to_text(c.recorded_at), "duration_s": round(c.duration_s, 3),
                   "sample_rate_hz": c.sample_rate_hz, "format": c.sample_format,
                   "sha256": c.file_sha256, "url": f"{base}/clip/{c.id}"}
                  for c in material.clips],
        "measurements": [{"id": m.id, "kind": m.kind, "label": m.label, "value": m.value,
                          "unit": m.unit, "time": to_text(m.time), "quality": list(m.quality),
                          "loinc": m.loinc} for m in material.measurements],
    }


async def material_api(request: web.Request) -> web.Response:
    """``GET /api/expertise/<token>/material``."""
    found = _valid_request(request)
    if isinstance(found, web.Response):
        return found
    service = request.app[ENDPOINT].make_service()
    data = await asyncio.to_thread(material_json, service, found,
                                   request.match_info["token"])
    return web.json_response(data, headers=SECURITY_HEADERS)


async def _item(request: web.Request, kind: str) -> web.Response:
    found = _valid_request(request)
    if isinstance(found, web.Response):
        return found
    service = request.app[ENDPOINT].make_service()
    try:
        item = int(request.match_info["item"])
        read = service.photo if kind == "photo" else service.clip
        data = await asyncio.to_thread(read, found, item)
    except (ValueError, NotFoundError):
        return _json_error(404, "expertise.item_not_found",
                           message=tr("expertise.item_not_found", id=request.match_info["item"]))
    except StoreError as error:
        return _json_error(500, error.code, message=error.message)
    content_type = "image/png" if kind == "photo" else "audio/wav"
    return web.Response(body=data, content_type=content_type, headers=SECURITY_HEADERS)


async def photo_api(request: web.Request) -> web.Response:
    """``GET /api/expertise/<token>/photo/<id>``: the stored PNG, byte for byte."""
    return await _item(request, "photo")


async def clip_api(request: web.Request) -> web.Response:
    """``GET /api/expertise/<token>/clip/<id>``: the stored WAV, byte for byte."""
    return await _item(request, "clip")


def _read_answer(body: object) -> tuple[str, str, str, str] | web.Response:
    if not isinstance(body, dict):
        return _json_error(400, "signaling.bad_request")
    values = []
    for name in ("name", "rpps", "conclusion", "prescriptions"):
        value = body.get(name, "")
        if not isinstance(value, str):
            return _json_error(400, "signaling.bad_request")
        values.append(value)
    return values[0], values[1], values[2], values[3]


async def answer_api(request: web.Request) -> web.Response:
    """``POST /api/expertise/<token>/answer``: the answer becomes the validated report."""
    endpoint = request.app[ENDPOINT]
    origin = request.headers.get("Origin")
    if origin is not None and endpoint.origin_of(origin) not in endpoint.allowed_origins():
        return _json_error(403, "signaling.origin_refused",
                           message=tr("signaling.origin_refused", origin=origin[:100]))
    try:
        form = _read_answer(await request.json(loads=read_json))
    except (ValueError, LookupError):  # LookupError: an unknown charset
        form = _json_error(400, "signaling.bad_request")
    if isinstance(form, web.Response):
        return form
    service = endpoint.make_service()
    try:
        version = await asyncio.to_thread(service.answer, request.match_info["token"], *form)
    except ValidationError as error:
        return _json_error(400, error.code, field_name=_FIELDS.get(error.field, error.field),
                           message=error.message)
    except LinkError as error:
        return _link_refused(error)
    return web.json_response(
        {"status": "answered", "report": version.id, "version": version.version,
         "validated_at": to_text(version.validated_at) if version.validated_at else None},
        headers=SECURITY_HEADERS)
