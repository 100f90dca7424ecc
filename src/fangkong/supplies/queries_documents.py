"""Reads on stock documents: which documents a user sees, and what a detail page needs.

A document belongs to the region of its own side (``region_code``) and, for transfers
and issues to a site, is also seen by the other side (``counterpart_region_code``): a
village sees what the township sent it. Both sides go through ``core.scoping.restrict``;
the two scoped querysets are OR-ed (each part is an indexed range).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import restrict
from fangkong.supplies.models import DocumentLine, Location, Movement, Pack, StockDocument
from fangkong.supplies.quantities import PackSize, format_quantity


def visible_documents(user: Any, permission: str = Perm.VIEW_STOCK) -> QuerySet[StockDocument]:
    """Documents whose own region or counterpart region lies in the user's scope."""
    base = StockDocument.objects.all()
    own = restrict(base, user, permission)
    other = restrict(base, user, permission, field="counterpart_region_code")
    return own | other


def list_queryset(user: Any) -> QuerySet[StockDocument]:
    """What the list page and the API list start from: one query for the rows."""
    return (
        visible_documents(user)
        .select_related("source", "destination")
        .order_by("-effective_at", "-id")
    )


def document_or_404(user: Any, pk: int, permission: str = Perm.VIEW_STOCK) -> StockDocument:
    """One visible document with its locations, people and reversal links."""
    queryset = visible_documents(user, permission).select_related(
        "source", "destination", "recipient_site", "created_by", "posted_by", "reversal_of"
    )
    try:
        return queryset.get(pk=pk)
    except (StockDocument.DoesNotExist, ValueError, TypeError, OverflowError) as exc:
        raise Http404 from exc


def reversal_of(document: StockDocument) -> StockDocument | None:
    """The reversal that undid ``document``, if any."""
    return StockDocument.objects.filter(reversal_of=document).first()


def lines_with_packs(document: StockDocument) -> list[DocumentLine]:
    """Lines with ``display`` set to "1500 套 (30 箱)" (two queries whatever the count)."""
    lines = list(
        document.lines.select_related("item", "lot", "pack").prefetch_related(
            Prefetch("item__packs", queryset=Pack.objects.order_by("-size"))
        )
    )
    for line in lines:
        packs = [PackSize(p.name, p.size) for p in line.item.packs.all()]
        line.display = format_quantity(line.quantity, line.item.base_unit, packs)  # type: ignore[attr-defined]
    return lines


def movements_of(document: StockDocument) -> QuerySet[Movement]:
    return document.movements.select_related("location", "item", "lot").order_by("id")


def location_label(location: Location | None) -> str:
    return location.name if location is not None else ""


def resolve_recipient(
    user: Any,
    kind: str,
    *,
    site: Any = None,
    person_id: int | None = None,
    name: str = "",
) -> dict[str, Any]:
    """The recipient fields of an issue, read within the user's scope.

    A person or household is found through ``people.queries`` (out of scope: not found);
    a household is the household of the person picked. The name is kept as shown on the
    handover sheet.
    """
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    from fangkong.people.queries import visible_persons
    from fangkong.supplies.models import RecipientKind

    kind = kind or RecipientKind.OTHER
    fields: dict[str, Any] = {"recipient_kind": kind, "recipient_name": name or ""}
    if kind == RecipientKind.SITE:
        if site is None:
            raise ValidationError({"recipient_site": _("Choose the site that receives the goods.")})
        fields.update(recipient_site=site, recipient_name=site.name)
    elif kind in (RecipientKind.PERSON, RecipientKind.HOUSEHOLD):
        person = None
        if person_id and 0 < person_id <= 2**63 - 1:
            person = visible_persons(user).select_related("household").filter(pk=person_id).first()
        if person is None:
            raise ValidationError({"recipient_person": _("Pick the person from the list.")})
        if kind == RecipientKind.PERSON:
            fields.update(recipient_person=person, recipient_name=person.name)
        elif person.household is None:
            raise ValidationError(
                {"recipient_person": _("%(name)s has no household.") % {"name": person.name}}
            )
        else:
            label = person.household.label or _("household of %(name)s") % {"name": person.name}
            fields.update(recipient_household=person.household, recipient_name=label)
    elif not (name or "").strip():
        raise ValidationError({"recipient_name": _("Name who received the goods.")})
    return fields
