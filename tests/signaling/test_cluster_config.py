"""Where a node finds its cluster's Redis: --redis, then STATION_SIGNALING_REDIS, then
``redis_url`` in ``[signaling]`` of station.toml; a bad value is a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.signaling.cluster import ClusterError, redis_address, redis_url_setting


def test_flag_then_variable_then_file(tmp_path: Path) -> None:
    toml = tmp_path / "station.toml"
    assert redis_url_setting(None, toml, env={}) is None  # no file: a server on its own
    toml.write_text('[signaling]\nredis_url = "redis://10.0.0.5:6379/0"\n')
    assert redis_url_setting(None, toml, env={}) == "redis://10.0.0.5:6379/0"
    env = {"STATION_SIGNALING_REDIS": "redis://:secret@10.0.0.6:6379/1"}
    assert redis_url_setting(None, toml, env=env) == "redis://:secret@10.0.0.6:6379/1"
    assert redis_url_setting("unix:///run/redis.sock", toml, env=env) == \
        "unix:///run/redis.sock"
    toml.write_text('[signaling]\nurl = "https://signal.example.fr"\n')
    assert redis_url_setting(None, toml, env={}) is None


def test_bad_values_are_named(tmp_path: Path) -> None:
    toml = tmp_path / "station.toml"
    toml.write_text("[signaling]\nredis_url = 6379\n")
    with pytest.raises(ClusterError) as malformed:
        redis_url_setting(None, toml, env={})
    assert "redis_url" in str(malformed.value)
    with pytest.raises(ClusterError) as bad:
        redis_url_setting("http://10.0.0.5", toml, env={})
    assert str(bad.value) == ("adresse Redis invalide : « http://10.0.0.5 » "
                              "(attendu redis://, rediss:// ou unix://)")


def test_logged_address_has_no_password() -> None:
    assert redis_address("redis://:s3cret@10.0.0.5:6380/0") == "10.0.0.5:6380"
    assert redis_address("redis://10.0.0.5") == "10.0.0.5:6379"
    assert redis_address("unix:///run/redis.sock") == "/run/redis.sock"
