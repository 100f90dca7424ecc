"""Helpers for the station, box and handover tests: tubes sampled, closed and boxed."""

from __future__ import annotations

from typing import Any

from fangkong.geo.models import Site
from fangkong.people.models import Person
from fangkong.screening.actions.boxes import add_tube, create_box
from fangkong.screening.actions.sampling import close_tube, open_tube
from fangkong.screening.actions.scan import scan
from fangkong.screening.models import Box, Round, Tube


def sampled_tube(
    round_: Round, site: Site, barcode: str, people: list[Person], *, close: bool = True
) -> Tube:
    """A tube opened at the site with the people scanned in (closed unless told)."""
    tube = open_tube(actor=None, round_=round_, site=site, barcode=barcode)
    for person in people:
        outcome = scan(actor=None, tube_barcode=barcode, person_code=person.id_number)
        assert outcome.ok, outcome
    tube.refresh_from_db()
    if close and tube.status == "open":
        tube = close_tube(actor=None, tube=tube)
    return tube


def packed_box(round_: Round, site: Site, code: str, tubes: list[Tube]) -> Box:
    box = create_box(actor=None, round_=round_, site=site, barcode=code)
    for tube in tubes:
        add_tube(actor=None, box=box, tube_barcode=tube.barcode)
    box.refresh_from_db()
    return box


def station_url(round_: Round, site: Site, **extra: Any) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"round": round_.pk, "site": site.pk, **extra}.items())
    return f"/screening/station/?{query}"
