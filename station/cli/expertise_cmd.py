"""``station expertise create|send|list|show``: télé-expertise requests from the command line."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from station.cli.common import cli_actor, cli_principal, open_store
from station.clock import utc_now
from station.expertise import Expert, Expertise, Request, RequestingDoctor, age_text
from station.i18n import tr
from station.report.pdf import fmt_datetime

EXIT_OK = 0


def register(commands: Any) -> None:
    """Add the ``expertise`` command group."""
    group = commands.add_parser("expertise", help=tr("expertise.cli.help"))
    sub = group.add_subparsers(dest="expertise_command", required=True)

    create = sub.add_parser("create", help=tr("expertise.cli.create.help"))
    create.add_argument("session", help=tr("expertise.cli.session"))
    create.add_argument("--question", required=True, help=tr("expertise.cli.question"))
    create.add_argument("--expert", required=True, help=tr("expertise.cli.expert_name"))
    create.add_argument("--rpps", required=True, help=tr("expertise.cli.expert_rpps"))
    create.add_argument("--specialty", required=True, help=tr("expertise.cli.specialty"))
    create.add_argument("--email", required=True, help=tr("expertise.cli.expert_email"))
    for name in ("photo", "clip", "measurement"):
        create.add_argument(f"--{name}", type=int, action="append",
                            help=tr(f"expertise.cli.{name}"))
        create.add_argument(f"--no-{name}s", action="store_true",
                            help=tr(f"expertise.cli.no_{name}s"))
    create.add_argument("--requester", help=tr("expertise.cli.requester_name"))
    create.add_argument("--requester-rpps", help=tr("expertise.cli.requester_rpps"))
    create.add_argument("--requester-email", help=tr("expertise.cli.requester_email"))
    create.add_argument("--rqd", action="store_true", help=tr("expertise.cli.rqd"))
    create.add_argument("--as", dest="actor", help=tr("cli.as"))
    create.set_defaults(handler=create_request)

    send = sub.add_parser("send", help=tr("expertise.cli.send.help"))
    send.add_argument("request", help=tr("expertise.cli.request"))
    send.add_argument("--base-url", required=True, help=tr("expertise.cli.base_url"))
    send.add_argument("--valid-days", type=_positive_days, default=7.0,
                      help=tr("expertise.cli.valid_days"))
    send.add_argument("--as", dest="actor", help=tr("cli.as"))
    send.set_defaults(handler=send_request)

    listing = sub.add_parser("list", help=tr("expertise.cli.list.help"))
    listing.add_argument("--all", action="store_true", help=tr("expertise.cli.all"))
    listing.add_argument("--as", dest="actor", help=tr("cli.as_reader"))
    listing.set_defaults(handler=list_requests)

    show = sub.add_parser("show", help=tr("expertise.cli.show.help"))
    show.add_argument("request", help=tr("expertise.cli.request"))
    show.add_argument("--as", dest="actor", help=tr("cli.as_reader"))
    show.set_defaults(handler=show_request)


def _positive_days(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(tr("expertise.cli.valid_days_positive"))
    return value


def _chosen(args: argparse.Namespace, name: str) -> list[int] | None:
    if getattr(args, f"no_{name}s"):
        return []
    chosen: list[int] | None = getattr(args, name)
    return chosen


def create_request(args: argparse.Namespace) -> int:
    """Create a draft request (all the session's material unless chosen)."""
    expert = Expert.checked(args.expert, args.rpps, args.specialty, args.email)
    requester = None
    if args.requester or args.requester_rpps:
        requester = RequestingDoctor.checked(args.requester or "", args.requester_rpps or "",
                                             args.requester_email)
    with open_store() as store:
        request = Expertise.from_config(store).create(
            args.session, args.question, expert, _chosen(args, "photo"), _chosen(args, "clip"),
            _chosen(args, "measurement"), requester=requester, bill_rqd=args.rqd,
            actor=cli_actor(args.actor))
    print(tr("expertise.cli.created", id=request.id, photos=len(request.photos),
             clips=len(request.clips), measurements=len(request.measurements)))
    return EXIT_OK


def send_request(args: argparse.Namespace) -> int:
    """E-mail the expert a fresh link (queued in the outbox; the link itself is not shown)."""
    with open_store() as store:
        expertise = Expertise.from_config(store)
        expertise.send(args.request, args.base_url, ttl=timedelta(days=args.valid_days),
                       actor=cli_actor(args.actor))
        request = expertise.get(args.request)
    link = request.current_link
    assert link is not None  # just sent
    print(tr("expertise.cli.sent", expert=request.expert.name, email=request.expert.email,
             expires=fmt_datetime(link.expires_at)))
    return EXIT_OK


def list_requests(args: argparse.Namespace) -> int:
    """The requests waiting for an answer, oldest first, with their age."""
    with open_store() as store:
        expertise = Expertise.from_config(store)
        for request_id in expertise.resume():
            print(tr("expertise.cli.resumed", id=request_id[:8]))
        now = utc_now()
        shown = expertise.listing(cli_principal(store, args.actor), all_requests=args.all)
    if not shown:
        print(tr("expertise.cli.none" if args.all else "expertise.cli.none_waiting"))
        return EXIT_OK
    for request in shown:
        age = request.age(now)
        waiting = (tr("expertise.cli.waiting_since", age=age_text(age))
                   if age is not None and request.state.waiting else "")
        print(tr("expertise.cli.row", id=request.id[:8], expert=request.expert.name,
                 specialty=request.expert.specialty, state=request.state.label,
                 age=waiting).rstrip())
    return EXIT_OK


def _ids(ids: tuple[int, ...]) -> str:
    return ", ".join(str(i) for i in ids) or tr("expertise.cli.none_item")


def _print_request(request: Request) -> None:
    now = utc_now()
    print(tr("expertise.cli.detail.request", id=request.id, state=request.state.label))
    print(tr("expertise.cli.detail.session", session=request.session_id))
    expert = request.expert
    print(tr("expertise.cli.detail.expert", name=expert.name, specialty=expert.specialty,
             rpps=expert.rpps, email=expert.email))
    if request.requester is not None:
        print(tr("expertise.cli.detail.requester", name=request.requester.name,
                 rpps=request.requester.rpps))
    print(tr("expertise.cli.detail.question", question=request.question))
    print(tr("expertise.cli.detail.material", photos=_ids(request.photos),
             clips=_ids(request.clips), measurements=_ids(request.measurements)))
    print(tr("expertise.cli.detail.billing", codes=", ".join(request.billing)))
    for link in request.links:
        print(tr("expertise.cli.detail.link", id=link.id, created=fmt_datetime(link.created_at),
                 expires=fmt_datetime(link.expires_at),
                 state=tr(f"expertise.link_{link.state(now).value}")))
    if request.answer is not None:
        answer = request.answer
        print(tr("expertise.cli.detail.answer", time=fmt_datetime(answer.answered_at),
                 name=answer.expert_name, rpps=answer.expert_rpps,
                 conclusion=answer.conclusion))
    if request.report_id is not None:
        print(tr("expertise.cli.detail.report", report=request.report_id))
    print(tr("expertise.cli.detail.history"))
    for event in request.events:
        print(tr("expertise.cli.detail.event", time=fmt_datetime(event.time),
                 event=event.label, actor=event.actor))


def show_request(args: argparse.Namespace) -> int:
    """One request: expert, question, material, links, answer, history."""
    with open_store() as store:
        request = Expertise.from_config(store).show(args.request,
                                                    cli_principal(store, args.actor))
    _print_request(request)
    return EXIT_OK
