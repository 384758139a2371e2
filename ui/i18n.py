"""The app's strings through gettext: ``_("Sign in")`` in code, catalogues in
``resources/i18n/ui/<lang>.po``.

Source strings (msgids) are English, as gettext expects; the French catalogue
is complete (a test checks every ``_()`` string of ``ui/`` has a French
translation) and French is the default language. ``.po`` files are read
directly (no compiled ``.mo`` to keep in step): they stay editable with any
gettext tool (Poedit, Weblate...). Placeholders use ``str.format`` names:
``_("{count} photos").format(count=3)``.
"""

from __future__ import annotations

import ast
import gettext
from pathlib import Path

from resources import resource_path

CATALOGUES = resource_path("i18n") / "ui"
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"


def _unquote(text: str) -> str:
    """A .po string literal's value (C escapes, as in Python)."""
    value = ast.literal_eval(text)
    if not isinstance(value, str):
        raise ValueError(f"not a string: {text!r}")
    return value


def parse_po(text: str) -> dict[str, str]:
    """msgid → msgstr of a .po file (no plural forms, no contexts: the app uses none).
    Untranslated (empty) and fuzzy entries are left out, so the msgid shows."""
    entries: dict[str, str] = {}
    msgid: list[str] | None = None
    msgstr: list[str] | None = None
    current: list[str] | None = None
    fuzzy = False

    def flush() -> None:
        nonlocal msgid, msgstr, fuzzy
        if msgid is not None and msgstr is not None:
            key, value = "".join(msgid), "".join(msgstr)
            if key and value and not fuzzy:
                entries[key] = value
        msgid = msgstr = None
        fuzzy = False

    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#,") and "fuzzy" in line:
            flush()
            fuzzy = True
        elif line.startswith("#") or not line:
            if msgstr is not None:
                flush()
        elif line.startswith("msgid "):
            flush_fuzzy = fuzzy
            flush()
            fuzzy = flush_fuzzy
            msgid, current = [_unquote(line[6:])], None
            current = msgid
        elif line.startswith("msgstr "):
            msgstr = [_unquote(line[7:])]
            current = msgstr
        elif line.startswith('"') and current is not None:
            current.append(_unquote(line))
    flush()
    return entries


class PoTranslations(gettext.NullTranslations):
    """gettext translations read from a .po catalogue."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.catalog = parse_po(path.read_text(encoding="utf-8")) if path.exists() else {}

    def gettext(self, message: str) -> str:
        return self.catalog.get(message, message)


_current: gettext.NullTranslations = PoTranslations(CATALOGUES / f"{DEFAULT_LANGUAGE}.po")
_language = DEFAULT_LANGUAGE


def set_language(language: str) -> None:
    """Switch the app's language (``fr`` or ``en``); screens re-read their strings."""
    global _current, _language  # noqa: PLW0603 - the app has one language at a time
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}")
    _current = PoTranslations(CATALOGUES / f"{language}.po")
    _language = language


def language() -> str:
    """The current language code."""
    return _language


def _(message: str) -> str:
    """The current language's translation of ``message`` (an English msgid)."""
    return _current.gettext(message)
