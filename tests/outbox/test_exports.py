"""Exports to the EHPAD's record system: a real aiohttp FHIR endpoint, a real drop folder."""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from station.outbox import (
    AttemptResult,
    DeliveryState,
    Outbox,
    OutboxConfig,
    OutboxWorker,
    Recipient,
)
from station.outbox.folder import write_to_folder
from station.store.database import Store
from tests.outbox.conftest import BUNDLE, PDF, report_message

FAST = OutboxConfig(backoff_initial_s=0.02, backoff_max_s=0.1, timeout_s=5.0)


async def serve_fhir(statuses: list[int], received: list[tuple[dict[str, str], bytes]]
                     ) -> tuple[web.AppRunner, str]:
    """A FHIR endpoint on 127.0.0.1:<free port> answering ``statuses`` in turn, then 201."""

    async def post_bundle(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        status = statuses.pop(0) if statuses else 201
        body = '{"resourceType": "OperationOutcome", "issue": [{"diagnostics": "bundle"}]}'
        return web.Response(status=status, text=body, content_type="application/fhir+json")

    app = web.Application()
    app.router.add_post("/fhir/Bundle", post_bundle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}/fhir/Bundle"


def run_fhir(store: Store, statuses: list[int]) -> tuple[Outbox, str,
                                                         list[tuple[dict[str, str], bytes]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    async def main() -> tuple[Outbox, str]:
        runner, url = await serve_fhir(statuses, received)
        try:
            config = replace(FAST, fhir_url=url)
            outbox = Outbox(store, config)
            [delivery_id] = outbox.enqueue(report_message(), [Recipient.fhir_endpoint()])
            worker = OutboxWorker(outbox, config)
            for _ in range(50):
                if not outbox.pending():
                    break
                await worker.run_once()
                await asyncio.sleep(0.03)
            return outbox, delivery_id
        finally:
            await runner.cleanup()

    outbox, delivery_id = asyncio.run(main())
    return outbox, delivery_id, received


def test_fhir_bundle_is_posted_and_a_2xx_delivers(store: Store) -> None:
    outbox, delivery_id, received = run_fhir(store, [])
    delivery = outbox.delivery(delivery_id)
    assert delivery.state is DeliveryState.DELIVERED and delivery.reply_code == 201
    [(headers, body)] = received
    assert body == BUNDLE
    assert headers["Content-Type"].startswith("application/fhir+json")
    assert headers["X-Request-ID"] == delivery_id


def test_fhir_400_is_a_permanent_refusal_with_the_reason(store: Store) -> None:
    outbox, delivery_id, received = run_fhir(store, [400])
    delivery = outbox.delivery(delivery_id)
    assert delivery.state is DeliveryState.FAILED and len(received) == 1
    assert delivery.error_message is not None
    assert delivery.error_message.startswith("Refus définitif du serveur FHIR : 400 ")
    assert "OperationOutcome" in delivery.error_message


def test_fhir_503_and_429_are_retried(store: Store) -> None:
    outbox, delivery_id, received = run_fhir(store, [503, 429, 200])
    delivery = outbox.delivery(delivery_id)
    assert delivery.state is DeliveryState.DELIVERED and delivery.attempts == 3
    assert [h.reply_code for h in delivery.history if h.event == "temporary_failure"] == [
        503, 429]
    assert len({headers["X-Request-ID"] for headers, _ in received}) == 1


def test_drop_folder_writes_atomically_under_stable_names(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    config = replace(FAST, drop_folder=folder)
    outbox = Outbox(store, config)
    [delivery_id] = outbox.enqueue(report_message(), [Recipient.drop_folder()])
    [result] = asyncio.run(OutboxWorker(outbox, config).run_once())
    assert result.state is DeliveryState.DELIVERED
    names = sorted(os.listdir(folder))
    assert names == [f"{delivery_id}-0-compte-rendu.pdf",
                     f"{delivery_id}-1-compte-rendu.fhir.json"]
    assert (folder / names[0]).read_bytes() == PDF
    assert (folder / names[1]).read_bytes() == BUNDLE
    # A retry (the acceptance lost in a crash) overwrites: same names, nothing added.
    delivery = outbox.delivery(delivery_id)
    asyncio.run(write_to_folder(folder, delivery, outbox.message(delivery.message_id)))
    assert sorted(os.listdir(folder)) == names


def test_a_missing_drop_folder_is_a_temporary_failure(store: Store, tmp_path: Path) -> None:
    config = replace(FAST, drop_folder=tmp_path / "not-mounted")
    outbox = Outbox(store, config)
    [delivery_id] = outbox.enqueue(report_message(), [Recipient.drop_folder()])
    [result] = asyncio.run(OutboxWorker(outbox, config).run_once())
    assert result.state is DeliveryState.QUEUED
    message = outbox.delivery(delivery_id).error_message or ""
    assert message.startswith("écriture impossible dans le dossier de dépôt")
    (tmp_path / "not-mounted").mkdir()
    asyncio.run(asyncio.sleep(0.05))
    [result] = asyncio.run(OutboxWorker(outbox, config).run_once())
    assert result.state is DeliveryState.DELIVERED


def test_a_channel_without_settings_stays_queued(store: Store) -> None:
    outbox = Outbox(store, FAST)
    [delivery_id] = outbox.enqueue(report_message(), [Recipient.fhir_endpoint()])
    assert asyncio.run(OutboxWorker(outbox, FAST).run_once()) == []
    delivery = outbox.delivery(delivery_id)
    assert delivery.state is DeliveryState.QUEUED and delivery.attempts == 0
    assert delivery.error_message == (
        "canal « fhir » non configuré (section [outbox]) : envoi en attente")


def test_a_delivery_waiting_for_configuration_does_not_spin_the_worker(store: Store) -> None:
    outbox = Outbox(store, FAST)
    outbox.enqueue(report_message(), [Recipient.fhir_endpoint()])
    rounds = 0

    class Counting(OutboxWorker):
        async def run_once(self) -> list[AttemptResult]:
            nonlocal rounds
            rounds += 1
            return await super().run_once()

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(Counting(outbox, FAST, poll_s=0.1).run(stop))
        await asyncio.sleep(0.35)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())
    assert rounds <= 5
