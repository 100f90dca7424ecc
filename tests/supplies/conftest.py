"""Supplies fixtures: the 伏道镇 depot, a village point, a testing site, the seed's items."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from fangkong.geo.models import Site
from fangkong.supplies.keys import default_lot, location_for_site
from fangkong.supplies.models import Item, Location, Lot, Pack
from tests.conftest import FUDAO, FUDAO_ERJIE, JIANGTAITUN


@dataclass
class Stock:
    depot: Location  # 伏道镇防疫物资库 (FUDAO)
    village: Location  # 伏道二街村物资点 (FUDAO_ERJIE)
    testing_site: Location  # 蒋台屯村核酸采样点 (JIANGTAITUN, another county)
    suits: Item  # 防护服, 套; 1 箱 = 50 套
    masks: Item  # N95口罩, 个; 1 箱 = 400 个
    disinfectant: Item  # 84消毒液, 瓶; 1 箱 = 30 瓶
    flour: Item  # 面粉, 袋
    tubes: Item  # 采样管, 支, tracks lots
    suit_box: Pack
    mask_box: Pack
    disinfectant_box: Pack

    def lot(self, item: Item) -> Lot:
        return default_lot(item)


def _site(name: str, kind: str, region_code: str) -> Site:
    return Site.objects.create(name=name, kind=kind, region_code=region_code)


@pytest.fixture
def stock(regions: Any) -> Stock:
    depot = location_for_site(_site("伏道镇防疫物资库", "warehouse", FUDAO))
    village = location_for_site(_site("伏道二街村物资点", "warehouse", FUDAO_ERJIE))
    testing = location_for_site(_site("蒋台屯村核酸采样点", "testing_site", JIANGTAITUN))
    suits = Item.objects.create(
        code="FHF", name="医用防护服", category="protective", base_unit="套"
    )
    masks = Item.objects.create(code="N95", name="N95口罩", category="protective", base_unit="个")
    disinfectant = Item.objects.create(
        code="84", name="84消毒液", category="disinfection", base_unit="瓶"
    )
    flour = Item.objects.create(
        code="MF", name="面粉", specification="5kg", category="food", base_unit="袋"
    )
    tubes = Item.objects.create(
        code="CYG", name="采样管", category="testing", base_unit="支", tracks_lots=True
    )
    return Stock(
        depot=depot,
        village=village,
        testing_site=testing,
        suits=suits,
        masks=masks,
        disinfectant=disinfectant,
        flour=flour,
        tubes=tubes,
        suit_box=Pack.objects.create(item=suits, name="箱", size=50),
        mask_box=Pack.objects.create(item=masks, name="箱", size=400),
        disinfectant_box=Pack.objects.create(item=disinfectant, name="箱", size=30),
    )
