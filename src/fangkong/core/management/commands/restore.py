"""`fangkong restore FILE`: replace the database with a backup made by `fangkong backup`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import connections

from fangkong.core.backups import BackupError, check_backup_file, restore
from fangkong.core.management.base import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Restore the database from FILE (made by `fangkong backup`). Everything in the "
        "database now is replaced. Stop the server first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the backup file to read")
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="do not ask for confirmation",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source = Path(options["file"])
        try:
            check_backup_file(source)
        except BackupError as exc:
            raise CommandError(str(exc), returncode=2) from None
        name = connections["default"].settings_dict["NAME"]
        if options["interactive"]:
            try:
                answer = input(f"Replace everything in {name} with {source}? Type 'yes': ")
            except EOFError:
                answer = ""
            if answer.strip().lower() != "yes":
                raise CommandError("restore cancelled", returncode=2)
        try:
            restore(source)
        except BackupError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(f"restored {name} from {source}")
        self.stdout.write("run `fangkong migrate` if the backup came from an older version")
