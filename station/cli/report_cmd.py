"""``station report show|validate|correct|export``: a session's report and its versions."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from station.cli.common import cli_actor, cli_principal, open_store
from station.errors import NotFoundError, StoreError
from station.i18n import tr
from station.people import Doctor, check_rpps
from station.report.codes import ACT_TITLES
from station.report.content import elapsed_text
from station.report.pdf import STATUS_LABELS, fmt_datetime, local
from station.report.service import ReportService
from station.store.reports import ReportVersion


def register(commands: Any) -> None:
    """Add the ``report`` command group."""
    group = commands.add_parser("report", help=tr("report.cli.help"))
    sub = group.add_subparsers(dest="report_command", required=True)

    show = sub.add_parser("show", help=tr("report.cli.show.help"))
    show.add_argument("session", help=tr("report.cli.session"))
    show.add_argument("-o", "--output", help=tr("report.cli.folder"))
    show.add_argument("--as", dest="actor", help=tr("cli.as_reader"))
    show.set_defaults(handler=show_report)

    validate = sub.add_parser("validate", help=tr("report.cli.validate.help"))
    validate.add_argument("session", help=tr("report.cli.session"))
    _doctor_arguments(validate)
    validate.set_defaults(handler=validate_report)

    correct = sub.add_parser("correct", help=tr("report.cli.correct.help"))
    correct.add_argument("session", help=tr("report.cli.session"))
    _doctor_arguments(correct)
    correct.add_argument("--reason", default="", help=tr("report.cli.reason"))
    correct.set_defaults(handler=correct_report)

    export = sub.add_parser("export", help=tr("report.cli.export.help"))
    export.add_argument("session", help=tr("report.cli.session"))
    export.add_argument("--format", choices=("pdf", "fhir"), default="pdf",
                        help=tr("report.cli.format"))
    export.add_argument("-o", "--output", required=True, help=tr("report.cli.output"))
    export.add_argument("--as", dest="actor", help=tr("cli.as_reader"))
    export.set_defaults(handler=export_report)


def _doctor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--doctor", help=tr("report.cli.doctor"))
    parser.add_argument("--rpps", help=tr("report.cli.rpps"))
    parser.add_argument("--specialty", default="médecine générale",
                        help=tr("report.cli.specialty"))
    parser.add_argument("--conclusion", help=tr("report.cli.conclusion"))
    parser.add_argument("--prescriptions", help=tr("report.cli.prescriptions"))
    parser.add_argument("--billing", action="append", help=tr("report.cli.billing"))
    parser.add_argument("-o", "--output", help=tr("report.cli.folder"))
    parser.add_argument("--as", dest="actor", help=tr("cli.as"))


def _doctor(args: argparse.Namespace) -> Doctor | None:
    if args.doctor is None and args.rpps is None:
        return None  # the doctor who joined the session
    return Doctor((args.doctor or "").strip(), check_rpps(args.rpps or ""), args.specialty)


def _print_version(version: ReportVersion) -> None:
    replaces = ""
    if version.replaces_id:  # a correction replaces the version just before it
        replaces = tr("report.cli.replaces", version=version.version - 1)
    print(tr("report.cli.version", version=version.version, state=version.state,
             time=fmt_datetime(version.validated_at), by=version.validated_by or "—",
             pdf=version.pdf_sha256[:16], fhir=version.fhir_sha256[:16], replaces=replaces))


def show_report(args: argparse.Namespace) -> int:
    """Print the current content (draft if none is validated) and every version."""
    with open_store() as store:
        service = ReportService(store)
        service.open_for(args.session, cli_principal(store, args.actor), "report")
        preview = service.preview(args.session)
        c = preview.content
        print(tr("report.cli.heading", session=c.session_id))
        duration = "—" if c.duration_s is None else elapsed_text(c.duration_s)
        print(tr("report.cli.line.act", act=ACT_TITLES[c.act],
                 date=f"{local(c.started_at):%d/%m/%Y %H:%M}", duration=duration))
        print(tr("report.cli.line.resident", name=c.resident.display_name,
                 status=STATUS_LABELS.get(c.resident.status, c.resident.status)))
        if c.doctor is not None:
            print(tr("report.cli.line.doctor", name=c.doctor.name, rpps=c.doctor.rpps or "—",
                     specialty=c.doctor.specialty or "—"))
        print(tr("report.cli.line.counts", measurements=len(c.measurements),
                 snapshots=len(c.snapshots), incidents=len(c.incidents)))
        print(tr("report.cli.line.billing", codes=", ".join(b.code for b in c.billing) or "—"))
        history = service.history(args.session)
        if not history:
            print(tr("report.cli.no_version"))
        for version in history:
            _print_version(version)
        if args.output:
            folder = Path(args.output)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "compte-rendu-projet.pdf"
            path.write_bytes(preview.pdf)
            print(tr("report.cli.preview", pages=len(re.findall(rb"/Type /Page(?!s)", preview.pdf)),
                     path=str(path)))
    return 0


def validate_report(args: argparse.Namespace) -> int:
    """The doctor validates version 1."""
    with open_store() as store:
        service = ReportService(store)
        version = service.validate(args.session, _doctor(args), args.conclusion,
                                   args.prescriptions, args.billing,
                                   actor=cli_actor(args.actor))
        return _done(service, version, args.output)


def correct_report(args: argparse.Namespace) -> int:
    """A new version replacing the latest one."""
    with open_store() as store:
        service = ReportService(store)
        latest = service.latest(args.session)
        if latest is None:
            raise NotFoundError("report.none", session=args.session)
        version = service.correct(latest.id, _doctor(args), args.conclusion, args.prescriptions,
                                  args.billing, reason=args.reason, actor=cli_actor(args.actor))
        return _done(service, version, args.output)


def _done(service: ReportService, version: ReportVersion, output: str | None) -> int:
    print(tr("report.cli.validated", version=version.version, id=version.id))
    if output:
        for path in service.render_files(version, output):
            print(tr("report.cli.written", path=str(path)))
    return 0


def export_report(args: argparse.Namespace) -> int:
    """Write the session's current version (stored bytes) as PDF or FHIR JSON."""
    with open_store() as store:
        service = ReportService(store)
        latest = service.open_for(args.session, cli_principal(store, args.actor),
                                  f"report.{args.format}")
        if latest is None:
            raise NotFoundError("report.none", session=args.session)
        if not latest.intact():
            raise StoreError("report.altered", id=latest.id)
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(latest.pdf if args.format == "pdf" else latest.fhir)
        print(tr("report.cli.written", path=str(path)))
    return 0
