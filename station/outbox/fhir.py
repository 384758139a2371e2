"""Export to the EHPAD's record system: POST the FHIR bundle to the configured endpoint.

2xx is delivered. 4xx is a refusal of the document (permanent), except 408
and 429 which ask to come back later; 5xx, timeouts and connection errors are
temporary. The delivery id travels as ``X-Request-ID`` so the endpoint can
recognise a retry of a request whose answer was lost.
"""

from __future__ import annotations

import aiohttp

from station.outbox.config import OutboxConfig
from station.outbox.errors import DeliveryError
from station.outbox.model import Delivery, StoredMessage
from station.outbox.smtp import tls_context

FHIR_JSON = "application/fhir+json"
_RETRYABLE_4XX = frozenset({408, 429})


async def post_bundle(config: OutboxConfig, delivery: Delivery,
                      message: StoredMessage) -> tuple[int, str]:
    """POST the message's FHIR bundle attachment; returns the HTTP status and reason."""
    url = config.fhir_url or ""
    bundle = next((a for a in message.attachments
                   if a.mime_type.split(";")[0].strip() == FHIR_JSON), None)
    if bundle is None:
        raise DeliveryError("outbox.error.no_bundle", permanent=True)
    headers = {"Content-Type": f"{FHIR_JSON}; charset=utf-8", "Accept": FHIR_JSON,
               "X-Request-ID": delivery.id}
    if config.fhir_token:
        headers["Authorization"] = f"Bearer {config.fhir_token}"
    ssl_context = tls_context(config.fhir_ca_file) if url.startswith("https://") else None
    timeout = aiohttp.ClientTimeout(total=config.timeout_s)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session, session.post(
                url, data=bundle.content, headers=headers, ssl=ssl_context or True) as response:
            text = (await response.text(errors="replace"))[:500]
            status = response.status
    except TimeoutError as error:
        raise DeliveryError("outbox.error.timeout", permanent=False, host=url,
                              seconds=config.timeout_s) from error
    except aiohttp.ClientSSLError as error:
        raise DeliveryError("outbox.error.tls_failed", permanent=False, host=url,
                              reason=str(error)) from error
    except (aiohttp.ClientError, OSError) as error:
        raise DeliveryError("outbox.error.connection", permanent=False, host=url,
                              reason=str(error) or type(error).__name__) from error
    if 200 <= status < 300:
        return status, text
    permanent = 400 <= status < 500 and status not in _RETRYABLE_4XX
    code = "outbox.error.http_refused" if permanent else "outbox.error.http_deferred"
    raise DeliveryError(code, permanent=permanent, reply_code=status, reply_text=text, url=url)
