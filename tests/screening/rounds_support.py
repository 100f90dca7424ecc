"""Helpers for the rounds, coverage and dashboard tests: users and sampled tubes.

People are sampled through the real path (actions.sampling.open_tube and scan.scan), so
coverage is read from what the scan writes (RoundTarget.first_sampled_at).
"""

from __future__ import annotations

from typing import Any

from fangkong.geo.models import Site
from fangkong.people.models import Person
from fangkong.screening.actions.sampling import open_tube
from fangkong.screening.actions.scan import scan
from fangkong.screening.models import Round, Tube

API = "/api/v1/screening"
JSON = "application/json"


def sample_into(
    round_: Round, site: Site, barcode: str, people: list[Person], *, capacity: int | None = None
) -> Tube:
    """Open a tube at ``site`` and scan ``people`` into it (left as the scan leaves it)."""
    tube = open_tube(actor=None, round_=round_, site=site, barcode=barcode, capacity=capacity)
    for person in people:
        outcome = scan(actor=None, tube_barcode=barcode, person_code=person.id_number)
        assert outcome.ok, outcome
    tube.refresh_from_db()
    return tube


def post_json(client: Any, url: str, data: Any) -> Any:
    return client.post(url, data, content_type=JSON)


def patch_json(client: Any, url: str, data: Any) -> Any:
    return client.patch(url, data, content_type=JSON)
