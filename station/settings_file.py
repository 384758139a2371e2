"""Reading one ``[section]`` of ``station.toml``, the way every setting loader does.

Each loader (outbox, signaling, OpenID Connect, the app) checks its own keys and
raises its own typed error; what they share is here: a missing file or section is
"not configured" (None), an unreadable file is an error naming the file and why.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

from station.errors import StationError


def read_section(path: Path, name: str,
                 malformed: Callable[[str], StationError]) -> object | None:
    """The ``[name]`` value of ``path`` (not checked: the caller checks its type and
    keys), or None without the file or the section; ``malformed(reason)`` is raised
    when the file is not readable TOML."""
    if not path.exists():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise malformed(str(error)) from error
    return data.get(name)
