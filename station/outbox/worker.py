"""The sending loop: every due delivery is attempted, until delivered or refused.

For each due delivery the worker first commits ``sending`` (attempt + 1,
next attempt pushed back by the backoff) and only then connects. The
receiving side's acceptance (250 after DATA, an HTTP 2xx, the files renamed
into place) is committed as ``delivered`` as soon as it arrives. A process
killed in between leaves the delivery ``sending``; once its next attempt time
has passed it is sent again with the same Message-ID and the same bytes, and
the interrupted attempt is written in its history.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from station.clock import Clock, utc_now
from station.logsafe import log_failure
from station.outbox.config import OutboxConfig
from station.outbox.errors import DeliveryError
from station.outbox.fhir import post_bundle
from station.outbox.folder import write_to_folder
from station.outbox.mime import build_email
from station.outbox.model import Channel, Delivery, DeliveryState, StoredMessage
from station.outbox.outbox import Outbox
from station.outbox.smtp import send_smtp

log = logging.getLogger(__name__)

Transport = Callable[[OutboxConfig, Delivery, StoredMessage], Awaitable[tuple[int | None, str]]]


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt did: the delivery's new state and the reason if not delivered."""

    delivery_id: str
    attempt: int
    state: DeliveryState
    failure: DeliveryError | None = None


async def _smtp(config: OutboxConfig, delivery: Delivery,
                message: StoredMessage) -> tuple[int | None, str]:
    assert config.smtp is not None
    mime = build_email(delivery, message, config.smtp.sender)
    code, text = await send_smtp(config.smtp, delivery.address, mime, config.timeout_s)
    return code, text


async def _fhir(config: OutboxConfig, delivery: Delivery,
                message: StoredMessage) -> tuple[int | None, str]:
    code, text = await post_bundle(config, delivery, message)
    return code, text


async def _folder(config: OutboxConfig, delivery: Delivery,
                  message: StoredMessage) -> tuple[int | None, str]:
    assert config.drop_folder is not None
    return await write_to_folder(config.drop_folder, delivery, message)


TRANSPORTS: dict[Channel, Transport] = {
    Channel.SMTP: _smtp, Channel.FHIR: _fhir, Channel.FOLDER: _folder,
}


class OutboxWorker:
    """Sends due deliveries on the asyncio loop (blocking I/O in threads).

    ``config=None`` means no sending is configured: nothing is attempted,
    each due delivery says so (``outbox.error.not_configured``) and stays
    queued. ``poll_s`` bounds the sleep between rounds (other processes, such
    as ``station outbox retry``, may make a delivery due); :meth:`wake` ends
    it at once.
    """

    def __init__(self, outbox: Outbox, config: OutboxConfig | None, *,
                 clock: Clock = utc_now, poll_s: float = 30.0, actor: str = "outbox") -> None:
        self.outbox = outbox
        self.config = config
        self._clock = clock
        self._poll_s = poll_s
        self._actor = actor
        self._wakeup: asyncio.Event | None = None

    def wake(self) -> None:
        """Look for due deliveries now (call from the loop's thread)."""
        if self._wakeup is not None:
            self._wakeup.set()

    async def run_once(self) -> list[AttemptResult]:
        """Attempt every delivery due now, ``parallel`` at a time; returns the outcomes."""
        due = self.outbox.due(self._clock())
        if not due:
            return []
        if self.config is None:
            for delivery in due:
                self.outbox.note_blocked(delivery, "outbox.error.not_configured")
            return []
        limit = asyncio.Semaphore(self.config.parallel)

        async def bounded(delivery: Delivery) -> AttemptResult | None:
            async with limit:
                return await self.attempt(delivery)

        results = await asyncio.gather(*(bounded(d) for d in due))
        return [r for r in results if r is not None]

    async def attempt(self, delivery: Delivery) -> AttemptResult | None:
        """One attempt at one delivery, if it is still due; ``None`` otherwise."""
        config = self.config
        if config is None:
            return None
        if not config.configured(delivery.channel):
            self.outbox.note_blocked(delivery, "outbox.error.channel_not_configured",
                                     channel=delivery.channel.value)
            return None
        claimed = self.outbox.claim(delivery.id, config.backoff(delivery.attempts + 1),
                                    actor=self._actor)
        if claimed is None:
            return None
        attempt = claimed.attempts
        try:
            message = self.outbox.message(claimed.message_id)
            code, text = await TRANSPORTS[claimed.channel](config, claimed, message)
        except DeliveryError as failure:
            # The reason may quote the recipient's address: ids only above DEBUG.
            log_failure(log, logging.WARNING, "delivery %s attempt %d failed", failure,
                        claimed.id, attempt)
            self.outbox.record_failure(claimed.id, attempt, failure, config.backoff(attempt),
                                       actor=self._actor)
            state = DeliveryState.FAILED if failure.permanent else DeliveryState.QUEUED
            return AttemptResult(claimed.id, attempt, state, failure)
        except Exception as error:  # a bug or an unforeseen error: keep the delivery alive
            log_failure(log, logging.ERROR, "delivery %s attempt %d: unexpected error", error,
                        claimed.id, attempt, trace=True)
            unexpected = DeliveryError("outbox.error.unexpected", permanent=False,
                                       reason=f"{type(error).__name__}: {error}")
            self.outbox.record_failure(claimed.id, attempt, unexpected,
                                       config.backoff(attempt), actor=self._actor)
            return AttemptResult(claimed.id, attempt, DeliveryState.QUEUED, unexpected)
        self.outbox.record_delivered(claimed.id, attempt, code, text, actor=self._actor)
        return AttemptResult(claimed.id, attempt, DeliveryState.DELIVERED)

    async def run(self, stop: asyncio.Event | None = None,
                  after_delivery: Callable[[], object] | None = None) -> None:
        """Send until ``stop`` is set (or the task is cancelled); ``after_delivery`` runs
        after each round that delivered something (e.g. to close finished sessions)."""
        self._wakeup = asyncio.Event()
        stop = stop or asyncio.Event()
        while not stop.is_set():
            results = await self.run_once()
            if after_delivery is not None and any(
                    r.state is DeliveryState.DELIVERED for r in results):
                try:
                    after_delivery()
                except Exception:  # a follow-up must not stop the sending
                    log.exception("after-delivery step failed")
            delay = self._poll_s
            if self.config is not None:
                # Only channels that can be sent on: a delivery waiting for its
                # configuration is due all the time and must not spin the loop.
                usable = [c for c in Channel if self.config.configured(c)]
                next_at = self.outbox.next_attempt_at(usable)
                if next_at is not None:
                    delay = min(delay, max(0.0, (next_at - self._clock()).total_seconds()))
            self._wakeup.clear()
            waiters = {asyncio.ensure_future(self._wakeup.wait()),
                       asyncio.ensure_future(stop.wait())}
            _, sleeping = await asyncio.wait(waiters, timeout=max(delay, 0.005),
                                             return_when=asyncio.FIRST_COMPLETED)
            for task in sleeping:
                task.cancel()
