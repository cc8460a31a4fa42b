"""`manage.py check_invariants`: the BRIEF's eight governance invariants, checked on this database."""

import os
import time

from django.core.management.base import BaseCommand, CommandError

from access_requests.invariants import INVARIANTS, timed_check


class Command(BaseCommand):
    help = (
        "Check the eight governance invariants (access_requests/invariants.py) on this database: print every "
        "violation with the objects involved and exit non-zero if there is one."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--only",
            metavar="N[,N...]",
            help="check only these invariants (numbers 1 to 8, comma-separated)",
        )
        parser.add_argument(
            "--limit",
            type=int,
            default=0,
            metavar="N",
            help="print at most N violations per invariant (all are counted); 0, the default, prints all",
        )
        parser.add_argument(
            "--processes",
            type=int,
            default=min(2, os.cpu_count() or 1),
            metavar="N",
            help="check in N processes at once, the audit chain's walk in parts beside the other invariants "
            "(default: 2, or 1 on a single CPU); 1 checks one invariant after another",
        )

    def handle(self, *args, **options):
        numbers = self._numbers(options["only"])
        limit = max(options["limit"], 0)
        total = 0
        seconds = 0.0
        started = time.perf_counter()
        for number, violations, took in timed_check(numbers, processes=max(options["processes"], 1)):
            total += len(violations)
            seconds += took
            title = INVARIANTS[number][0]
            if not violations:
                self.stdout.write(self.style.SUCCESS(f"invariant {number} holds ({took:.1f} s): {title}"))
                continue
            self.stdout.write(
                self.style.ERROR(f"invariant {number} VIOLATED {len(violations)} time(s) ({took:.1f} s): {title}")
            )
            for violation in violations[: limit or None]:
                objects = "; ".join(violation.objects)
                self.stdout.write(f"  - {violation.message}" + (f"\n      objects: {objects}" if objects else ""))
            if limit and len(violations) > limit:
                self.stdout.write(f"  ... and {len(violations) - limit} more")
        wall = f"{time.perf_counter() - started:.1f} s"
        if total:
            raise CommandError(f"{total} violation(s) of the governance invariants (in {wall}).")
        held = f"All {len(numbers)} invariants hold" if len(numbers) > 1 else f"Invariant {numbers[0]} holds"
        self.stdout.write(self.style.SUCCESS(f"{held} (in {wall}; the checks' own times add up to {seconds:.1f} s)."))

    def _numbers(self, only: str | None) -> list[int]:
        if not only:
            return sorted(INVARIANTS)
        try:
            numbers = sorted({int(part) for part in only.split(",") if part.strip()})
        except ValueError as exc:
            raise CommandError(f"--only takes invariant numbers 1 to 8, comma-separated, not {only!r}") from exc
        unknown = [n for n in numbers if n not in INVARIANTS]
        if unknown or not numbers:
            raise CommandError(f"--only takes invariant numbers 1 to 8, not {only!r}")
        return numbers
