"""The join page and the join API, over a real server on an ephemeral port."""

from __future__ import annotations

from pathlib import Path

from station.signaling.invitations import InvitationState
from station.store import audit
from station.store.database import Store
from station.store.sessions import SessionRecords
from tests.conftest import FakeClock
from tests.signaling.helpers import DOCTOR, GOOD_RPPS, SESSION, Harness, run, serving


async def page(h: Harness, token: str) -> tuple[int, str, str]:
    async with h.http.get(f"{h.url}/join/{token}") as response:
        return response.status, await response.text(), response.headers.get(
            "Referrer-Policy", "")


def test_a_valid_link_serves_the_console(store: Store, tmp_path: Path) -> None:
    (tmp_path / "console.html").write_text("<p data-testid=join-name>console</p>")
    (tmp_path / "console.js").write_text("// js")

    async def body() -> None:
        async with serving(store, web_root=tmp_path) as h:
            token, url = h.invitations.create(SESSION)
            assert url == f"{h.url}/join/{token}"
            status, text, referrer = await page(h, token)
            assert (status, text, referrer) == (
                200, "<p data-testid=join-name>console</p>", "no-referrer")
            async with h.http.get(f"{h.url}/web/console.js") as response:
                assert (response.status, await response.text()) == (200, "// js")
            async with h.http.get(f"{h.url}/web/../station.sqlite3") as response:
                assert response.status in (403, 404)
    run(body)


def test_without_a_console_a_placeholder_is_served(store: Store, tmp_path: Path) -> None:
    async def body() -> None:
        async with serving(store, web_root=tmp_path / "absent") as h:
            token, _ = h.invitations.create(SESSION)
            status, text, _ = await page(h, token)
            assert status == 200
            assert "Console de téléconsultation" in text
    run(body)


def test_a_bad_rpps_is_refused_and_the_link_stays_usable(store: Store) -> None:
    async def body() -> None:
        async with serving(store) as h:
            token, _ = h.invitations.create(SESSION)
            response = await h.join(token, rpps="12345")
            assert response.status == 400
            assert await response.json() == {
                "error": "rpps.length", "field": "rpps",
                "message": "Numéro RPPS : il faut 11 chiffres, 5 saisis"}
            response = await h.join(token, name="")
            assert response.status == 400
            assert (await response.json())["field"] == "name"
            async with h.http.post(f"{h.url}/api/join/{token}", data=b"{oops") as bad:
                assert bad.status == 400
                assert (await bad.json())["error"] == "signaling.bad_request"
            assert h.invitations.state(token) is InvitationState.VALID
            assert (await page(h, token))[0] == 200
    run(body)


def test_a_good_join_uses_the_link_and_records_the_doctor(store: Store) -> None:
    async def body() -> None:
        async with serving(store) as h:
            token, _ = h.invitations.create(SESSION)
            response = await h.join(token)
            assert response.status == 200
            answer = await response.json()
            assert answer["session"] == SESSION
            assert len(answer["ticket"]) >= 43
            assert h.invitations.state(token) is InvitationState.USED
            joined = [e for e in SessionRecords(store).events(SESSION)
                      if e.type == "doctor_joined"]
            assert [(e.data["name"], e.data["rpps"], e.data["specialty"]) for e in joined] == [
                (DOCTOR["name"], GOOD_RPPS, DOCTOR["specialty"])]
            assert audit.verify(store.conn).ok
            # Second use: the page and the API both say 410 "Lien déjà utilisé".
            status, text, _ = await page(h, token)
            assert status == 410
            assert "Lien déjà utilisé" in text
            again = await h.join(token)
            assert again.status == 410
            assert await again.json() == {"error": "signaling.link_used",
                                          "message": "Lien déjà utilisé"}
    run(body)


def test_expired_revoked_and_unknown_links(store: Store, clock: FakeClock) -> None:
    async def body() -> None:
        async with serving(store, clock=clock) as h:
            expired, _ = h.invitations.create(SESSION)
            revoked, _ = h.invitations.create(SESSION)
            h.invitations.revoke(revoked)
            clock.advance(minutes=31)
            status, text, _ = await page(h, expired)
            assert (status, "Lien expiré" in text) == (410, True)
            assert (await h.join(expired)).status == 410
            for token in (revoked, "unknown-token"):
                status, text, _ = await page(h, token)
                assert (status, "Lien inconnu ou révoqué" in text) == (404, True)
                assert (await h.join(token)).status == 404
    run(body)


def test_the_token_is_not_in_the_database_files(store: Store) -> None:
    async def body() -> str:
        async with serving(store) as h:
            token, _ = h.invitations.create(SESSION)
            assert (await h.join(token)).status == 200
            return token
    token = run(body)
    store.conn.execute("PRAGMA wal_checkpoint(FULL)")
    files = list(store.path.parent.glob("station.sqlite3*"))
    assert files
    for path in files:
        assert token.encode() not in path.read_bytes()


def test_a_foreign_origin_is_refused(store: Store) -> None:
    async def body() -> None:
        async with serving(store) as h:
            token, _ = h.invitations.create(SESSION)
            async with h.http.post(f"{h.url}/api/join/{token}", json=DOCTOR,
                                   headers={"Origin": "https://evil.example"}) as response:
                assert response.status == 403
            assert h.invitations.state(token) is InvitationState.VALID
            async with h.http.post(f"{h.url}/api/join/{token}", json=DOCTOR,
                                   headers={"Origin": h.url}) as response:
                assert response.status == 200
    run(body)


def test_the_console_gets_its_ice_servers(store: Store) -> None:
    async def body() -> None:
        async with serving(store) as h, h.http.get(f"{h.url}/api/config") as response:
            assert response.status == 200
            assert await response.json() == {"iceServers": []}
    run(body)
