"""TURN credentials as coturn's use-auth-secret expects, and the ``[turn]`` settings.

The known vector was computed outside Python, from the TURN REST API's
definition (password = base64(HMAC-SHA1(secret, username)))::

    printf '%s' '1733234567:doctor-0123456789abcdef' \\
      | openssl dgst -sha1 -hmac 'north-wind-turn-secret' -binary | base64

The proof that coturn agrees is tests/turn/test_coturn.py (a real turnserver).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from station.turn import browser_ice_servers, turn_credential, user_label
from station.turn_config import (
    DEFAULT_LIFETIME_HOURS,
    TurnConfig,
    TurnConfigError,
    load_turn_config,
    turn_config_from,
)

SECRET = "north-wind-turn-secret"
URLS = ["turn:turn.example.fr:3478?transport=udp", "turns:turn.example.fr:5349?transport=tcp"]


def test_the_known_vector() -> None:
    credential = turn_credential(SECRET, "doctor-0123456789abcdef", 3600,
                                 now=lambda: 1733234567 - 3600)
    assert credential.username == "1733234567:doctor-0123456789abcdef"
    assert credential.password == "k16FvIvmSwK6XYQmunaw5UPE/Rc="
    assert credential.expires == 1733234567


def test_a_user_label_is_a_hash_not_the_session() -> None:
    label = user_label("doctor", "3f0c9b2e-session")
    assert label.startswith("doctor-") and len(label) == len("doctor-") + 16
    assert "3f0c9b2e" not in label
    assert label == user_label("doctor", "3f0c9b2e-session")
    assert label != user_label("station", "3f0c9b2e-session")
    with pytest.raises(ValueError, match="':'"):
        turn_credential(SECRET, "a:b", 60)


def test_browser_servers_carry_every_url_and_a_fresh_credential() -> None:
    config = TurnConfig(urls=tuple(URLS), secret=SECRET, lifetime_hours=2)
    servers = browser_ice_servers(config, "doctor-x", now=lambda: 1000)
    assert servers == [{"urls": URLS, "username": "8200:doctor-x",
                        "credential": turn_credential(SECRET, "doctor-x", 7200,
                                                      now=lambda: 1000).password}]


def test_settings_from_station_toml(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    assert load_turn_config(path, env={}) is None
    path.write_text(f'[turn]\nurls = {URLS!r}\nsecret = "{SECRET}"\nrealm = "example.fr"\n'
                    .replace("'", '"'), encoding="utf-8")
    config = load_turn_config(path, env={})
    assert config == TurnConfig(urls=tuple(URLS), secret=SECRET,
                                lifetime_hours=DEFAULT_LIFETIME_HOURS, realm="example.fr")
    # the environment's secret wins over the file's
    other = load_turn_config(path, env={"STATION_TURN_SECRET": "x" * 20})
    assert other is not None and other.secret == "x" * 20


@pytest.mark.parametrize(("section", "message"), [
    ({"secret": SECRET}, "« urls » manque"),
    ({"urls": ["http://turn.example.fr"], "secret": SECRET}, "adresse de relais refusée"),
    ({"urls": ["turns:turn.example.fr:5349?transport=udp"], "secret": SECRET},
     "adresse de relais refusée"),
    ({"urls": URLS}, "le secret partagé avec coturn manque"),
    ({"urls": URLS, "secret": "short"}, "au moins 16 caractères"),
    ({"urls": URLS, "secret": SECRET, "lifetime_hours": 0}, "« lifetime_hours »"),
    ({"urls": URLS, "secret": SECRET, "lifetime_hours": 100}, "« lifetime_hours »"),
    ({"urls": URLS, "secret": SECRET, "lifetime_hours": "4"}, "« lifetime_hours »"),
    ({"urls": URLS, "secret": SECRET, "lifetme_hours": 4}, "« lifetme_hours »"),
    ({"urls": URLS, "secret": 12345678901234567}, "« secret »"),
])
def test_bad_settings_are_refused_clearly(section: dict[str, object], message: str) -> None:
    with pytest.raises(TurnConfigError) as caught:
        turn_config_from(section, env={})
    assert message in str(caught.value)
    assert SECRET not in str(caught.value)  # a secret never lands in a message


def test_an_unreadable_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text("[turn\n", encoding="utf-8")
    with pytest.raises(TurnConfigError, match=r"station\.toml illisible"):
        load_turn_config(path, env={})
