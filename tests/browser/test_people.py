"""People ledger in the browser: list with filter and search, reveal (logged), a field
error in Chinese, the import flow to its progress bar, select-all bulk tagging, and the
list on a phone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fangkong.accounts.roles import Role
from fangkong.core.models import AccessLogEntry
from fangkong.people import actions
from fangkong.people.models import KeyGroup, Person, PersonTag
from tests.conftest import DONGZHENGSI, GAOZHUANG, JIANGTAITUN
from tests.people.conftest import make_id
from tests.people.import_files import make_id as import_id
from tests.people.import_files import write_csv

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Demo-like villagers of 蒋台屯村: common surnames, two of them "zs" (张三, 周松).
NAMES = ["张三", "周松", "李秀英", "王建国", "刘桂兰", "陈志强", "杨玉梅", "赵德胜", "黄小红"]
GIVEN = "明华军芳丽强敏静磊洋艳勇杰娟涛超霞刚平辉"


def villagers(region: str = JIANGTAITUN, extra: int = 0) -> list[Person]:
    made = [
        actions.create_person(
            actor=None,
            name=name,
            id_type="mainland",
            id_number=make_id(f"19{60 + i}0{i + 1}1{i}", f"{100 + 2 * i}"),
            phone=f"1381234{i:04d}",
            address=f"蒋台屯村{i + 1}街{i + 3}号",
            region_code=region,
        )
        for i, name in enumerate(NAMES)
    ]
    made += [
        actions.create_person(
            actor=None,
            name=f"孙{GIVEN[i % len(GIVEN)]}{GIVEN[(i // len(GIVEN)) % len(GIVEN)]}",
            id_type="none",
            region_code=region,
        )
        for i in range(extra)
    ]
    return made


def bad_check_digit(number: str) -> str:
    return number[:-1] + ("1" if number[-1] == "0" else "0")


def main_text(page: Any) -> str:
    return page.locator("main").inner_text()


def test_list_filter_and_search_box(live_server, page, log_in, regions, make_user):
    zhang = villagers()[0]
    actions.create_person(actor=None, name="张顺", id_type="none", region_code=DONGZHENGSI)
    make_user("gaozhuang", role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    log_in(page, "gaozhuang")
    page.goto(f"{live_server.url}/people/")
    table = page.locator("[data-testid=person-table]")
    assert "李秀英" in table.inner_text() and "张顺" in table.inner_text()
    assert zhang.id_number not in main_text(page) and zhang.phone not in main_text(page)

    search = page.locator("[data-testid=person-filter] input[name=q]")
    search.fill("zs")
    with page.expect_navigation():
        search.press("Enter")
    names = table.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert sorted(names) == ["周松", "张三", "张顺"]

    # And the village filter narrows it to 蒋台屯村.
    page.fill("[data-testid=person-filter] input[name=region]", JIANGTAITUN)
    with page.expect_navigation():
        page.click("[data-testid=person-filter] button[type=submit]")
    names = table.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert sorted(names) == ["周松", "张三"]


def test_detail_masked_then_reveal_logged(live_server, page, log_in, regions, make_user):
    zhang = villagers()[0]
    cadre = make_user("jiangtaitun", role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    log_in(page, "jiangtaitun")
    page.goto(f"{live_server.url}/people/{zhang.pk}/")
    identity = page.locator("[data-testid=identity]")
    assert zhang.id_number not in identity.inner_text()
    assert zhang.id_number[:6] in identity.inner_text()  # 410522********...
    assert not AccessLogEntry.objects.exists()
    page.click("[data-testid=reveal]")
    page.wait_for_function(
        f"document.querySelector('[data-testid=identity]').innerText.includes('{zhang.id_number}')"
    )
    assert "蒋台屯村1街3号" in identity.inner_text()
    entry = AccessLogEntry.objects.get()
    assert (entry.kind, entry.user_id, entry.object_id) == ("reveal", cadre.pk, str(zhang.pk))


def test_invalid_id_checksum_is_a_chinese_field_error(
    live_server, page, log_in, regions, make_user
):
    make_user("jiangtaitun", role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    log_in(page, "jiangtaitun")
    page.goto(f"{live_server.url}/people/new/?region={JIANGTAITUN}")
    bad = bad_check_digit(make_id("19850505", "321"))
    page.fill("input[name=name]", "王二")
    page.fill("input[name=id_number]", bad)
    with page.expect_navigation():
        page.locator("main form[method=post] button[type=submit]").last.click()
    error = page.locator("#id_id_number ~ .invalid-feedback, .invalid-feedback").first
    text = error.inner_text()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text), text
    assert "/people/new/" in page.url and not Person.objects.filter(name="王二").exists()


def test_import_flow_to_done(live_server, page, log_in, regions, make_user, tmp_path: Path):
    rows = [
        ["1", "赵六", import_id("19800101", 111), "13800001111", "蒋台屯村", "一街1号", "", ""],
        ["2", "钱七", import_id("19820202", 222), "13800002222", "蒋台屯村", "二街2号", "", ""],
        ["3", "孙八", import_id("19840303", 333), "13800003333", "东正寺村", "三街3号", "", ""],
        [
            "4",
            "坏行",
            bad_check_digit(import_id("19860404", 444)),
            "13800004444",
            "蒋台屯村",
            "",
            "",
            "",
        ],
    ]
    ledger = write_csv(tmp_path / "台账.csv", rows)
    make_user("gaozhuang", role=Role.TOWNSHIP_OFFICER, region=GAOZHUANG)
    log_in(page, "gaozhuang")
    page.goto(f"{live_server.url}/people/import/")
    page.set_input_files("[data-testid=import-upload-form] input[type=file]", str(ledger))
    page.select_option("[data-testid=import-upload-form] select[name=region]", GAOZHUANG)
    with page.expect_navigation():
        page.click("[data-testid=import-upload-form] button[type=submit]")
    mapping = page.locator("[data-testid=import-mapping]")
    assert "姓名" in mapping.inner_text()
    assert page.locator("select[name=map_1]").input_value() == "name"
    assert "赵六" in page.locator("[data-testid=import-sample]").inner_text()
    with page.expect_navigation():
        page.click("[data-testid=import-commit]")
    page.wait_for_selector("#job-progress[data-status=succeeded]")
    assert page.locator("#job-progress .progress-bar").inner_text().strip() == "100%"
    result = page.locator("[data-testid=job-result]")
    counts = dict(
        zip(
            result.locator("dt").all_inner_texts(),
            result.locator("dd").all_inner_texts(),
            strict=True,
        )
    )
    assert (counts["新增"], counts["拒收"]) == ("3", "1"), counts
    assert set(Person.objects.values_list("name", flat=True)) == {"赵六", "钱七", "孙八"}
    assert page.locator("[data-testid=job-download]").count() == 1  # the error workbook


def test_select_all_matching_tags_everyone(live_server, page, log_in, regions, make_user):
    # Transactional tests flush the key groups the migration seeded: make the one used.
    KeyGroup.objects.get_or_create(code="elderly_alone", defaults={"name": "独居老人"})
    villagers(extra=31)  # 40 people of 蒋台屯村
    actions.create_person(actor=None, name="孙明", id_type="none", region_code=DONGZHENGSI)
    make_user("jiangtaitun", role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    log_in(page, "jiangtaitun")
    page.goto(f"{live_server.url}/people/?per_page=15")
    assert page.locator("[data-testid=select-all-banner]").is_hidden()
    page.check("[data-testid=select-page]")
    boxes = page.locator("[data-testid=person-table] tbody input[name=persons]")
    assert boxes.count() == 15 and all(boxes.nth(i).is_checked() for i in range(15))
    banner = page.locator("[data-testid=select-all-banner]")
    assert banner.is_visible() and "40" in banner.inner_text()
    page.click("[data-testid=select-all-matching]")
    assert page.locator("[data-testid=select-all-chosen]").is_visible()
    page.select_option("[data-testid=bulk-tag-form] select[name=group]", "elderly_alone")
    with page.expect_navigation():
        page.click("[data-testid=bulk-tag-submit]")
    tags = PersonTag.objects.filter(group__code="elderly_alone")
    assert tags.count() == 40
    assert set(tags.values_list("region_code", flat=True)) == {JIANGTAITUN}
    assert "40" in page.locator(".alert").first.inner_text()


def test_person_list_on_a_phone(live_server, browser, regions, make_user):
    zhang = villagers()[0]
    make_user("jiangtaitun", role=Role.VILLAGE_CADRE, region=JIANGTAITUN)
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", "jiangtaitun")
        page.fill("input[name=password]", "test-pass-123")
        with page.expect_navigation():
            page.click("[data-testid=login-form] button[type=submit]")
        page.goto(f"{live_server.url}/people/")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"page body scrolls sideways by {overflow}px"
        assert page.locator("[data-testid=person-table]").is_hidden()
        cards = page.locator("[data-testid=person-card]")
        assert cards.count() == len(NAMES) and cards.first.is_visible()
        assert "张三" in page.locator("[data-testid=person-cards]").inner_text()
        assert zhang.id_number not in page.locator("[data-testid=person-cards]").inner_text()
        # A card's box ticks the person for the bulk-tag form, with a finger-sized target.
        box = cards.first.locator("input[name=persons]")
        size = box.bounding_box()
        assert size and size["width"] >= 20 and size["height"] >= 20
        box.tap()
        assert box.is_checked()
    finally:
        context.close()
