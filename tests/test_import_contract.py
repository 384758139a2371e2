"""The layering contract: Qt only in ui/, devices/ independent of station/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "shiboken6", "qasync", "pyqtgraph")


def imported_modules(package: str) -> dict[str, set[str]]:
    """Top-level module names imported by each file of ``package``."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module"
                  and node.args and isinstance(node.args[0], ast.Constant)):
                names.add(str(node.args[0].value))
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path} imports {name}"
        for path, names in imported_modules(package).items()
        for name in names
        if name.split(".")[0] in forbidden
    ]


def test_station_and_devices_never_import_qt() -> None:
    assert offenders("station", QT_MODULES) == []
    assert offenders("devices", QT_MODULES) == []


def test_devices_never_import_station() -> None:
    assert offenders("devices", ("station", "ui")) == []


def test_station_never_imports_ui() -> None:
    assert offenders("station", ("ui",)) == []


def test_the_scan_sees_imports() -> None:
    """Guard against a scan that finds nothing: it must see known imports."""
    modules = imported_modules("station")
    assert "sqlite_utils" in modules["station/store/database.py"]
    assert "devices.measurement" in modules["station/session.py"]


def test_importing_the_whole_core_loads_no_qt() -> None:
    """Every module of station/ and devices/ imported in a fresh interpreter."""
    script = (
        "import importlib, pkgutil, sys\n"
        "import station, devices\n"
        "for pkg in (station, devices):\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(info.name)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}]\n"
        "print('loaded', len(sys.modules), 'qt', bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "qt []" in result.stdout
