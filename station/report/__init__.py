"""Reports of telemedicine acts: content, PDF, FHIR document bundle, versions.

Qt-free. :func:`~station.report.content.gather_report` reads a session into a
:class:`~station.report.content.ReportContent`; :mod:`.pdf` and :mod:`.fhir`
render it; :class:`~station.report.service.ReportService` validates, corrects
and keeps the versions (immutable once validated, audited).
"""
