"""`fangkong cleanup [--days N] [--dry-run]`: delete old import uploads and job files.

Every job worker does the same at start (core.importing.retention); this command is for an
operator who wants the disk back now, or a cron line on an install without workers.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from fangkong.core.importing.retention import MIN_DAYS, clean_old_files, retention_days
from fangkong.core.management.base import OperatorCommand

MAX_DAYS = 3650


class Command(OperatorCommand):
    help = (
        "Delete import uploads and job result files older than N days (default "
        "FANGKONG_UPLOAD_RETENTION_DAYS, 7) unless a queued or running job uses them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="age in days (at least 1)")
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would be deleted, delete nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days is not None and not MIN_DAYS <= days <= MAX_DAYS:
            raise CommandError(f"--days must be between {MIN_DAYS} and {MAX_DAYS}", returncode=2)
        done = clean_old_files(days, dry_run=options["dry_run"])
        if options["verbosity"] > 1 or options["dry_run"]:
            for path in [*done.uploads, *done.results]:
                self.stdout.write(str(path))
        prefix = "would have " if options["dry_run"] else ""
        self.stdout.write(f"{prefix}{done.summary()} (older than {days or retention_days()} days)")
