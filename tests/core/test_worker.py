"""A worker process killed mid-job leaves the job failed once the sweep runs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.core.conftest import django_shell, product_env

pytestmark = pytest.mark.slow


def _job_row(db, job_id: str) -> tuple[str, int, str]:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT status, done, messages FROM core_job WHERE id = ?", (job_id.replace("-", ""),)
        ).fetchone()
    return row


def test_killed_worker_leaves_job_failed_after_sweep(product_dir) -> None:
    db = product_dir / "fangkong.sqlite3"
    job_id = django_shell(
        product_dir,
        "from fangkong.core.jobs import start_job; "
        "print(start_job('core.selfcheck', actor=None, params={'count': 500, 'delay': 0.05}).pk)",
    ).strip()
    assert _job_row(db, job_id)[0] == "queued"

    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from fangkong.cli import main; main()",
            "worker",
            "--interval",
            "0.1",
        ],
        env=product_env(product_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=product_dir,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, done, _ = _job_row(db, job_id)
            if status == "running" and done > 0:
                break
            assert worker.poll() is None, "the worker exited early"
            time.sleep(0.1)
        else:
            pytest.fail("the worker never started the job")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    status, done, _ = _job_row(db, job_id)
    assert status == "running" and 0 < done < 500  # nobody finished it

    time.sleep(1.2)  # let the heartbeat go stale (FANGKONG_JOB_STALE_SECONDS=1 below)
    swept = django_shell(
        product_dir,
        "from fangkong.core.jobs import sweep_stale_jobs; print(sweep_stale_jobs())",
        FANGKONG_JOB_STALE_SECONDS="1",
    )
    assert swept.strip() == "1"
    status, _, messages = _job_row(db, job_id)
    assert status == "failed"
    assert messages != "[]"


def test_worker_batch_with_two_processes_runs_every_queued_job(product_dir) -> None:
    db = product_dir / "fangkong.sqlite3"
    ids = django_shell(
        product_dir,
        "from fangkong.core.jobs import start_job\n"
        "for n in range(4): print(start_job('core.selfcheck', actor=None, params={'count': 3}).pk)",
    ).split()
    assert len(ids) == 4
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from fangkong.cli import main; main()",
            "worker",
            "--count",
            "2",
            "--batch",
            "--interval",
            "0.1",
        ],
        env=product_env(product_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=product_dir,
    )
    assert result.returncode == 0, result.stderr
    assert [_job_row(db, job_id)[:2] for job_id in ids] == [("succeeded", 3)] * 4
