"""The backup layer's typed error: a message code a technician can act on."""

from __future__ import annotations

from station.errors import StationError


class BackupError(StationError):
    """A backup or a restore was refused or failed; nothing was left half-written."""


class WrongKeyError(BackupError):
    """The passphrase or key file does not open this archive."""


class TamperedArchiveError(BackupError):
    """The archive's bytes fail authentication: altered, truncated or damaged."""
