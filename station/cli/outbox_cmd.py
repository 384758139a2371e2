"""``station outbox``: see what was sent to whom, retry, send what is waiting."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from typing import Any

from station.access import read_session
from station.cli.common import cli_actor, cli_principal, open_store
from station.i18n import tr
from station.outbox import Delivery, DeliveryState, Outbox, OutboxWorker, load_outbox_config
from station.outbox.config import config_path
from station.report.sending import (
    load_report_recipients,
    queue_unqueued_reports,
    report_recipients,
    settle_sent_sessions,
)


def register(commands: Any) -> None:
    """Add the ``outbox`` command group."""
    group = commands.add_parser("outbox", help=tr("outbox.cli.help"))
    sub = group.add_subparsers(dest="outbox_command", required=True)
    listing = sub.add_parser("list", help=tr("outbox.cli.list.help"))
    listing.add_argument("--session", help=tr("outbox.cli.session"))
    listing.set_defaults(handler=list_deliveries)
    show = sub.add_parser("show", help=tr("outbox.cli.show.help"))
    show.add_argument("--as", dest="actor", help=tr("cli.as_reader"))
    show.add_argument("id", help=tr("outbox.cli.id"))
    show.set_defaults(handler=show_delivery)
    retry = sub.add_parser("retry", help=tr("outbox.cli.retry.help"))
    retry.add_argument("id", help=tr("outbox.cli.id"))
    retry.add_argument("--as", dest="actor", help=tr("cli.as"))
    retry.set_defaults(handler=retry_delivery)
    send = sub.add_parser("send-pending", help=tr("outbox.cli.send.help"))
    send.set_defaults(handler=send_pending)


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%d/%m/%Y %H:%M:%S") if moment else "-"


def _line(delivery: Delivery) -> str:
    text = tr("outbox.cli.line", id=delivery.id[:8], state=delivery.state_label,
              channel=delivery.channel.value, address=delivery.address,
              role=delivery.role or "-", subject=delivery.subject, attempts=delivery.attempts)
    if delivery.state in (DeliveryState.QUEUED, DeliveryState.SENDING):
        text += tr("outbox.cli.next", time=_when(delivery.next_attempt_at))
    if delivery.error_message and delivery.state is not DeliveryState.DELIVERED:
        text += f"\n      {delivery.error_message}"
    return text


def _warn_if_not_configured(pending: bool) -> None:
    if pending and load_outbox_config() is None:
        print(tr("outbox.cli.not_configured", path=str(config_path())))


def list_deliveries(args: argparse.Namespace) -> int:
    """Every delivery (or one session's), oldest first, with its state and last error."""
    with open_store() as store:
        outbox = Outbox(store)
        deliveries = outbox.deliveries(session_id=args.session) if args.session \
            else outbox.deliveries()
        if not deliveries:
            print(tr("outbox.cli.none"))
            return 0
        for delivery in deliveries:
            print(_line(delivery))
        _warn_if_not_configured(any(d.state in (DeliveryState.QUEUED, DeliveryState.SENDING)
                                    for d in deliveries))
    return 0


def show_delivery(args: argparse.Namespace) -> int:
    """One delivery in full, with the history of its attempts."""
    with open_store() as store:
        delivery = Outbox(store).delivery(args.id)
        if delivery.session_id:  # a report of a session: clinical, checked and audited
            read_session(store, cli_principal(store, args.actor), delivery.session_id,
                         "delivery", delivery=delivery.id)
    print(tr("outbox.cli.show", id=delivery.id, state=delivery.state_label,
             channel=delivery.channel.value, address=delivery.address,
             name=delivery.name or "-", role=delivery.role or "-", subject=delivery.subject,
             session=delivery.session_id or "-", message_id=delivery.mime_message_id,
             attempts=delivery.attempts, created=_when(delivery.created_at),
             delivered=_when(delivery.delivered_at)))
    if delivery.error_message and delivery.state is not DeliveryState.DELIVERED:
        print(tr("outbox.cli.last_error", error=delivery.error_message))
    print(tr("outbox.cli.history"))
    for entry in delivery.history:
        reply = f" [{entry.reply_code or ''} {entry.reply_text or ''}]".rstrip() \
            if entry.reply_code or entry.reply_text else ""
        if entry.error_code:
            reply = ""  # the server's reply is already in the rendered reason
        print(f"  {_when(entry.time)}  #{entry.attempt}  {entry.message}{reply}"
              f"  ({entry.actor})")
    return 0


def retry_delivery(args: argparse.Namespace) -> int:
    """Make a delivery due now (a refused one is queued again)."""
    with open_store() as store:
        delivery = Outbox(store).retry_now(args.id, actor=cli_actor(args.actor))
    print(tr("outbox.cli.retried", id=delivery.id, address=delivery.address))
    return 0


def send_pending(args: argparse.Namespace) -> int:
    """One round of sending: exit 0 if everything attempted was delivered, else 1."""
    config = load_outbox_config()
    with open_store() as store:
        outbox = Outbox(store, config)
        if config is None:
            pending = len(outbox.pending())
            print(tr("outbox.cli.not_configured", path=str(config_path())))
            print(tr("outbox.cli.waiting", count=pending))
            return 1 if pending else 0
        queue_unqueued_reports(store, outbox, report_recipients(config, load_report_recipients()))
        results = asyncio.run(OutboxWorker(outbox, config).run_once())
        for result in results:
            delivery = outbox.delivery(result.delivery_id)
            print(_line(delivery))
        for session_id in settle_sent_sessions(store, outbox):
            print(tr("outbox.cli.session_sent", session=session_id[:8]))
        waiting = len(outbox.pending())
    delivered = sum(r.state is DeliveryState.DELIVERED for r in results)
    print(tr("outbox.cli.sent_summary", delivered=delivered, attempted=len(results),
             waiting=waiting))
    return 0 if delivered == len(results) else 1
