"""Errors of the outbox: configuration refused, and the outcome of one failed attempt."""

from __future__ import annotations

from station.errors import StationError


class OutboxError(StationError):
    """Root of the outbox's errors (a refused message, an unknown delivery...)."""


class OutboxConfigError(OutboxError):
    """The ``[outbox]`` configuration is malformed or unsafe; nothing is sent."""


class DeliveryError(OutboxError):
    """One attempt at a delivery failed.

    ``permanent`` means the receiving side refused the message itself (an
    SMTP 5xx to MAIL, RCPT or DATA; an HTTP 4xx other than 408/429): retrying
    would not help, the nurse must see the reason. Anything else (4xx, refused
    or dropped connection, TLS failure, timeout) is temporary and retried.
    ``reply_code``/``reply_text`` are the server's own words, kept verbatim.
    """

    def __init__(self, code: str, /, *, permanent: bool, reply_code: int | None = None,
                 reply_text: str | None = None, **params: object) -> None:
        self.permanent = permanent
        self.reply_code = reply_code
        self.reply_text = reply_text
        super().__init__(code, reply_code=reply_code if reply_code is not None else "",
                         reply_text=reply_text or "", **params)
