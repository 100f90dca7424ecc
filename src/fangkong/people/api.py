"""People API (mounted at /api/v1/people): persons, search, reveal, tags, returns,
households, merge.

Everything is limited to the caller's regions: a person outside them is a 404. Identity
numbers, phones and addresses are masked in every response; ``POST .../reveal`` returns
them in full to holders of Perm.REVEAL_IDENTITY over the person's region and is logged.
Writes need Perm.EDIT_PEOPLE over the region (403 otherwise).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import BaseModel, ConfigDict

from fangkong.accounts.roles import Perm
from fangkong.core.audit import log_access
from fangkong.core.cleaning import clean_phone
from fangkong.core.pagination import PageNumber
from fangkong.core.scoping import get_scoped_or_404, has_permission
from fangkong.people import actions, listing, queries
from fangkong.people.filters import PersonFilter
from fangkong.people.models import Household, KeyGroup, Person
from fangkong.people.names import clean_name

router = Router(tags=["people"])

MAX_ID = 2**63 - 1
MAX_BULK = 500
SELECT_ALL_MAX = listing.SELECT_ALL_MAX


class TagOut(Schema):
    group: str
    name: str
    since: dt.date | None
    until: dt.date | None
    note: str


class PersonOut(Schema):
    id: int
    name: str
    id_type: str
    id_number: str = Field(description="masked: 410522********1234")
    sex: str
    birth_date: dt.date | None
    phone: str = Field(description="masked: 138****5678")
    address: str = Field(description="masked")
    region_code: str
    region_name: str | None = None
    household_id: int | None
    residence_status: str
    tags: list[TagOut] = []

    @staticmethod
    def resolve_id_number(obj: Person) -> str:
        return queries.masked_identity(obj)["id_number"]

    @staticmethod
    def resolve_phone(obj: Person) -> str:
        return queries.masked_identity(obj)["phone"]

    @staticmethod
    def resolve_address(obj: Person) -> str:
        return queries.masked_identity(obj)["address"]

    @staticmethod
    def resolve_region_name(obj: Person) -> str | None:
        return getattr(obj, "region_name", None)

    @staticmethod
    def resolve_tags(obj: Person) -> list[dict[str, Any]]:
        return [
            {
                "group": t.group.code,
                "name": t.group.name,
                "since": t.since,
                "until": t.until,
                "note": t.note,
            }
            for t in obj.tags.all()
        ]


class ReturnOut(Schema):
    origin: str
    arrival_date: dt.date
    transport: str
    origin_risk: str
    note: str


class PersonDetailOut(PersonOut):
    phone_alt: str = Field(description="masked")
    notes: str
    returns: list[ReturnOut] = []
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_phone_alt(obj: Person) -> str:
        return queries.masked_identity(obj)["phone_alt"]

    @staticmethod
    def resolve_returns(obj: Person) -> list[Any]:
        return list(obj.returns.all())


class IdentityOut(Schema):
    id_number: str
    phone: str
    phone_alt: str
    address: str


class PersonIn(Schema):
    name: str
    id_type: str = "mainland"
    id_number: str = ""
    sex: str = ""
    birth_date: dt.date | None = None
    phone: str = ""
    phone_alt: str = ""
    address: str = ""
    region_code: str
    residence_status: str = "resident"
    notes: str = ""
    confirm_duplicates: bool = Field(
        False,
        description="register although people with the same name and phone or birth "
        "date exist (without a document number)",
    )


class PersonPatch(Schema):
    name: str | None = None
    id_type: str | None = None
    id_number: str | None = None
    sex: str | None = None
    birth_date: dt.date | None = None
    phone: str | None = None
    phone_alt: str | None = None
    address: str | None = None
    region_code: str | None = None
    residence_status: str | None = None
    notes: str | None = None


class TagIn(Schema):
    group: str
    since: dt.date | None = None
    until: dt.date | None = None
    note: str = ""


class PersonFilterIn(BaseModel):
    """The person list's filter (as on GET /persons). A plain pydantic model, strict about
    its shape: a misspelt key or a string must not widen "everyone matching" to everyone."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(None, max_length=64)
    region: str | None = Field(None, max_length=100)
    tag: str | None = Field(None, max_length=32)
    age: str | None = Field(None, max_length=8)
    status: str | None = Field(None, max_length=16)
    returnee: bool | None = None


class BulkTagIn(TagIn):
    person_ids: list[int] | None = Field(
        None, description=f"at most {MAX_BULK} ids; or give ``filter`` instead"
    )
    filter: PersonFilterIn | None = Field(
        None,
        description="tag everyone matching this filter whom the caller may edit "
        f"(at most {SELECT_ALL_MAX})",
    )


class BulkTagOut(Schema):
    tagged: int
    selected: int
    found: int


class ReturnIn(Schema):
    origin: str
    arrival_date: dt.date
    transport: str = ""
    origin_risk: str = ""
    note: str = ""


class MergeIn(Schema):
    into: int = Field(description="the record to keep; this one becomes its merged duplicate")


class HouseholdOut(Schema):
    id: int
    label: str
    address: str = Field(description="masked")
    region_code: str
    head_id: int | None
    members: list[PersonOut] = []

    @staticmethod
    def resolve_address(obj: Household) -> str:
        from fangkong.core.masking import mask

        return str(mask("address", obj.address) or "")


class HouseholdMemberIn(Schema):
    person_id: int
    make_head: bool = False


class KeyGroupOut(Schema):
    id: int
    code: str
    name: str
    priority: int
    active: bool


class KeyGroupIn(Schema):
    code: str
    name: str
    priority: int = 100


class KeyGroupPatch(Schema):
    name: str | None = None
    priority: int | None = None
    active: bool | None = Field(None, description="false retires the group, true reactivates")


def _person(request: HttpRequest, person_id: int, permission: str = Perm.VIEW_PEOPLE) -> Person:
    if not 0 < person_id <= MAX_ID:
        raise Http404
    return get_scoped_or_404(
        queries.list_queryset(request.user), request.user, permission, pk=person_id
    )


def _require_edit(request: HttpRequest, region_code: str) -> None:
    if not has_permission(request.user, Perm.VIEW_PEOPLE, region_code):
        raise Http404
    if not has_permission(request.user, Perm.EDIT_PEOPLE, region_code):
        raise PermissionDenied


def _duplicate_error(request: HttpRequest, exc: actions.DuplicatePerson) -> HttpError:
    visible = queries.visible_persons(request.user).filter(pk=exc.existing.pk).exists()
    if visible:
        message = _("This person is already registered (record %(id)d).") % {"id": exc.existing.pk}
    else:
        message = _("This person is registered in another jurisdiction.")
    return HttpError(409, message)


def _query(**params: Any) -> dict[str, str]:
    return {
        k: str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in params.items()
        if v is not None
    }


@router.get("/persons", response=list[PersonOut])
@paginate(PageNumber)
def list_persons(
    request: HttpRequest,
    q: str | None = None,
    region: str | None = None,
    tag: str | None = None,
    age: str | None = None,
    status: str | None = None,
    returnee: bool | None = None,
) -> Any:
    """People in the caller's scope. ``q`` is the search box (name, pinyin, initials,
    phone, ID or the last digits of either); ``age`` one of 0-6, 7-17, 18-59, 60-79, 80+."""
    filterset = PersonFilter(
        _query(q=q, region=region, tag=tag, age=age, status=status, returnee=returnee),
        queryset=queries.list_queryset(request.user),
        request=request,
    )
    if not filterset.is_valid():
        raise ValidationError({k: list(v) for k, v in filterset.errors.items()})
    return filterset.qs


@router.get("/persons/{person_id}", response=PersonDetailOut)
def get_person(request: HttpRequest, person_id: int) -> Person:
    return _person(request, person_id)


@router.post("/persons/{person_id}/reveal", response=IdentityOut)
def reveal_person(request: HttpRequest, person_id: int) -> dict[str, str]:
    person = _person(request, person_id)
    if not has_permission(request.user, Perm.REVEAL_IDENTITY, person.region_code):
        raise PermissionDenied
    shown = queries.revealed_identity(person)
    log_access(
        request.user,
        "reveal",
        object_type="people.person",
        object_id=str(person.pk),
        region_code=person.region_code,
        fields=[k for k, v in shown.items() if v],
        unmasked=True,
        detail="api",
    )
    return shown


@router.post("/persons", response={201: PersonDetailOut})
def create_person(request: HttpRequest, payload: PersonIn) -> Status[Person]:
    values = payload.dict()
    confirm = values.pop("confirm_duplicates")
    _require_edit(request, payload.region_code.strip()[:15])
    if not payload.id_number.strip() and not confirm:
        try:
            name = clean_name(payload.name)
            phone = clean_phone(payload.phone)
        except ValidationError:
            name, phone = "", ""  # the action reports these errors
        similar = queries.possible_duplicates(
            request.user, name=name, phone=phone, birth_date=payload.birth_date
        )
        if similar:
            listed = "、".join(f"{p.name} (#{p.pk})" for p in similar)
            raise HttpError(
                409,
                _("Possible duplicates: %(list)s. Send confirm_duplicates=true to register anyway.")
                % {"list": listed},
            )
    try:
        person = actions.create_person(actor=request.user, **values)
    except actions.DuplicatePerson as exc:
        raise _duplicate_error(request, exc) from None
    return Status(201, _person(request, person.pk))


@router.patch("/persons/{person_id}", response=PersonDetailOut)
def update_person(request: HttpRequest, person_id: int, payload: PersonPatch) -> Person:
    person = _person(request, person_id)
    _require_edit(request, person.region_code)
    changes = payload.dict(exclude_unset=True)
    if changes.get("region_code") is not None:
        _require_edit(request, str(changes["region_code"]).strip()[:15])
    nulls = [f for f, v in changes.items() if v is None and f != "birth_date"]
    if nulls:
        raise ValidationError({f: [_("This field cannot be empty.")] for f in nulls})
    try:
        actions.update_person(actor=request.user, person=person, **changes)
    except actions.DuplicatePerson as exc:
        raise _duplicate_error(request, exc) from None
    return _person(request, person_id)


@router.post("/persons/{person_id}/tags", response={201: PersonDetailOut})
def tag_person(request: HttpRequest, person_id: int, payload: TagIn) -> Status[Person]:
    person = _person(request, person_id)
    _require_edit(request, person.region_code)
    actions.tag_persons(actor=request.user, persons=[person], **payload.dict())
    return Status(201, _person(request, person_id))


@router.delete("/persons/{person_id}/tags/{group}", response={204: None})
def untag_person(request: HttpRequest, person_id: int, group: str) -> Status[None]:
    person = _person(request, person_id)
    _require_edit(request, person.region_code)
    if not actions.untag(actor=request.user, person=person, group=group[:32]):
        raise Http404
    return Status(204, None)


@router.post("/tags/bulk", response=BulkTagOut)
def bulk_tag(request: HttpRequest, payload: BulkTagIn) -> dict[str, int]:
    """Tag many people at once: ``person_ids`` (ids outside the caller's editable scope
    are skipped), or ``filter`` (everyone matching it in the caller's editable scope)."""
    if not has_permission(request.user, Perm.EDIT_PEOPLE):
        raise PermissionDenied
    values = payload.dict(exclude={"person_ids", "filter"})
    if (payload.person_ids is None) == (payload.filter is None):
        raise ValidationError({"person_ids": [_("Give either person_ids or filter.")]})
    if payload.filter is not None:
        data = _query(**payload.filter.model_dump())
        try:
            persons = listing.select_all_matching(request.user, data, request=request)
        except listing.TooManySelected as exc:
            raise ValidationError({"filter": exc.messages}) from None
        selected = len(persons)
    else:
        ids = list(dict.fromkeys(i for i in payload.person_ids or [] if 0 < i <= MAX_ID))
        if not ids or len(ids) > MAX_BULK:
            raise ValidationError(
                {"person_ids": [_("Give 1 to %(max)d person ids.") % {"max": MAX_BULK}]}
            )
        persons = list(
            queries.visible_persons(request.user, Perm.EDIT_PEOPLE)
            .filter(pk__in=ids)
            .only("id", "region_code", "merged_into_id")
        )
        selected = len(ids)
    made = actions.tag_persons(actor=request.user, persons=persons, **values)
    return {"tagged": made, "selected": selected, "found": len(persons)}


@router.get("/export", response={200: None})
def export_persons(
    request: HttpRequest,
    format: Literal["xlsx", "csv"] = "xlsx",
    encoding: Literal["utf-8-sig", "utf-8", "gb18030"] = "utf-8-sig",
    reveal: bool = False,
    q: str | None = None,
    region: str | None = None,
    tag: str | None = None,
    age: str | None = None,
    status: str | None = None,
    returnee: bool | None = None,
) -> HttpResponseBase:
    """The filtered list (same filters as GET /persons) streamed as xlsx or csv. Needs
    Perm.EXPORT; identity numbers, phones and addresses are masked unless ``reveal=true``
    by a holder of Perm.REVEAL_IDENTITY (then only their reveal regions). Logged in the
    access log; cells starting with = + - @ are neutralized."""
    data = _query(q=q, region=region, tag=tag, age=age, status=status, returnee=returnee)
    return listing.export_persons(
        request.user,
        data,
        fmt=format,
        encoding=encoding,
        reveal=reveal,
        detail="api " + request.GET.urlencode(),
        request=request,
    )


@router.post("/persons/{person_id}/returns", response={201: PersonDetailOut})
def add_return(request: HttpRequest, person_id: int, payload: ReturnIn) -> Status[Person]:
    person = _person(request, person_id)
    _require_edit(request, person.region_code)
    actions.add_returnee(actor=request.user, person=person, **payload.dict())
    return Status(201, _person(request, person_id))


@router.post("/persons/{person_id}/merge", response=PersonDetailOut)
def merge_person(request: HttpRequest, person_id: int, payload: MergeIn) -> Person:
    """Merge this person (the duplicate) into ``into`` (township officers and HQ, over both)."""
    duplicate = _person(request, person_id)
    _require_edit(request, duplicate.region_code)
    keep = _person(request, payload.into)
    _require_edit(request, keep.region_code)
    for person in (duplicate, keep):  # merging is for the township and HQ
        if not has_permission(request.user, Perm.EDIT_PEOPLE, person.region_code[:9]):
            raise PermissionDenied
    kept = actions.merge_persons(actor=request.user, keep=keep, duplicate=duplicate)
    return _person(request, kept.pk)


def _household(request: HttpRequest, household_id: int) -> Household:
    if not 0 < household_id <= MAX_ID:
        raise Http404
    return get_scoped_or_404(
        queries.visible_households(request.user), request.user, Perm.VIEW_PEOPLE, pk=household_id
    )


def _household_out(request: HttpRequest, household: Household) -> Household:
    household.members_list = list(  # type: ignore[attr-defined]
        queries.list_queryset(request.user).filter(household=household)
    )
    return household


class _HouseholdOut(HouseholdOut):
    @staticmethod
    def resolve_members(obj: Household) -> list[Person]:
        return getattr(obj, "members_list", [])


@router.get("/households/{household_id}", response=_HouseholdOut)
def get_household(request: HttpRequest, household_id: int) -> Household:
    return _household_out(request, _household(request, household_id))


@router.post("/persons/{person_id}/household", response={201: _HouseholdOut})
def create_household(request: HttpRequest, person_id: int) -> Status[Household]:
    """Start a household with this person as its head."""
    person = _person(request, person_id)
    _require_edit(request, person.region_code)
    household = actions.create_household(actor=request.user, head=person)
    return Status(201, _household_out(request, _household(request, household.pk)))


@router.post("/households/{household_id}/members", response=_HouseholdOut)
def add_member(request: HttpRequest, household_id: int, payload: HouseholdMemberIn) -> Household:
    household = _household(request, household_id)
    _require_edit(request, household.region_code)
    person = _person(request, payload.person_id)
    _require_edit(request, person.region_code)
    actions.set_household(
        actor=request.user, person=person, household=household, make_head=payload.make_head
    )
    return _household_out(request, _household(request, household_id))


@router.get("/key-groups", response=list[KeyGroupOut])
def key_groups(request: HttpRequest) -> list[KeyGroup]:
    if not has_permission(request.user, Perm.VIEW_PEOPLE):
        raise PermissionDenied
    return list(queries.active_key_groups())


def _require_manage_key_groups(request: HttpRequest) -> None:
    if not has_permission(request.user, Perm.MANAGE_KEY_GROUPS):
        raise PermissionDenied


@router.post("/key-groups", response={201: KeyGroupOut})
def create_key_group(request: HttpRequest, payload: KeyGroupIn) -> Status[KeyGroup]:
    """A new key group (HQ: Perm.MANAGE_KEY_GROUPS)."""
    _require_manage_key_groups(request)
    return Status(201, actions.create_key_group(actor=request.user, **payload.dict()))


@router.patch("/key-groups/{group_id}", response=KeyGroupOut)
def update_key_group(request: HttpRequest, group_id: int, payload: KeyGroupPatch) -> KeyGroup:
    """Rename, reorder, retire or reactivate a key group (the code never changes)."""
    _require_manage_key_groups(request)
    group = KeyGroup.objects.filter(pk=group_id).first() if 0 < group_id <= MAX_ID else None
    if group is None:
        raise Http404
    changes = payload.dict(exclude_unset=True)
    nulls = [f for f, v in changes.items() if v is None]
    if nulls:
        raise ValidationError({f: [_("This field cannot be empty.")] for f in nulls})
    active = changes.pop("active", None)
    if changes:
        group = actions.update_key_group(actor=request.user, group=group, **changes)
    if active is not None:
        group = actions.set_key_group_active(actor=request.user, group=group, active=active)
    return group
