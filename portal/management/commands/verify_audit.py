import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.services.audit import audit_anchors_read, audit_verify


class Command(BaseCommand):
    help = (
        "Walk the audit chain; exit non-zero naming the first event that breaks it. When the anchor file "
        "(AUDIT_ANCHOR_FILE) exists, also check the chain against every head anchored in it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchors",
            action="store_true",
            help="require the check against anchors: fail when there is no anchor file or it holds no anchor",
        )
        parser.add_argument(
            "--anchor-file",
            metavar="PATH",
            help="read anchors from PATH (e.g. the lines the auditors received by e-mail) instead of "
            "AUDIT_ANCHOR_FILE; implies --anchors",
        )
        parser.add_argument("--no-anchors", action="store_true", help="walk the chain only, ignoring any anchor file")
        parser.add_argument(
            "--processes",
            type=int,
            default=min(2, os.cpu_count() or 1),
            metavar="N",
            help="walk a long chain as N parts at once (default: 2, or 1 on a single CPU); the report is the same",
        )

    def handle(self, *args, **options):
        anchors = self._anchors(options)
        report = audit_verify(anchors=anchors, processes=max(options["processes"], 1))
        if not report.ok:
            raise CommandError(f"Audit chain broken at event #{report.first_bad_seq}: {report.reason}")
        message = f"Audit chain intact: {report.events} events."
        if report.latest_anchor is not None:
            latest = report.latest_anchor
            message += f" Anchors checked: {report.anchors}; the latest is #{latest.seq} of {latest.at}."
        self.stdout.write(self.style.SUCCESS(message))

    def _anchors(self, options) -> list:
        if options["no_anchors"]:
            return []
        path = options["anchor_file"] or settings.AUDIT_ANCHOR_FILE
        required = bool(options["anchors"] or options["anchor_file"])
        if not path or not Path(path).exists():
            if required:
                raise CommandError(f"No anchor file at {path or '(AUDIT_ANCHOR_FILE is empty)'}")
            return []
        anchor_file = audit_anchors_read(path)
        if anchor_file.problems:
            raise CommandError(f"The anchor file {path} is not intact: " + "; ".join(anchor_file.problems))
        if required and not anchor_file.anchors:
            raise CommandError(f"The anchor file {path} holds no anchor")
        return anchor_file.anchors
