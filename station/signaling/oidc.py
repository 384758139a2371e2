"""The station as an OpenID Connect relying party: doctors sign in at their provider.

Pro Santé Connect (PSC) is the French identity provider for health
professionals; any OpenID Connect provider of the same shape works. The flow
is the authorization code flow with PKCE (S256), ``state`` and ``nonce``:

1. :meth:`RelyingParty.begin` remembers, under a random ``state``, the
   invitation token, a nonce, the PKCE verifier and a secret of the doctor's
   browser (a cookie), and returns the provider's authorization URL. The
   invitation token itself never leaves the station: the provider, its logs
   and the browser's history see only ``state``.
2. :meth:`RelyingParty.finish` takes the provider's answer back (once per
   ``state``, from the same browser), exchanges the code at the token
   endpoint (client secret and PKCE verifier, server to server), verifies the
   ID token's signature against the provider's JWKS (discovered from
   ``/.well-known/openid-configuration``, refreshed once for an unknown key),
   its issuer, audience, expiry and nonce, then reads the userinfo endpoint,
   and returns the doctor's name and RPPS from the claims, the RPPS checked
   like a typed one (:func:`station.people.check_rpps`).

Every failure is an :class:`OidcError` whose code names a French message for
the doctor (``oidc.*`` in ``resources/i18n``). JOSE is joserfc's.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
)
from joserfc.jwk import KeySet

from station.clock import Clock, utc_now
from station.errors import StationError, ValidationError
from station.oidc_config import OidcConfig
from station.people import check_rpps
from station.signaling.oidc_state import MemorySignIns, PendingSignIn, SignIns, VerifiedDoctor

log = logging.getLogger(__name__)
HTTP_TIMEOUT = 10.0  # seconds for one call to the provider
METADATA_TTL = 3600.0  # seconds the discovery document and the JWKS are kept
LEEWAY = 60  # seconds of clock difference tolerated on exp / iat


class OidcError(StationError):
    """A sign-in failed; ``code`` (``oidc.*``) names the doctor's French message."""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def rpps_from_claim(value: object) -> str:
    """The RPPS in a claim's value: PSC's ``SubjectNameID`` is ``8`` + the
    RPPS (its national id for RPPS-registered professionals); a bare
    11-digit RPPS is accepted too. Raises :class:`OidcError` when invalid."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise OidcError("oidc.rpps_missing")
    text = str(value).strip()
    if len(text) == 12 and text.startswith("8") and text.isdigit():
        text = text[1:]
    try:
        return check_rpps(text)
    except ValidationError as error:
        raise OidcError("oidc.rpps_invalid") from error


def name_from_claims(claims: dict[str, Any]) -> str:
    """« Prénom NOM » from ``given_name`` and ``family_name``, else ``name``."""
    parts = [claims.get("given_name"), claims.get("family_name")]
    joined = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    if joined:
        return joined
    name = claims.get("name")
    return name.strip() if isinstance(name, str) else ""


class RelyingParty:
    """One provider, one client: starts sign-ins and checks what comes back.

    ``clock`` is the time ID tokens are checked against (tests move it).
    ``sign_ins`` keeps the sign-ins in flight (and, for the routes, the
    verified doctors): this process's memory by default, Redis in a cluster.
    """

    def __init__(self, config: OidcConfig, *, clock: Clock = utc_now,
                 sign_ins: SignIns | None = None) -> None:
        self.config = config
        self._clock = clock
        self.sign_ins: SignIns = sign_ins if sign_ins is not None else MemorySignIns()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, KeySet] | None = None

    # ------------------------------------------------------------ provider
    async def _get_json(self, http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
        try:
            async with http.get(url) as response:
                if response.status != 200:
                    raise OidcError("oidc.provider_unreachable")
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
            log.warning("oidc provider unreachable: %s", type(error).__name__)
            raise OidcError("oidc.provider_unreachable") from error
        if not isinstance(data, dict):
            raise OidcError("oidc.provider_unreachable")
        return data

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT))

    async def metadata(self, http: aiohttp.ClientSession) -> dict[str, Any]:
        """The provider's discovery document (its ``issuer`` must be the configured one)."""
        if self._metadata is not None and time.monotonic() - self._metadata[0] < METADATA_TTL:
            return self._metadata[1]
        url = f"{self.config.issuer.rstrip('/')}/.well-known/openid-configuration"
        data = await self._get_json(http, url)
        if data.get("issuer") != self.config.issuer:
            raise OidcError("oidc.wrong_issuer")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(data.get(key), str):
                raise OidcError("oidc.provider_unreachable")
        self._metadata = (time.monotonic(), data)
        return data

    async def _key_set(self, http: aiohttp.ClientSession, *, refresh: bool = False) -> KeySet:
        if (not refresh and self._keys is not None
                and time.monotonic() - self._keys[0] < METADATA_TTL):
            return self._keys[1]
        metadata = await self.metadata(http)
        data = await self._get_json(http, metadata["jwks_uri"])
        try:
            keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as error:
            raise OidcError("oidc.provider_unreachable") from error
        self._keys = (time.monotonic(), keys)
        return keys

    # ------------------------------------------------------------ step 1
    async def begin(self, token: str, redirect_uri: str) -> tuple[str, str]:
        """Start a sign-in for the invitation ``token``: ``(authorization URL,
        browser secret)``; the secret goes in a cookie of the doctor's browser."""
        async with self._session() as http:
            metadata = await self.metadata(http)
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier, browser = secrets.token_urlsafe(48), secrets.token_urlsafe(32)
        await self.sign_ins.put_pending(
            state, PendingSignIn(token, nonce, verifier, _sha256(browser)))
        query = urlencode({
            "response_type": "code", "client_id": self.config.client_id,
            "redirect_uri": redirect_uri, "scope": " ".join(self.config.scopes),
            "state": state, "nonce": nonce, "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256",
            **({"acr_values": self.config.acr_values} if self.config.acr_values else {}),
        }, quote_via=quote)
        separator = "&" if "?" in metadata["authorization_endpoint"] else "?"
        return f"{metadata['authorization_endpoint']}{separator}{query}", browser

    async def take(self, state: str, browser: str) -> PendingSignIn | None:
        """The sign-in in flight under ``state``, once (None: unknown, expired, or
        started by another browser). It is forgotten either way."""
        pending = await self.sign_ins.take_pending(state)
        if pending is None or not secrets.compare_digest(pending.browser, _sha256(browser)):
            return None
        return pending

    # ------------------------------------------------------------ step 2
    async def finish(self, pending: PendingSignIn, code: str,
                     redirect_uri: str) -> VerifiedDoctor:
        """Exchange ``code`` and verify everything (see the module's docstring)."""
        async with self._session() as http:
            tokens = await self._exchange(http, code, redirect_uri, pending.verifier)
            claims = await self._verify_id_token(http, tokens.get("id_token"), pending.nonce)
            access = tokens.get("access_token")
            if self.config.userinfo and isinstance(access, str):
                info = await self._userinfo(http, access)
                if info.get("sub") != claims["sub"]:
                    raise OidcError("oidc.bad_token")
                claims = {**claims, **info}
        rpps = rpps_from_claim(claims.get(self.config.rpps_claim))
        return VerifiedDoctor(name_from_claims(claims), rpps, str(claims["iss"]),
                              str(claims["sub"]))

    async def _exchange(self, http: aiohttp.ClientSession, code: str, redirect_uri: str,
                        verifier: str) -> dict[str, Any]:
        metadata = await self.metadata(http)
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri, "code_verifier": verifier}
        headers = {"Accept": "application/json"}
        if self.config.token_auth == "client_secret_post":  # noqa: S105 - a method
            form |= {"client_id": self.config.client_id,
                     "client_secret": self.config.client_secret}
        else:  # RFC 6749 §2.3.1: each part form-encoded, then Basic
            pair = f"{quote(self.config.client_id, safe='')}:" \
                   f"{quote(self.config.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            async with http.post(metadata["token_endpoint"], data=form,
                                 headers=headers) as response:
                data = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
            log.warning("oidc token endpoint unreachable: %s", type(error).__name__)
            raise OidcError("oidc.provider_unreachable") from error
        if status != 200 or not isinstance(data, dict):
            reason = data.get("error") if isinstance(data, dict) else None
            log.warning("oidc token endpoint refused the code: HTTP %s %s", status,
                        str(reason)[:40])
            raise OidcError("oidc.token_refused")
        return data

    async def _verify_id_token(self, http: aiohttp.ClientSession, id_token: object,
                               nonce: str) -> dict[str, Any]:
        if not isinstance(id_token, str):
            raise OidcError("oidc.bad_token")
        verified = None
        for refresh in (False, True):  # the provider may have rotated its keys
            keys = await self._key_set(http, refresh=refresh)
            try:
                verified = jwt.decode(id_token, keys, algorithms=list(self.config.algorithms))
                break
            except BadSignatureError as error:
                if refresh:
                    raise OidcError("oidc.bad_signature") from error
            except (JoseError, ValueError, KeyError) as error:
                if refresh:
                    raise OidcError("oidc.bad_signature") from error
        assert verified is not None
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock().timestamp()), leeway=LEEWAY,
            iss={"essential": True, "value": self.config.issuer},
            aud={"essential": True, "value": self.config.client_id},
            sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        claims = dict(verified.claims)
        try:
            registry.validate(claims)
        except ExpiredTokenError as error:
            raise OidcError("oidc.expired") from error
        except InvalidClaimError as error:
            code = {"iss": "oidc.wrong_issuer", "aud": "oidc.wrong_audience",
                    "nonce": "oidc.nonce_mismatch", "iat": "oidc.expired"}.get(
                        error.claim, "oidc.bad_token")
            raise OidcError(code) from error
        except (ClaimError, JoseError) as error:
            raise OidcError("oidc.bad_token") from error
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.config.client_id:
            raise OidcError("oidc.wrong_audience")
        return claims

    async def _userinfo(self, http: aiohttp.ClientSession, access_token: str) -> dict[str, Any]:
        metadata = await self.metadata(http)
        url = metadata.get("userinfo_endpoint")
        if not isinstance(url, str):
            return {}
        try:
            async with http.get(url, headers={"Authorization": f"Bearer {access_token}"}
                                ) as response:
                if response.status != 200:
                    raise OidcError("oidc.provider_unreachable")
                if response.content_type == "application/jwt":  # a signed userinfo
                    keys = await self._key_set(http)
                    try:
                        signed = jwt.decode(await response.text(), keys,
                                            algorithms=list(self.config.algorithms))
                    except (JoseError, ValueError) as error:
                        raise OidcError("oidc.bad_signature") from error
                    return dict(signed.claims)
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
            raise OidcError("oidc.provider_unreachable") from error
        if not isinstance(data, dict):
            raise OidcError("oidc.bad_token")
        return data
