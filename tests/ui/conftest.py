"""UI tests run offscreen (no display here) with the app's stylesheet."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
