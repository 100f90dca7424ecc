"""Transport boxes (转运箱) and lab handovers (交接单).

A box is opened at a testing site by scanning its code (unique within the round); closed
tubes are scanned into it; a mis-packed tube comes out again while the box is packing.
Boxes are handed to a lab together: one handover record per site (lab, courier, time,
counts), the boxes become ``handed_over`` and their tubes ``transit``.

Every change needs Perm.SAMPLE over the site's region and writes an audit entry. Tube
and box state changes are guarded UPDATEs (``status = closed AND box IS NULL`` ...), so
two samplers packing the same tube at once cannot both succeed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.cleaning import clean_phone, clean_text, error
from fangkong.core.scoping import has_permission, require_permission
from fangkong.geo.models import Site, SiteKind
from fangkong.screening import codes
from fangkong.screening.models import (
    Box,
    BoxStatus,
    Handover,
    Round,
    RoundStatus,
    RoundZone,
    Tube,
    TubeStatus,
)

BARCODE_MAX = 32
LAB_MAX = 100
COURIER_MAX = 64
REASON_MAX = 100
MAX_BOXES_PER_HANDOVER = 200
# A handover is written at the site while the courier waits, or shortly after; a time
# far in the future is a typo (a wrong day or hour).
FUTURE_SLACK = dt.timedelta(minutes=10)
# Rounds whose tubes may still be packed and handed over.
PACKING_STATUSES = (RoundStatus.SAMPLING, RoundStatus.AWAITING_RESULTS)
_BOX_CODE = re.compile(r"^[A-Z0-9][A-Z0-9\-_.]*$")

BOX_FIELDS = ("round", "site", "barcode", "status", "tube_count", "handover", "region_code")
HANDOVER_FIELDS = (
    "round",
    "site",
    "lab_name",
    "courier_name",
    "courier_phone",
    "handed_at",
    "box_count",
    "tube_count",
    "region_code",
)


def normalize_barcode(value: Any) -> str:
    """A scanned box or tube code without scanner noise, upper case (may be invalid)."""
    return codes.clean_scan(value).strip("*").upper()


def clean_box_code(value: Any, field: str = "barcode") -> str:
    """A box code as scanned or typed: scanner prefixes, spaces and control characters
    dropped, full-width folded, upper case; 1 to 32 letters, digits, - _ ."""
    if value is not None and not isinstance(value, str):
        raise error(field, _("Enter the box code."))
    code = normalize_barcode(value or "")
    if not code:
        raise error(field, _("Scan or type the box code."), "required")
    if len(code) > BARCODE_MAX:
        raise error(
            field,
            _("A box code has at most %(max)d characters (this has %(count)d).")
            % {"max": BARCODE_MAX, "count": len(code)},
            "max_length",
        )
    if not _BOX_CODE.match(code):
        raise error(field, _("A box code has only letters, digits, - _ and ."))
    return code


def clean_tube_code(value: Any, field: str = "tube") -> str:
    if value is not None and not isinstance(value, str):
        raise error(field, _("Enter the tube barcode."))
    try:
        return codes.clean_barcode(value or "")
    except codes.CodeError as exc:
        raise error(field, str(exc)) from None


def _check_round(round_: Round, field: str | None = None) -> None:
    if round_.status not in PACKING_STATUSES:
        raise error(field, _("This round is not sampling: its boxes cannot change."), "round")


def site_in_round(round_: Round, site: Site) -> bool:
    """Whether the site lies in one of the round's zones."""
    zones = RoundZone.objects.filter(round=round_).values_list("region_code", flat=True)
    return any(site.region_code.startswith(code) for code in zones)


def _check_site(round_: Round, site: Site) -> None:
    if site.kind != SiteKind.TESTING_SITE or not site.active:
        raise error("site", _("Choose an active testing site."))
    if not site_in_round(round_, site):
        raise error("site", _("This site is outside the round's area."))


def create_box(*, actor: Any, round_: Round, site: Site, barcode: Any) -> Box:
    """Open a new transport box at a site (扫箱码开箱). The code is unique in the round."""
    require_permission(actor, Perm.SAMPLE, site.region_code)
    code = clean_box_code(barcode)
    _check_round(round_, "round")
    _check_site(round_, site)
    with transaction.atomic():
        if Box.objects.filter(round=round_, barcode=code).exists():
            raise error(
                "barcode",
                _("Box %(code)s is already used in this round.") % {"code": code},
                "duplicate",
            )
        box = Box.objects.create(
            round=round_, site=site, barcode=code, region_code=site.region_code
        )
        audit.record(actor, "screening.create_box", box, after=audit.snapshot(box, BOX_FIELDS))
    return box


def _locked_box(box: Box) -> Box:
    # of=self: locking the round row too would block every scan's insert in the round.
    locked = Box.objects.select_for_update(of=("self",)).select_related("round").get(pk=box.pk)
    if locked.status != BoxStatus.PACKING:
        raise error(
            "box",
            _("Box %(code)s was handed over: it cannot change.") % {"code": locked.barcode},
            "handed_over",
        )
    return locked


def _tube_state_error(tube: Tube, box: Box) -> ValidationError:
    if tube.status == TubeStatus.OPEN:
        return error(
            "tube",
            _("Tube %(code)s is still open: close it (关管) before packing it.")
            % {"code": tube.barcode},
            "tube_open",
        )
    if tube.box_id == box.pk:
        return error(
            "tube", _("Tube %(code)s is already in this box.") % {"code": tube.barcode}, "in_box"
        )
    if tube.status == TubeStatus.BOXED and tube.box is not None:
        return error(
            "tube",
            _("Tube %(code)s is already in box %(box)s.")
            % {"code": tube.barcode, "box": tube.box.barcode},
            "other_box",
        )
    return error(
        "tube",
        _("Tube %(code)s was already handed to the lab.") % {"code": tube.barcode},
        "handed_over",
    )


def add_tube(*, actor: Any, box: Box, tube_barcode: Any) -> Tube:
    """Scan a closed tube into a packing box (装箱)."""
    require_permission(actor, Perm.SAMPLE, box.region_code)
    code = clean_tube_code(tube_barcode)
    with transaction.atomic():
        locked = _locked_box(box)
        _check_round(locked.round, "box")
        tube = Tube.objects.select_related("box", "round").filter(barcode=code).first()
        # A tube the actor may not sample at is "unknown": saying where it is would leak.
        if tube is None or (
            actor is not None and not has_permission(actor, Perm.SAMPLE, tube.region_code)
        ):
            raise error("tube", _("No tube has the barcode %(code)s.") % {"code": code}, "unknown")
        if tube.round_id != locked.round_id:
            raise error(
                "tube",
                _("Tube %(code)s belongs to another round (%(round)s).")
                % {"code": code, "round": tube.round.name},
                "other_round",
            )
        updated = Tube.objects.filter(
            pk=tube.pk, status=TubeStatus.CLOSED, box__isnull=True
        ).update(status=TubeStatus.BOXED, box=locked)
        if not updated:
            raise _tube_state_error(tube, locked)
        Box.objects.filter(pk=locked.pk).update(
            tube_count=F("tube_count") + 1, updated_at=timezone.now()
        )
        audit.record(
            actor,
            "screening.box_tube",
            tube,
            before={"status": tube.status, "box": None},
            after={"status": TubeStatus.BOXED, "box": locked.pk, "box_code": locked.barcode},
        )
    tube.status, tube.box = TubeStatus.BOXED, locked
    box.tube_count = locked.tube_count + 1
    return tube


def remove_tube(*, actor: Any, box: Box, tube_barcode: Any, reason: Any = "") -> Tube:
    """Take a tube out of a packing box (wrong box, scanned by mistake): it is closed again."""
    require_permission(actor, Perm.SAMPLE, box.region_code)
    code = clean_tube_code(tube_barcode)
    why = clean_text(reason, max_length=REASON_MAX, field="reason")
    with transaction.atomic():
        locked = _locked_box(box)
        tube = Tube.objects.filter(barcode=code, box=locked).first()
        if tube is None:
            raise error(
                "tube", _("Tube %(code)s is not in this box.") % {"code": code}, "not_in_box"
            )
        updated = Tube.objects.filter(pk=tube.pk, box=locked, status=TubeStatus.BOXED).update(
            status=TubeStatus.CLOSED, box=None
        )
        if not updated:
            raise error("tube", _("Tube %(code)s is not in this box.") % {"code": code})
        Box.objects.filter(pk=locked.pk).update(
            tube_count=F("tube_count") - 1, updated_at=timezone.now()
        )
        audit.record(
            actor,
            "screening.unbox_tube",
            tube,
            before={"status": TubeStatus.BOXED, "box": locked.pk, "box_code": locked.barcode},
            after={"status": TubeStatus.CLOSED, "box": None, "reason": why},
        )
    tube.status, tube.box = TubeStatus.CLOSED, None
    box.tube_count = max(0, locked.tube_count - 1)
    return tube


def _clean_handed_at(value: Any, round_: Round, now: dt.datetime) -> dt.datetime:
    if value is None:
        return now
    if not isinstance(value, dt.datetime):
        raise error("handed_at", _("Enter the date and time of the handover."))
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > now + FUTURE_SLACK:
        raise error("handed_at", _("The handover time is in the future."))
    if value < round_.starts_at - dt.timedelta(days=1):
        raise error("handed_at", _("The handover time is before the round started."))
    return value


def hand_over(
    *,
    actor: Any,
    boxes: Sequence[Box],
    lab_name: Any,
    courier_name: Any,
    courier_phone: Any,
    handed_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Handover:
    """Hand boxes of one site and round to a lab (交接): one record, boxes and tubes move on.

    Every box must be packing and hold at least one tube; all must be of one site and
    round (a handover sheet is signed at one site).
    """
    if not boxes:
        raise error("boxes", _("Choose at least one box."), "required")
    if len(boxes) > MAX_BOXES_PER_HANDOVER:
        raise error(
            "boxes", _("At most %(max)d boxes per handover.") % {"max": MAX_BOXES_PER_HANDOVER}
        )
    for box in boxes:
        require_permission(actor, Perm.SAMPLE, box.region_code)
    lab = clean_text(lab_name, max_length=LAB_MAX, field="lab_name", required=True)
    courier = clean_text(courier_name, max_length=COURIER_MAX, field="courier_name", required=True)
    phone = clean_phone(courier_phone, field="courier_phone")
    if not phone:
        raise error("courier_phone", _("Enter the courier's phone."), "required")
    now = now or timezone.now()
    ids = sorted({box.pk for box in boxes})
    with transaction.atomic():
        locked = list(
            Box.objects.select_for_update(of=("self",))
            .select_related("round", "site")
            .filter(pk__in=ids)
            .order_by("pk")  # one lock order for every handover: no deadlock
        )
        if len(locked) != len(ids):
            raise error("boxes", _("A box was not found."))
        first = locked[0]
        if any(b.round_id != first.round_id or b.site_id != first.site_id for b in locked):
            raise error("boxes", _("Hand over boxes of one site and one round at a time."))
        _check_round(first.round, "boxes")
        when = _clean_handed_at(handed_at, first.round, now)
        for box in locked:
            if box.status != BoxStatus.PACKING:
                raise error(
                    "boxes",
                    _("Box %(code)s was already handed over.") % {"code": box.barcode},
                    "handed_over",
                )
        # Count from the tubes themselves: tube_count is a running counter.
        counts = dict.fromkeys(ids, 0)
        for box_id in Tube.objects.filter(box_id__in=ids, status=TubeStatus.BOXED).values_list(
            "box_id", flat=True
        ):
            counts[box_id] += 1
        empty = [b.barcode for b in locked if counts[b.pk] == 0]
        if empty:
            raise error(
                "boxes",
                _("Box %(code)s is empty: pack tubes into it or leave it out.")
                % {"code": empty[0]},
                "empty",
            )
        handover = Handover.objects.create(
            round=first.round,
            site=first.site,
            region_code=first.region_code,
            lab_name=lab,
            courier_name=courier,
            courier_phone=phone,
            handed_at=when,
            box_count=len(locked),
            tube_count=sum(counts.values()),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        Tube.objects.filter(box_id__in=ids, status=TubeStatus.BOXED).update(
            status=TubeStatus.IN_TRANSIT
        )
        for box in locked:
            Box.objects.filter(pk=box.pk).update(
                status=BoxStatus.HANDED_OVER,
                handover=handover,
                tube_count=counts[box.pk],
                updated_at=now,
            )
        audit.record(
            actor,
            "screening.hand_over",
            handover,
            after={
                **audit.snapshot(handover, HANDOVER_FIELDS),
                "boxes": sorted(b.barcode for b in locked),
            },
        )
    return handover
