"""Testing rounds (检测轮次): plan a round over zones, start sampling, move its status.

The life of a round: planned (计划) → sampling (采样中) → awaiting results (待出结果) →
closed (已结束). A planned round may be edited or deleted; once sampling starts its area,
pooling and barcode format are fixed (tubes and the target population depend on them),
and only its name, notes and end time change. Every action needs Perm.MANAGE_ROUNDS over
the round's region_code (and over every zone it is given) and writes an audit entry.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.cleaning import clean_region_code_format, clean_text, error
from fangkong.core.regioncodes import minimal_prefixes, upper_bound
from fangkong.core.scoping import require_permission
from fangkong.geo.models import Region
from fangkong.screening.models import (
    POOL_SIZE_CHOICES,
    Round,
    RoundStatus,
    RoundZone,
    Tube,
    TubeStatus,
)
from fangkong.screening.targets import take_target_population

POOL_SIZES = frozenset(size for size, _label in POOL_SIZE_CHOICES)
NAME_MAX = 100
NOTES_MAX = 2000
LABEL_MAX = 32
BARCODE_PREFIX_MAX = 16
BARCODE_LENGTH_MIN, BARCODE_LENGTH_MAX = 4, 32
# A county lists its villages one by one at most (安阳县 has about 500).
MAX_ZONES = 1000
# A round is a day or two (the 2022 guideline: an area done within 24 h); a window of
# weeks is a typo in the year or month.
MAX_WINDOW = dt.timedelta(days=14)
YEAR_MIN, YEAR_MAX = 2000, 2100
_BARCODE_PREFIX_RE = re.compile(r"^[A-Z0-9-]*$")

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
    "closed_at",
    "notes",
)
# What may still change once sampling has started.
EDITABLE_WHILE_RUNNING = frozenset({"name", "ends_at", "notes"})


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


def _clean_pool(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in POOL_SIZES:
        raise error(field, _("Pool size must be 1, 5, 10, 20 or one tube per household."))
    return value


def _clean_zones(zones: Sequence[ZoneInput]) -> list[ZoneInput]:
    """Codes folded (full-width digits) and checked; errors name the row:
    ``zones.<n>.region_code`` / ``zones.<n>.pool_size`` / ``zones.<n>.label``."""
    if not zones:
        raise error("zones", _("Choose at least one region for the round."))
    if len(zones) > MAX_ZONES:
        raise error("zones", _("A round has at most %(max)d zones.") % {"max": MAX_ZONES})
    seen: set[str] = set()
    cleaned = []
    for index, zone in enumerate(zones):
        prefix = f"zones.{index}"
        code = clean_region_code_format(zone.region_code, f"{prefix}.region_code")
        pool = _clean_pool(zone.pool_size, f"{prefix}.pool_size")
        if code in seen:
            raise error(
                f"{prefix}.region_code",
                _("%(code)s is listed twice; give each region one row.") % {"code": code},
            )
        seen.add(code)
        label = clean_text(zone.label, max_length=LABEL_MAX, field=f"{prefix}.label")
        cleaned.append(ZoneInput(code, pool, label))
    known = set(Region.objects.filter(code__in=seen).values_list("code", flat=True))
    for index, zone in enumerate(cleaned):
        if zone.region_code not in known:
            raise error(
                f"zones.{index}.region_code",
                _("Unknown region code: %(code)s") % {"code": zone.region_code},
            )
    return cleaned


def _clean_moment(value: Any, field: str) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise error(field, _("Enter a date and time."))
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if not YEAR_MIN <= value.year <= YEAR_MAX:
        raise error(
            field,
            _("Enter a date between %(low)d and %(high)d.") % {"low": YEAR_MIN, "high": YEAR_MAX},
        )
    return value


def _clean_window(starts_at: Any, ends_at: Any) -> tuple[dt.datetime, dt.datetime]:
    start = _clean_moment(starts_at, "starts_at")
    end = _clean_moment(ends_at, "ends_at")
    if end <= start:
        raise error("ends_at", _("The round must end after it starts."))
    if end - start > MAX_WINDOW:
        raise error(
            "ends_at",
            _("A round lasts at most %(days)d days; check the dates.") % {"days": MAX_WINDOW.days},
        )
    return start, end


def _clean_barcode_format(prefix: Any, length: Any) -> tuple[str, int | None]:
    text = clean_text(prefix, max_length=BARCODE_PREFIX_MAX, field="barcode_prefix").upper()
    if not _BARCODE_PREFIX_RE.match(text):
        raise error("barcode_prefix", _("Use letters, digits and - only."))
    if length is None or length == "":
        return text, None
    if isinstance(length, bool) or not isinstance(length, int):
        raise error("barcode_length", _("Enter a whole number."))
    if not BARCODE_LENGTH_MIN <= length <= BARCODE_LENGTH_MAX:
        raise error(
            "barcode_length",
            _("A tube barcode has %(low)d to %(high)d characters.")
            % {"low": BARCODE_LENGTH_MIN, "high": BARCODE_LENGTH_MAX},
        )
    if len(text) >= length:
        raise error("barcode_prefix", _("The prefix must be shorter than the whole barcode."))
    return text, length


def _require_area(actor: Any, zones: Sequence[ZoneInput]) -> tuple[list[str], str]:
    """The zones' minimal area and its common region; the actor must manage all of it."""
    area = minimal_prefixes([zone.region_code for zone in zones])
    for code in area:
        require_permission(
            actor, Perm.MANAGE_ROUNDS, code, _("You may not run rounds over this region.")
        )
    return area, common_region(area)


def _require_manage(actor: Any, round_: Round) -> None:
    require_permission(
        actor, Perm.MANAGE_ROUNDS, round_.region_code, _("You may not manage this round.")
    )


def round_snapshot(round_: Round) -> dict[str, Any]:
    """The audited values of a round, with its zones (code, pool size, label)."""
    data = audit.snapshot(round_, ROUND_FIELDS)
    data["zones"] = [
        [zone.region_code, zone.pool_size, zone.label]
        for zone in RoundZone.objects.filter(round=round_).order_by("region_code")
    ]
    return data


def _write_zones(round_: Round, zones: Sequence[ZoneInput]) -> None:
    RoundZone.objects.bulk_create(
        RoundZone(
            round=round_,
            region_code=zone.region_code,
            upper_code=upper_bound(zone.region_code),
            label=zone.label,
            pool_size=zone.pool_size,
        )
        for zone in zones
    )


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
    clean_name = clean_text(name, max_length=NAME_MAX, field="name", required=True)
    start, end = _clean_window(starts_at, ends_at)
    pool = _clean_pool(default_pool_size, "default_pool_size")
    prefix, length = _clean_barcode_format(barcode_prefix, barcode_length)
    clean_notes = clean_text(notes, max_length=NOTES_MAX, field="notes", multiline=True)
    cleaned = _clean_zones(zones)
    _area, region_code = _require_area(actor, cleaned)
    with transaction.atomic():
        round_ = Round.objects.create(
            name=clean_name,
            region_code=region_code,
            starts_at=start,
            ends_at=end,
            default_pool_size=pool,
            barcode_prefix=prefix,
            barcode_length=length,
            notes=clean_notes,
        )
        _write_zones(round_, cleaned)
        audit.record(actor, "screening.create_round", round_, after=round_snapshot(round_))
    return round_


_UNSET: Any = object()


def update_round(
    *,
    actor: Any,
    round_: Round,
    name: Any = _UNSET,
    starts_at: Any = _UNSET,
    ends_at: Any = _UNSET,
    zones: Any = _UNSET,
    default_pool_size: Any = _UNSET,
    barcode_prefix: Any = _UNSET,
    barcode_length: Any = _UNSET,
    notes: Any = _UNSET,
) -> Round:
    """Change a round; arguments left out stay as they are.

    While planned everything may change (the zones are replaced as given). Once sampling
    has started only the name, the notes and the end time (a window extended on the day)
    may; a closed round changes no more.
    """
    _require_manage(actor, round_)
    given = {
        key: value
        for key, value in {
            "name": name,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "zones": zones,
            "default_pool_size": default_pool_size,
            "barcode_prefix": barcode_prefix,
            "barcode_length": barcode_length,
            "notes": notes,
        }.items()
        if value is not _UNSET
    }
    with transaction.atomic():
        locked = Round.objects.select_for_update().get(pk=round_.pk)
        if locked.status == RoundStatus.CLOSED:
            raise ValidationError(_("A closed round cannot be changed."), code="closed")
        if locked.status != RoundStatus.PLANNED:
            for key in given:
                if key not in EDITABLE_WHILE_RUNNING and _differs(locked, key, given[key]):
                    raise error(
                        key,
                        _(
                            "Zones, start time, pooling and barcodes are fixed once sampling "
                            "starts; only the name, the end time and the notes may change."
                        ),
                        "frozen",
                    )
        before = round_snapshot(locked)
        if "name" in given:
            locked.name = clean_text(
                given["name"], max_length=NAME_MAX, field="name", required=True
            )
        locked.starts_at, locked.ends_at = _clean_window(
            given.get("starts_at", locked.starts_at), given.get("ends_at", locked.ends_at)
        )
        if "default_pool_size" in given:
            locked.default_pool_size = _clean_pool(given["default_pool_size"], "default_pool_size")
        if "barcode_prefix" in given or "barcode_length" in given:
            locked.barcode_prefix, locked.barcode_length = _clean_barcode_format(
                given.get("barcode_prefix", locked.barcode_prefix),
                given.get("barcode_length", locked.barcode_length),
            )
        if "notes" in given:
            locked.notes = clean_text(
                given["notes"], max_length=NOTES_MAX, field="notes", multiline=True
            )
        if "zones" in given and locked.status == RoundStatus.PLANNED:
            cleaned = _clean_zones(given["zones"])
            _area, locked.region_code = _require_area(actor, cleaned)
            RoundZone.objects.filter(round=locked).delete()
            _write_zones(locked, cleaned)
        locked.save()
        after = round_snapshot(locked)
        if after != before:
            audit.record(actor, "screening.update_round", locked, before=before, after=after)
    return locked


def _differs(round_: Round, key: str, value: Any) -> bool:
    """Whether a frozen field is really being changed (a form sends every field back)."""
    if key == "zones":
        current = {
            (z.region_code, z.pool_size, z.label) for z in RoundZone.objects.filter(round=round_)
        }
        try:
            wanted = {(z.region_code, z.pool_size, z.label) for z in _clean_zones(value)}
        except ValidationError:
            return True
        return current != wanted
    if key == "barcode_prefix":
        return str(value or "").strip().upper() != round_.barcode_prefix
    return bool(getattr(round_, key) != value)


def start_sampling(*, actor: Any, round_: Round, now: dt.datetime | None = None) -> Round:
    """Open the round for scanning and freeze its target population (应检人员)."""
    _require_manage(actor, round_)
    now = now or timezone.now()
    with transaction.atomic():
        locked = Round.objects.select_for_update().get(pk=round_.pk)
        if locked.status != RoundStatus.PLANNED:
            raise ValidationError(_("Only a planned round can start sampling."), code="status")
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


def open_tube_count(round_: Round) -> int:
    """Open tubes with people in them (an empty open tube is an unused barcode)."""
    return Tube.objects.filter(round=round_, status=TubeStatus.OPEN, member_count__gt=0).count()


def unresulted_tube_count(round_: Round) -> int:
    """Tubes with people in them and no result yet (closed, boxed or at the lab)."""
    return (
        Tube.objects.filter(round=round_, member_count__gt=0)
        .exclude(status__in=[TubeStatus.RESULTED, TubeStatus.OPEN])
        .count()
    )


def finish_sampling(
    *, actor: Any, round_: Round, force: bool = False, now: dt.datetime | None = None
) -> Round:
    """Stop sampling: sampling → awaiting results. Scanning into the round stops.

    Refused while tubes with people in them are still open at the sites (people in a
    tube that never reaches the lab get no result), unless ``force``: then those tubes
    are closed now, and the audit entry says how many. Empty open tubes stay open (an
    empty tube is never closed, see actions.sampling.close_tube); nothing can be scanned
    into them unless the round goes back to sampling.
    """
    _require_manage(actor, round_)
    now = now or timezone.now()
    with transaction.atomic():
        locked = Round.objects.select_for_update().get(pk=round_.pk)
        if locked.status != RoundStatus.SAMPLING:
            raise ValidationError(_("Only a round in sampling can finish sampling."), code="status")
        open_tubes = Tube.objects.filter(round=locked, status=TubeStatus.OPEN, member_count__gt=0)
        count = open_tubes.count()
        if count and not force:
            raise ValidationError(
                _(
                    "%(count)d tubes are still open at the sites. Close them there first, "
                    "or finish anyway to close them now."
                )
                % {"count": count},
                code="open_tubes",
                params={"count": count},
            )
        before = audit.snapshot(locked, ROUND_FIELDS)
        closed = (
            open_tubes.update(status=TubeStatus.CLOSED, closed_at=now, updated_at=now)
            if count
            else 0
        )
        locked.status = RoundStatus.AWAITING_RESULTS
        locked.save(update_fields=["status", "updated_at"])
        after = {**audit.snapshot(locked, ROUND_FIELDS), "tubes_closed": closed}
        audit.record(actor, "screening.finish_sampling", locked, before=before, after=after)
    return locked


def resume_sampling(*, actor: Any, round_: Round) -> Round:
    """Back to sampling after finishing too early (awaiting results → sampling)."""
    _require_manage(actor, round_)
    with transaction.atomic():
        locked = Round.objects.select_for_update().get(pk=round_.pk)
        if locked.status != RoundStatus.AWAITING_RESULTS:
            raise ValidationError(
                _("Only a round awaiting results can go back to sampling."), code="status"
            )
        before = audit.snapshot(locked, ROUND_FIELDS)
        locked.status = RoundStatus.SAMPLING
        locked.save(update_fields=["status", "updated_at"])
        audit.record(
            actor,
            "screening.resume_sampling",
            locked,
            before=before,
            after=audit.snapshot(locked, ROUND_FIELDS),
        )
    return locked


def close_round(
    *, actor: Any, round_: Round, force: bool = False, now: dt.datetime | None = None
) -> Round:
    """Close the round: awaiting results → closed. Lab results for it are refused after.

    Refused while tubes with people in them have no result, unless ``force`` (a lost
    tube, a lab that never reports): those people are then followed up by the next round
    or by re-sampling, and the audit entry records how many tubes were left.
    """
    _require_manage(actor, round_)
    now = now or timezone.now()
    with transaction.atomic():
        locked = Round.objects.select_for_update().get(pk=round_.pk)
        if locked.status != RoundStatus.AWAITING_RESULTS:
            raise ValidationError(_("Finish sampling before closing the round."), code="status")
        pending = unresulted_tube_count(locked)
        if pending and not force:
            raise ValidationError(
                _(
                    "%(count)d tubes have no result yet. Wait for the lab, or close anyway "
                    "(their results will then be refused)."
                )
                % {"count": pending},
                code="pending_results",
                params={"count": pending},
            )
        before = audit.snapshot(locked, ROUND_FIELDS)
        locked.status = RoundStatus.CLOSED
        locked.closed_at = now
        locked.save(update_fields=["status", "closed_at", "updated_at"])
        after = {**audit.snapshot(locked, ROUND_FIELDS), "tubes_without_result": pending}
        audit.record(actor, "screening.close_round", locked, before=before, after=after)
    return locked


def delete_round(*, actor: Any, round_: Round) -> None:
    """Delete a planned round (a mistake, a plan dropped). A started round is evidence
    and stays: finish and close it instead."""
    _require_manage(actor, round_)
    with transaction.atomic():
        locked = Round.objects.select_for_update().get(pk=round_.pk)
        if locked.status != RoundStatus.PLANNED:
            raise ValidationError(
                _("Only a planned round can be deleted; close a started round instead."),
                code="status",
            )
        before = round_snapshot(locked)
        audit.record(actor, "screening.delete_round", locked, before=before)
        RoundZone.objects.filter(round=locked).delete()
        locked.delete()
