"""Catalogue: items, packs, lot status, minimum levels, locations (pages and API)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fangkong.accounts.roles import Role
from fangkong.core.models import AuditEntry
from fangkong.supplies.keys import lot_for
from fangkong.supplies.models import Item, LotStatus, MinimumLevel, Pack
from tests.conftest import FUDAO, GAOZHUANG
from tests.supplies.conftest import Stock
from tests.support.access import AccessCase, check_access_matrix, count_queries

pytestmark = pytest.mark.django_db

KEEPER = Role.WAREHOUSE_KEEPER
API = "/api/v1/supplies"
JSON = "application/json"


@pytest.fixture
def keeper(make_user: Any, client_for: Any) -> Any:
    client = client_for(make_user(role=KEEPER, region=FUDAO))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _item_data(**changes: Any) -> dict[str, Any]:
    data = {
        "code": "fz",
        "name": "腐竹",
        "specification": "",
        "category": "food",
        "base_unit": "箱",
        "notes": "",
        "active": "on",
    }
    data.update(changes)
    return data


def test_item_pages_and_audit(stock: Stock, keeper: Any) -> None:
    assert keeper.get("/supplies/catalogue/").status_code == 200
    response = keeper.post("/supplies/catalogue/new/", _item_data())
    assert response.status_code == 302
    item = Item.objects.get(code="FZ")
    assert AuditEntry.objects.filter(action="supplies.create_item").exists()
    duplicate = keeper.post("/supplies/catalogue/new/", _item_data(name="其他"))
    assert duplicate.status_code == 200 and "already used" in duplicate.content.decode()
    edit = keeper.post(f"/supplies/catalogue/{item.pk}/edit/", _item_data(name="腐竹皮"))
    assert edit.status_code == 302
    item.refresh_from_db()
    assert item.name == "腐竹皮"
    assert AuditEntry.objects.filter(action="supplies.update_item").count() == 1
    assert keeper.get(f"/supplies/catalogue/{item.pk}/").status_code == 200
    assert keeper.get("/supplies/catalogue/", {"q": "腐竹"}).status_code == 200


@pytest.mark.parametrize(
    ("size", "message"),
    [("1", "at least 2"), ("-3", "negative"), ("2.5", "whole numbers"), (str(10**7), "too large")],
)
def test_pack_bad_sizes(stock: Stock, keeper: Any, size: str, message: str) -> None:
    url = f"/supplies/catalogue/{stock.flour.pk}/packs/"
    page = keeper.post(url, {"name": "箱", "size": size}, follow=True).content.decode()
    assert message in page
    assert not Pack.objects.filter(item=stock.flour).exists()


def test_pack_unique_and_fullwidth(stock: Stock, keeper: Any) -> None:
    url = f"/supplies/catalogue/{stock.flour.pk}/packs/"
    keeper.post(url, {"name": "件", "size": "１０"})
    assert Pack.objects.get(item=stock.flour).size == 10
    page = keeper.post(url, {"name": "件", "size": "20"}, follow=True).content.decode()
    assert "already has a pack" in page
    assert Pack.objects.filter(item=stock.flour).count() == 1


def test_lot_status_needs_reason_and_is_audited(stock: Stock, keeper: Any) -> None:
    lot = lot_for(stock.tubes, "L1")
    url = f"/supplies/catalogue/lots/{lot.pk}/status/"
    keeper.post(url, {"status": "recalled", "reason": ""})
    lot.refresh_from_db()
    assert lot.status == LotStatus.USABLE
    keeper.post(url, {"status": "recalled", "reason": "厂家召回"})
    lot.refresh_from_db()
    assert lot.status == LotStatus.RECALLED
    entry = AuditEntry.objects.get(action="supplies.set_lot_status")
    assert entry.after["reason"] == "厂家召回" and entry.before == {"status": "usable"}


def test_catalogue_writes_refused_for_other_roles(
    stock: Stock, make_user: Any, client_for: Any
) -> None:
    cadre = client_for(make_user(role=Role.VILLAGE_CADRE, region=FUDAO))
    assert cadre.get("/supplies/catalogue/").status_code == 200
    assert cadre.get("/supplies/catalogue/new/").status_code == 403
    assert cadre.post("/supplies/catalogue/new/", _item_data()).status_code == 403
    assert cadre.post(f"/supplies/catalogue/{stock.flour.pk}/packs/", {}).status_code == 403
    assert client_for(None).get("/supplies/catalogue/").status_code == 302
    assert client_for(make_user(region=FUDAO)).get("/supplies/catalogue/").status_code == 403
    api = cadre.post(f"{API}/items", json.dumps({"code": "X"}), content_type=JSON)
    assert api.status_code in (403, 422)
    api = cadre.post(
        f"{API}/items",
        json.dumps({"code": "X", "name": "x", "category": "food", "base_unit": "个"}),
        content_type=JSON,
    )
    assert api.status_code == 403
    assert client_for(None).get(f"{API}/items").status_code == 401
    assert keeper_get(client_for(make_user(region=FUDAO)), f"{API}/items") == 403


def keeper_get(client: Any, url: str) -> int:
    return client.get(url).status_code


def test_minimum_level_access_matrix(stock: Stock, make_user: Any, client_for: Any) -> None:
    case = AccessCase(
        url=f"/supplies/catalogue/{stock.suits.pk}/minimums/",
        role=KEEPER,
        region=FUDAO,
        other_region=GAOZHUANG,
        wrong_role=Role.VILLAGE_CADRE,
        method="post",
        data={"site": stock.depot.site_id, "quantity": "200"},
    )
    check_access_matrix(case, make_user, client_for)
    level = MinimumLevel.objects.get()
    assert level.quantity == 200 and level.region_code == FUDAO


def test_minimum_level_api_matrix_and_bad_input(
    stock: Stock, make_user: Any, client_for: Any
) -> None:
    case = AccessCase(
        url=f"{API}/minimum-levels",
        role=KEEPER,
        region=FUDAO,
        other_region=GAOZHUANG,
        wrong_role=Role.VILLAGE_CADRE,
        method="put",
        data=json.dumps(
            {"site_id": stock.depot.site_id, "item_id": stock.suits.pk, "quantity": "３００"}
        ),
        content_type=JSON,
        api=True,
    )
    check_access_matrix(case, make_user, client_for)
    assert MinimumLevel.objects.get().quantity == 300
    keeper = client_for(make_user(role=KEEPER, region=FUDAO))
    for bad in (-1, "2.5", 10**13, "abc"):
        response = keeper.put(
            f"{API}/minimum-levels",
            json.dumps(
                {"site_id": stock.depot.site_id, "item_id": stock.suits.pk, "quantity": bad}
            ),
            content_type=JSON,
        )
        assert response.status_code == 422, bad
    outsider = client_for(make_user(role=KEEPER, region=GAOZHUANG))
    assert outsider.get(f"{API}/minimum-levels").json()["count"] == 0
    assert keeper.get(f"{API}/minimum-levels").json()["count"] == 1
    removed = keeper.put(
        f"{API}/minimum-levels",
        json.dumps({"site_id": stock.depot.site_id, "item_id": stock.suits.pk, "quantity": 0}),
        content_type=JSON,
    )
    assert removed.status_code == 204 and not MinimumLevel.objects.exists()


def test_item_api_crud_packs_lots(stock: Stock, keeper: Any) -> None:
    created = keeper.post(
        f"{API}/items",
        json.dumps({"code": "st", "name": "手套", "category": "protective", "base_unit": "副"}),
        content_type=JSON,
    )
    assert created.status_code == 201, created.json()
    item_id = created.json()["id"]
    patched = keeper.patch(
        f"{API}/items/{item_id}", json.dumps({"specification": "丁腈"}), content_type=JSON
    )
    assert patched.status_code == 200 and patched.json()["specification"] == "丁腈"
    null = keeper.patch(f"{API}/items/{item_id}", json.dumps({"name": None}), content_type=JSON)
    assert null.status_code == 422
    pack = keeper.post(
        f"{API}/items/{item_id}/packs", json.dumps({"name": "箱", "size": 100}), content_type=JSON
    )
    assert pack.status_code == 201
    for bad in ({"name": "箱", "size": 50}, {"name": "包", "size": 1}, {"name": "", "size": 5}):
        response = keeper.post(f"{API}/items/{item_id}/packs", json.dumps(bad), content_type=JSON)
        assert response.status_code == 422, bad
    lot = lot_for(stock.tubes, "T9")
    lots = keeper.get(f"{API}/items/{stock.tubes.pk}/lots").json()
    assert [row["code"] for row in lots["items"]] == ["T9"]
    status = keeper.post(
        f"{API}/lots/{lot.pk}/status",
        json.dumps({"status": "on_hold", "reason": "待检"}),
        content_type=JSON,
    )
    assert status.status_code == 200 and status.json()["status"] == "on_hold"
    bad_status = keeper.post(
        f"{API}/lots/{lot.pk}/status",
        json.dumps({"status": "gone", "reason": "x"}),
        content_type=JSON,
    )
    assert bad_status.status_code == 422
    assert keeper.get(f"{API}/items/999999").status_code == 404
    assert keeper.get(f"{API}/items", {"category": "bogus"}).status_code == 422


def test_item_api_list_query_count_fixed(stock: Stock, keeper: Any) -> None:
    few = count_queries(keeper, f"{API}/items", page_size=100)
    for n in range(10):
        Item.objects.create(code=f"X{n}", name=f"物资{n}", category="other", base_unit="个")
    assert count_queries(keeper, f"{API}/items", page_size=100) == few


def test_locations_scoped(stock: Stock, make_user: Any, client_for: Any) -> None:
    keeper = client_for(make_user(role=KEEPER, region=FUDAO))
    names = [row["name"] for row in keeper.get(f"{API}/locations").json()["items"]]
    assert "伏道镇防疫物资库" in names and "蒋台屯村核酸采样点" not in names
    page = keeper.get("/supplies/locations/").content.decode()
    assert "伏道镇防疫物资库" in page and "蒋台屯村核酸采样点" not in page
