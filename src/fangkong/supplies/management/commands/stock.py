"""`fangkong stock verify | receive | issue | snapshot`: the stock ledger from a terminal.

- ``verify``: recompute every balance from the ledger; exit 0 when they agree, 1 when not.
- ``receive FILE --location SITE`` / ``issue FILE --location SITE [--recipient NAME]``:
  post one receipt or issue from a csv/xlsx file; bad rows are listed (and written to
  ``--errors OUT.xlsx``); ``--dry-run`` posts nothing. Last line: ``posted NUMBER: N
  lines, rejected R`` or ``dry run: N lines ok, rejected R``.
- ``snapshot [YYYY-MM-DD]``: take the daily closing snapshot (default: yesterday).

Runs as the system (actor None), audited with source "cli". Wrong arguments: one line,
exit 2.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser

from fangkong.core.management.base import OneLineParser, OperatorCommand


def _messages(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


class Command(OperatorCommand):
    help = "Stock ledger: verify | receive FILE | issue FILE | snapshot [DAY]."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, parser_class=OneLineParser)
        actions.add_parser("verify", help="check every balance against the ledger")
        for name, text in (
            ("receive", "post a receipt from a file"),
            ("issue", "post an issue from a file"),
        ):
            sub = actions.add_parser(name, help=text)
            sub.add_argument("file", help="csv (UTF-8 or GB18030), xlsx, xls or ods")
            sub.add_argument("--location", required=True, help="the site: its id or name")
            sub.add_argument("--dry-run", action="store_true", help="check only, post nothing")
            sub.add_argument("--errors", default="", help="write rejected rows to this xlsx")
            if name == "issue":
                sub.add_argument("--recipient", default="", help="who receives the goods")
            else:
                sub.add_argument(
                    "--received-as",
                    default="purchase",
                    choices=["purchase", "donation", "allocation", "return"],
                    help="how the goods came (default purchase)",
                )
                sub.add_argument("--supplier", default="", help="supplier or sender")
        snapshot = actions.add_parser("snapshot", help="take the daily closing snapshot")
        snapshot.add_argument("day", nargs="?", default="", help="YYYY-MM-DD (default yesterday)")

    def handle(self, *args: Any, **options: Any) -> None:
        from fangkong.core import context_vars

        token = context_vars.source.set("cli")
        try:
            action = options["action"]
            if action == "verify":
                self.verify()
            elif action == "snapshot":
                self.snapshot(options["day"])
            else:
                self.post_file(action, options)
        finally:
            context_vars.source.reset(token)

    # ------------------------------------------------------------------ verify

    def verify(self) -> None:
        from fangkong.supplies.verify import KIND_LABELS, verify_ledger

        result = verify_ledger()
        for d in result.differences:
            lot = f" lot {d.lot}" if d.lot else ""
            balance = "none" if d.balance is None else str(d.balance)
            self.stdout.write(
                f"{d.location} (#{d.location_id}) / {d.item} (#{d.item_id}){lot}: "
                f"ledger {d.ledger}, balance {balance} ({KIND_LABELS[d.kind]})"
            )
        self.stdout.write(
            f"checked {result.keys} balances against {result.movements} movements: "
            f"{len(result.differences)} differences"
        )
        if not result.clean:
            raise CommandError("the balances do not match the ledger", returncode=1)

    # ------------------------------------------------------------------ snapshot

    def snapshot(self, text: str) -> None:
        from django.utils import timezone

        if text:
            try:
                day = dt.date.fromisoformat(unicodedata.normalize("NFKC", text).strip())
            except ValueError:
                raise CommandError(f"not a date (YYYY-MM-DD): {text}", returncode=2) from None
        else:
            day = timezone.localdate() - dt.timedelta(days=1)
        # Written by the snapshots action; imported here so the other commands never need it.
        from fangkong.supplies.actions.snapshots import take_snapshot

        try:
            rows = take_snapshot(day, actor=None)
        except ValidationError as exc:
            raise CommandError(_messages(exc), returncode=1) from None
        self.stdout.write(f"snapshot {day.isoformat()}: {rows} rows")

    # ------------------------------------------------------------------ receive / issue

    def post_file(self, action: str, options: dict[str, Any]) -> None:
        from fangkong.core.importing.readers import ImportFileError
        from fangkong.supplies.importers import post_stock_file
        from fangkong.supplies.ledger import InsufficientStock

        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}", returncode=2)
        size = path.stat().st_size
        if size > settings.MAX_UPLOAD_BYTES:
            raise CommandError(
                f"the file is {size / 1048576:.1f} MB; the limit is "
                f"{settings.MAX_UPLOAD_BYTES // 1048576} MB (FANGKONG_MAX_UPLOAD_MB)",
                returncode=2,
            )
        location = self.location(options["location"])
        errors = Path(options["errors"]) if options["errors"] else None
        if errors is not None and not errors.parent.is_dir():
            raise CommandError(f"--errors: no such directory: {errors.parent}", returncode=2)
        kind = "receipt" if action == "receive" else "issue"
        try:
            result = post_stock_file(
                path,
                kind=kind,
                location=location,
                actor=None,
                dry_run=options["dry_run"],
                recipient=(options.get("recipient") or "").strip(),
                receipt_source=options.get("received_as") or "purchase",
                supplier=(options.get("supplier") or "").strip(),
                error_path=errors,
            )
        except ImportFileError as exc:
            raise CommandError(str(exc), returncode=1) from None
        except InsufficientStock as exc:
            raise CommandError(f"nothing posted: {_messages(exc)}", returncode=1) from None
        except ValidationError as exc:
            raise CommandError(f"nothing posted: {_messages(exc)}", returncode=1) from None
        for rejection in result.rejections:
            self.stdout.write(f"row {rejection.row.number}: {rejection.reason}")
        if result.error_file is not None:
            self.stdout.write(f"rejected rows written to {result.error_file}")
        lines, rejected = len(result.lines), len(result.rejections)
        if result.dry_run:
            self.stdout.write(f"dry run: {lines} lines ok, rejected {rejected}")
            return
        if result.document is None:
            raise CommandError(f"nothing posted: 0 lines, rejected {rejected}", returncode=1)
        if result.already_posted:
            self.stdout.write(f"this file was already posted as {result.document.number}")
        self.stdout.write(f"posted {result.document.number}: {lines} lines, rejected {rejected}")

    def location(self, text: str) -> Any:
        from fangkong.geo.models import Site
        from fangkong.supplies.keys import location_for_site

        wanted = unicodedata.normalize("NFKC", text or "").strip()
        if not wanted:
            raise CommandError("--location: give a site id or name", returncode=2)
        if wanted.isdigit():
            site = Site.objects.filter(pk=int(wanted)).first()
            if site is None:
                raise CommandError(f"--location: no site with id {wanted}", returncode=2)
        else:
            sites = list(Site.objects.filter(name=wanted)[:5])
            if not sites:
                raise CommandError(f"--location: no site named {wanted}", returncode=2)
            if len(sites) > 1:
                ids = ", ".join(str(s.pk) for s in sites)
                raise CommandError(
                    f"--location: several sites are named {wanted}; use the id ({ids})",
                    returncode=2,
                )
            site = sites[0]
        if not site.active:
            raise CommandError(f"--location: {site.name} is closed", returncode=2)
        return location_for_site(site)
