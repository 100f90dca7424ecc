"""Every write on the people ledger (DESIGN rule 2): atomic, permission-checked, audited.

``actor=None`` is the system (demo, CLI, jobs). Each action checks Perm.EDIT_PEOPLE over
the person's region. A mainland ID is unique install-wide: registering one that exists
raises ``DuplicatePerson`` (it carries the existing record; the caller decides what the
user may learn about it).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from fangkong.accounts.roles import Perm
from fangkong.core import audit
from fangkong.core.cleaning import clean_phone, clean_region_code_format, clean_text, error
from fangkong.core.scoping import require_permission
from fangkong.people.identity import (
    IdError,
    IdType,
    Sex,
    clean_other_document,
    parse_legacy15,
    parse_mainland,
    reversed_key,
)
from fangkong.people.models import (
    Household,
    KeyGroup,
    OriginRisk,
    Person,
    PersonTag,
    ResidenceStatus,
    ReturneeRecord,
)
from fangkong.people.names import clean_name, name_keys

NAME_MAX = 64
ADDRESS_MAX = 200
NOTES_MAX = 2000
NOTE_MAX = 200
ORIGIN_MAX = 100
TRANSPORT_MAX = 100
HOUSEHOLD_LABEL_MAX = 100
TAG_BATCH = 1000
_DIGITS = re.compile(r"\D")

PERSON_FIELDS = (
    "name",
    "id_type",
    "id_number",
    "sex",
    "birth_date",
    "phone",
    "phone_alt",
    "address",
    "region_code",
    "residence_status",
    "notes",
)


class DuplicatePerson(ValidationError):
    """The identity document is already registered (to ``existing``)."""

    def __init__(self, existing: Person) -> None:
        self.existing = existing
        super().__init__(
            {"id_number": [ValidationError(_("This person is already registered."), "duplicate")]}
        )


def _require_edit(actor: Any, region_code: str) -> None:
    require_permission(actor, Perm.EDIT_PEOPLE, region_code)


def _check_region(actor: Any, value: Any) -> str:
    code = clean_region_code_format(value, "region_code")
    from fangkong.geo.models import Region

    if len(code) < 12:
        raise error("region_code", _("A person belongs to a village or a village group."))
    if not Region.objects.filter(code=code).exists():
        raise error("region_code", _("No region with code %(code)s.") % {"code": code})
    _require_edit(actor, code)
    return code


def clean_identity(
    id_type: Any, number: Any, sex: Any = "", birth_date: dt.date | None = None
) -> tuple[str, str, str, dt.date | None]:
    """(type, normalized number, sex, birth date); a mainland or legacy ID decides the sex
    and birth date, and a given sex or birth date that contradicts it is a field error."""
    kind = str(id_type or IdType.MAINLAND)
    if kind not in IdType.values:
        raise error("id_type", _("Choose a document type from the list."))
    sex = str(sex or "")
    if sex not in Sex.values:
        raise error("sex", _("Choose a sex from the list."))
    if kind == IdType.NONE:
        if str(number or "").strip():
            raise error("id_number", _("Choose a document type for this number."))
        return kind, "", sex, birth_date
    if not str(number or "").strip():
        raise error("id_number", _("Enter the document number, or choose “None”."), "required")
    try:
        if kind in (IdType.MAINLAND, IdType.LEGACY15):
            parsed = (parse_mainland if kind == IdType.MAINLAND else parse_legacy15)(number)
        else:
            return kind, clean_other_document(number), sex, birth_date
    except IdError as exc:
        raise error("id_number", str(exc)) from None
    errors: dict[str, list[str]] = {}
    if sex and sex != parsed.sex:
        errors["sex"] = [_("The ID says %(sex)s.") % {"sex": Sex(parsed.sex).label}]
    if birth_date and birth_date != parsed.birth_date:
        errors["birth_date"] = [
            _("The ID says %(date)s.") % {"date": parsed.birth_date.isoformat()}
        ]
    if errors:
        raise ValidationError(errors)
    return kind, parsed.number, parsed.sex, parsed.birth_date


def fill_search_keys(person: Person) -> None:
    """The indexed search columns (see people.search) from the visible ones."""
    person.name_key, person.name_pinyin, person.name_initials = name_keys(person.name)
    person.id_reversed = reversed_key(person.id_number)
    person.phone_reversed = reversed_key(_DIGITS.sub("", person.phone))


def _clean_values(actor: Any, values: dict[str, Any], current: Person | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    errors: dict[str, list[Any]] = {}

    def run(field: str, fn: Any) -> None:
        try:
            data[field] = fn()
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key if key != "__all__" else field, []).extend(messages)

    def get(field: str, default: Any = "") -> Any:
        if field in values:
            return values[field]
        return getattr(current, field) if current is not None else default

    run(
        "name",
        lambda: clean_text(
            clean_name(get("name")), max_length=NAME_MAX, field="name", required=True
        ),
    )
    run("phone", lambda: clean_phone(get("phone"), "phone"))
    run("phone_alt", lambda: clean_phone(get("phone_alt"), "phone_alt"))
    run("address", lambda: clean_text(get("address"), max_length=ADDRESS_MAX, field="address"))
    run(
        "notes",
        lambda: clean_text(get("notes"), max_length=NOTES_MAX, field="notes", multiline=True),
    )
    status = str(get("residence_status", ResidenceStatus.RESIDENT) or ResidenceStatus.RESIDENT)
    if status not in ResidenceStatus.values:
        errors["residence_status"] = [_("Choose a residence status from the list.")]
    data["residence_status"] = status
    birth = get("birth_date", None)
    if birth is not None and not isinstance(birth, dt.date):
        errors["birth_date"] = [_("Enter a valid date.")]
        birth = None
    if birth is not None and not (dt.date(1880, 1, 1) <= birth <= dt.date.today()):
        errors["birth_date"] = [_("Enter a birth date between 1880 and today.")]
        birth = None
    try:
        kind, number, sex, birth = clean_identity(
            get("id_type", IdType.MAINLAND), get("id_number"), get("sex"), birth
        )
        data.update(id_type=kind, id_number=number, sex=sex, birth_date=birth)
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
    if "region_code" in values or current is None:
        run("region_code", lambda: _check_region(actor, get("region_code")))
    else:
        data["region_code"] = current.region_code
    if errors:
        raise ValidationError(errors)
    return data


def find_same_document(id_type: str, number: str, exclude: int | None = None) -> Person | None:
    """The live record holding this document, install-wide (not scoped: callers decide
    what to show about it)."""
    if not number:
        return None
    qs = Person.objects.filter(id_type=id_type, id_number=number, merged_into__isnull=True)
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs.first()


@transaction.atomic
def create_person(*, actor: Any, **values: Any) -> Person:
    unknown = set(values) - set(PERSON_FIELDS) - {"household"}
    if unknown:
        raise ValidationError({k: [_("Unknown field.")] for k in sorted(unknown)})
    household = values.pop("household", None)
    data = _clean_values(actor, values, None)
    existing = find_same_document(data["id_type"], data["id_number"])
    if existing is not None:
        raise DuplicatePerson(existing)
    person = Person(**data)
    if household is not None:
        if household.region_code != person.region_code:
            raise error("household", _("The household is in another village."))
        person.household = household
    fill_search_keys(person)
    try:
        with transaction.atomic():
            person.save()
    except IntegrityError:  # a concurrent registration of the same document
        found = find_same_document(data["id_type"], data["id_number"])
        if found is None:
            raise
        raise DuplicatePerson(found) from None
    audit.record(actor, "people.create_person", person, after=audit.snapshot(person))
    return person


@transaction.atomic
def update_person(*, actor: Any, person: Person, **values: Any) -> Person:
    unknown = set(values) - set(PERSON_FIELDS)
    if unknown:
        raise ValidationError({k: [_("Unknown field.")] for k in sorted(unknown)})
    person = Person.objects.select_for_update().get(pk=person.pk)
    _require_edit(actor, person.region_code)
    if person.merged_into_id is not None:
        raise ValidationError(_("This record was merged into another; edit that one."))
    before = audit.snapshot(person)
    data = _clean_values(actor, values, person)
    existing = find_same_document(data["id_type"], data["id_number"], exclude=person.pk)
    if existing is not None:
        raise DuplicatePerson(existing)
    for field, value in data.items():
        setattr(person, field, value)
    if person.household_id is not None and "region_code" in values:
        household = Household.objects.get(pk=person.household_id)
        if household.region_code != person.region_code:
            person.household = None
    fill_search_keys(person)
    after = audit.snapshot(person)
    if audit.changed(before, after):
        person.save()
        after = audit.snapshot(person)
        audit.record(actor, "people.update_person", person, before=before, after=after)
    return person


@transaction.atomic
def merge_persons(*, actor: Any, keep: Person, duplicate: Person) -> Person:
    """Fold ``duplicate`` into ``keep``: tags, returns and household move; the duplicate
    stays as evidence, pointing at ``keep``. Fields empty on ``keep`` take the duplicate's."""
    if keep.pk == duplicate.pk:
        raise ValidationError(_("A record cannot be merged into itself."))
    keep = Person.objects.select_for_update().get(pk=keep.pk)
    duplicate = Person.objects.select_for_update().get(pk=duplicate.pk)
    _require_edit(actor, keep.region_code)
    _require_edit(actor, duplicate.region_code)
    if keep.merged_into_id is not None or duplicate.merged_into_id is not None:
        raise ValidationError(_("One of these records was already merged."))
    keep_before, dup_before = audit.snapshot(keep), audit.snapshot(duplicate)
    for field in ("sex", "birth_date", "phone", "phone_alt", "address", "notes"):
        if not getattr(keep, field) and getattr(duplicate, field):
            setattr(keep, field, getattr(duplicate, field))
    if not keep.id_number and duplicate.id_number:
        keep.id_type, keep.id_number = duplicate.id_type, duplicate.id_number
    if keep.household_id is None and duplicate.household_id is not None:
        keep.household_id = duplicate.household_id
    Household.objects.filter(head=duplicate).update(head=keep)
    held = set(PersonTag.objects.filter(person=keep).values_list("group_id", flat=True))
    PersonTag.objects.filter(person=duplicate).exclude(group_id__in=held).update(
        person=keep, region_code=keep.region_code
    )
    PersonTag.objects.filter(person=duplicate).delete()
    returns = set(ReturneeRecord.objects.filter(person=keep).values_list("arrival_date", "origin"))
    for record in ReturneeRecord.objects.filter(person=duplicate):
        if (record.arrival_date, record.origin) in returns:
            record.delete()
        else:
            record.person, record.region_code = keep, keep.region_code
            record.save(update_fields=["person", "region_code"])
    duplicate.merged_into = keep
    duplicate.household = None
    duplicate.save()
    fill_search_keys(keep)
    keep.save()
    audit.record(actor, "people.merge_keep", keep, before=keep_before, after=audit.snapshot(keep))
    audit.record(
        actor,
        "people.merge_duplicate",
        duplicate,
        before=dup_before,
        after=audit.snapshot(duplicate),
    )
    return keep


def _group(group: KeyGroup | str) -> KeyGroup:
    if isinstance(group, KeyGroup):
        if not group.active:  # a retired group keeps its tags but gets no new ones
            raise error("group", _("The key group %(name)s is retired.") % {"name": group.name})
        return group
    found = KeyGroup.objects.filter(code=str(group), active=True).first()
    if found is None:
        raise error("group", _("No key group %(code)s.") % {"code": str(group)[:32]})
    return found


def _check_dates(since: dt.date | None, until: dt.date | None) -> None:
    if since and until and until < since:
        raise error("until", _("The end is before the start."))


@transaction.atomic
def tag_persons(
    *,
    actor: Any,
    persons: Iterable[Person],
    group: KeyGroup | str,
    since: dt.date | None = None,
    until: dt.date | None = None,
    note: str = "",
) -> int:
    """Give each person the tag (bulk); persons already tagged keep theirs. Returns how
    many got it now.

    A fixed number of queries per TAG_BATCH people (which tags exist, insert the new
    ones, insert their audit entries), so "select all matching" over a township stays fast.
    """
    key_group = _group(group)
    _check_dates(since, until)
    note = clean_text(note, max_length=NOTE_MAX, field="note")
    people: dict[int, Person] = {}
    for person in persons:
        _require_edit(actor, person.region_code)
        if person.merged_into_id is None:
            people.setdefault(person.pk, person)  # a person listed twice is tagged once
    chosen = list(people.values())
    made = 0
    for start in range(0, len(chosen), TAG_BATCH):
        batch = chosen[start : start + TAG_BATCH]
        held = set(
            PersonTag.objects.filter(
                person_id__in=[p.pk for p in batch], group=key_group
            ).values_list("person_id", flat=True)
        )
        tags = PersonTag.objects.bulk_create(
            [
                PersonTag(
                    person=person,
                    group=key_group,
                    region_code=person.region_code,
                    since=since,
                    until=until,
                    note=note,
                )
                for person in batch
                if person.pk not in held
            ]
        )
        audit.record_many(actor, "people.tag", tags)
        made += len(tags)
    return made


@transaction.atomic
def untag(*, actor: Any, person: Person, group: KeyGroup | str) -> bool:
    _require_edit(actor, person.region_code)
    key_group = (
        group if isinstance(group, KeyGroup) else KeyGroup.objects.filter(code=group).first()
    )
    tag = PersonTag.objects.filter(person=person, group=key_group).first()
    if tag is None:
        return False
    before = audit.snapshot(tag)
    audit.record(actor, "people.untag", tag, before=before)
    tag.delete()
    return True


@transaction.atomic
def add_returnee(
    *,
    actor: Any,
    person: Person,
    origin: str,
    arrival_date: dt.date,
    transport: str = "",
    origin_risk: str = "",
    note: str = "",
) -> ReturneeRecord:
    _require_edit(actor, person.region_code)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for field, raw, limit, required in (
        ("origin", origin, ORIGIN_MAX, True),
        ("transport", transport, TRANSPORT_MAX, False),
        ("note", note, NOTE_MAX, False),
    ):
        try:
            values[field] = clean_text(raw, max_length=limit, field=field, required=required)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if not isinstance(arrival_date, dt.date) or not (
        dt.date(2000, 1, 1) <= arrival_date <= dt.date.today() + dt.timedelta(days=30)
    ):
        errors["arrival_date"] = [_("Enter an arrival date between 2000 and a month from now.")]
    if (origin_risk or "") not in OriginRisk.values:
        errors["origin_risk"] = [_("Choose a risk level from the list.")]
    if errors:
        raise ValidationError(errors)
    if ReturneeRecord.objects.filter(
        person=person, arrival_date=arrival_date, origin=values["origin"]
    ).exists():
        raise error("arrival_date", _("This return is already registered."), "duplicate")
    record = ReturneeRecord.objects.create(
        person=person,
        region_code=person.region_code,
        arrival_date=arrival_date,
        origin_risk=origin_risk or "",
        **values,
    )
    audit.record(actor, "people.add_returnee", record, after=audit.snapshot(record))
    return record


@transaction.atomic
def create_household(*, actor: Any, head: Person, label: str = "", address: str = "") -> Household:
    """A household in the head's village, with the head as its first member."""
    _require_edit(actor, head.region_code)
    if head.household_id is not None:
        raise error("head", _("This person already belongs to a household."))
    household = Household.objects.create(
        region_code=head.region_code,
        label=clean_text(label, max_length=HOUSEHOLD_LABEL_MAX, field="label")
        or _("Household of %(name)s") % {"name": head.name},
        address=clean_text(address or head.address, max_length=ADDRESS_MAX, field="address"),
        head=head,
    )
    head.household = household
    head.save(update_fields=["household", "updated_at"])
    audit.record(actor, "people.create_household", household, after=audit.snapshot(household))
    return household


@transaction.atomic
def set_household(
    *, actor: Any, person: Person, household: Household | None, make_head: bool = False
) -> Person:
    """Move a person into a household of their village (or out of any with None)."""
    _require_edit(actor, person.region_code)
    before = audit.snapshot(person)
    if household is not None:
        _require_edit(actor, household.region_code)
        if household.region_code != person.region_code:
            raise error("household", _("The household is in another village."))
    old = person.household_id
    person.household = household
    person.save(update_fields=["household", "updated_at"])
    if old is not None and old != getattr(household, "pk", None):
        Household.objects.filter(pk=old, head=person).update(head=None)
    if household is not None and (make_head or household.head_id is None):
        hh_before = audit.snapshot(household)
        household.head = person
        household.save(update_fields=["head", "updated_at"])
        audit.record(
            actor, "people.set_head", household, before=hh_before, after=audit.snapshot(household)
        )
    audit.record(actor, "people.set_household", person, before=before, after=audit.snapshot(person))
    return person


# --- key groups (install-wide; HQ configures them) --------------------------------------

KEY_GROUP_CODE_MAX = 32
KEY_GROUP_NAME_MAX = 64
KEY_GROUP_PRIORITY_MAX = 32767  # PositiveSmallIntegerField
_KEY_GROUP_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,31}$")
KEY_GROUP_CHANGES = ("name", "priority")


def _require_key_groups(actor: Any) -> None:
    require_permission(actor, Perm.MANAGE_KEY_GROUPS)


def clean_key_group_code(value: Any) -> str:
    """A lowercase ASCII slug (full-width letters fold to ASCII, case is ignored)."""
    code = clean_text(value, max_length=KEY_GROUP_CODE_MAX, field="code", required=True).lower()
    if not _KEY_GROUP_CODE.match(code):
        raise error(
            "code",
            _(
                "Use 2 to 32 lowercase letters, digits, “_” or “-”, starting with a letter "
                "or digit, such as close_contact."
            ),
        )
    return code


def _clean_key_group_name(value: Any, exclude: int | None = None) -> str:
    name = clean_text(value, max_length=KEY_GROUP_NAME_MAX, field="name", required=True)
    same = KeyGroup.objects.filter(name__iexact=name)
    if exclude is not None:
        same = same.exclude(pk=exclude)
    if same.exists():
        raise error("name", _("A key group with this name already exists."), "duplicate")
    return name


def _clean_priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(clean_text(value, max_length=6, field="priority", required=True))
        except ValueError:
            raise error("priority", _("Enter a whole number.")) from None
    if not 0 <= value <= KEY_GROUP_PRIORITY_MAX:
        raise error(
            "priority",
            _("Enter a number from 0 to %(max)d.") % {"max": KEY_GROUP_PRIORITY_MAX},
        )
    return int(value)


def _collect(errors: dict[str, list[Any]], fn: Any) -> Any:
    try:
        return fn()
    except ValidationError as exc:
        for key, messages in exc.message_dict.items():
            errors.setdefault(key, []).extend(messages)
        return None


@transaction.atomic
def create_key_group(*, actor: Any, code: Any, name: Any, priority: Any = 100) -> KeyGroup:
    """A new key group (active). Code and name are unique install-wide."""
    _require_key_groups(actor)
    errors: dict[str, list[Any]] = {}
    clean_code = _collect(errors, lambda: clean_key_group_code(code))
    clean_name_ = _collect(errors, lambda: _clean_key_group_name(name))
    clean_priority = _collect(errors, lambda: _clean_priority(priority))
    if clean_code and KeyGroup.objects.filter(code=clean_code).exists():
        errors.setdefault("code", []).append(_("A key group with this code already exists."))
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            group = KeyGroup.objects.create(
                code=clean_code, name=clean_name_, priority=clean_priority
            )
    except IntegrityError:  # a concurrent creation of the same code
        raise error("code", _("A key group with this code already exists."), "duplicate") from None
    audit.record(actor, "people.create_key_group", group, after=audit.snapshot(group))
    return group


@transaction.atomic
def update_key_group(*, actor: Any, group: KeyGroup, **changes: Any) -> KeyGroup:
    """Rename or reorder a key group. The code stays: imports and the API name groups by it."""
    _require_key_groups(actor)
    unknown = set(changes) - set(KEY_GROUP_CHANGES)
    if unknown:
        raise ValidationError({k: [_("Unknown field.")] for k in sorted(unknown)})
    group = KeyGroup.objects.select_for_update().get(pk=group.pk)
    before = audit.snapshot(group)
    errors: dict[str, list[Any]] = {}
    if "name" in changes:
        group.name = _collect(errors, lambda: _clean_key_group_name(changes["name"], group.pk))
    if "priority" in changes:
        group.priority = _collect(errors, lambda: _clean_priority(changes["priority"]))
    if errors:
        raise ValidationError(errors)
    after = audit.snapshot(group)
    if audit.changed(before, after):
        group.save(update_fields=[f for f in KEY_GROUP_CHANGES if f in changes])
        audit.record(actor, "people.update_key_group", group, before=before, after=after)
    return group


@transaction.atomic
def set_key_group_active(*, actor: Any, group: KeyGroup, active: bool) -> KeyGroup:
    """Retire (active=False) or reactivate a key group. Never deleted: tags refer to it;
    a retired group keeps its tags but is no longer offered for new ones."""
    _require_key_groups(actor)
    group = KeyGroup.objects.select_for_update().get(pk=group.pk)
    if group.active == bool(active):
        return group
    before = audit.snapshot(group)
    group.active = bool(active)
    group.save(update_fields=["active"])
    audit.record(
        actor, "people.set_key_group_active", group, before=before, after=audit.snapshot(group)
    )
    return group


def import_people(path: Path, *, actor: Any, **options: Any) -> dict[str, Any]:
    """Import a ledger file (导入台账): the one door for bulk writes of people.

    The batch writer lives in ``people.importers`` (executemany/COPY, audited per updated
    person plus one ``people.import`` summary); callers come through here like every other
    write. ``options`` are those of ``importers.import_people_file``.
    """
    from fangkong.people.importers import import_people_file

    return import_people_file(path, actor=actor, **options)
