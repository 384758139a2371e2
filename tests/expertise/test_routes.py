"""The expert's HTTP routes on a real server: page, material, bytes, answer, link rules."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from station.expertise import Expertise, RequestState
from station.outbox import Outbox
from station.signaling.runner import start_server
from station.signaling.server import create_app
from station.store.clips import ClipStore
from station.store.database import Store
from tests.conftest import FakeClock
from tests.expertise.conftest import EXPERT, EXPERT_RPPS, ExpertiseSession


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A station home with no station.toml: reports stay queued, nothing is sent."""
    monkeypatch.setenv("STATION_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def serve(store: Store, clock: FakeClock, check: Callable[[aiohttp.ClientSession, str],
                                                           Awaitable[Any]]) -> Any:
    async def main() -> Any:
        app = create_app(store, station_key="k", clock=clock)
        server = await start_server(app)
        try:
            async with aiohttp.ClientSession() as http:
                return await check(http, server.url)
        finally:
            await server.stop()
    return asyncio.run(main())


def sent_link(store: Store, session: ExpertiseSession, clock: FakeClock,
              **options: Any) -> tuple[Expertise, str, str]:
    expertise = Expertise(store, Outbox(store, clock=clock), clock=clock)
    request = expertise.create(session.engine.id, "Escarre du talon : conduite à tenir ?",
                               EXPERT, **options)
    token = expertise.send(request.id, "http://127.0.0.1").rsplit("/", 1)[1]
    return expertise, request.id, token


def test_page_material_and_bytes(store: Store, session: ExpertiseSession,
                                 clock: FakeClock) -> None:
    expertise, request_id, token = sent_link(store, session, clock)
    other = expertise.create(session.engine.id, "Autre", EXPERT, photos=[], clips=[])
    expertise.send(other.id, "http://127.0.0.1")
    clip = ClipStore(store).get(session.clip_ids[0])

    async def check(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
        async with http.get(f"{url}/expertise/{token}") as page:
            assert page.status == 200
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
            assert page.headers["Referrer-Policy"] == "no-referrer"
            assert page.headers["Cache-Control"] == "no-store"
            assert 'data-testid="expert-question"' in await page.text()
        async with http.get(f"{url}/api/expertise/{token}/material") as response:
            material: dict[str, Any] = await response.json()
        photo = material["photos"][0]
        async with http.get(url + photo["url"]) as response:
            assert response.content_type == "image/png"
            assert hashlib.sha256(await response.read()).hexdigest() == photo["sha256"]
        async with http.get(url + material["clips"][0]["url"]) as response:
            assert response.content_type == "audio/wav"
            assert await response.read() == clip.path.read_bytes()
        for bad in (f"photo/{session.photo_id + 100}", "clip/abc", "clip/999"):
            async with http.get(f"{url}/api/expertise/{token}/{bad}") as response:
                assert response.status == 404
        return material

    material = serve(store, clock, check)
    assert material["request"]["question"] == "Escarre du talon : conduite à tenir ?"
    assert material["request"]["billing"] == ["TE2"]
    assert material["patient"]["name"] == "MARTIN (née DUPONT) Marie"
    assert [c["label"] for c in material["clips"]] == ["foyer mitral",
                                                        "champ pulmonaire droit, base"]
    assert {m["label"]: (m["value"], m["unit"]) for m in material["measurements"]} == {
        "SpO2": ("95", "%"), "Fréquence cardiaque": ("78", "/min"),
        "Température": ("37.9", "°C")}
    assert expertise.get(request_id).state is RequestState.OPENED


def test_answer_rules_then_the_link_is_used(store: Store, session: ExpertiseSession,
                                           clock: FakeClock) -> None:
    expertise, request_id, token = sent_link(store, session, clock)
    answer = {"name": "Dr Hélène Roux", "rpps": EXPERT_RPPS,
              "conclusion": "Escarre de stade 2.", "prescriptions": "Décharge du talon."}

    async def check(http: aiohttp.ClientSession, url: str) -> None:
        api = f"{url}/api/expertise/{token}/answer"
        async with http.post(api, json=answer, headers={"Origin": "https://evil.example"}) as r:
            assert r.status == 403
        async with http.post(api, json={**answer, "rpps": "123"}) as r:
            assert r.status == 400
            assert (await r.json())["field"] == "rpps"
        async with http.post(api, json={**answer, "conclusion": " "}) as r:
            assert (await r.json())["field"] == "conclusion"
        async with http.post(api, data="x" * 20_000,
                             headers={"Content-Type": "application/json"}) as r:
            assert r.status == 413
        async with http.post(api, json=answer, headers={"Origin": url}) as r:
            assert r.status == 200
            assert (await r.json())["version"] == 1
        async with http.get(f"{url}/expertise/{token}") as r:
            assert r.status == 410
            assert "Lien déjà utilisé" in await r.text()
        async with http.get(f"{url}/api/expertise/{token}/material") as r:
            assert r.status == 410
        async with http.post(api, json=answer) as r:
            assert r.status == 410

    serve(store, clock, check)
    request = expertise.get(request_id)
    assert request.state is RequestState.REPORTED
    assert request.answer is not None and request.answer.conclusion == "Escarre de stade 2."


def test_expired_and_unknown_links_get_the_french_pages(store: Store, session: ExpertiseSession,
                                                       clock: FakeClock) -> None:
    _, _, token = sent_link(store, session, clock)
    clock.advance(days=7, seconds=1)

    async def check(http: aiohttp.ClientSession, url: str) -> None:
        async with http.get(f"{url}/expertise/{token}") as r:
            assert r.status == 410
            assert "Lien expiré" in await r.text()
            assert r.headers["Content-Security-Policy"].startswith("default-src 'none';")
        async with http.get(f"{url}/expertise/{'x' * 43}") as r:
            assert r.status == 404
            assert "Lien inconnu ou révoqué" in await r.text()
        async with http.get(f"{url}/api/expertise/{token}/photo/1") as r:
            assert r.status == 410
            assert json.loads(await r.text())["message"] == "Lien expiré"

    serve(store, clock, check)
