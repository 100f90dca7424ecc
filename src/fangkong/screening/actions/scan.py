"""The scan (扫码采样): one person into one open tube, with every check, at site speed.

``scan`` is what the scan page and ``POST /api/v1/screening/scan`` call. Checks, in the
order a sampler meets them: may the actor sample at all (``not_allowed``); is the tube
one of theirs (``tube_unknown``, whether absent or outside their regions: nothing leaks);
round still sampling, tube open and not full; who the person is (``invalid_id``,
``unknown_person`` offers a walk-in, ``ambiguous`` for last-6+name); already in this tube,
in another open tube (refused: remove them there first), already sampled in this round
(needs a reason, then added with it); a household tube takes only the first member's
household (``other_household``). A person from outside the round's zones is added and
flagged (``out_of_area``, level warning). The person lookup is install-wide; the outcome
shows the name and a masked ID only.

Writes: the tube's ``member_count`` is raised by a guarded UPDATE (``status = 'open' AND
member_count < capacity``), so two samplers scanning into one tube can never overfill
it; the tube closes itself when full; the Sample row is inserted; the person's
RoundTarget gets ``first_sampled_at``. Samples are their own evidence: no audit entry.

Two implementations with identical outcomes (tests/screening/test_scan.py runs both):
- PostgreSQL (screening.actions.scan_pg): one statement (CTEs) on the raw psycopg connection,
  prepared once per connection, preceded in the same round trip and transaction by an
  advisory lock on the person, so two scans of one person into two tubes at once cannot
  both pass the check.
- Anything else (SQLite): a short IMMEDIATE transaction of plain ORM statements; SQLite's
  single writer lock serializes scans.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, fields
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_stubs_ext import StrOrPromise

from fangkong.accounts.roles import Perm
from fangkong.core.masking import mask_id_number
from fangkong.core.regioncodes import upper_bound
from fangkong.core.scoping import has_permission, is_unrestricted
from fangkong.geo.models import Region
from fangkong.people.models import Person
from fangkong.screening import codes
from fangkong.screening.actions import scan_pg
from fangkong.screening.models import (
    RoundStatus,
    RoundTarget,
    RoundZone,
    Sample,
    Tube,
    TubeStatus,
)
from fangkong.supplies.retry import with_retry

REASON_MAX = 100  # Sample.repeat_reason
OK, WARNING, ERROR = "ok", "warning", "error"


@dataclass
class ScanOutcome:
    """What the screen shows after a scan (and the API returns as JSON)."""

    ok: bool
    level: str  # "ok" | "warning" | "error"
    code: str
    message: str
    tube_barcode: str = ""
    tube_member_count: int = 0
    tube_capacity: int = 0
    tube_status: str = ""
    person_name: str = ""
    person_id_masked: str = ""
    person_region: str = ""  # the person's region code
    out_of_area: bool = False
    needs_reason: bool = False
    sample_id: int | None = None
    person_region_name: str = ""
    in_target: bool = False
    household_mode: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _OUTCOME_FIELDS}


_OUTCOME_FIELDS = tuple(f.name for f in fields(ScanOutcome))


@dataclass
class _Facts:
    """What the database says about (actor, tube, person) before any write."""

    may_sample: bool = False
    tube_id: int | None = None
    round_id: int | None = None
    site_id: int | None = None
    round_status: str = ""
    tube_status: str = ""
    member_count: int = 0
    capacity: int = 0
    household_mode: bool = False
    tube_household_id: int | None = None
    candidates: int = 0
    person_id: int | None = None
    person_name: str = ""
    id_number: str = ""
    person_region: str = ""
    person_region_name: str = ""
    person_household_id: int | None = None
    dup: bool = False
    in_open: bool = False
    sampled: bool = False
    in_area: bool = False
    in_target: bool = False
    # Set by the write: the new sample and the tube after it.
    sample_id: int | None = None
    new_member_count: int | None = None
    new_tube_status: str | None = None


_MESSAGES: dict[str, StrOrPromise] = {
    "added": gettext_lazy("Added."),
    "tube_full_closed": gettext_lazy("Added. The tube is full and now closed."),
    "already_sampled": gettext_lazy(
        "Already sampled in this round. Give a reason to sample again."
    ),
    "in_open_tube": gettext_lazy("This person is in another open tube; remove them there first."),
    "duplicate_in_tube": gettext_lazy("Already in this tube."),
    "invalid_id": gettext_lazy("Not a valid ID number or personal code."),
    "unknown_person": gettext_lazy("Not in the ledger. Register them as a walk-in."),
    "ambiguous": gettext_lazy("Several people match; scan the ID card instead."),
    "tube_unknown": gettext_lazy("Unknown tube. Scan the tube again, or open it first."),
    "tube_closed": gettext_lazy("This tube is closed."),
    "tube_full": gettext_lazy("This tube is full."),
    "round_closed": gettext_lazy("The round of this tube is not sampling."),
    "not_allowed": gettext_lazy("Your role does not allow sampling."),
    "other_household": gettext_lazy("This household tube holds another household."),
}


def clean_reason(raw: Any) -> str:
    """The repeat reason as stored: NFKC, no control characters, one line, 100 characters."""
    text = unicodedata.normalize("NFKC", str(raw or ""))
    text = "".join(ch if unicodedata.category(ch) not in {"Cc", "Cf", "Cs"} else " " for ch in text)
    return " ".join(text.split())[:REASON_MAX]


def decide(facts: _Facts, reason: str) -> str:
    """The outcome code for these facts; "write" when every check passes.

    The PostgreSQL statement encodes the same conditions in its ``go`` CTE (the tests run
    every case through both implementations).
    """
    if not facts.may_sample:
        return "not_allowed"
    if facts.tube_id is None:
        return "tube_unknown"
    if facts.round_status != RoundStatus.SAMPLING:
        return "round_closed"
    if facts.tube_status != TubeStatus.OPEN:
        return "tube_closed"
    if facts.member_count >= facts.capacity:
        return "tube_full"
    if facts.candidates > 1:
        return "ambiguous"
    if facts.person_id is None:
        return "unknown_person"
    if facts.dup:
        return "duplicate_in_tube"
    if facts.in_open:
        return "in_open_tube"
    if facts.sampled and not reason:
        return "already_sampled"
    if (
        facts.household_mode
        and facts.member_count > 0
        and (
            facts.tube_household_id is None or facts.tube_household_id != facts.person_household_id
        )
    ):
        return "other_household"
    return "write"


def _outcome(code: str, barcode: str, facts: _Facts) -> ScanOutcome:
    """Build the screen's outcome. Person details only once the tube passed its checks
    (an actor who may not sample here learns nothing about anybody)."""
    written = code in ("added", "tube_full_closed")
    out_of_area = written and not facts.in_area
    if written:
        level = WARNING if out_of_area else OK
    elif code == "already_sampled":
        level = WARNING
    else:
        level = ERROR
    outcome = ScanOutcome(
        ok=written,
        level=level,
        code=code,
        message=str(_MESSAGES[code]),
        tube_barcode=barcode,
        needs_reason=code == "already_sampled",
        out_of_area=out_of_area,
        sample_id=facts.sample_id if written else None,
    )
    if not facts.may_sample or facts.tube_id is None:
        return outcome
    outcome.tube_member_count = (
        facts.new_member_count if facts.new_member_count is not None else facts.member_count
    )
    outcome.tube_capacity = facts.capacity
    outcome.tube_status = facts.new_tube_status or facts.tube_status
    outcome.household_mode = facts.household_mode
    if code in ("round_closed", "tube_closed", "tube_full"):
        return outcome
    if written and not facts.in_area:
        outcome.message = _("Added. From outside the round's area: flagged.")
        if code == "tube_full_closed":
            outcome.message = _(
                "Added (from outside the round's area: flagged). The tube is full and now closed."
            )
    if facts.person_id is not None:
        outcome.person_name = facts.person_name
        outcome.person_id_masked = mask_id_number(facts.id_number) if facts.id_number else ""
        outcome.person_region = facts.person_region
        outcome.person_region_name = facts.person_region_name
        outcome.in_target = facts.in_target
    return outcome


def _actor_flags(actor: Any) -> tuple[bool, bool]:
    """(usable, unrestricted): the system (None) and superusers may sample anywhere."""
    if actor is None:
        return True, True
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False, False
    return True, is_unrestricted(actor)


def scan(
    *, actor: Any, tube_barcode: str, person_code: str, reason: str = "", name: str = ""
) -> ScanOutcome:
    """Scan one person into one tube (see the module docstring for every check)."""
    if connection.vendor == "postgresql":
        return scan_one_statement(
            actor=actor,
            tube_barcode=tube_barcode,
            person_code=person_code,
            reason=reason,
            name=name,
        )
    return scan_plain(
        actor=actor, tube_barcode=tube_barcode, person_code=person_code, reason=reason, name=name
    )


def _finish(code: str, person: codes.PersonCode, barcode: str, facts: _Facts) -> ScanOutcome:
    if code == "unknown_person" and person.kind == codes.INVALID:
        outcome = _outcome("invalid_id", barcode, facts)
        outcome.message = person.error or outcome.message
        return outcome
    return _outcome(code, barcode, facts)


# --- the plain implementation (SQLite; any database) ----------------------------------


def scan_plain(
    *, actor: Any, tube_barcode: str, person_code: str, reason: str = "", name: str = ""
) -> ScanOutcome:
    """Plain statements in one IMMEDIATE transaction (SQLite's writer lock serializes
    scans); retried when SQLite says busy."""
    usable, _unrestricted = _actor_flags(actor)
    barcode = codes.normalize_barcode(tube_barcode)
    person = codes.parse_person_code(person_code, name)
    reason = clean_reason(reason)
    facts = _Facts(may_sample=usable and has_permission(actor, Perm.SAMPLE) if actor else usable)
    if not facts.may_sample:
        return _outcome("not_allowed", barcode, facts)
    code = _plain_transaction(actor, barcode, person, reason, facts)
    return _finish(code, person, barcode, facts)


@with_retry
def _plain_transaction(
    actor: Any, barcode: str, person: codes.PersonCode, reason: str, facts: _Facts
) -> str:
    with transaction.atomic():
        _plain_facts(actor, barcode, person, facts)
        code = decide(facts, reason)
        if code != "write":
            return code
        tube_id, round_id = _known(facts.tube_id), _known(facts.round_id)
        person_id, site_id = _known(facts.person_id), _known(facts.site_id)
        now = timezone.now()
        closing = facts.member_count + 1 >= facts.capacity
        household = (
            facts.person_household_id
            if facts.household_mode and facts.member_count == 0
            else facts.tube_household_id
        )
        updated = Tube.objects.filter(
            pk=tube_id, status=TubeStatus.OPEN, member_count__lt=F("capacity")
        ).update(
            member_count=F("member_count") + 1,
            household_id=household,
            status=Case(
                When(member_count__gte=F("capacity") - 1, then=Value(TubeStatus.CLOSED)),
                default=F("status"),
            ),
            closed_at=now if closing else None,
            updated_at=now,
        )
        if not updated:  # cannot happen under SQLite's lock; kept for other databases
            return _race_code(facts)
        sample = Sample.objects.create(
            round_id=round_id,
            tube_id=tube_id,
            person_id=person_id,
            site_id=site_id,
            region_code=facts.person_region,
            scanned_at=now,
            scanned_by=actor if actor is not None else None,
            in_target=facts.in_target,
            out_of_area=not facts.in_area,
            repeat_reason=reason if facts.sampled else "",
        )
        if facts.in_target:
            RoundTarget.objects.filter(
                round_id=round_id, person_id=person_id, first_sampled_at__isnull=True
            ).update(first_sampled_at=now)
        facts.sample_id = sample.pk
        facts.new_member_count = facts.member_count + 1
        facts.new_tube_status = TubeStatus.CLOSED if closing else facts.tube_status
        return "tube_full_closed" if closing else "added"


def _known(value: int | None) -> int:
    if value is None:  # decide() returned "write": the tube and the person were found
        raise AssertionError("scan facts incomplete")
    return value


def _plain_facts(actor: Any, barcode: str, person: codes.PersonCode, facts: _Facts) -> None:
    tube = (
        Tube.objects.filter(barcode=barcode)
        .values(
            "id",
            "round_id",
            "site_id",
            "region_code",
            "status",
            "member_count",
            "capacity",
            "household_mode",
            "household_id",
            "round__status",
        )
        .first()
        if barcode
        else None
    )
    if tube is None or (
        actor is not None and not has_permission(actor, Perm.SAMPLE, tube["region_code"])
    ):
        return
    facts.tube_id, facts.round_id, facts.site_id = tube["id"], tube["round_id"], tube["site_id"]
    facts.round_status, facts.tube_status = tube["round__status"], tube["status"]
    facts.member_count, facts.capacity = tube["member_count"], tube["capacity"]
    facts.household_mode, facts.tube_household_id = tube["household_mode"], tube["household_id"]
    found = _plain_person(person)
    facts.candidates = len(found)
    if len(found) != 1:
        return
    row = found[0]
    facts.person_id, facts.person_name, facts.id_number = row["id"], row["name"], row["id_number"]
    facts.person_region, facts.person_household_id = row["region_code"], row["household_id"]
    facts.person_region_name = (
        Region.objects.filter(code=row["region_code"]).values_list("short_name", flat=True).first()
        or ""
    )
    for tube_id, status in Sample.objects.filter(
        round_id=facts.round_id, person_id=facts.person_id, removed_at__isnull=True
    ).values_list("tube_id", "tube__status"):
        if tube_id == facts.tube_id:
            facts.dup = True
        elif status == TubeStatus.OPEN:
            facts.in_open = True
        else:
            facts.sampled = True
    facts.in_area = RoundZone.objects.filter(
        round_id=facts.round_id,
        region_code__lte=facts.person_region,
        upper_code__gt=facts.person_region,
    ).exists()
    facts.in_target = RoundTarget.objects.filter(
        round_id=facts.round_id, person_id=facts.person_id
    ).exists()


_PERSON_FIELDS = ("id", "name", "id_number", "region_code", "household_id")


def _plain_person(person: codes.PersonCode) -> list[dict[str, Any]]:
    live = Person.objects.filter(merged_into__isnull=True)
    if person.kind == codes.DOCUMENT:
        found = live.filter(id_type__in=person.id_types, id_number=person.number).exclude(
            id_number=""
        )
    elif person.kind == codes.QR:
        target = (
            Person.objects.filter(pk=person.person_id or 0)
            .values_list("merged_into_id", "id")
            .first()
        )
        if target is None:
            return []
        found = live.filter(pk=target[0] or target[1])
    elif person.kind == codes.TAIL:
        found = live.filter(
            id_reversed__gte=person.tail_reversed,
            id_reversed__lt=upper_bound(person.tail_reversed),
            name_key=person.name_key,
        )
    else:
        return []
    return list(found.order_by("id").values(*_PERSON_FIELDS)[:2])


def _race_code(facts: _Facts) -> str:
    """Why the guarded UPDATE matched no row although the checks passed: another scan or
    a hand close changed the tube in between. Re-read it (rare path: one more query)."""
    tube = (
        Tube.objects.filter(pk=facts.tube_id or 0)
        .values("status", "member_count", "capacity", "household_id")
        .first()
    )
    if tube is None or tube["status"] != TubeStatus.OPEN:
        facts.tube_status = tube["status"] if tube else TubeStatus.CLOSED
        return "tube_closed"
    facts.member_count = tube["member_count"]
    if tube["member_count"] >= tube["capacity"]:
        return "tube_full"
    facts.tube_household_id = tube["household_id"]
    return "other_household"


def scan_one_statement(
    *, actor: Any, tube_barcode: str, person_code: str, reason: str = "", name: str = ""
) -> ScanOutcome:
    """PostgreSQL: the checks and writes in one statement (screening.actions.scan_pg)."""
    usable, unrestricted = _actor_flags(actor)
    barcode = codes.normalize_barcode(tube_barcode)
    person = codes.parse_person_code(person_code, name)
    reason = clean_reason(reason)
    if not usable:
        return _outcome("not_allowed", barcode, _Facts())
    facts = _Facts(**scan_pg.run(actor, unrestricted, barcode, person, reason))
    return _conclude(facts, person, barcode, reason)


@dataclass(frozen=True)
class TokenScan:
    """A scan made as a token's owner, and the token's last use (for core.api)."""

    outcome: ScanOutcome
    token_id: int
    token_used_at: Any


def scan_with_token(
    *,
    token_prefix: str,
    secret_hash: str,
    tube_barcode: str,
    person_code: str,
    reason: str = "",
    name: str = "",
) -> TokenScan | None:
    """PostgreSQL: ``scan_one_statement`` as the owner of an API token, the token checked
    in the same statement (screening.actions.scan_pg.run_with_token); None when the token does
    not authenticate (an unknown or revoked token, a wrong secret, an inactive user):
    then nothing was read for the caller and nothing written."""
    barcode = codes.normalize_barcode(tube_barcode)
    person = codes.parse_person_code(person_code, name)
    reason = clean_reason(reason)
    ran = scan_pg.run_with_token(token_prefix, secret_hash, barcode, person, reason)
    if ran is None:
        return None
    facts, caller = ran
    outcome = _conclude(_Facts(**facts), person, barcode, reason)
    return TokenScan(outcome, caller["token_id"], caller["token_used_at"])


def _conclude(facts: _Facts, person: codes.PersonCode, barcode: str, reason: str) -> ScanOutcome:
    facts.may_sample = bool(facts.may_sample)
    facts.candidates = int(facts.candidates or 0)
    code = decide(facts, reason)
    if code == "write":
        if facts.sample_id is None:
            code = _race_code(facts)
        else:
            code = "tube_full_closed" if facts.new_tube_status == TubeStatus.CLOSED else "added"
    return _finish(code, person, barcode, facts)
