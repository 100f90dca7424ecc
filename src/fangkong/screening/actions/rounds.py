"""Testing rounds (检测轮次): plan a round over zones, start sampling, move its status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.cleaning import clean_text, error
from fangkong.core.regioncodes import minimal_prefixes, upper_bound
from fangkong.core.scoping import require_permission
from fangkong.geo.models import Region
from fangkong.screening.models import (
    POOL_SIZE_CHOICES,
    Round,
    RoundStatus,
    RoundZone,
)
from fangkong.screening.targets import take_target_population

POOL_SIZES = frozenset(size for size, _label in POOL_SIZE_CHOICES)
ROUND_FIELDS = (
    "name",
    "region_code",
    "starts_at",
    "ends_at",
    "status",
    "default_pool_size",
    "barcode_prefix",
    "barcode_length",
    "target_count",
)


@dataclass(frozen=True)
class ZoneInput:
    region_code: str
    pool_size: int
    label: str = ""


def common_region(codes: Sequence[str]) -> str:
    """The finest division code that contains every code (the round's region_code)."""
    prefix = codes[0]
    for code in codes[1:]:
        n = 0
        while n < min(len(prefix), len(code)) and prefix[n] == code[n]:
            n += 1
        prefix = prefix[:n]
    for length in (15, 12, 9, 6, 4, 2):
        if len(prefix) >= length:
            return prefix[:length]
    return ""


def _clean_zones(zones: Sequence[ZoneInput]) -> list[ZoneInput]:
    if not zones:
        raise error("zones", _("Choose at least one region for the round."))
    seen: set[str] = set()
    cleaned = []
    for zone in zones:
        if zone.pool_size not in POOL_SIZES:
            raise error("zones", _("Pool size must be 1, 5, 10, 20 or one tube per household."))
        if zone.region_code in seen:
            raise error("zones", _("A region is listed twice."))
        seen.add(zone.region_code)
        cleaned.append(
            ZoneInput(zone.region_code, zone.pool_size, clean_text(zone.label, max_length=32))
        )
    known = set(Region.objects.filter(code__in=seen).values_list("code", flat=True))
    missing = sorted(seen - known)
    if missing:
        raise error("zones", _("Unknown region code: %(code)s") % {"code": missing[0]})
    return cleaned


def create_round(
    *,
    actor: Any,
    name: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    zones: Sequence[ZoneInput],
    default_pool_size: int = 10,
    barcode_prefix: str = "",
    barcode_length: int | None = None,
    notes: str = "",
) -> Round:
    """Plan a round. The area is the union of the zones; each zone has its pooling."""
    clean_name = clean_text(name, max_length=100, field="name", required=True)
    cleaned = _clean_zones(zones)
    if ends_at <= starts_at:
        raise error("ends_at", _("The round must end after it starts."))
    if default_pool_size not in POOL_SIZES:
        raise error(
            "default_pool_size", _("Pool size must be 1, 5, 10, 20 or one tube per household.")
        )
    if barcode_length is not None and not 4 <= barcode_length <= 32:
        raise error("barcode_length", _("A tube barcode has 4 to 32 characters."))
    area = minimal_prefixes([zone.region_code for zone in cleaned])
    region_code = common_region(area)
    for code in area:
        require_permission(
            actor, Perm.MANAGE_ROUNDS, code, _("You may not run rounds over this region.")
        )
    with transaction.atomic():
        round_ = Round.objects.create(
            name=clean_name,
            region_code=region_code,
            starts_at=starts_at,
            ends_at=ends_at,
            default_pool_size=default_pool_size,
            barcode_prefix=clean_text(barcode_prefix, max_length=16).upper(),
            barcode_length=barcode_length,
            notes=clean_text(notes, max_length=2000, multiline=True),
        )
        RoundZone.objects.bulk_create(
            RoundZone(
                round=round_,
                region_code=zone.region_code,
                upper_code=upper_bound(zone.region_code),
                label=zone.label,
                pool_size=zone.pool_size,
            )
            for zone in cleaned
        )
        audit.record(
            actor, "screening.create_round", round_, after=audit.snapshot(round_, ROUND_FIELDS)
        )
    return round_


def start_sampling(*, actor: Any, round_: Round, now: dt.datetime | None = None) -> Round:
    """Open the round for scanning and freeze its target population (应检人员)."""
    require_permission(actor, Perm.MANAGE_ROUNDS, round_.region_code)
    now = now or timezone.now()
    with transaction.atomic():
        locked = Round.objects.select_for_update().get(pk=round_.pk)
        if locked.status != RoundStatus.PLANNED:
            raise ValidationError(_("Only a planned round can start sampling."))
        before = audit.snapshot(locked, ROUND_FIELDS)
        added = take_target_population(locked, timezone.localdate(now))
        locked.status = RoundStatus.SAMPLING
        locked.target_taken_at = now
        locked.target_count = added
        locked.save(update_fields=["status", "target_taken_at", "target_count", "updated_at"])
        audit.record(
            actor,
            "screening.start_sampling",
            locked,
            before=before,
            after=audit.snapshot(locked, ROUND_FIELDS),
        )
    return locked
