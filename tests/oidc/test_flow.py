"""Doctors' OpenID Connect sign-in against a real provider (oidc-provider under
Node.js), driven with aiohttp's client: the verified join, and every failure
giving the doctor a French message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from station.signaling.oidc import RelyingParty
from station.store.database import Store
from station.store.sessions import SessionRecords
from tests.conftest import FakeClock
from tests.oidc.provider import (
    BAD_RPPS,
    DR_MARTIN,
    DR_MARTIN_NAME,
    DR_MARTIN_RPPS,
    NO_RPPS,
    OTHER_CLIENT,
    STATION_CLIENT,
    Provider,
    free_port,
    query_of,
    sign_in_at_provider,
)
from tests.oidc.station_side import SESSION, Station, provider_id_token, station
from tests.signaling.helpers import GOOD_RPPS, run


async def join(s: Station, token: str, **form: str) -> tuple[int, dict[str, Any]]:
    body = {"name": "Dr Claire Martin", "rpps": DR_MARTIN_RPPS, "specialty": "gériatrie",
            **form}
    async with s.http.post(f"{s.url}/api/join/{token}", json=body) as response:
        return response.status, dict(await response.json())


def joined_events(store: Store) -> list[dict[str, Any]]:
    return [e.data for e in SessionRecords(store).events(SESSION)
            if e.type == "doctor_joined"]


def test_a_signed_in_doctor_joins_with_the_rpps_of_the_claims(
        store: Store, provider: Provider) -> None:
    async def body() -> None:
        async with station(store, provider) as s:
            token, _ = s.invitations.create(SESSION)
            authorize = await s.start_sign_in(token)
            query = query_of(authorize)
            # PKCE, state and nonce; the invitation token never goes to the provider.
            assert query["code_challenge_method"] == "S256"
            assert query["state"] and query["nonce"] and query["state"] != token
            assert token not in authorize
            assert query["redirect_uri"] == f"{provider.station_url}/oidc/callback"
            back = await sign_in_at_provider(s.http, authorize, DR_MARTIN)
            assert token not in back
            assert await s.back_from(back) == f"/join/{token}"
            identity = await s.identity(token)
            assert identity["verified"] == {"name": DR_MARTIN_NAME, "rpps": DR_MARTIN_RPPS,
                                            "issuer": provider.issuer}
            assert identity["oidc"]["required"] is False
            # A typed RPPS cannot replace the verified one.
            status, answer = await join(s, token, rpps=GOOD_RPPS)
            assert status == 200, answer
            used = s.invitations.find(token)
            assert used is not None and used.doctor is not None
            assert used.doctor.rpps == DR_MARTIN_RPPS
            [event] = joined_events(store)
            assert event["rpps"] == DR_MARTIN_RPPS
            assert event["identity"] == {
                "method": "oidc", "issuer": provider.issuer, "name": DR_MARTIN_NAME,
                "subject": DR_MARTIN}
            # Single use still holds, signed in or not.
            status, answer = await join(s, token)
            assert status == 410
    run(body, timeout=60)


def test_a_typed_identity_still_joins_when_sign_in_is_optional(
        store: Store, provider: Provider) -> None:
    async def body() -> None:
        async with station(store, provider) as s:
            token, _ = s.invitations.create(SESSION)
            assert (await s.identity(token))["verified"] is None
            status, _ = await join(s, token, rpps=GOOD_RPPS)
            assert status == 200
            [event] = joined_events(store)
            assert "identity" not in event and event["rpps"] == GOOD_RPPS
    run(body, timeout=60)


def test_required_sign_in_refuses_a_typed_identity(store: Store, provider: Provider) -> None:
    async def body() -> None:
        async with station(store, provider, required=True) as s:
            token, _ = s.invitations.create(SESSION)
            assert (await s.identity(token))["oidc"]["required"] is True
            status, answer = await join(s, token, rpps=GOOD_RPPS)
            assert (status, answer["error"]) == (403, "oidc.required")
            assert "Pro Santé Connect" in answer["message"]
            assert await s.sign_in(token, DR_MARTIN) == f"/join/{token}"
            status, _ = await join(s, token)
            assert status == 200
    run(body, timeout=60)


async def failure(s: Station, token: str, where: str) -> str:
    """The French message the page shows for the ``oidc_error`` in ``where``."""
    assert urlsplit(where).path == f"/join/{token}"
    code = query_of(where)["oidc_error"]
    identity = await s.identity(token, code)
    assert identity["verified"] is None
    assert identity["error"]["code"] == code
    return f"{code}: {identity['error']['message']}"


@pytest.mark.parametrize(("login", "expected"), [
    (NO_RPPS, "oidc.rpps_missing: Votre compte Pro Santé Connect ne transmet pas de numéro RPPS"),
    (BAD_RPPS, "oidc.rpps_invalid: Le numéro RPPS transmis par le service d'identification "
               "n'est pas valide."),
])
def test_claims_without_a_valid_rpps_are_refused(store: Store, provider: Provider, login: str,
                                                 expected: str) -> None:
    async def body() -> None:
        async with station(store, provider) as s:
            token, _ = s.invitations.create(SESSION)
            message = await failure(s, token, await s.sign_in(token, login))
            assert message.startswith(expected)
            status, _ = await join(s, token, rpps=GOOD_RPPS)  # typing still works
            assert status == 200
    run(body, timeout=60)


def test_the_doctor_cancelling_at_the_provider(store: Store, provider: Provider) -> None:
    async def body() -> None:
        async with station(store, provider) as s:
            token, _ = s.invitations.create(SESSION)
            message = await failure(s, token, await s.sign_in(token, DR_MARTIN, cancel=True))
            assert message.startswith("oidc.cancelled: Connexion annulée")
    run(body, timeout=60)


def test_a_provider_that_is_down(store: Store, provider: Provider) -> None:
    async def body() -> None:
        async with station(store, provider, issuer=f"http://127.0.0.1:{free_port()}") as s:
            token, _ = s.invitations.create(SESSION)
            async with s.http.get(f"{s.url}/oidc/login/{token}",
                                  allow_redirects=False) as response:
                assert response.status == 303
                where = response.headers["Location"]
            message = await failure(s, token, where)
            assert message == ("oidc.provider_unreachable: Le service d'identification (Pro "
                               "Santé Connect) ne répond pas pour le moment. Réessayez dans "
                               "quelques minutes.")
    run(body, timeout=60)


def test_an_expired_id_token(store: Store, provider: Provider) -> None:
    # The provider's ID tokens live an hour; the station's clock is two hours ahead.
    late = FakeClock()
    late.now = datetime.now(UTC) + timedelta(hours=2)

    async def body() -> None:
        async with station(store, provider, clock=late) as s:
            token, _ = s.invitations.create(SESSION)
            message = await failure(s, token, await s.sign_in(token, DR_MARTIN))
            assert message.startswith("oidc.expired: La réponse du service d'identification "
                                      "a expiré.")
    run(body, timeout=60)


def tamper(monkeypatch: pytest.MonkeyPatch, change: Any) -> None:
    """Let the real token response through ``change`` (an async function)."""
    exchange = RelyingParty._exchange

    async def tampered(self: RelyingParty, *args: Any) -> dict[str, Any]:
        return dict(await change(await exchange(self, *args)))

    monkeypatch.setattr(RelyingParty, "_exchange", tampered)


def test_a_forged_signature(store: Store, provider: Provider,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    async def forge(tokens: dict[str, Any]) -> dict[str, Any]:
        header, payload, signature = tokens["id_token"].split(".")
        flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))
        return {**tokens, "id_token": f"{header}.{payload}.{flipped}"}

    tamper(monkeypatch, forge)

    async def body() -> None:
        async with station(store, provider) as s:
            token, _ = s.invitations.create(SESSION)
            message = await failure(s, token, await s.sign_in(token, DR_MARTIN))
            assert message.startswith("oidc.bad_signature: La réponse du service "
                                      "d'identification n'a pas pu être authentifiée")
    run(body, timeout=60)


@pytest.mark.parametrize(("client", "same_nonce", "expected"), [
    (OTHER_CLIENT, True, "oidc.wrong_audience: La réponse du service d'identification était "
                         "destinée à une autre application."),
    (STATION_CLIENT, False, "oidc.nonce_mismatch: La réponse du service d'identification ne "
                            "correspond pas à cette connexion."),
])
def test_a_genuine_id_token_of_another_sign_in(
        store: Store, provider: Provider, monkeypatch: pytest.MonkeyPatch,
        client: str, same_nonce: bool, expected: str) -> None:
    """Signed by the provider, but issued to another client, or for another sign-in."""
    nonces: list[str] = []

    async def substitute(tokens: dict[str, Any]) -> dict[str, Any]:
        nonce = nonces[0] if same_nonce else "another-sign-in"
        return await provider_id_token(provider, client, nonce)

    tamper(monkeypatch, substitute)

    async def body() -> None:
        async with station(store, provider) as s:
            token, _ = s.invitations.create(SESSION)
            authorize = await s.start_sign_in(token)
            nonces.append(query_of(authorize)["nonce"])
            back = await sign_in_at_provider(s.http, authorize, DR_MARTIN)
            message = await failure(s, token, await s.back_from(back))
            assert message.startswith(expected)
    run(body, timeout=60)


def test_the_answer_must_come_back_once_to_the_same_browser(
        store: Store, provider: Provider) -> None:
    async def body() -> None:
        async with station(store, provider) as s:
            token, _ = s.invitations.create(SESSION)
            authorize = await s.start_sign_in(token)
            back = await sign_in_at_provider(s.http, authorize, DR_MARTIN)
            s.http.cookie_jar.clear(lambda cookie: cookie.key == "station_oidc")
            async with s.http.get(back, allow_redirects=False) as response:
                assert response.status == 400
                page = await response.text()
            assert "Connexion interrompue" in page and token not in page
            async with s.http.get(f"{s.url}/api/join/{token}/identity") as response:
                assert (await response.json())["verified"] is None
    run(body, timeout=60)


def test_a_used_link_cannot_start_a_sign_in(store: Store, provider: Provider) -> None:
    async def body() -> None:
        async with station(store, provider) as s:
            token, _ = s.invitations.create(SESSION)
            assert (await join(s, token, rpps=GOOD_RPPS))[0] == 200
            async with s.http.get(f"{s.url}/oidc/login/{token}",
                                  allow_redirects=False) as response:
                assert response.status == 410
                assert "Lien déjà utilisé" in await response.text()
    run(body, timeout=60)
