"""Log lines without personal data: what an error is, never what it says.

An error's message may carry a name, an e-mail address (a mail server's
refusal quotes it), an RPPS beside a doctor's name or a link with its token.
At INFO and above the logs name the error's type and message code only, with
ids (session, delivery) beside; the full text goes to DEBUG, which a
technician turns on for a while and the station never keeps by default.
"""

from __future__ import annotations

import logging

from station.errors import StationError


def error_label(error: BaseException) -> str:
    """``TypeName(code)`` for a station error, ``TypeName`` for any other: no text."""
    if isinstance(error, StationError):
        return f"{type(error).__name__}({error.code})"
    return type(error).__name__


def log_failure(log: logging.Logger, level: int, what: str, error: BaseException,
                *args: object, trace: bool = False) -> None:
    """Log ``what % args`` at ``level`` with :func:`error_label`; the error's own
    words (and the traceback when ``trace``) at DEBUG only."""
    log.log(level, f"{what}: %s", *args, error_label(error))
    if log.isEnabledFor(logging.DEBUG):
        log.debug(f"{what}: %s", *args, error, exc_info=error if trace else None)
