"""A station process that queues a report for three recipients, then sends it, until killed.

``outbox_child.py STORE PORT MODE``: prints ``QUEUED <ids>`` once the message
and its deliveries are committed. MODE ``queue`` then idles (the test kills
it between queuing and sending); MODE ``send`` runs the outbox worker against
the SMTP server on 127.0.0.1:PORT (the test kills it during the sending).
"""

from __future__ import annotations

import asyncio
import sys
import time

from station.outbox import Outbox, OutboxWorker
from station.store.database import Store
from tests.outbox.conftest import RECIPIENTS, report_message, smtp_config


def main(path: str, port: int, mode: str) -> None:
    store = Store.open(path)
    config = smtp_config(port)
    outbox = Outbox(store, config)
    ids = outbox.enqueue(report_message(), RECIPIENTS)
    print("QUEUED", *ids, flush=True)
    if mode == "queue":
        time.sleep(60)
        return
    asyncio.run(OutboxWorker(outbox, config).run())


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
