"""`fangkong createuser NAME --role ROLE --region CODE`: an account from the command line.

Run on the server by whoever installs fangkong, to make the first HQ user (and any user
later). Every bad argument ends with one line and exit code 2, never a traceback.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from fangkong.accounts import actions
from fangkong.accounts.validation import (
    clean_region_code,
    clean_role,
    clean_username,
)


def generated_password() -> str:
    # 16 URL-safe characters: easy to read out over the phone, passes the validators.
    return secrets.token_urlsafe(12)


def _one_line(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        parts = [
            f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
            for field, messages in exc.message_dict.items()
        ]
        return "; ".join(parts)
    return " ".join(exc.messages)


class Command(BaseCommand):
    help = "Create a user holding ROLE on region CODE (the region is also the user's home)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", metavar="NAME", help="login name")
        parser.add_argument("--role", required=True, help="role, such as hq or village_cadre")
        parser.add_argument("--region", required=True, help="region code, such as 410522")
        parser.add_argument("--password", help="password (generated and printed if omitted)")
        parser.add_argument("--display-name", default="", help="the person's name")
        parser.add_argument("--organization", default="", help="work unit")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            username = clean_username(options["username"])
            role = clean_role(options["role"])
            region = clean_region_code(options["region"])
        except ValidationError as exc:
            raise CommandError(_one_line(exc), returncode=2) from None
        password = options.get("password")
        generated = password is None
        if generated:
            password = generated_password()
        try:
            user = actions.create_user(
                actor=None,
                username=username,
                password=password or "",
                region_code=region,
                display_name=options["display_name"],
                organization=options["organization"],
                roles=[(role, region)],
            )
        except ValidationError as exc:
            raise CommandError(_one_line(exc), returncode=2) from None
        self.stdout.write(f"created user {user.username}: {role} on {region}")
        if generated:
            self.stdout.write(f"password: {password}")
