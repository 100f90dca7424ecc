"""The result import pages and API: access, upload → preview → job, bad uploads, no 500."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from fangkong.core.models import Job, JobStatus
from fangkong.screening.models import PositiveCase, ResultRecord
from tests.conftest import ANYANG_COUNTY, FUDAO, GAOZHUANG, JIANGTAITUN
from tests.screening.conftest import Gaozhuang
from tests.screening.results_fixtures import csv_bytes, make_tube, write_xlsx
from tests.support.access import AccessCase, check_access_matrix

pytestmark = pytest.mark.django_db

UPLOAD_URL = "/screening/results/import/"
API_IMPORT = "/api/v1/screening/results/import"
API_PREVIEW = "/api/v1/screening/results/preview"
ROWS = [
    [1, "T001", "混管阳性", "2022-01-20 16:00", "疾控"],
    [2, "T002", "阴性", "2022-01-20 16:00", "疾控"],
    [3, "NOPE1", "阴性", "2022-01-20 16:00", "疾控"],
]


@pytest.fixture
def tubes(gz: Gaozhuang) -> None:
    make_tube(gz.round, gz.site, "T001", gz.jiangtaitun[:3])
    make_tube(gz.round, gz.site, "T002", gz.jiangtaitun[3:6])


def upload(data: bytes, name: str = "results.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_urls_and_upload_page_access(regions: Any, make_user: Any, client_for: Any) -> None:
    assert reverse("screening:results_upload") == UPLOAD_URL
    anonymous = client_for(None).get(UPLOAD_URL)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    for role, region in (("village_cadre", JIANGTAITUN), ("sampler", GAOZHUANG)):
        user = make_user(role=role, region=region)
        assert client_for(user).get(UPLOAD_URL).status_code == 403
    officer = make_user(role="township_officer", region=GAOZHUANG)
    page = client_for(officer).get(UPLOAD_URL)
    assert page.status_code == 200 and 'type="file"' in page.content.decode()
    assert client_for(officer).put(UPLOAD_URL).status_code == 405


def _preview_url(client: Any, data: bytes, name: str = "results.csv") -> str:
    response = client.post(UPLOAD_URL, {"file": upload(data, name)})
    assert response.status_code == 302, response.content.decode()[:2000]
    return str(response["Location"])


def test_upload_preview_commit_job_page(
    tubes: None, make_user: Any, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    officer = make_user(role="township_officer", region=GAOZHUANG)
    client = client_for(officer)
    url = _preview_url(client, csv_bytes(ROWS, encoding="gb18030"))
    page = client.get(url).content.decode()
    assert 'name="map_1"' in page and 'value="barcode" selected' in page
    assert "混管阳性" in page  # the first rows are shown
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"commit": "1"})
    job = Job.objects.get(kind="screening.import_results")
    assert response.status_code == 302
    assert response["Location"] == reverse("screening:results_job", kwargs={"pk": job.pk})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.result
    assert (job.result["results"], job.result["positives"], job.result["unknown_tubes"]) == (
        2,
        1,
        1,
    )
    detail = client.get(response["Location"]).content.decode()
    assert "NOPE1" in detail and 'data-testid="unknown-tubes"' in detail
    assert reverse("core:job_download", kwargs={"pk": job.pk}) in detail
    assert reverse("screening:case_list") in detail
    fragment = client.get(reverse("screening:results_job_progress", kwargs={"pk": job.pk}))
    assert fragment.status_code == 200 and "hx-trigger" not in fragment.content.decode()
    assert client.get(reverse("core:job_download", kwargs={"pk": job.pk})).status_code == 200
    # Another importer never sees the upload; the job only with the audit over its region.
    colleague = client_for(make_user(role="township_officer", region=GAOZHUANG))
    assert colleague.get(url).status_code == 404
    assert colleague.get(response["Location"]).status_code == 200
    other = client_for(make_user(role="township_officer", region=FUDAO))
    assert other.get(url).status_code == 404
    assert other.get(response["Location"]).status_code == 404
    cadre = client_for(make_user(role="village_cadre", region=JIANGTAITUN))
    assert cadre.get(response["Location"]).status_code == 403
    anonymous = client_for(None).get(response["Location"])
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert client.get("/screening/results/jobs/not-a-uuid/").status_code == 404


def test_preview_and_job_access_matrix(
    tubes: None, make_user: Any, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    owner = make_user(role="township_officer", region=GAOZHUANG)
    url = _preview_url(client_for(owner), csv_bytes(ROWS))
    # Uploads are the uploader's own: anybody else gets a 404 whatever their region.
    check_access_matrix(
        AccessCase(
            url=url,
            role="township_officer",
            region=GAOZHUANG,
            other_region=FUDAO,
            wrong_role="village_cadre",
            allowed_status=(404,),
        ),
        make_user,
        client_for,
    )
    assert client_for(owner).get(url).status_code == 200


def test_mapping_fixed_by_hand_and_dry_run(
    tubes: None, make_user: Any, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    officer = make_user(role="hq", region=ANYANG_COUNTY)
    client = client_for(officer)
    header = ["No", "Code", "Outcome", "When"]  # nothing recognised but the user maps it
    data = csv_bytes([[1, "T001", "negative", "2022-01-20 16:00"]], header=header)
    response = client.post(UPLOAD_URL, {"file": upload(data)})
    assert response.status_code == 200
    assert "试管编码" in response.content.decode()  # the message names the columns
    data = csv_bytes(
        [[1, "T001", "negative", "2022-01-20 16:00"]], header=["序号", "条码", "结果", "时间点"]
    )
    url = _preview_url(client, data)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            url,
            {
                "map_1": "barcode",
                "map_2": "result",
                "map_3": "result_at",
                "dry_run": "on",
                "commit": "1",
            },
        )
    job = Job.objects.get(kind="screening.import_results")
    assert job.result["results"] == 1 and job.result["dry_run"] is True
    assert not ResultRecord.objects.exists()


@override_settings(MAX_UPLOAD_BYTES=2048)
def test_bad_uploads_say_why(regions: Any, make_user: Any, client_for: Any, tmp_path: Path) -> None:
    client = client_for(make_user(role="township_officer", region=GAOZHUANG))
    cases = [
        (b"", "results.csv"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "photo.xlsx"),
        (b"PK\x03\x04garbage", "broken.xlsx"),
        ("试管编码,检测结果\n".encode("utf-16"), "utf16.csv"),
        (b"x" * 3000, "big.csv"),
    ]
    for data, name in cases:
        response = client.post(UPLOAD_URL, {"file": upload(data, name)})
        assert response.status_code == 200, name
        assert 'data-testid="field-error"' in response.content.decode() or (
            'data-testid="import-error"' in response.content.decode()
        ), name
    assert client.post(UPLOAD_URL, {}).status_code == 200
    big = client.post(UPLOAD_URL, {"file": upload(b"a" * 200_000)})
    assert big.status_code == 200 and "MB" in big.content.decode()


def test_xlsx_upload(tubes: None, make_user: Any, client_for: Any, tmp_path: Path) -> None:
    client = client_for(make_user(role="township_officer", region=GAOZHUANG))
    data = write_xlsx(tmp_path / "r.xlsx", ROWS).read_bytes()
    url = _preview_url(client, data, "r.xlsx")
    assert "T001" in client.get(url).content.decode()


# --- API ------------------------------------------------------------------------------


def test_api_import_and_job(
    tubes: None, make_user: Any, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    officer = make_user(role="township_officer", region=GAOZHUANG)
    client = client_for(officer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(API_IMPORT, {"file": upload(csv_bytes(ROWS))})
    assert response.status_code == 202, response.content
    body = response.json()
    job = client.get(body["job_url"]).json()
    assert job["status"] == "succeeded"
    assert job["result"]["unknown_list"] == ["NOPE1"]
    assert PositiveCase.objects.count() == 1
    # Again: nothing changes.
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(API_IMPORT, {"file": upload(csv_bytes(ROWS))})
    job = client.get(again.json()["job_url"]).json()
    assert (job["result"]["results"], job["result"]["unchanged"]) == (0, 2)


def test_api_preview_then_import_by_token(
    tubes: None, make_user: Any, client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = client_for(make_user(role="hq", region=ANYANG_COUNTY))
    preview = client.post(API_PREVIEW, {"file": upload(csv_bytes(ROWS))})
    assert preview.status_code == 200
    data = preview.json()
    assert data["mapping"]["1"] == "barcode" and data["data_rows"] is None
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post(
            API_IMPORT,
            {
                "token": data["token"],
                "mapping": json.dumps({"1": "barcode", "2": "result", "3": "result_at"}),
            },
        )
    assert started.status_code == 202
    assert ResultRecord.objects.count() == 2


def test_api_access_and_bad_input(tubes: None, make_user: Any, client_for: Any) -> None:
    assert client_for(None).post(API_IMPORT, {}).status_code == 401
    cadre = make_user(role="village_cadre", region=JIANGTAITUN)
    assert client_for(cadre).post(API_IMPORT, {"file": upload(csv_bytes(ROWS))}).status_code == 403
    client = client_for(make_user(role="township_officer", region=GAOZHUANG))
    assert client.post(API_IMPORT, {}).status_code == 400
    assert client.post(API_IMPORT, {"token": "0" * 32}).status_code == 404
    assert client.post(API_IMPORT, {"token": "../../etc"}).status_code == 404
    bad_mapping = client.post(API_IMPORT, {"file": upload(csv_bytes(ROWS)), "mapping": "[1"})
    assert bad_mapping.status_code == 400
    assert (
        client.post(API_IMPORT, {"file": upload(csv_bytes(ROWS)), "header_row": 0}).status_code
        == 400
    )
    assert client.post(API_IMPORT, {"file": upload(b"")}).status_code == 400
    assert (
        client.post(API_PREVIEW, {"file": upload(b"\x89PNG\r\n\x1a\n\x00", "a.xlsx")}).status_code
        == 400
    )
    with override_settings(MAX_UPLOAD_BYTES=100):
        assert client.post(API_IMPORT, {"file": upload(b"x" * 500)}).status_code == 413
