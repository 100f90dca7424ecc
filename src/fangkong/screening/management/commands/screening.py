"""`fangkong screening trace TUBE [--reveal]`: the members of a tube, from a terminal.

Prints the tube (round, site, result, positive case) and one line per live member: name,
ID number, phone, village, address, household, key groups, re-sampling task. Identity
numbers, phones and addresses are masked unless ``--reveal``, which is logged in the
access log as the system. Exit 1 for an unknown tube; wrong arguments exit 2.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from fangkong.core.management.base import OneLineParser, OperatorCommand


class Command(OperatorCommand):
    help = "Mass testing: trace TUBE (the members of a tube)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, parser_class=OneLineParser)
        trace = actions.add_parser("trace", help="list the members of a tube")
        trace.add_argument("tube", help="the tube barcode")
        trace.add_argument(
            "--reveal", action="store_true", help="show ID numbers, phones, addresses (logged)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from django.utils import translation

        with translation.override("en"):  # operator output is English, as in `fangkong import`
            if options["action"] == "trace":
                self._trace(options["tube"], reveal=bool(options["reveal"]))

    def _trace(self, barcode: str, *, reveal: bool) -> None:
        from fangkong.screening.queries.tracing import find_tube, log_trace_reveal, trace_tube

        tube = find_tube(barcode)
        if tube is None:
            raise CommandError(f"no tube {barcode.strip()[:40]!r}", returncode=1)
        trace = trace_tube(tube, None, reveal=reveal)
        if reveal and trace.members:
            log_trace_reveal(None, trace, "screening.tube", tube.pk, "cli: screening trace")
        result = tube.get_result_display() if tube.result else "no result"
        when = f" at {timezone.localtime(tube.result_at):%Y-%m-%d %H:%M}" if tube.result_at else ""
        self.stdout.write(
            f"tube {tube.barcode}: {tube.round.name}, {tube.site.name}, {result}{when}, "
            f"{len(trace.members)} member(s)"
        )
        if trace.case is not None:
            self.stdout.write(f"positive case {trace.case.pk} ({trace.case.get_status_display()})")
        for member in trace.members:
            task = member.task.get_status_display() if member.task else "-"
            groups = ",".join(member.key_groups) or "-"
            self.stdout.write(
                "\t".join(
                    [
                        member.name,
                        member.id_number or "-",
                        member.phone or "-",
                        member.village_name or member.village_code,
                        member.address or "-",
                        member.household or "-",
                        groups,
                        str(task),
                    ]
                )
            )
