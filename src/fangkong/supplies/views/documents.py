"""Pages: stock documents (单据). List, create-and-post per kind, detail, print, reverse.

Access: the list and detail need Perm.VIEW_STOCK somewhere (403 otherwise); a document
outside the user's regions (own side and counterpart side) is a 404. Posting needs
Perm.POST_STOCK over the location the document belongs to; ``post_stock_document``
checks it again. Ledger refusals (not enough stock, a recalled lot, a date outside the
back-dating window) come back as form errors, never as a server error.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from fangkong.accounts.roles import Perm
from fangkong.core.scoping import has_permission
from fangkong.core.tables import paginate_table
from fangkong.geo.views import require_anywhere
from fangkong.supplies import queries_documents as queries
from fangkong.supplies.actions.catalogue import stock_location
from fangkong.supplies.actions.documents import (
    LineInput,
    line_from_entry,
    post_stock_document,
    reverse_document,
)
from fangkong.supplies.filters import DocumentFilter
from fangkong.supplies.forms.documents import (
    FORM_KINDS,
    DocumentForm,
    LineFormSet,
    ReverseForm,
    form_field_for,
    scoped_key,
)
from fangkong.supplies.models import DocumentKind, DocumentStatus, StockDocument
from fangkong.supplies.tables import DocumentTable

MAX_PK = 2**63 - 1
PER_PAGE = 50
RECIPIENT_SEARCH_LIMIT = 20


def _title(kind: str) -> str:
    return {
        DocumentKind.RECEIPT: _("New receipt"),
        DocumentKind.ISSUE: _("New issue"),
        DocumentKind.TRANSFER: _("New transfer"),
        DocumentKind.ADJUSTMENT: _("New adjustment"),
    }[DocumentKind(kind)]


def _document(request: HttpRequest, pk: int) -> StockDocument:
    if pk > MAX_PK:
        raise Http404
    return queries.document_or_404(request.user, pk)


# --- list -------------------------------------------------------------------------------


@require_anywhere(Perm.VIEW_STOCK)
def document_list(request: HttpRequest) -> HttpResponse:
    document_filter = DocumentFilter(
        request.GET or None, queryset=queries.list_queryset(request.user), request=request
    )
    valid = not document_filter.is_bound or document_filter.is_valid()
    rows = document_filter.qs if valid else StockDocument.objects.none()
    table = paginate_table(request, DocumentTable(rows), PER_PAGE)
    return render(
        request,
        "supplies/documents/document_list.html",
        {
            "tab": "documents",
            "filter": document_filter,
            "table": table,
            "can_post": has_permission(request.user, Perm.POST_STOCK),
            "kinds": [(k.value, _title(k)) for k in FORM_KINDS],
        },
    )


# --- create and post ----------------------------------------------------------------------


def _header_values(request: HttpRequest, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    user = request.user
    values: dict[str, Any] = {
        "effective_at": data["effective_at"],
        "note": data.get("note", ""),
    }
    if data.get("source_site") is not None:
        values["source"] = stock_location(actor=user, site=data["source_site"])
    if data.get("destination_site") is not None:
        permission = Perm.VIEW_STOCK if kind == DocumentKind.TRANSFER else Perm.POST_STOCK
        values["destination"] = stock_location(
            actor=user, site=data["destination_site"], permission=permission
        )
    if kind == DocumentKind.RECEIPT:
        values.update(receipt_source=data["receipt_source"], supplier=data.get("supplier", ""))
    elif kind == DocumentKind.ISSUE:
        values.update(
            queries.resolve_recipient(
                user,
                data.get("recipient_kind", ""),
                site=data.get("recipient_site"),
                person_id=data.get("recipient_person"),
                name=data.get("recipient_name", ""),
            )
        )
    elif kind == DocumentKind.ADJUSTMENT:
        values["reason"] = data["reason"]
    return values


def _lines(kind: str, formset: Any, reason: str) -> tuple[list[LineInput], list[int]]:
    """LineInputs of the filled lines, and each one's index in the formset."""
    lines: list[LineInput] = []
    positions: list[int] = []
    errors: dict[str, list[Any]] = {}
    for index, form in enumerate(formset.forms):
        if form.is_blank():
            continue
        data = form.cleaned_data
        try:
            lines.append(
                line_from_entry(
                    kind=kind,
                    item=data["item"],
                    pack=data.get("pack"),
                    pack_count=data.get("pack_count"),
                    units=data.get("units"),
                    lot_code=data.get("lot_code", ""),
                    expiry_date=data.get("expiry_date"),
                    reason=reason,
                    prefix=f"lines.{index}.",
                )
            )
            positions.append(index)
        except ValidationError as exc:
            errors.update(exc.error_dict if hasattr(exc, "error_dict") else {"__all__": [exc]})
    if errors:
        raise ValidationError(errors)
    return lines, positions


def apply_errors(
    form: DocumentForm, formset: Any, exc: ValidationError, positions: list[int] | None = None
) -> None:
    """Put an action's errors next to the field they name; the rest above the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for key, errors in exc.error_dict.items():
        index, field = form_field_for(key)
        if index is not None:
            # The action numbers only the filled lines; the formset has blanks between.
            if positions is not None and index < len(positions) and key.startswith("lines."):
                index = positions[index]
            if index < len(formset.forms):
                line = formset.forms[index]
                line.add_error(field if field in line.fields else None, errors)
                continue
        if field in form.fields:
            form.add_error(field, errors)
        else:
            form.add_error(None, errors)


@require_anywhere(Perm.POST_STOCK)
def document_create(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in FORM_KINDS:
        raise Http404
    user = request.user
    if request.method == "POST":
        form = DocumentForm(request.POST, kind=kind, user=user)
        formset = LineFormSet(request.POST, kind=kind, prefix="lines")  # type: ignore[call-arg]
        raw_key = request.POST.get("idempotency_key", "")
        done = (
            StockDocument.objects.filter(idempotency_key=scoped_key(user, raw_key)).first()
            if raw_key
            else None
        )
        if done is not None:
            # The same form again (a double tap, a reload): it posted once already.
            messages.info(
                request, _("This form was already posted as %(number)s.") % {"number": done.number}
            )
            return redirect("supplies:document_detail", pk=done.pk)
        if form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            positions: list[int] = []
            try:
                lines, positions = _lines(kind, formset, data.get("reason", ""))
                document = post_stock_document(
                    kind=kind,
                    actor=user,
                    lines=lines,
                    idempotency_key=scoped_key(user, data["idempotency_key"]),
                    **_header_values(request, kind, data),
                )
            except ValidationError as exc:
                apply_errors(form, formset, exc, positions or None)
            else:
                messages.success(
                    request,
                    _("Posted %(kind)s %(number)s.")
                    % {"kind": document.get_kind_display(), "number": document.number},
                )
                return redirect("supplies:document_detail", pk=document.pk)
    else:
        form = DocumentForm(kind=kind, user=user)
        formset = LineFormSet(kind=kind, prefix="lines")  # type: ignore[call-arg]
    return render(
        request,
        "supplies/documents/document_form.html",
        {
            "tab": "documents",
            "kind": kind,
            "title": _title(kind),
            "form": form,
            "formset": formset,
            "can_search_people": has_permission(user, Perm.VIEW_PEOPLE),
        },
    )


@require_anywhere(Perm.POST_STOCK)
def recipient_search(request: HttpRequest) -> HttpResponse:
    """htmx: persons in the user's scope matching the text, as choices for an issue."""
    from fangkong.people.queries import search_persons

    text = (request.GET.get("recipient_query") or "")[:50]
    persons = list(search_persons(request.user, text, limit=RECIPIENT_SEARCH_LIMIT)) if text else []
    return render(
        request, "supplies/documents/_recipient_options.html", {"persons": persons, "text": text}
    )


# --- detail, print, reverse -------------------------------------------------------------


def _detail_context(request: HttpRequest, document: StockDocument) -> dict[str, Any]:
    return {
        "tab": "documents",
        "document": document,
        "lines": queries.lines_with_packs(document),
        "reversed_by": queries.reversal_of(document)
        if document.status == DocumentStatus.REVERSED
        else None,
    }


@require_anywhere(Perm.VIEW_STOCK)
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    document = _document(request, pk)
    can_reverse = (
        document.status == DocumentStatus.POSTED
        and document.kind != DocumentKind.REVERSAL
        and document.delivery_run_id is None
        and has_permission(request.user, Perm.POST_STOCK, document.region_code)
    )
    context = _detail_context(request, document)
    context.update(
        movements=list(queries.movements_of(document)),
        can_reverse=can_reverse,
        reverse_form=ReverseForm() if can_reverse else None,
    )
    return render(request, "supplies/documents/document_detail.html", context)


@require_anywhere(Perm.VIEW_STOCK)
def document_print(request: HttpRequest, pk: int) -> HttpResponse:
    document = _document(request, pk)
    context = _detail_context(request, document)
    context["paper"] = "a5" if request.GET.get("paper") == "a5" else "a4"
    return render(request, "supplies/documents/document_print.html", context)


@require_POST
@require_anywhere(Perm.POST_STOCK)
def document_reverse(request: HttpRequest, pk: int) -> HttpResponse:
    document = _document(request, pk)
    form = ReverseForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect("supplies:document_detail", pk=document.pk)
    try:
        reversal = reverse_document(
            document,
            actor=request.user,
            note=form.cleaned_data["note"],
            idempotency_key=scoped_key(request.user, form.cleaned_data["idempotency_key"]),
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("supplies:document_detail", pk=document.pk)
    messages.success(
        request,
        _("Reversed %(number)s with %(reversal)s.")
        % {"number": document.number, "reversal": reversal.number},
    )
    return redirect("supplies:document_detail", pk=reversal.pk)


urlpatterns = [
    path("documents/", document_list, name="document_list"),
    path("documents/new/<slug:kind>/", document_create, name="document_create"),
    path("documents/recipients/", recipient_search, name="recipient_search"),
    path("documents/<int:pk>/", document_detail, name="document_detail"),
    path("documents/<int:pk>/print/", document_print, name="document_print"),
    path("documents/<int:pk>/reverse/", document_reverse, name="document_reverse"),
]
