"""Coverage (应检尽检) per village, live from the scan, and the door-to-door list:
numbers, scope, order, masking, reveal and export logging, query counts."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from fangkong.core.models import AccessLogEntry
from fangkong.people import actions as people_actions
from fangkong.screening.actions.rounds import finish_sampling
from fangkong.screening.actions.sampling import remove_sample
from fangkong.screening.models import Sample
from fangkong.screening.queries.coverage import coverage, missing_rows
from tests.conftest import ANYANG_COUNTY, DONGZHENGSI, GAOZHUANG, JIANGTAITUN
from tests.screening.conftest import Gaozhuang, person
from tests.screening.rounds_support import API, sample_into
from tests.support.access import body_text, count_queries


def rows_of(result: Any) -> list[tuple[str, str, int, int, int, float | None]]:
    return [(r.code, r.name, r.target, r.sampled, r.missing, r.pct) for r in result.rows]


@pytest.fixture
def hq(make_user: Any) -> Any:
    return make_user(role="hq", region=ANYANG_COUNTY)


# --- numbers ----------------------------------------------------------------------------


def test_coverage_before_and_after_sampling(gz: Gaozhuang, hq: Any) -> None:
    assert rows_of(coverage(hq, gz.round)) == [
        (JIANGTAITUN, "蒋台屯村", 10, 0, 10, 0.0),
        (DONGZHENGSI, "东正寺村", 2, 0, 2, 0.0),
    ]
    sample_into(gz.round, gz.site, "GZC001", gz.jiangtaitun[:3])
    sample_into(gz.round, gz.other_site, "GZC002", gz.dongzhengsi[:1])
    # An outsider sampled here is flagged, not counted: they are not in the target.
    sample_into(gz.round, gz.site, "GZC003", [gz.outsider])
    result = coverage(hq, gz.round)
    assert rows_of(result) == [
        (JIANGTAITUN, "蒋台屯村", 10, 3, 7, 30.0),
        (DONGZHENGSI, "东正寺村", 2, 1, 1, 50.0),
    ]
    assert (result.total.target, result.total.sampled, result.total.missing) == (12, 4, 8)
    assert result.total.pct == 33.3


def test_sampled_twice_counts_once_and_removal_counts_back(gz: Gaozhuang, hq: Any) -> None:
    from fangkong.screening.actions.sampling import close_tube
    from fangkong.screening.actions.scan import scan

    close_tube(actor=None, tube=sample_into(gz.round, gz.site, "GZC010", gz.jiangtaitun[:1]))
    tube = sample_into(gz.round, gz.site, "GZC011", gz.jiangtaitun[1:2])
    again = scan(
        actor=None,
        tube_barcode=tube.barcode,
        person_code=gz.jiangtaitun[0].id_number,
        reason="复采",
    )
    assert again.ok, again
    assert coverage(hq, gz.round).total.sampled == 2
    mistaken = Sample.objects.get(person=gz.jiangtaitun[1])
    remove_sample(actor=None, sample=mistaken, reason="扫错人")
    assert coverage(hq, gz.round).total.sampled == 1


def test_coverage_is_scoped_for_a_village_cadre(gz: Gaozhuang, make_user: Any) -> None:
    sample_into(gz.round, gz.site, "GZC020", gz.jiangtaitun[:4])
    cadre = make_user(role="village_cadre", region=JIANGTAITUN)
    result = coverage(cadre, gz.round)
    assert rows_of(result) == [(JIANGTAITUN, "蒋台屯村", 10, 4, 6, 40.0)]
    assert result.total.target == 10
    other = make_user(role="village_cadre", region="410522116216")
    assert coverage(other, gz.round).rows == []


def test_by_township_and_within_a_region(gz: Gaozhuang, hq: Any) -> None:
    sample_into(gz.round, gz.site, "GZC030", gz.jiangtaitun[:5])
    result = coverage(hq, gz.round, level_length=9)
    assert rows_of(result) == [(GAOZHUANG, "高庄镇", 12, 5, 7, 41.7)]
    within = coverage(hq, gz.round, region_code=DONGZHENGSI)
    assert rows_of(within) == [(DONGZHENGSI, "东正寺村", 2, 0, 2, 0.0)]


def test_village_groups_roll_up_to_their_village(gz: Gaozhuang, hq: Any, regions: Any) -> None:
    from fangkong.geo.models import Region

    Region.objects.create(
        code=JIANGTAITUN + "001", name="一组", short_name="一组", level=6, parent_id=JIANGTAITUN
    )
    grouped = person("冯一", JIANGTAITUN + "001", "19900101", "701")
    from fangkong.screening.models import RoundTarget

    RoundTarget.objects.create(round=gz.round, person=grouped, region_code=grouped.region_code)
    assert rows_of(coverage(hq, gz.round))[0] == (JIANGTAITUN, "蒋台屯村", 11, 0, 11, 0.0)


def test_no_target_yet_shows_nothing(regions: Any, hq: Any) -> None:
    from tests.screening.test_rounds_actions import plan

    result = coverage(hq, plan())
    assert result.rows == [] and result.total.pct is None


# --- pages and API ----------------------------------------------------------------------


def test_coverage_page_and_live_refresh(gz: Gaozhuang, hq: Any, client_for: Any) -> None:
    sample_into(gz.round, gz.site, "GZC040", gz.jiangtaitun[:3])
    client = client_for(hq)
    url = f"/screening/rounds/{gz.round.pk}/coverage/"
    page = client.get(url).content.decode()
    assert "蒋台屯村" in page and "30.0%" in page and 'hx-trigger="every 30s"' in page
    assert f"/screening/rounds/{gz.round.pk}/coverage/{JIANGTAITUN}/missing/" in page
    fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and "30.0%" in fragment
    township = client.get(url, {"level": "township"}).content.decode()
    assert "高庄镇" in township and "25.0%" in township
    assert client.get(url, {"region": "ｘｘ", "level": "？"}).status_code == 200
    finish_sampling(actor=None, round_=gz.round, force=True)
    assert "every 30s" not in client.get(url).content.decode()


def test_coverage_page_query_count_is_fixed(gz: Gaozhuang, hq: Any, client_for: Any) -> None:
    client = client_for(hq)
    url = f"/screening/rounds/{gz.round.pk}/coverage/"
    before = count_queries(client, url)
    sample_into(gz.round, gz.site, "GZC050", gz.jiangtaitun[:6])
    sample_into(gz.round, gz.other_site, "GZC051", gz.dongzhengsi[:1])
    assert count_queries(client, url) == before


def test_coverage_api(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    sample_into(gz.round, gz.site, "GZC060", gz.jiangtaitun[:3])
    cadre = client_for(make_user(role="village_cadre", region=JIANGTAITUN))
    body = cadre.get(f"{API}/rounds/{gz.round.pk}/coverage").json()
    assert body["rows"] == [
        {
            "region_code": JIANGTAITUN,
            "region_name": "蒋台屯村",
            "target": 10,
            "sampled": 3,
            "missing": 7,
            "pct": 30.0,
        }
    ]
    assert body["total"]["target"] == 10 and body["status"] == "sampling"
    hq = client_for(make_user(role="hq", region=ANYANG_COUNTY))
    township = hq.get(f"{API}/rounds/{gz.round.pk}/coverage", {"level": "township"}).json()
    assert township["rows"][0]["target"] == 12 and township["level"] == "township"
    within = hq.get(f"{API}/rounds/{gz.round.pk}/coverage", {"region": "４１０５２２１１６２２０"})
    assert [r["region_code"] for r in within.json()["rows"]] == [DONGZHENGSI]
    assert hq.get(f"{API}/rounds/{gz.round.pk}/coverage", {"level": "county"}).status_code == 422
    assert hq.get(f"{API}/rounds/{gz.round.pk}/coverage", {"region": "abc"}).status_code == 422
    assert hq.get(f"{API}/rounds/{gz.round.pk}/coverage", {"region": "1" * 50}).status_code == 422


# --- the door-to-door list --------------------------------------------------------------


def test_missing_list_order_and_masking(gz: Gaozhuang, hq: Any) -> None:
    sample_into(gz.round, gz.site, "GZM001", gz.jiangtaitun[5:])
    people_actions.tag_persons(actor=None, persons=[gz.jiangtaitun[2]], group="disabled")
    rows, total = missing_rows(hq, gz.round, JIANGTAITUN)
    assert total == 5
    names = [r.name for r in rows]
    # bedridden, then 85 years old, then the rest by pinyin: 刘洋 (liu), 张伟 (zhang), 陈静?
    assert names[:2] == ["王秀英", "李桂兰"]
    assert sorted(names[2:]) == sorted(["张伟", "刘洋", "陈静"])
    first = rows[0]
    assert first.priority_label and "卧床不起" in first.key_groups
    assert first.id_number.startswith("410522") and "*" in first.id_number
    assert first.phone.startswith("139") and "****" in first.phone
    assert first.address.endswith("*")
    assert first.age is not None and first.age >= 70
    revealed, _total = missing_rows(hq, gz.round, JIANGTAITUN, revealed=True)
    assert revealed[0].id_number == gz.jiangtaitun[0].id_number


def test_missing_page_masked_reveal_logged(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    cadre = client_for(make_user(role="village_cadre", region=JIANGTAITUN))
    url = f"/screening/rounds/{gz.round.pk}/coverage/{JIANGTAITUN}/missing/"
    page = cadre.get(url).content.decode()
    assert "王秀英" in page and gz.jiangtaitun[0].id_number not in page
    assert gz.jiangtaitun[0].phone not in page
    assert page.index("王秀英") < page.index("李桂兰") < page.index("张伟")
    assert 'data-testid="reveal"' in page and 'data-testid="export-xlsx"' not in page
    assert not AccessLogEntry.objects.exists()
    revealed = cadre.post(url, {"reveal": "1"}).content.decode()
    assert gz.jiangtaitun[0].id_number in revealed and gz.jiangtaitun[0].phone in revealed
    entry = AccessLogEntry.objects.get()
    assert (entry.kind, entry.unmasked, entry.row_count) == ("reveal", True, 10)
    assert entry.region_code == JIANGTAITUN and entry.object_id == str(gz.round.pk)
    inspector = client_for(make_user(role="inspector", region=JIANGTAITUN))
    assert 'data-testid="reveal"' not in inspector.get(url).content.decode()
    assert inspector.post(url, {"reveal": "1"}).status_code == 403
    assert inspector.get(url, {"format": "csv"}).status_code == 403
    assert cadre.get(url, {"format": "csv"}).status_code == 403  # cadres print, not export
    assert AccessLogEntry.objects.count() == 1
    assert cadre.put(url).status_code == 405


def test_missing_export_masked_unmasked_neutralized(
    gz: Gaozhuang, make_user: Any, client_for: Any
) -> None:
    evil = person("=cmd|' /C calc'!A0", JIANGTAITUN, "19900101", "801")
    from fangkong.screening.models import RoundTarget

    RoundTarget.objects.create(round=gz.round, person=evil, region_code=JIANGTAITUN)
    officer = client_for(make_user(role="township_officer", region=GAOZHUANG))
    url = f"/screening/rounds/{gz.round.pk}/coverage/{JIANGTAITUN}/missing/"
    masked = officer.get(url, {"format": "csv"})
    assert masked.status_code == 200
    text = body_text(masked).lstrip("\ufeff")
    table = list(csv.reader(io.StringIO(text)))
    assert len(table) == 1 + 11
    assert table[1][1] == "王秀英"
    assert gz.jiangtaitun[0].id_number not in text
    assert "'=cmd" in text and "\n=cmd" not in text
    unmasked = body_text(officer.get(url, {"format": "csv", "reveal": "1"}))
    assert gz.jiangtaitun[0].id_number in unmasked
    logs = list(AccessLogEntry.objects.order_by("id").values_list("kind", "unmasked", "row_count"))
    assert logs == [("export", False, 11), ("export", True, 11)]
    xlsx = officer.get(url, {"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd")


def test_missing_page_query_count_is_fixed(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    cadre = client_for(make_user(role="village_cadre", region=JIANGTAITUN))
    url = f"/screening/rounds/{gz.round.pk}/coverage/{JIANGTAITUN}/missing/"
    people_actions.tag_persons(actor=None, persons=gz.jiangtaitun[3:6], group="pregnant")
    many = count_queries(cadre, url)
    sample_into(gz.round, gz.site, "GZM010", gz.jiangtaitun[2:9])
    assert count_queries(cadre, url) == many


def test_missing_api(gz: Gaozhuang, make_user: Any, client_for: Any) -> None:
    cadre = client_for(make_user(role="village_cadre", region=JIANGTAITUN))
    url = f"{API}/rounds/{gz.round.pk}/coverage/{JIANGTAITUN}/missing"
    body = cadre.get(url, {"page_size": 3}).json()
    assert body["count"] == 10 and body["revealed"] is False
    assert [i["name"] for i in body["items"]][:2] == ["王秀英", "李桂兰"]
    assert "*" in body["items"][0]["id_number"]
    second = cadre.get(url, {"page_size": 3, "page": 2}).json()
    assert len(second["items"]) == 3
    assert not {i["person_id"] for i in second["items"]} & {i["person_id"] for i in body["items"]}
    assert not AccessLogEntry.objects.exists()
    revealed = cadre.get(url, {"reveal": "true", "page_size": 2}).json()
    assert revealed["items"][0]["id_number"] == gz.jiangtaitun[0].id_number
    assert AccessLogEntry.objects.get().row_count == 2
    inspector = client_for(make_user(role="inspector", region=JIANGTAITUN))
    assert inspector.get(url, {"reveal": "true"}).status_code == 403
    assert inspector.get(url).status_code == 200
    for bad in ({"page_size": 0}, {"page_size": 501}, {"page": "x"}, {"reveal": "maybe"}):
        assert cadre.get(url, bad).status_code == 422, bad
    other = client_for(make_user(role="village_cadre", region=DONGZHENGSI))
    assert other.get(url).status_code == 404
    for code in ("４１０５２２１１６２１５",):
        assert cadre.get(f"{API}/rounds/{gz.round.pk}/coverage/{code}/missing").status_code == 200
    for code in ("410522116", "abc", "410522116299"):
        assert cadre.get(f"{API}/rounds/{gz.round.pk}/coverage/{code}/missing").status_code == 404
