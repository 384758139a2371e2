"""The ``station`` command line: French by default, ``--lang en`` for English."""

from station.cli.main import main

__all__ = ["main"]
