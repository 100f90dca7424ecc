"""`fangkong geo load CODE... | all`: load national division codes into the database."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fangkong.core.jobs import run_inline
from fangkong.core.models import JobStatus
from fangkong.geo.divisions import select


class Command(BaseCommand):
    help = "Division codes (行政区划): `geo load CODE... | all` loads subtrees and their ancestors."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", metavar="ACTION")
        sub.required = True
        load = sub.add_parser(
            "load",
            help="load the divisions under each code (2, 4, 6, 9 or 12 digits), or all",
            called_from_command_line=getattr(parser, "called_from_command_line", None),
        )
        load.add_argument("codes", nargs="+", metavar="CODE")
        load.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "load":
            self._load(options["codes"], show_bar=not options["no_progress"])

    def _load(self, codes: list[str], *, show_bar: bool) -> None:
        try:
            selection = select(codes)  # refuse bad codes before a job is recorded
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        params = {"codes": list(selection.prefixes) or ["all"]}
        job = run_inline("geo.load_divisions", params, actor=None, show_bar=show_bar)
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(
                f"loading failed: {job.result.get('error', 'unknown error')}", returncode=1
            )
        result = job.result
        self.stdout.write(
            f"regions: created {result['created']}, updated {result['updated']}, "
            f"unchanged {result['unchanged']}"
        )
