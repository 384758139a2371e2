"""``[oidc]`` of station.toml, and reading the RPPS out of Pro Santé Connect's claims."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.oidc_config import DEFAULT_RPPS_CLAIM, OidcConfigError, load_oidc_config
from station.signaling.oidc import OidcError, name_from_claims, rpps_from_claim
from tests.conftest import run_station
from tests.oidc.provider import free_port


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_section_is_read_with_psc_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, '[oidc]\nissuer = "https://psc.example/realm"\n'
                           'client_id = "ehpad"\nclient_secret = "s"\nrequired = true\n')
    config = load_oidc_config(path, env={})
    assert config is not None
    assert (config.issuer, config.required, config.scopes, config.rpps_claim) == (
        "https://psc.example/realm", True, ("openid", "scope_all"), DEFAULT_RPPS_CLAIM)
    assert load_oidc_config(path, env={"STATION_OIDC_CLIENT_SECRET": "env"}).client_secret \
        == "env"  # type: ignore[union-attr]
    assert load_oidc_config(write(tmp_path, "[app]\nlock_minutes = 5\n"), env={}) is None


@pytest.mark.parametrize(("text", "message"), [
    ('[oidc]\nissuer = "https://x"\nclient_id = "c"\n',
     "[oidc] de station.toml : « client_secret » manque"),
    ('[oidc]\nissuer = "x"\nclient_id = "c"\nclient_secret = "s"\n',
     "[oidc] de station.toml : valeur refusée pour « issuer » : x"),
    ('[oidc]\nissuer = "https://x"\nclient_id = "c"\nclient_secret = "s"\nrequired = "yes"\n',
     "[oidc] de station.toml : valeur refusée pour « required » : yes"),
])
def test_a_bad_section_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(OidcConfigError) as error:
        load_oidc_config(write(tmp_path, text), env={})
    assert error.value.message == message


def test_the_rpps_of_a_psc_national_id() -> None:
    assert rpps_from_claim("810000000009") == "10000000009"  # "8" + RPPS
    assert rpps_from_claim("10000000009") == "10000000009"
    for value, code in ((None, "oidc.rpps_missing"), ("", "oidc.rpps_missing"),
                        ("810000000001", "oidc.rpps_invalid"), ("abc", "oidc.rpps_invalid")):
        with pytest.raises(OidcError) as error:
            rpps_from_claim(value)
        assert error.value.code == code
    assert name_from_claims({"given_name": "Claire", "family_name": "MARTIN"}) == "Claire MARTIN"
    assert name_from_claims({"name": "Dr Paul Durand"}) == "Dr Paul Durand"


def test_station_serve_refuses_a_bad_section_before_listening(tmp_path: Path) -> None:
    """``station serve`` reads [oidc] of its home: a bad section stops it with the
    section's French message, and nothing listens."""
    port = free_port()
    write(tmp_path, '[oidc]\nissuer = "https://psc.example"\nclient_id = "c"\n')
    result = run_station("serve", "--self-signed", "--port", str(port), home=tmp_path,
                         env={"STATION_OIDC_CLIENT_SECRET": ""})
    assert result.returncode != 0
    assert "[oidc] de station.toml : « client_secret » manque" in result.stderr
    assert "https://" not in result.stdout  # never said it was listening
