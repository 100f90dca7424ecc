"""The import pages and API: access matrix, upload → preview → job, bad uploads, no 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fangkong.core.models import Job, JobStatus
from fangkong.people.models import Person
from tests.conftest import DONGZHENGSI, FUDAO, GAOZHUANG, JIANGTAITUN
from tests.people.import_files import make_id, write_xlsx
from tests.support.access import AccessCase, check_access_matrix

pytestmark = pytest.mark.django_db

UPLOAD_URL = "/people/import/"
API_URL = "/api/v1/people/import"
ID1, ID2 = make_id(seq=123), make_id("19850520", 246)


def ledger(tmp_path: Path, rows: list[list[Any]] | None = None) -> bytes:
    rows = rows or [
        [1, "张三", ID1, "13800138000", "蒋台屯村", "一组1号", "2022-01-20", "北京"],
        [2, "李四", ID2, "13900139000", "东正寺村", "", "", ""],
        [3, "王五", "123", "", "蒋台屯村", "", "", ""],
    ]
    return write_xlsx(tmp_path / "ledger.xlsx", rows).read_bytes()


def upload(data: bytes, name: str = "ledger.xlsx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_nav_entry_works(regions: Any, make_user: Any, client_for: Any) -> None:
    cadre = make_user(role="village_cadre", region=JIANGTAITUN)
    assert reverse("people:import_upload") == UPLOAD_URL
    page = client_for(cadre).get("/")
    assert UPLOAD_URL in page.content.decode()
    assert client_for(cadre).get(UPLOAD_URL).status_code == 200


def test_upload_page_access(regions: Any, make_user: Any, client_for: Any) -> None:
    anonymous = client_for(None).get(UPLOAD_URL)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    keeper = make_user(role="warehouse_keeper", region=GAOZHUANG)
    assert client_for(keeper).get(UPLOAD_URL).status_code == 403
    inspector = make_user(role="inspector", region=GAOZHUANG)
    assert client_for(inspector).get(UPLOAD_URL).status_code == 403
    cadre = make_user(role="village_cadre", region=JIANGTAITUN)
    page = client_for(cadre).get(UPLOAD_URL).content.decode()
    assert JIANGTAITUN in page and DONGZHENGSI not in page  # only their own region offered


def _preview_url(client: Any, tmp_path: Path, region: str) -> str:
    response = client.post(UPLOAD_URL, {"file": upload(ledger(tmp_path)), "region": region})
    assert response.status_code == 302, response.content.decode()[:2000]
    return str(response["Location"])


def test_preview_access_matrix(
    regions: Any, make_user: Any, client_for: Any, tmp_path: Path
) -> None:
    owner = make_user(role="township_officer", region=GAOZHUANG)
    url = _preview_url(client_for(owner), tmp_path, GAOZHUANG)
    check_access_matrix(
        AccessCase(
            url=url,
            role="township_officer",
            region=GAOZHUANG,
            other_region=FUDAO,
            wrong_role="warehouse_keeper",
        ),
        make_user,
        lambda user: client_for(
            owner
            if user is not None
            and user.role_assignments.filter(
                region_code=GAOZHUANG, role="township_officer"
            ).exists()
            else user
        ),
    )
    # Another township officer of the same township did not upload it: 404 too.
    colleague = make_user(role="township_officer", region=GAOZHUANG)
    assert client_for(colleague).get(url).status_code == 404


def test_upload_preview_commit_runs_the_job(
    regions: Any,
    make_user: Any,
    client_for: Any,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    officer = make_user(role="township_officer", region=GAOZHUANG)
    client = client_for(officer)
    url = _preview_url(client, tmp_path, GAOZHUANG)
    page = client.get(url)
    text = page.content.decode()
    assert page.status_code == 200
    assert 'name="map_1"' in text and 'value="name" selected' in text
    assert "张三" in text  # the first rows are shown
    # The user fixes the mapping: 住址 column ignored.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "header_row": "2",
                "map_1": "name",
                "map_2": "id_number",
                "map_3": "phone",
                "map_4": "village",
                "map_6": "arrival_date",
                "map_7": "origin",
                "commit": "1",
            },
        )
    assert response.status_code == 302
    job = Job.objects.get(kind="people.import")
    assert response["Location"] == reverse("core:job_detail", kwargs={"pk": job.pk})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.result
    assert (job.result["created"], job.result["rejected"]) == (2, 1)
    assert Person.objects.get(id_number=ID1).address == ""  # the column was ignored
    detail = client.get(response["Location"]).content.decode()
    assert reverse("core:job_download", kwargs={"pk": job.pk}) in detail
    download = client.get(reverse("core:job_download", kwargs={"pk": job.pk}))
    assert download.status_code == 200


def test_cadre_rows_for_another_village_rejected_via_page(
    regions: Any,
    make_user: Any,
    client_for: Any,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    cadre = make_user(role="village_cadre", region=JIANGTAITUN)
    client = client_for(cadre)
    url = _preview_url(client, tmp_path, JIANGTAITUN)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"commit": "1"})
    job = Job.objects.get(kind="people.import")
    assert job.result["created"] == 1 and job.result["rejected"] == 2
    assert not Person.objects.filter(region_code=DONGZHENGSI).exists()
    # And a region outside their scope is not offered nor accepted.
    response = client.post(UPLOAD_URL, {"file": upload(ledger(tmp_path)), "region": GAOZHUANG})
    assert response.status_code == 200 and "region" in response.context["form"].errors


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.xlsx", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(300), "photo.xlsx", "not a spreadsheet"),
        ("台账\n".encode(), "title.csv", "No header row"),
    ],
)
def test_bad_uploads_get_a_message(
    regions: Any, make_user: Any, client_for: Any, data: bytes, name: str, message: str
) -> None:
    officer = make_user(role="township_officer", region=GAOZHUANG)
    response = client_for(officer).post(
        UPLOAD_URL, {"file": upload(data, name), "region": GAOZHUANG}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get("file", []))
    assert errors, response.context["form"].errors
    if data:  # Django's own "empty file" message for a zero-byte upload
        assert message in errors or message.lower() in errors.lower()


@override_settings(MAX_UPLOAD_BYTES=1024 * 1024)
def test_oversize_upload_is_refused_clearly(regions: Any, make_user: Any, client_for: Any) -> None:
    officer = make_user(role="township_officer", region=GAOZHUANG)
    big = upload(b"a,b\n" * (400 * 1024), "big.csv")  # 1.6 MB
    response = client_for(officer).post(UPLOAD_URL, {"file": big, "region": GAOZHUANG})
    assert response.status_code == 200
    text = response.content.decode()
    assert "1.6 MB" in text and "1 MB" in text
    api = client_for(officer).post(
        API_URL, {"file": upload(b"a,b\n" * (400 * 1024), "b.csv"), "region_code": GAOZHUANG}
    )
    assert api.status_code == 413
    assert "MB" in api.json()["message"]


# --- API --------------------------------------------------------------------------------


def test_api_access_matrix(regions: Any, make_user: Any, client_for: Any, tmp_path: Path) -> None:
    data = ledger(tmp_path)

    def case_client(user: Any) -> Any:
        return client_for(user)

    for url in (API_URL, API_URL + "/preview"):
        anonymous = client_for(None).post(url, {"file": upload(data), "region_code": JIANGTAITUN})
        assert anonymous.status_code == 401
        keeper = make_user(role="warehouse_keeper", region=JIANGTAITUN)
        assert (
            client_for(keeper)
            .post(url, {"file": upload(data), "region_code": JIANGTAITUN})
            .status_code
            == 403
        )
        outsider = make_user(role="village_cadre", region=FUDAO)
        assert (
            client_for(outsider)
            .post(url, {"file": upload(data), "region_code": JIANGTAITUN})
            .status_code
            == 404
        )
    cadre = make_user(role="village_cadre", region=JIANGTAITUN)
    preview = client_for(cadre).post(
        API_URL + "/preview", {"file": upload(data), "region_code": JIANGTAITUN}
    )
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["header_row"] == 2 and body["mapping"]["1"] == "name"
    assert body["data_rows"] == 3
    # Another user cannot use that token.
    other = make_user(role="village_cadre", region=JIANGTAITUN)
    assert (
        client_for(other)
        .post(API_URL, {"token": body["token"], "region_code": JIANGTAITUN})
        .status_code
        == 404
    )


def test_api_start_and_follow(
    regions: Any,
    make_user: Any,
    client_for: Any,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    cadre = make_user(role="village_cadre", region=JIANGTAITUN)
    client = client_for(cadre)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            API_URL,
            {
                "file": upload(ledger(tmp_path)),
                "region_code": JIANGTAITUN,
                "mapping": json.dumps({"1": "name", "2": "id_number", "4": "village"}),
            },
        )
    assert response.status_code == 202, response.content
    job = client.get(response.json()["job_url"]).json()
    assert job["status"] == "succeeded"
    assert Person.objects.count() == 1
    bad = client.post(
        API_URL, {"file": upload(b"\x89PNG" + bytes(50), "p.xlsx"), "region_code": JIANGTAITUN}
    )
    assert bad.status_code == 400 and bad.json()["message"]
    assert client.post(API_URL, {"region_code": JIANGTAITUN}).status_code == 400
    assert client.post(API_URL, {"token": "x" * 32, "region_code": JIANGTAITUN}).status_code == 404
    assert client.post(
        API_URL, {"token": "ab", "region_code": JIANGTAITUN, "mapping": "[1"}
    ).status_code in (400, 404)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    header_row=st.one_of(st.none(), st.text(max_size=6), st.integers(-5, 50).map(str)),
    column=st.integers(-2, 30),
    field=st.text(max_size=20),
    commit=st.booleans(),
)
def test_preview_form_never_500(
    regions: Any,
    make_user: Any,
    client_for: Any,
    tmp_path_factory: Any,
    header_row: Any,
    column: int,
    field: str,
    commit: bool,
) -> None:
    officer = make_user(role="township_officer", region=GAOZHUANG)
    client = client_for(officer)
    url = _preview_url(client, tmp_path_factory.mktemp("h"), GAOZHUANG)
    data: dict[str, Any] = {f"map_{column}": field}
    if header_row is not None:
        data["header_row"] = header_row
    if commit:
        data["commit"] = "1"
    response = client.post(url, data)
    assert response.status_code in (200, 302)
