"""Message catalogs: French first, English on request.

Messages live in ``resources/i18n/<lang>.json`` keyed by a stable code, so an
error carries its code and parameters and is rendered in the reader's
language at the last moment.
"""

from __future__ import annotations

import json
from functools import cache

from resources import resource_path

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
_current = DEFAULT_LANGUAGE


@cache
def catalog(language: str) -> dict[str, str]:
    """The message catalog of one language."""
    with resource_path("i18n", f"{language}.json").open(encoding="utf-8") as f:
        data: dict[str, str] = json.load(f)
    return data


def set_language(language: str) -> None:
    """Select the language for every later message."""
    global _current  # noqa: PLW0603 - one process-wide language, as a CLI flag sets it
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; choose one of {LANGUAGES}")
    _current = language


def current_language() -> str:
    """The language messages are rendered in."""
    return _current


def tr(code: str, /, **params: object) -> str:
    """Render message ``code`` in the current language, French as fallback."""
    text = catalog(_current).get(code) or catalog(DEFAULT_LANGUAGE).get(code)
    if text is None:
        return code
    return text.format(**params) if params else text


def format_number(text: str) -> str:
    """A number already formatted with a dot, with the current language's decimal mark."""
    return text.replace(".", ",") if _current == "fr" else text
