from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from access_requests.sealing import SealUnavailable, seal_check
from access_requests.services.agreements import agreement_for_file


class Command(BaseCommand):
    help = (
        "Check an executed data-access agreement's PDF: the portal's seal (intact, valid, made by the "
        "portal's seal certificate, trusted from the portal's own root, nothing changed after it) and that "
        "the file is the executed agreement on record. Exits non-zero for a tampered or unknown file."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the PDF file to check")

    def handle(self, *args, **options):
        path = Path(options["file"])
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
        try:
            report = seal_check(content)
        except SealUnavailable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Checked {path} ({len(content)} bytes):")
        for name, passed, detail in report.checks:
            mark = "ok  " if passed else "FAIL"
            self.stdout.write(f"  [{mark}] {name}" + (f" ({detail})" if detail else ""))
        agreement = agreement_for_file(content)
        on_record = agreement is not None
        self.stdout.write(
            f"  [{'ok  ' if on_record else 'FAIL'}] The file is an executed agreement on record"
            + (f" ({agreement.reference}, application {agreement.application.reference})" if on_record else "")
        )
        if not report.ok:
            raise CommandError(
                f"{path} does not carry the portal's intact seal: it was changed after sealing, or the portal "
                f"did not seal it. Failed: {report.failure}"
            )
        if not on_record:
            raise CommandError(
                f"{path} is sealed by the portal but matches no executed agreement on record "
                "(its SHA-256 is unknown here)."
            )
        when = f" on {report.signed_at:%Y-%m-%d %H:%M %Z}" if report.signed_at else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{path} is the executed agreement {agreement.reference}, sealed by {report.signer}{when}, "
                "unchanged since."
            )
        )
