"""`fangkong serve [--host H] [--port P]`: granian (WSGI) plus one job worker.

granian runs with --workers = CPU cores and --blocking-threads 2 to 4 (blocking_threads):
DESIGN.md measured its default of 256 threads per worker as ~45% slower on database-bound
pages, with a doubled p95, and exhausting PostgreSQL connections; 2 to 4 was best. On
PostgreSQL 4: a scan (POST /api/v1/screening/scan) waits ~2-4 ms for its commit's WAL
flush, and with 2 threads per worker 4 requests in flight capped it at ~380/s on 2 cores;
4 gave ~630/s with a lower p95 (3: ~550/s; 6 and 8 no better; docs/decisions.md). On
SQLite 2: its one write lock serializes writers, so more threads only queue on it.
Static files are collected into STATIC_ROOT and served by granian itself. SIGINT/SIGTERM
go to both children; when either dies the other is stopped and serve exits with its code.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser

from fangkong.core.management.base import OperatorCommand

STOP_GRACE_SECONDS = 10


def blocking_threads() -> int:
    """Threads per granian worker; each holds one persistent database connection."""
    engine = settings.DATABASES["default"]["ENGINE"]
    return 4 if engine == "django.db.backends.postgresql" else 2


def granian_command(host: str, port: int, workers: int) -> list[str]:
    executable = shutil.which("granian", path=os.path.dirname(sys.executable)) or shutil.which(
        "granian"
    )
    base = [executable] if executable else [sys.executable, "-m", "granian"]
    return [
        *base,
        "--interface",
        "wsgi",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(blocking_threads()),
        "--static-path-route",
        "/static",
        "--static-path-mount",
        str(settings.STATIC_ROOT),
        "--no-ws",  # WSGI has none; saves a log line at every start
        "fangkong.wsgi:application",
    ]


def _port_free(host: str, port: int) -> bool:
    """Whether granian will be able to bind (it answers a taken port with a long traceback)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return True  # let granian say what is wrong with the host
    family, _type, _proto, _name, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError:
            return False
    return True


def worker_command() -> list[str]:
    return [sys.executable, "-c", "from fangkong.cli import main; main(['worker'])"]


class Command(OperatorCommand):
    help = "Serve fangkong with granian and run one job worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=None, help="default 127.0.0.1 or FANGKONG_HOST")
        parser.add_argument("--port", type=int, default=None, help="default FANGKONG_PORT (8000)")
        parser.add_argument(
            "--workers", type=int, default=None, help="web processes (default: CPU cores)"
        )
        parser.add_argument("--no-worker", action="store_true", help="do not start a job worker")

    def handle(self, *args: Any, **options: Any) -> None:
        host = options["host"] or os.environ.get("FANGKONG_HOST") or "127.0.0.1"
        port = options["port"] if options["port"] is not None else settings.PORT
        if not 0 < port < 65536:
            raise CommandError(f"--port must be between 1 and 65535, not {port}", returncode=2)
        workers = options["workers"] or os.cpu_count() or 1
        if workers < 1:
            raise CommandError("--workers must be at least 1", returncode=2)

        if not _port_free(host, port):
            raise CommandError(
                f"{host}:{port} is already in use (another fangkong?); pick one with --port",
                returncode=2,
            )
        self._warn_unapplied_migrations()
        call_command("collectstatic", interactive=False, verbosity=0)

        env = dict(os.environ)
        env.setdefault("DJANGO_SETTINGS_MODULE", "fangkong.settings")
        children: dict[str, subprocess.Popen[bytes]] = {
            "web": subprocess.Popen(
                granian_command(host, port, workers), env=env, start_new_session=True
            )
        }
        if not options["no_worker"]:
            # Own sessions: a terminal's Ctrl+C reaches only serve, which forwards it once
            # (a second SIGINT would make the worker abandon its job mid-way).
            children["worker"] = subprocess.Popen(worker_command(), env=env, start_new_session=True)
        self.stdout.write(f"fangkong: serving on http://{host}:{port}/ (Ctrl+C to stop)")
        self.stdout.flush()
        code = self._supervise(children)
        if code:
            raise CommandError(f"stopped: a child exited with code {code}", returncode=1)

    def _warn_unapplied_migrations(self) -> None:
        from fangkong.core.checks import unapplied_migrations

        try:
            pending = unapplied_migrations()
        except Exception as exc:
            self.stderr.write(f"warning: cannot read the database: {exc}")
            return
        if pending:
            self.stderr.write(
                f"warning: {len(pending)} migration(s) not applied; run `fangkong migrate`"
            )

    def _supervise(self, children: dict[str, subprocess.Popen[bytes]]) -> int:
        stopping: list[int] = []

        def forward(signum: int, _frame: Any) -> None:
            stopping.append(signum)
            for child in children.values():
                if child.poll() is None:
                    child.send_signal(signum)

        previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while all(child.poll() is None for child in children.values()):
                time.sleep(0.2)
            dead = next(name for name, child in children.items() if child.poll() is not None)
            if not stopping:
                self.stderr.write(f"fangkong: the {dead} process exited; stopping the rest")
            for child in children.values():
                if child.poll() is None:
                    child.terminate()
            deadline = time.monotonic() + STOP_GRACE_SECONDS
            for child in children.values():
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if stopping:
            return 0
        return children[dead].returncode or 1
