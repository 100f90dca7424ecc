"""People pages: list with filters and search, detail (masked; reveal logged), create and
edit with duplicate detection, household, tags and returns, bulk tagging, merge, export.

Access: a page needs its permission somewhere (else 403); a person outside the user's
regions is a 404. Every write goes through ``people.actions``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.accounts.roles import Perm
from fangkong.core.audit import log_access
from fangkong.core.masking import mask
from fangkong.core.scoping import get_scoped_or_404, has_permission
from fangkong.core.tables import paginate_table
from fangkong.geo.views import require_anywhere
from fangkong.people import actions, listing, queries
from fangkong.people.filters import PersonFilter
from fangkong.people.forms import (
    BulkTagForm,
    HouseholdMemberForm,
    MergeForm,
    PersonForm,
    ReturneeForm,
    TagForm,
    apply_action_errors,
)
from fangkong.people.listing import export_columns  # noqa: F401  (bench/people_export.py)
from fangkong.people.models import Person
from fangkong.people.tables import PersonTable

MAX_PK = 2**63 - 1
PER_PAGE = 50


def _person(request: HttpRequest, pk: int, permission: str = Perm.VIEW_PEOPLE) -> Person:
    if pk > MAX_PK:
        raise Http404
    return get_scoped_or_404(queries.visible_persons(request.user), request.user, permission, pk=pk)


def can_merge(user: Any, person: Person) -> bool:
    """Merging is for the township and HQ: editing rights over the person's township."""
    return has_permission(user, Perm.EDIT_PEOPLE, person.region_code[:9])


def _require_edit(request: HttpRequest, person: Person) -> None:
    if not has_permission(request.user, Perm.EDIT_PEOPLE, person.region_code):
        raise PermissionDenied


# --- list, search, export ---------------------------------------------------------------


def _filter_query(person_filter: PersonFilter) -> str:
    """The list's filter alone (no page or sort), what "select all matching" re-applies."""
    data = person_filter.data or {}
    kept = QueryDict(mutable=True)
    for key in listing.FILTER_KEYS:
        value = data.get(key)
        if value:
            kept[key] = value
    return kept.urlencode()


@require_anywhere(Perm.VIEW_PEOPLE)
def person_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    person_filter = PersonFilter(
        request.GET or None, queryset=queries.list_queryset(user), request=request
    )
    table = paginate_table(request, PersonTable(person_filter.qs), PER_PAGE)
    return render(
        request,
        "people/person_list.html",
        {
            "filter": person_filter,
            "table": table,
            "can_create": has_permission(user, Perm.EDIT_PEOPLE),
            "can_export": has_permission(user, Perm.EXPORT),
            "can_reveal": has_permission(user, Perm.REVEAL_IDENTITY),
            "tag_form": TagForm() if has_permission(user, Perm.EDIT_PEOPLE) else None,
            "can_manage_key_groups": has_permission(user, Perm.MANAGE_KEY_GROUPS),
            "query": request.GET.urlencode(),
            "filter_query": _filter_query(person_filter),
            "matching": table.paginator.count,
            "select_all_max": listing.SELECT_ALL_MAX,
        },
    )


@require_anywhere(Perm.EXPORT)
def person_export(request: HttpRequest) -> HttpResponseBase:
    """The filtered list as xlsx or csv; masked unless ?reveal=1 by a user who may reveal
    (then limited to the regions where they may). Logged. Shared with the API export."""
    try:
        return listing.export_persons(
            request.user,
            request.GET,
            fmt=request.GET.get("format", "xlsx"),
            encoding=request.GET.get("encoding", "utf-8-sig"),
            reveal=request.GET.get("reveal") == "1",
            detail=request.GET.urlencode(),
            request=request,
        )
    except ValidationError:
        messages.error(request, _("The filter is invalid; fix it before exporting."))
        return redirect("people:person_list")


@require_anywhere(Perm.VIEW_PEOPLE)
def person_search(request: HttpRequest) -> HttpResponse:
    """The search box's results (a page, or an htmx fragment): masked identities."""
    text = request.GET.get("q", "")[:64]
    found = list(queries.search_persons(request.user, text)) if text.strip() else []
    results = [(p, queries.masked_identity(p)) for p in found]
    template = "people/_search_results.html" if request.htmx else "people/search.html"  # type: ignore[attr-defined]
    return render(request, template, {"results": results, "query": text})


# --- detail and reveal ------------------------------------------------------------------


@require_anywhere(Perm.VIEW_PEOPLE)
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request, pk)
    user = request.user
    can_edit = has_permission(user, Perm.EDIT_PEOPLE, person.region_code)
    return render(
        request,
        "people/person_detail.html",
        {
            "person": person,
            "age": queries.age_on(person.birth_date),
            "masked": queries.masked_identity(person),
            "tags": list(person.tags.select_related("group")),
            "returns": list(person.returns.all()),
            "household": person.household,
            "can_edit": can_edit,
            "can_reveal": has_permission(user, Perm.REVEAL_IDENTITY, person.region_code),
            "can_merge": can_merge(user, person),
            "tag_form": TagForm() if can_edit else None,
            "returnee_form": ReturneeForm() if can_edit else None,
        },
    )


@require_POST
@require_anywhere(Perm.VIEW_PEOPLE)
def person_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request, pk)
    if not has_permission(request.user, Perm.REVEAL_IDENTITY, person.region_code):
        raise PermissionDenied
    fields = [f for f in ("id_number", "phone", "phone_alt", "address") if getattr(person, f)]
    log_access(
        request.user,
        "reveal",
        object_type="people.person",
        object_id=str(person.pk),
        region_code=person.region_code,
        fields=fields,
        unmasked=True,
    )
    return render(
        request,
        "people/_identity.html",
        {"person": person, "shown": queries.revealed_identity(person), "revealed": True},
    )


# --- create and edit --------------------------------------------------------------------


def _duplicate_context(request: HttpRequest, exc: actions.DuplicatePerson) -> dict[str, Any]:
    existing = exc.existing
    visible = queries.visible_persons(request.user).filter(pk=existing.pk).exists()
    return {"duplicate": existing if visible else None, "duplicate_elsewhere": not visible}


def _save_person(request: HttpRequest, person: Person | None) -> HttpResponse:
    user = request.user
    context: dict[str, Any] = {"person": person, "warnings": []}
    if request.method == "POST":
        form = PersonForm(request.POST, user=user)
        if form.is_valid():
            values = form.action_values()
            warnings: list[Person] = []
            if not values.get("id_number") and not form.cleaned_data["confirm_duplicates"]:
                warnings = queries.possible_duplicates(
                    user,
                    name=values["name"],
                    phone=values.get("phone", ""),
                    birth_date=values.get("birth_date"),
                    exclude=person.pk if person else None,
                )
            if warnings:
                context["warnings"] = warnings
                data = request.POST.copy()
                data["confirm_duplicates"] = "on"
                form = PersonForm(data, user=user)
                form.is_valid()
            else:
                try:
                    if person is None:
                        saved = actions.create_person(actor=user, **values)
                    else:
                        saved = actions.update_person(actor=user, person=person, **values)
                except actions.DuplicatePerson as exc:
                    apply_action_errors(form, exc)
                    context.update(_duplicate_context(request, exc))
                except ValidationError as exc:
                    apply_action_errors(form, exc, PersonForm.FIELD_MAP)
                else:
                    messages.success(request, _("Saved %(name)s.") % {"name": saved.name})
                    return redirect("people:person_detail", pk=saved.pk)
    elif person is not None:
        form = PersonForm(
            initial={
                "name": person.name,
                "id_type": person.id_type,
                "id_number": person.id_number,
                "sex": person.sex,
                "birth_date": person.birth_date,
                "phone": person.phone,
                "phone_alt": person.phone_alt,
                "address": person.address,
                "region": person.region_code,
                "residence_status": person.residence_status,
                "notes": person.notes,
            },
            user=user,
        )
    else:
        form = PersonForm(initial={"region": request.GET.get("region", "")[:15]}, user=user)
    context["form"] = form
    context["can_merge_duplicate"] = bool(
        context.get("duplicate") is not None and person is not None and can_merge(user, person)
    )
    return render(request, "people/person_form.html", context)


@require_anywhere(Perm.EDIT_PEOPLE)
def person_create(request: HttpRequest) -> HttpResponse:
    return _save_person(request, None)


@require_anywhere(Perm.EDIT_PEOPLE)
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request, pk)
    _require_edit(request, person)
    return _save_person(request, person)


# --- tags, returns, household, merge ----------------------------------------------------


@require_POST
@require_anywhere(Perm.EDIT_PEOPLE)
def person_tag(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request, pk)
    _require_edit(request, person)
    form = TagForm(request.POST)
    if form.is_valid():
        try:
            actions.tag_persons(actor=request.user, persons=[person], **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Tag added."))
    else:
        messages.error(request, _form_errors(form))
    return redirect("people:person_detail", pk=person.pk)


@require_POST
@require_anywhere(Perm.EDIT_PEOPLE)
def person_untag(request: HttpRequest, pk: int, code: str) -> HttpResponse:
    person = _person(request, pk)
    _require_edit(request, person)
    actions.untag(actor=request.user, person=person, group=code[:32])
    messages.success(request, _("Tag removed."))
    return redirect("people:person_detail", pk=person.pk)


def _form_errors(form: Any) -> str:
    return " ".join(
        f"{form.fields[k].label if k in form.fields else ''}: {e}"
        for k, errs in form.errors.items()
        for e in errs
    )


def _list_url(filter_query: str = "") -> str:
    # Re-encoded from the parsed values: nothing the client sent goes into the header as is.
    try:
        query = listing.parse_filter_query(filter_query).urlencode()
    except ValidationError:
        query = ""
    return reverse("people:person_list") + (f"?{query}" if query else "")


@require_POST
@require_anywhere(Perm.EDIT_PEOPLE)
def bulk_tag(request: HttpRequest) -> HttpResponse:
    """Tag the ticked people of the list, or with "select all" everyone matching the list's
    filter (up to listing.SELECT_ALL_MAX). Only people the user may edit are touched."""
    form = BulkTagForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("people:person_list")
    data = dict(form.cleaned_data)
    ids = data.pop("persons")
    select_all = data.pop("select_all")
    filter_query = data.pop("filter")
    try:
        if select_all:
            persons = listing.select_all_matching(
                request.user, listing.parse_filter_query(filter_query), request=request
            )
            selected = len(persons)
        else:
            persons = list(
                queries.visible_persons(request.user, Perm.EDIT_PEOPLE)
                .filter(pk__in=ids)
                .only("id", "region_code", "merged_into_id")
            )
            selected = len(ids)
        made = actions.tag_persons(actor=request.user, persons=persons, **data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        template = (
            _("Tagged %(made)d of %(count)d matching people.")
            if select_all
            else _("Tagged %(made)d of %(count)d selected people.")
        )
        messages.success(request, template % {"made": made, "count": selected})
    return redirect(_list_url(filter_query))


@require_POST
@require_anywhere(Perm.EDIT_PEOPLE)
def person_add_return(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request, pk)
    _require_edit(request, person)
    form = ReturneeForm(request.POST)
    if form.is_valid():
        try:
            actions.add_returnee(actor=request.user, person=person, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Return registered."))
    else:
        messages.error(request, _form_errors(form))
    return redirect("people:person_detail", pk=person.pk)


@require_POST
@require_anywhere(Perm.EDIT_PEOPLE)
def household_create(request: HttpRequest, pk: int) -> HttpResponse:
    person = _person(request, pk)
    _require_edit(request, person)
    try:
        household = actions.create_household(actor=request.user, head=person)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("people:person_detail", pk=person.pk)
    return redirect("people:household_detail", pk=household.pk)


@require_anywhere(Perm.VIEW_PEOPLE)
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if pk > MAX_PK:
        raise Http404
    user = request.user
    household = get_scoped_or_404(queries.visible_households(user), user, Perm.VIEW_PEOPLE, pk=pk)
    can_edit = has_permission(user, Perm.EDIT_PEOPLE, household.region_code)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        form = HouseholdMemberForm(request.POST)
        if form.is_valid():
            member = _person(request, form.cleaned_data["person"], Perm.EDIT_PEOPLE)
            try:
                actions.set_household(
                    actor=user,
                    person=member,
                    household=household,
                    make_head=form.cleaned_data["make_head"],
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, _("Saved %(name)s.") % {"name": member.name})
        else:
            messages.error(request, _form_errors(form))
        return redirect("people:household_detail", pk=household.pk)
    members = list(
        queries.visible_persons(user).filter(household=household).order_by("birth_date", "id")
    )
    candidates = (
        list(
            queries.visible_persons(user, Perm.EDIT_PEOPLE)
            .filter(region_code=household.region_code, household__isnull=True)
            .order_by("name_pinyin")[:200]
        )
        if can_edit
        else []
    )
    return render(
        request,
        "people/household_detail.html",
        {
            "household": household,
            "members": [
                (m, queries.masked_identity(m), queries.age_on(m.birth_date)) for m in members
            ],
            "address": mask("address", household.address),
            "can_edit": can_edit,
            "candidates": candidates,
        },
    )


@require_anywhere(Perm.EDIT_PEOPLE)
def person_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge this record (the duplicate) into another one the user may edit."""
    duplicate = _person(request, pk, Perm.EDIT_PEOPLE)
    if not can_merge(request.user, duplicate):
        raise PermissionDenied
    keep: Person | None = None
    form = MergeForm(request.POST or request.GET or None)
    if form.is_bound and form.is_valid():
        keep = _person(request, form.cleaned_data["into"], Perm.EDIT_PEOPLE)
        if not can_merge(request.user, keep):
            raise PermissionDenied
        if request.method == "POST":
            try:
                kept = actions.merge_persons(actor=request.user, keep=keep, duplicate=duplicate)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(request, _("Merged into %(name)s.") % {"name": kept.name})
                return redirect("people:person_detail", pk=kept.pk)
    return render(
        request,
        "people/person_merge.html",
        {
            "duplicate": duplicate,
            "duplicate_masked": queries.masked_identity(duplicate),
            "keep": keep,
            "keep_masked": queries.masked_identity(keep) if keep else None,
            "form": form,
        },
    )
