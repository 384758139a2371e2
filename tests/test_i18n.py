"""Message catalogs: complete in both languages, and every code used exists."""

from __future__ import annotations

import ast
import string
from pathlib import Path

from station.i18n import catalog
from tests.astparse import parse

ROOT = Path(__file__).resolve().parent.parent


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_french_and_english_have_the_same_messages() -> None:
    french, english = catalog("fr"), catalog("en")
    assert french.keys() == english.keys()
    for key in french:
        assert placeholders(french[key]) == placeholders(english[key]), key


def codes_used_in_code() -> tuple[set[str], set[str]]:
    """Literal message codes, and prefixes of codes built with f-strings."""
    literal: set[str] = set()
    prefixes: set[str] = set()
    for path in list((ROOT / "station").rglob("*.py")):
        for node in ast.walk(parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            # tr(code), Error(code) and ValidationError(field, code)
            for arg in node.args[:2]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and (
                    name == "tr" or name.endswith("Error")) and "." in arg.value:
                    literal.add(arg.value)
                elif isinstance(arg, ast.JoinedStr) and name == "tr":
                    head = arg.values[0]
                    if isinstance(head, ast.Constant):
                        prefixes.add(str(head.value))
    return literal, prefixes


def test_every_message_code_in_the_code_exists() -> None:
    literal, prefixes = codes_used_in_code()
    assert len(literal) > 50
    known = catalog("fr").keys()
    assert sorted(literal - known) == []
    for prefix in prefixes:
        assert any(key.startswith(prefix) for key in known), prefix
