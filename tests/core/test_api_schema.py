"""Schemathesis against the OpenAPI schema: no generated request gets a 500.

Bounded: a few valid and a few invalid examples per operation, as an HQ of 河南省 with an
API token, against the test database (the WSGI app runs in this thread).
"""

from __future__ import annotations

import secrets
import time

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from fangkong.accounts.models import ApiToken
from fangkong.accounts.roles import Role
from fangkong.core import audit
from fangkong.core.api import TOKEN_PREFIX, hash_secret
from fangkong.core.models import Job
from fangkong.geo.models import Site
from tests.conftest import JIANGTAITUN

pytestmark = pytest.mark.django_db

EXAMPLES_PER_MODE = 6
# About 130 operations; generous for a loaded CI machine, still bounding the suite.
TIME_BUDGET_SECONDS = 180


@pytest.fixture
def wsgi_app():
    # Django closes "old" connections at each request's end; inside the test's transaction
    # that would drop the test data (the test client does the same disconnect).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def hq_token(regions, make_user) -> str:
    hq = make_user("hq", role=Role.HQ_COMMANDER, region="41")
    secret = secrets.token_urlsafe(32)
    ApiToken.objects.create(
        user=hq, name="schemathesis", prefix="a1b2c3d4", secret_hash=hash_secret(secret)
    )
    site = Site.objects.create(
        name="蒋台屯村核酸采样点", kind="testing_site", region_code=JIANGTAITUN
    )
    audit.record(hq, "geo.create_site", site, after=audit.snapshot(site))
    audit.log_access(hq, "reveal", object_type="geo.site", region_code=JIANGTAITUN)
    Job.objects.create(kind="core.selfcheck", owner=hq, region_code=JIANGTAITUN)
    return f"{TOKEN_PREFIX}a1b2c3d4_{secret}"


def test_no_generated_request_gets_a_500(wsgi_app, hq_token) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi_app)
    headers = {"Authorization": f"Bearer {hq_token}"}
    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5
    seen: set[str] = set()
    for operation in operations:
        label = operation.label
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_MODE,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case) -> None:
                response = case.call(headers=headers)
                seen.add(label)  # noqa: B023  (called at once, inside this iteration)
                assert response.status_code < 500, (
                    f"{case.method} {case.formatted_path} query={case.query} body={case.body!r}"
                    f" → {response.status_code}: {response.text[:300]}"
                )

            try:
                call()
            except Unsatisfiable:
                # nothing to make invalid (a route without parameters or body)
                assert mode == GenerationMode.NEGATIVE, label
    assert time.monotonic() - started < TIME_BUDGET_SECONDS
    assert "GET /api/v1/audit" in seen and "GET /api/v1/jobs" in seen
