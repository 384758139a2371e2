"""SMTP delivery through the configured relay (the shape of MSSanté messaging).

Blocking :mod:`smtplib` runs in a worker thread. The connection is encrypted
(STARTTLS by default, or implicit TLS) with the certificate and host name
verified; sending in clear needs ``allow_plaintext`` in the configuration.
One connection per delivery: one recipient, one Message-ID. Only a 5xx reply
to MAIL, RCPT or DATA is a permanent refusal; everything else (4xx, refused
or dropped connection, TLS or authentication failure, timeout) is temporary.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import ssl

from station.outbox.config import SmtpSettings
from station.outbox.errors import DeliveryError


def tls_context(ca_file: object | None, cert: object | None = None,
                key: object | None = None) -> ssl.SSLContext:
    """A verifying client context; ``ca_file`` replaces the system's CAs."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        context.load_cert_chain(str(cert), str(key) if key else None)
    return context


async def send_smtp(settings: SmtpSettings, recipient: str, mime: bytes,
                    timeout_s: float) -> tuple[int, str]:
    """Send one message to one recipient; returns the DATA reply (250, text).

    Raises :class:`DeliveryError` (permanent or temporary) otherwise.
    """
    return await asyncio.to_thread(_send_blocking, settings, recipient, mime, timeout_s)


def _text(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return reply


def _refusal(stage: str, code: int, reply: bytes | str) -> DeliveryError:
    text = _text(reply)
    if 500 <= code < 600:
        return DeliveryError("outbox.error.smtp_refused", permanent=True, reply_code=code,
                               reply_text=text, stage=stage)
    return DeliveryError("outbox.error.smtp_deferred", permanent=False, reply_code=code,
                           reply_text=text, stage=stage)


def _send_blocking(settings: SmtpSettings, recipient: str, mime: bytes,
                   timeout_s: float) -> tuple[int, str]:
    host = f"{settings.host}:{settings.port}"
    try:
        context = (tls_context(settings.ca_file, settings.client_cert, settings.client_key)
                   if settings.encrypted else None)
    except (OSError, ssl.SSLError) as error:
        raise DeliveryError("outbox.error.tls_setup", permanent=False,
                              reason=str(error)) from error
    try:
        client: smtplib.SMTP
        if settings.implicit_tls:
            client = smtplib.SMTP_SSL(settings.host, settings.port, local_hostname=
                                      settings.helo_name, timeout=timeout_s, context=context)
        else:
            client = smtplib.SMTP(settings.host, settings.port,
                                  local_hostname=settings.helo_name, timeout=timeout_s)
        with client:
            return _converse(client, settings, context, recipient, mime)
    except DeliveryError:
        raise
    except ssl.SSLCertVerificationError as error:
        raise DeliveryError("outbox.error.tls_untrusted", permanent=False, host=host,
                              reason=error.verify_message or str(error)) from error
    except ssl.SSLError as error:
        raise DeliveryError("outbox.error.tls_failed", permanent=False, host=host,
                              reason=str(error)) from error
    except smtplib.SMTPAuthenticationError as error:
        raise DeliveryError("outbox.error.smtp_auth", permanent=False, host=host,
                              reply_code=error.smtp_code,
                              reply_text=_text(error.smtp_error)) from error
    except smtplib.SMTPServerDisconnected as error:
        raise DeliveryError("outbox.error.disconnected", permanent=False, host=host,
                              reason=str(error) or "-") from error
    except smtplib.SMTPResponseException as error:
        raise DeliveryError("outbox.error.smtp_deferred", permanent=False,
                              reply_code=error.smtp_code, reply_text=_text(error.smtp_error),
                              stage="session") from error
    except TimeoutError as error:
        raise DeliveryError("outbox.error.timeout", permanent=False, host=host,
                              seconds=timeout_s) from error
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryError("outbox.error.connection", permanent=False, host=host,
                              reason=str(error) or type(error).__name__) from error


def _converse(client: smtplib.SMTP, settings: SmtpSettings, context: ssl.SSLContext | None,
              recipient: str, mime: bytes) -> tuple[int, str]:
    client.ehlo()
    if settings.starttls:
        if not client.has_extn("starttls"):
            raise DeliveryError("outbox.error.no_starttls", permanent=False,
                                  host=f"{settings.host}:{settings.port}")
        client.starttls(context=context)
        client.ehlo()
    if settings.username:
        client.login(settings.username, settings.password or "")
    code, reply = client.mail(settings.sender)
    if code != 250:
        raise _refusal("MAIL FROM", code, reply)
    code, reply = client.rcpt(recipient)
    if code not in (250, 251):
        raise _refusal("RCPT TO", code, reply)
    try:
        code, reply = client.data(mime)
    except smtplib.SMTPDataError as error:  # the DATA command itself was refused
        raise _refusal("DATA", error.smtp_code, error.smtp_error) from error
    if code != 250:
        raise _refusal("DATA", code, reply)
    with contextlib.suppress(smtplib.SMTPException, OSError):
        client.quit()  # accepted is accepted: a lost QUIT changes nothing
    return code, _text(reply)
