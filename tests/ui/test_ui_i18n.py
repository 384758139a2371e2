"""The app's catalogues: every string the screens show has its French translation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.astparse import parse
from ui.i18n import CATALOGUES, PoTranslations, _, parse_po, set_language

UI = Path(__file__).resolve().parents[2] / "ui"


def ui_strings() -> set[str]:
    """Every literal passed to ``_()`` in ui/."""
    found: set[str] = set()
    for path in UI.rglob("*.py"):
        for node in ast.walk(parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "_" and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                found.add(node.args[0].value)
    return found


def test_every_ui_string_is_translated_into_french() -> None:
    french = PoTranslations(CATALOGUES / "fr.po").catalog
    strings = ui_strings()
    assert len(strings) >= 2
    assert sorted(strings - set(french)) == []


def test_french_translations_keep_the_placeholders() -> None:
    import string  # noqa: PLC0415

    def names(text: str) -> set[str]:
        return {field for _, field, _, _ in string.Formatter().parse(text) if field}

    for msgid, msgstr in PoTranslations(CATALOGUES / "fr.po").catalog.items():
        assert names(msgid) == names(msgstr), msgid


def test_the_po_parser_reads_continuations_escapes_and_skips_fuzzy() -> None:
    catalog = parse_po('msgid ""\nmsgstr "header"\n\nmsgid "Two"\n" lines"\nmsgstr "Deux"\n'
                       '" lignes\\n"\n\n#, fuzzy\nmsgid "Maybe"\nmsgstr "Peut-être"\n\n'
                       'msgid "Empty"\nmsgstr ""\n')
    assert catalog == {"Two lines": "Deux lignes\n"}


def test_switching_language() -> None:
    try:
        set_language("en")
        assert _("Teleconsultation station") == "Teleconsultation station"
        set_language("fr")
        assert _("Teleconsultation station") == "Station de téléconsultation"
        with pytest.raises(ValueError, match="unknown language"):
            set_language("de")
    finally:
        set_language("fr")
