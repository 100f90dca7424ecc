"""The `fangkong` command: a short list of operator commands over Django's management commands.

Every wrong argument ends with one line saying why and exit code 2, never a traceback.
"""

from __future__ import annotations

import os
import sys

COMMANDS: dict[str, str] = {
    "serve": "run the web server (granian) and one job worker",
    "worker": "run job workers",
    "demo": "build the demo database and serve it (--no-serve to only build)",
    "migrate": "create or update the database tables",
    "createuser": "create a user: createuser NAME --role ROLE --region CODE",
    "geo": "division codes: geo load CODE... | all",
    "backup": "back up the database to FILE",
    "restore": "restore the database from FILE",
    "check": "check the installation",
    "cleanup": "delete old import uploads and job files: cleanup [--days N] [--dry-run]",
    "import": (
        "import a file: import people FILE [--region CODE] [--dry-run] [--errors OUT.xlsx]"
        " | import lab-results FILE [--dry-run] [--errors OUT.xlsx]"
    ),
    "stock": "stock ledger: stock verify | receive FILE | issue FILE --location SITE | snapshot",
    "screening": "mass testing: screening trace TUBE [--reveal]",
}


def _usage() -> str:
    lines = ["usage: fangkong COMMAND [ARGS]", "", "commands:"]
    lines += [f"  {name:<11} {text}" for name, text in COMMANDS.items()]
    lines += ["", "fangkong COMMAND --help tells more about each."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_usage())
        raise SystemExit(0 if args else 2)
    if args[0] in {"--version", "version"}:
        from fangkong import __version__

        print(__version__)
        raise SystemExit(0)
    name = args[0]
    if name not in COMMANDS and not os.environ.get("FANGKONG_ALLOW_DJANGO_COMMANDS"):
        print(f"fangkong: unknown command {name!r}; run `fangkong --help`", file=sys.stderr)
        raise SystemExit(2)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangkong.settings")
    import django
    from django.core.management import execute_from_command_line

    try:
        django.setup()
    except Exception as exc:  # bad settings from the environment: one line, not a traceback
        print(f"fangkong: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    _one_line_argument_errors()
    try:
        execute_from_command_line(["fangkong", *args])
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def _one_line_argument_errors() -> None:
    """Make every command's argparse error one line and exit 2 (Django prints its usage).

    Our own commands subclass core.management.base.OperatorCommand for this; the patch
    covers Django's built-in ones (migrate, check) when run through `fangkong`.
    """
    from django.core.management.base import CommandParser

    from fangkong.core.management.base import OneLineParser

    CommandParser.error = OneLineParser.error  # type: ignore[assignment,method-assign]


if __name__ == "__main__":
    main()
