"""The setup script: a second run installs nothing when nothing changed."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_setup_is_a_no_op_when_everything_is_installed() -> None:
    # The test command ran setup just before the suite; running it again must
    # neither call apt nor pip.
    result = subprocess.run(["bash", str(ROOT / "scripts" / "setup")], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "installing" not in result.stderr
    assert "creating .venv" not in result.stderr


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "./scripts/test" in readme and "./scripts/demo" in readme
    assert ci.strip().splitlines()[-1] == "exec ./scripts/test"
