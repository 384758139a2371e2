"""Non-Python resources (web console, translations, templates), found by path."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent


def resource_path(*parts: str) -> Path:
    """Absolute path of a resource file, e.g. ``resource_path("i18n", "fr.json")``."""
    return ROOT.joinpath(*parts)
