"""`fangkong worker [--count N]`: run job workers (django-tasks database backend).

Stale jobs (a worker died mid-job) are marked failed first, so the pages never show them
running forever; each task start sweeps again (core.jobs.run_job).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser

from fangkong.core.importing.retention import clean_old_files
from fangkong.core.jobs import sweep_stale_jobs
from fangkong.core.management.base import OperatorCommand

MAX_WORKERS = 64


class Command(OperatorCommand):
    help = "Run job workers: sweep stale jobs, then process queued jobs until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--count", type=int, default=1, help="worker processes to run (default 1)"
        )
        parser.add_argument(
            "--interval", type=float, default=1.0, help="seconds between polls when idle"
        )
        parser.add_argument("--batch", action="store_true", help="run what is queued, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        count = options["count"]
        if not 1 <= count <= MAX_WORKERS:
            raise CommandError(f"--count must be between 1 and {MAX_WORKERS}", returncode=2)
        if options["interval"] < 0:
            raise CommandError("--interval must not be negative", returncode=2)
        swept = sweep_stale_jobs()
        if swept:
            self.stderr.write(f"marked {swept} stale job(s) failed")
        clean_old_files()  # uploads and job files past FANGKONG_UPLOAD_RETENTION_DAYS
        db_worker_options = {
            "interval": options["interval"],
            "batch": options["batch"],
            "reload": False,
            "startup_delay": count > 1,
            "verbosity": options["verbosity"],
        }
        if count == 1:
            call_command("db_worker", **db_worker_options)
            return
        self._run_many(count, options)

    def _run_many(self, count: int, options: Any) -> None:
        command = [sys.executable, "-m", "django", "db_worker", "--no-reload"]
        command += [f"--interval={options['interval']}", f"--verbosity={options['verbosity']}"]
        if options["batch"]:
            command.append("--batch")
        env = dict(os.environ)
        env.setdefault("DJANGO_SETTINGS_MODULE", "fangkong.settings")
        children = [subprocess.Popen(command, env=env) for _ in range(count)]

        def forward(signum: int, _frame: Any) -> None:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signum)

        signal.signal(signal.SIGINT, forward)
        signal.signal(signal.SIGTERM, forward)
        while any(child.poll() is None for child in children):
            time.sleep(0.5)
        codes = [child.returncode for child in children]
        if any(codes) and not options["batch"]:
            self.stderr.write(f"workers exited with codes {codes}")
