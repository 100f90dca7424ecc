"""Sampling at a site (采样): open a tube, close it, take a mis-scan out, register a walk-in.

The scan itself is screening.scan (its hot path writes no audit entry: a Sample row is its
own evidence). Everything here is atomic, checks Perm.SAMPLE over the site or tube, and
writes an audit entry.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.cleaning import clean_text, error
from fangkong.core.scoping import require_permission
from fangkong.geo.models import Site
from fangkong.people import actions as people_actions
from fangkong.people.models import Person
from fangkong.screening import codes
from fangkong.screening.models import (
    HOUSEHOLD_POOL,
    HOUSEHOLD_TUBE_CAPACITY,
    Round,
    RoundStatus,
    RoundTarget,
    Sample,
    Tube,
    TubeStatus,
)
from fangkong.screening.queries.rounds import pool_size_for

TUBE_FIELDS = (
    "round",
    "site",
    "barcode",
    "capacity",
    "household_mode",
    "household",
    "member_count",
    "status",
    "region_code",
    "opened_at",
    "closed_at",
)
MAX_CAPACITY = HOUSEHOLD_TUBE_CAPACITY  # 20:1 is the largest pool in the guidelines
REMOVE_REASON_MAX = 200


def zone_pool_size(round_: Round, region_code: str) -> int:
    """The pool size of the zone with the longest code containing ``region_code``, else
    the round's default (0 is one tube per household)."""
    pool = pool_size_for(round_, region_code)
    return round_.default_pool_size if pool is None else pool


def _clean_capacity(capacity: Any) -> int:
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise error("capacity", _("Enter a whole number of people per tube."))
    if not (capacity == HOUSEHOLD_POOL or 1 <= capacity <= MAX_CAPACITY):
        raise error(
            "capacity",
            _("A tube holds 1 to %(max)d people (0: one tube per household).")
            % {"max": MAX_CAPACITY},
        )
    return capacity


def _require_sampling(round_: Round) -> None:
    if round_.status != RoundStatus.SAMPLING:
        raise error("round", _("This round is not sampling."))


def open_tube(
    *,
    actor: Any,
    round_: Round,
    site: Site,
    barcode: str,
    capacity: int | None = None,
    typed: bool = False,
    confirm_barcode: str = "",
) -> Tube:
    """Open a tube at a site by its barcode (开管).

    ``capacity`` None takes the pool size of the site's zone (a household zone opens a
    household tube of HOUSEHOLD_TUBE_CAPACITY). A typed barcode must be typed twice
    (``confirm_barcode``): a scanned one cannot have a typo, a typed one often does.
    """
    require_permission(actor, Perm.SAMPLE, site.region_code, _("You may not sample at this site."))
    _require_sampling(round_)
    if not site.active:
        raise error("site", _("This site is closed."))
    try:
        clean = codes.clean_barcode(barcode)
    except codes.CodeError as exc:
        raise error("barcode", str(exc)) from None
    if typed:
        confirm = codes.normalize_barcode(confirm_barcode)
        if confirm != clean:
            raise error(
                "confirm_barcode", _("The two barcodes differ; check the label and type it again.")
            )
    problem = codes.barcode_fits(clean, round_.barcode_prefix, round_.barcode_length)
    if problem:
        raise error("barcode", problem)
    pool = zone_pool_size(round_, site.region_code) if capacity is None else capacity
    pool = _clean_capacity(pool)
    household_mode = pool == HOUSEHOLD_POOL
    now = timezone.now()
    if Tube.objects.filter(barcode=clean).exists():
        raise error("barcode", _("This tube barcode was already used."), "duplicate")
    try:
        with transaction.atomic():
            tube = Tube.objects.create(
                round=round_,
                site=site,
                region_code=site.region_code,
                barcode=clean,
                capacity=HOUSEHOLD_TUBE_CAPACITY if household_mode else pool,
                household_mode=household_mode,
                opened_at=now,
                opened_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            audit.record(
                actor, "screening.open_tube", tube, after=audit.snapshot(tube, TUBE_FIELDS)
            )
    except IntegrityError:  # the same barcode opened at the same moment elsewhere
        raise error("barcode", _("This tube barcode was already used."), "duplicate") from None
    return tube


@transaction.atomic
def close_tube(*, actor: Any, tube: Tube) -> Tube:
    """Close an open tube by hand (封管); an empty tube cannot be closed."""
    locked = Tube.objects.select_for_update().get(pk=tube.pk)
    require_permission(actor, Perm.SAMPLE, locked.region_code)
    if locked.status != TubeStatus.OPEN:
        raise error("tube", _("This tube is already closed."))
    if locked.member_count == 0:
        raise error("tube", _("This tube is empty; scan people into it first."))
    before = audit.snapshot(locked, TUBE_FIELDS)
    locked.status = TubeStatus.CLOSED
    locked.closed_at = timezone.now()
    locked.save(update_fields=["status", "closed_at", "updated_at"])
    audit.record(
        actor,
        "screening.close_tube",
        locked,
        before=before,
        after=audit.snapshot(locked, TUBE_FIELDS),
    )
    return locked


@transaction.atomic
def set_tube_capacity(*, actor: Any, tube: Tube, capacity: Any) -> Tube:
    """Change an open tube's pool size (改混管数), e.g. a 10:1 tube for a 5:1 group.

    Not below the people already in it; at exactly that number the tube is full and
    closes, as a scan that fills it does. A tube becomes or stops being a household tube
    (0) only while empty: its members were chosen by that rule.
    """
    locked = Tube.objects.select_for_update().get(pk=tube.pk)
    require_permission(actor, Perm.SAMPLE, locked.region_code)
    if locked.status != TubeStatus.OPEN:
        raise error("tube", _("This tube is already closed."))
    _require_sampling(Round.objects.only("status").get(pk=locked.round_id))
    pool = _clean_capacity(capacity)
    household_mode = pool == HOUSEHOLD_POOL
    if household_mode != locked.household_mode and locked.member_count:
        raise error(
            "capacity",
            _("Change to or from one tube per household only while the tube is empty."),
        )
    new_capacity = HOUSEHOLD_TUBE_CAPACITY if household_mode else pool
    if new_capacity < locked.member_count:
        raise error(
            "capacity",
            _("The tube already holds %(count)d people; remove some first.")
            % {"count": locked.member_count},
        )
    before = audit.snapshot(locked, TUBE_FIELDS)
    locked.capacity = new_capacity
    locked.household_mode = household_mode
    fields = ["capacity", "household_mode", "updated_at"]
    if locked.member_count and locked.member_count >= new_capacity:
        locked.status = TubeStatus.CLOSED
        locked.closed_at = timezone.now()
        fields += ["status", "closed_at"]
    locked.save(update_fields=fields)
    audit.record(
        actor,
        "screening.set_tube_capacity",
        locked,
        before=before,
        after=audit.snapshot(locked, TUBE_FIELDS),
    )
    return locked


@transaction.atomic
def remove_sample(*, actor: Any, sample: Sample, reason: str) -> Sample:
    """Take a mis-scanned person out of a still-open tube (the row stays, marked removed).

    The reason is in the audit entry. The person's RoundTarget.first_sampled_at follows
    their remaining live samples (none left: not sampled).
    """
    clean_reason = clean_text(reason, max_length=REMOVE_REASON_MAX, field="reason", required=True)
    tube = Tube.objects.select_for_update().get(pk=sample.tube_id)
    require_permission(actor, Perm.SAMPLE, tube.region_code)
    locked = Sample.objects.select_for_update().get(pk=sample.pk)
    if locked.removed_at is not None:
        raise error("sample", _("This person was already taken out of the tube."))
    if tube.status != TubeStatus.OPEN:
        raise error("sample", _("The tube is closed; a closed tube keeps its members."))
    now = timezone.now()
    locked.removed_at = now
    locked.save(update_fields=["removed_at"])
    Tube.objects.filter(pk=tube.pk).update(member_count=F("member_count") - 1, updated_at=now)
    if tube.household_mode and tube.member_count == 1:
        Tube.objects.filter(pk=tube.pk).update(household=None)
    first = Sample.objects.filter(
        round_id=locked.round_id, person_id=locked.person_id, removed_at__isnull=True
    ).aggregate(first=Min("scanned_at"))["first"]
    RoundTarget.objects.filter(round_id=locked.round_id, person_id=locked.person_id).update(
        first_sampled_at=first
    )
    audit.record(
        actor,
        "screening.remove_sample",
        locked,
        region_code=tube.region_code,
        before={"tube": tube.barcode, "person": locked.person_id, "removed_at": None},
        after={
            "tube": tube.barcode,
            "person": locked.person_id,
            "removed_at": now.isoformat(),
            "reason": clean_reason,
        },
    )
    return locked


def register_walk_in(
    *,
    actor: Any,
    round_: Round,
    site: Site,
    name: str,
    id_type: str,
    id_number: str,
    phone: str = "",
    region_code: str = "",
    address: str = "",
) -> Person:
    """Register a person met at the site who is not in the ledger (现场登记).

    A sampler holds no ledger permission, and a walk-in often lives elsewhere: the person
    is created by ``people.actions.create_person`` as the system, after this action checked
    Perm.SAMPLE over the site; the "screening.register_walk_in" entry names the sampler.
    A region left blank is the site's village. Duplicates raise the people app's
    DuplicatePerson.
    """
    require_permission(actor, Perm.SAMPLE, site.region_code, _("You may not sample at this site."))
    _require_sampling(round_)
    code = region_code or (site.region_code if len(site.region_code) >= 12 else "")
    if not str(code).strip():
        raise error("region_code", _("Choose the village the person lives in."), "required")
    with transaction.atomic():
        person = people_actions.create_person(
            actor=None,
            name=name,
            id_type=id_type,
            id_number=id_number,
            phone=phone,
            region_code=code,
            address=address,
        )
        audit.record(
            actor,
            "screening.register_walk_in",
            person,
            after={"round": round_.pk, "site": site.pk, "region_code": person.region_code},
        )
    return person
