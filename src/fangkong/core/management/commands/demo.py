"""`fangkong demo`: build the demo database, print the logins, and serve it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Build the demo (安阳县 and 汤阴县, the seed's sites, one login per role) and serve it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="build only, do not serve")
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        from fangkong.demo import build_demo, logins_table

        call_command("migrate", verbosity=0, interactive=False)
        self.stdout.write("building the demo …")
        build_demo(say=lambda text: self.stdout.write(f"  {text}"))
        host = options["host"] or "127.0.0.1"
        port = options["port"] or settings.PORT
        self.stdout.write("")
        self.stdout.write(f"fangkong demo: http://{host}:{port}/")
        self.stdout.write(f"database: {settings.DATABASES['default']['NAME']}")
        self.stdout.write("logins:")
        self.stdout.write(logins_table())
        if not options["no_serve"]:
            call_command("serve", host=host, port=port)
