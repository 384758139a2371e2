"""The nurse's app settings from ``<home>/station.toml``, section ``[app]``.

```toml
[app]
lock_minutes = 5     # idle time before the screen locks (1 to 60)
language = "fr"      # the app's language at start: fr or en
```

Checked here, in the core, so the app and any other front end agree; a bad
value is refused with a message naming the key, never silently replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from station.errors import StationError
from station.outbox.config import config_path
from station.settings_file import read_section

DEFAULT_LOCK_MINUTES = 5.0
LOCK_MINUTES_RANGE = (1.0, 60.0)  # under a minute locks a nurse out mid-gesture
LANGUAGES = ("fr", "en")


class AppSettingsError(StationError):
    """The ``[app]`` section cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class AppPreferences:
    """What ``[app]`` sets (defaults when the file or the section is absent)."""

    lock_minutes: float = DEFAULT_LOCK_MINUTES
    language: str = "fr"


def load_app_preferences(path: Path | None = None) -> AppPreferences:
    """The ``[app]`` settings of ``station.toml`` (defaults without it)."""
    path = path or config_path()
    section = read_section(path, "app", lambda reason: AppSettingsError(
        "app.config.malformed", path=str(path), reason=reason))
    if section is None:
        return AppPreferences()
    if not isinstance(section, dict):
        raise AppSettingsError("app.config.bad_value", path=str(path), key="app")
    unknown = sorted(set(section) - {"lock_minutes", "language"})
    if unknown:
        raise AppSettingsError("app.config.unknown_key", path=str(path), key=unknown[0])
    minutes = section.get("lock_minutes", DEFAULT_LOCK_MINUTES)
    low, high = LOCK_MINUTES_RANGE
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) \
            or not low <= minutes <= high:
        raise AppSettingsError("app.config.lock_minutes", path=str(path), low=int(low),
                               high=int(high))
    language = section.get("language", "fr")
    if language not in LANGUAGES:
        raise AppSettingsError("app.config.bad_value", path=str(path), key="language")
    return AppPreferences(lock_minutes=float(minutes), language=str(language))
