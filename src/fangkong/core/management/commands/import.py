"""`fangkong import people FILE [--region CODE] [--dry-run] [--errors OUT.xlsx]` and
`fangkong import lab-results FILE [--dry-run] [--errors OUT.xlsx]`.

Runs the same job as the upload page, inline with a terminal progress bar; the last line
is `imported N, updated M, unchanged K, rejected R` for people and `results N, unknown
tubes U, positives P` for lab results (the line before it: unchanged and rejected lines,
then the unknown tube barcodes). Rejected rows go to --errors (the original columns plus
the reason). Runs as the system (audited as "system").
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError, CommandParser

from fangkong.core.management.base import OperatorCommand

KINDS = {"people": "people.import", "lab-results": "screening.import_results"}
# Unknown tube barcodes printed by `import lab-results` (all of them are in --errors).
UNKNOWN_SHOWN = 20


class Command(OperatorCommand):
    help = "Import a file (xlsx, xls, ods or csv): import people FILE | import lab-results FILE."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=sorted(KINDS), help="what the file holds")
        parser.add_argument("file", help="the ledger: xlsx, xls, ods or csv")
        parser.add_argument("--region", default="", help="the region to import into (a code)")
        parser.add_argument("--dry-run", action="store_true", help="check only, write nothing")
        parser.add_argument("--errors", default="", help="write rejected rows to this xlsx")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        from fangkong.core.cleaning import clean_region_code_format
        from fangkong.core.jobs import result_path, run_inline
        from fangkong.core.models import JobStatus
        from fangkong.geo.models import Region

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
        region = options["region"]
        if region and options["kind"] != "people":
            raise CommandError("--region is only for people ledgers", returncode=2)
        if region:
            try:
                region = clean_region_code_format(region)
            except Exception as exc:
                raise CommandError(
                    f"--region: {' '.join(getattr(exc, 'messages', [str(exc)]))}", returncode=2
                ) from None
            if not Region.objects.filter(code=region).exists():
                raise CommandError(
                    f"--region: no region {region}; load it with `fangkong geo load`", returncode=2
                )
        params = {
            "path": str(path.resolve()),
            "region_code": region,
            "dry_run": bool(options["dry_run"]),
            "filename": path.name,
            "language": "en",
        }
        try:
            job = run_inline(
                KINDS[options["kind"]], params, actor=None, show_bar=not options["no_progress"]
            )
        except PermissionDenied as exc:
            raise CommandError(str(exc), returncode=2) from None
        if job.status != JobStatus.SUCCEEDED:
            reason = (job.result or {}).get("error") or "the import failed"
            raise CommandError(str(reason), returncode=1)
        summary = job.result
        errors_file = result_path(job)
        if options["errors"] and errors_file is not None:
            shutil.copyfile(errors_file, options["errors"])
            self.stdout.write(f"rejected rows written to {options['errors']}")
        elif options["errors"]:
            self.stdout.write("no rejected rows: no error file written")
        if summary.get("dry_run"):
            self.stdout.write("dry run: nothing was written")
        if options["kind"] == "lab-results":
            self._lab_results_lines(summary)
            return
        self.stdout.write(
            "imported {created}, updated {updated}, unchanged {unchanged}, "
            "rejected {rejected}".format(**summary)
        )

    def _lab_results_lines(self, summary: dict[str, Any]) -> None:
        unknown = list(summary.get("unknown_list") or [])
        if unknown:
            more = summary.get("unknown_tubes", 0) - min(len(unknown), UNKNOWN_SHOWN)
            shown = ", ".join(unknown[:UNKNOWN_SHOWN]) + (f" and {more} more" if more > 0 else "")
            self.stdout.write(f"unknown tubes: {shown}")
        self.stdout.write(
            "unchanged {unchanged}, rejected {rejected}, tubes updated {tubes_updated}".format(
                **summary
            )
        )
        self.stdout.write(
            "results {results}, unknown tubes {unknown_tubes}, positives {positives}".format(
                **summary
            )
        )
