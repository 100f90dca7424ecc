"""A base for operator commands: every wrong argument is one line on stderr and exit 2.

Django's argparse prints its usage block before the error, and a CommandError comes out
as "CommandError: ..."; operators get instead "fangkong backup: <why> (fangkong backup
--help tells more)" and exit code 2 (or the CommandError's own returncode).
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError, CommandParser


class OneLineParser(CommandParser):
    def error(self, message: str) -> NoReturn:
        if not self.called_from_command_line:
            raise CommandError(f"Error: {message}")
        self.exit(2, f"{self.prog}: {message} ({self.prog} --help tells more)\n")


class OperatorCommand(BaseCommand):
    requires_system_checks: list[str] = []

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = OneLineParser
        self._prog = parser.prog
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except CommandError as exc:
            if not getattr(self, "_called_from_command_line", False) or options.get("traceback"):
                raise
            prog = getattr(self, "_prog", "fangkong")
            sys.stderr.write(f"{prog}: {exc}\n")
            sys.exit(exc.returncode)
