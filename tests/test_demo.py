"""The demo builds the seed's world and a second run reuses it."""

from __future__ import annotations

import pytest

from fangkong.accounts.models import RoleAssignment, User
from fangkong.core.models import AuditEntry
from fangkong.demo import LOGINS, OFFICE_NAME, SITES, build_demo
from fangkong.geo.models import Region, Site

pytestmark = pytest.mark.django_db


def test_demo_builds_and_rebuilds_without_duplicates() -> None:
    said: list[str] = []
    build_demo(say=said.append)
    assert Region.objects.filter(code__startswith="410522116", level=5).count() == 27
    assert Region.objects.get(code="410522116215").short_name == "蒋台屯村"
    assert Region.objects.filter(code__startswith="410523106").exists()
    assert Site.objects.count() == len(SITES)
    assert Site.objects.filter(kind="warehouse", region_code="410523106").exists()
    for login in LOGINS:
        user = User.objects.get(username=login.username)
        assert user.check_password("fangkong-demo")
        assert RoleAssignment.objects.filter(
            user=user, role=login.role, region_code=login.region_code
        ).exists()
    assert User.objects.filter(organization=OFFICE_NAME).count() == 8
    audit_count = AuditEntry.objects.count()
    assert audit_count > 0

    build_demo(say=said.append)
    assert Site.objects.count() == len(SITES)
    assert User.objects.count() == 14
    # Only the divisions load is recorded again (every load is an audited action).
    new = AuditEntry.objects.order_by("id")[audit_count:]
    assert [e.action for e in new] == ["geo.load_divisions"]
    assert any("unchanged" in line for line in said)


def test_demo_names_are_generated_not_the_seeds() -> None:
    build_demo(say=lambda _: None)
    real_people = {"周春堂", "吴家清", "赵鹏", "唐春艳"}
    names = set(User.objects.values_list("display_name", flat=True))
    assert not names & real_people
