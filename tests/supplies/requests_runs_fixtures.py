"""Fixtures for supply requests and delivery runs: the 伏道镇 depot stocked, two villages.

Import the fixtures into a test module: ``from tests.supplies.requests_runs_fixtures import
world  # noqa: F401``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from fangkong.geo.models import Site
from fangkong.supplies.actions import requests as request_actions
from fangkong.supplies.actions.documents import LineInput, post_stock_document
from fangkong.supplies.keys import default_lot, location_for_site
from fangkong.supplies.models import Balance, Item, Location, SupplyRequest
from tests.conftest import FUDAO, FUDAO_ERJIE, GAOZHUANG
from tests.supplies.conftest import Stock

HOUZHUANG = "410523106202"  # 侯庄村, the second village of 伏道镇


@dataclass
class World:
    stock: Stock
    village_site: Site  # 伏道二街村物资点
    village2: Location  # 侯庄村物资点
    village2_site: Site
    cadre: Any  # village cadre of 伏道二街
    cadre2: Any  # village cadre of 侯庄
    officer: Any  # township officer of 伏道镇 (approves, plans runs)
    keeper: Any  # warehouse keeper of 伏道镇 (posts stock, runs deliveries)
    outsider: Any  # township officer of 高庄镇 (another county)

    @property
    def depot(self) -> Location:
        return self.stock.depot

    @property
    def village(self) -> Location:
        return self.stock.village


def on_hand(location: Location, item: Item) -> int:
    return sum(
        Balance.objects.filter(location=location, item=item).values_list("quantity", flat=True)
    )


def receive(stock: Stock, item: Item, quantity: int) -> None:
    post_stock_document(
        kind="receipt",
        actor=None,
        destination=stock.depot,
        receipt_source="purchase",
        lines=[LineInput(item=item, lot=default_lot(item), quantity=quantity)],
    )


def night_departure(hours_ahead: int = 3) -> dt.datetime:
    """A departure at 02:30 local time in the coming day (night runs are normal)."""
    now = timezone.localtime()
    start = now.replace(hour=2, minute=30, second=0, microsecond=0)
    if start <= now:
        start += dt.timedelta(days=1)
    return start


@pytest.fixture
def world(stock: Stock, make_user: Any) -> World:
    site = Site.objects.get(name="伏道二街村物资点")
    site2 = Site.objects.create(name="侯庄村物资点", kind="warehouse", region_code=HOUZHUANG)
    receive(stock, stock.suits, 1500)
    receive(stock, stock.masks, 2000)
    receive(stock, stock.flour, 500)
    return World(
        stock=stock,
        village_site=site,
        village2=location_for_site(site2),
        village2_site=site2,
        cadre=make_user("cadre", role="village_cadre", region=FUDAO_ERJIE),
        cadre2=make_user("cadre2", role="village_cadre", region=HOUZHUANG),
        officer=make_user("officer", role="township_officer", region=FUDAO),
        keeper=make_user("keeper", role="warehouse_keeper", region=FUDAO),
        outsider=make_user("outsider", role="township_officer", region=GAOZHUANG),
    )


def approved_request(w: World, *, suits: int = 200, masks: int = 400) -> SupplyRequest:
    """A request from 伏道二街 for suits and masks, approved as asked."""
    made = request_actions.submit_request(
        actor=w.cadre,
        site=w.village_site,
        lines=[
            request_actions.RequestLineInput(item=w.stock.suits, quantity=suits),
            request_actions.RequestLineInput(item=w.stock.masks, quantity=masks),
        ],
        note="夜间送达",
    )
    return request_actions.approve_request(made, actor=w.officer)
